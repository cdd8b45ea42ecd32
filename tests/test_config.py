"""Config errors surface before training, as one line naming the key and what is allowed."""

import dataclasses
import re

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, OmegaConf

from conftest import CONF, run_cli
from lipbench.cli import preflight
from lipbench.config import EvalSchema, OptimSchema, TrainSchema, validate
from lipbench.errors import ConfigError


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["constraint=nope"], "constraint=nope: unknown option; allowed: bjorck, clip, dragan, gp, lp, max_gp, none"),
        (["train.nope=1"], "train.nope: unknown key"),
        (["+train.nope=1"], "train.nope: unknown key; allowed: iterations"),
        (["constraint=gp", "constraint.gp.weight=-1"], "constraint.gp.weight=-1.0: must be >= 0"),
        (["constraint=clip", "constraint.clip.c=0"], "constraint.clip.c=0.0: must be > 0"),
        (["constraint=clip", "constraint.clip.c=-0.5"], "constraint.clip.c=-0.5: must be > 0"),
        (["optim.n_critic=0"], "optim.n_critic=0: must be >= 1"),
        (["train.batch_size=0"], "train.batch_size=0: must be >= 1"),
        (["train.iterations=many"], "train.iterations=many: expected an integer"),
        (["model.hidden=abc"], "model.hidden=abc: expected an integer"),
        (["model.critic_depth=two"], "model.critic_depth=two: expected an integer or null"),
        (["+model.nope=1"], "model.nope: unknown key; allowed: name, z_dim, hidden, depth, activation"),
        (["data.std=abc"], "data.std=abc: expected a number"),
        (["data.radius=true"], "data.radius=true: expected a number"),
        (["data=digits", "model=dcgan", "data.channels=3.5"], "data.channels=3.5: expected an integer"),
        (["data=digits", "model=dcgan", "model.g_width=wide"], "model.g_width=wide: expected an integer or null"),
        (["constraint=gp", "constraint.gp.weight=abc"], "constraint.gp.weight=abc: expected a number"),
        (["constraint=bjorck", "constraint.bjorck.retract=maybe"],
         "constraint.bjorck.retract=maybe: expected true or false"),
        (["constraint=gp", "constraint.gp.paper.lr=abc"], "constraint.gp.paper.lr=abc: expected a number or null"),
        (["constraint=gp", "constraint.gp.paper.betas=[0.5,x]"],
         "constraint.gp.paper.betas=[0.5,x]: expected a list of numbers or null"),
        (["+loss.margin=1"], "loss.margin: unknown key; allowed: name"),
        (["optim.lr=fast"], "optim.lr=fast: expected a number or null"),
        (["eval.prc=maybe"], "eval.prc=maybe: expected true or false"),
        (["seed=abc"], "seed=abc: expected an integer"),
        (["optim.optimizer=lbfgs"], "optim.optimizer=lbfgs: allowed: adam, rmsprop, sgd"),
        (["data=nope"], "data=nope: unknown option; allowed:"),
        (["eval.ref_split=val"], "eval.ref_split=val: allowed: train, test"),
    ],
)
def test_each_bad_value_is_one_clear_line(argv, expected):
    with pytest.raises(ConfigError) as err:
        preflight(argv)
    message = str(err.value)
    assert expected in message
    assert "\n" not in message


def test_every_job_of_a_sweep_is_checked_before_any_runs():
    with pytest.raises(ConfigError, match=r"constraint\.gp\.weight=-1\.0"):
        preflight(["-m", "constraint=gp", "constraint.gp.weight=10,-1", "seed=0,1"])
    assert preflight(["-m", "constraint=none,clip,gp,sn", "seed=0,1,2"]) == 12


def test_valid_configs_pass():
    assert preflight(["constraint=[sn,gp]", "optim=D", "loss=hinge"]) == 1


def test_cli_exits_nonzero_and_leaves_an_existing_run_dir_untouched(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "summary.json").write_text('{"status": "completed", "run_id": "x"}')
    before = {p.name: p.stat().st_mtime_ns for p in run_dir.iterdir()}
    proc = run_cli(["constraint=clip", "constraint.clip.c=-1", f"hydra.run.dir={run_dir}"], cwd=tmp_path)
    assert proc.returncode == 2
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert lines == ["lipbench: config error: constraint.clip.c=-1.0: must be > 0"]
    assert {p.name: p.stat().st_mtime_ns for p in run_dir.iterdir()} == before


def test_a_wrong_type_on_the_command_line_is_one_line_and_status_2(tmp_path):
    proc = run_cli(["model.hidden=abc"], cwd=tmp_path)
    assert proc.returncode == 2
    assert [ln for ln in proc.stderr.splitlines() if ln.strip()] == [
        "lipbench: config error: model.hidden=abc: expected an integer"]
    assert not (tmp_path / "outputs").exists()


def _options(group):
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


def _leaves(node: DictConfig, prefix: str):
    for key, value in node.items():
        if isinstance(value, DictConfig):
            yield from _leaves(value, f"{prefix}.{key}")
        else:
            yield f"{prefix}.{key}"


def _bad_value_error(base: DictConfig, path: str) -> str:
    cfg = OmegaConf.create(OmegaConf.to_container(base))
    OmegaConf.update(cfg, path, {"not": "a value"}, merge=False)  # of no scalar or list type
    with pytest.raises(ConfigError) as err:
        validate(cfg)
    return str(err.value)


@pytest.mark.parametrize("group", ["model", "data", "loss", "constraint", "optim", "train", "eval"])
def test_every_key_of_every_preset_is_type_checked_before_training(group):
    checked = 0
    with initialize_config_dir(config_dir=str(CONF), version_base=None):
        for option in _options(group):
            base = compose("config", overrides=[f"{group}={option}"])
            for path in _leaves(base[group], group):
                if path == f"{group}.name":
                    continue  # selects the schema; a wrong one is "unknown; allowed: ..."
                message = _bad_value_error(base, path)
                # the key, the value, and the type (or, for a key of any type, the values) allowed
                assert re.match(rf"{re.escape(path)}=.+: (expected |allowed: )", message), message
                checked += 1
        for path in ("seed", "name", "device"):
            assert _bad_value_error(base, path).startswith(f"{path}={{not:a value}}: expected ")
    assert checked >= (0 if group == "loss" else len(_options(group)))  # a loss has no parameters


def _registries():
    from lipbench.data import DATASETS, _import_all as import_data
    from lipbench.losses import LOSSES
    from lipbench.models import MODELS, _import_all as import_models

    import_data()
    import_models()
    return {"model": MODELS, "data": DATASETS, "loss": LOSSES}


@pytest.mark.parametrize("group", ["model", "data", "loss"])
def test_each_preset_file_holds_its_schemas_keys_and_defaults(group):
    registry = _registries()[group]
    assert all(registry.schema(name) is not None for name in registry.names())  # every member declares one
    for option in _options(group):
        preset = OmegaConf.to_container(OmegaConf.load(CONF / group / f"{option}.yaml"))
        defaults = OmegaConf.to_container(OmegaConf.structured(registry.schema(preset["name"])))
        defaults["name"] = preset["name"]  # a schema may serve several names (the losses)
        assert preset == defaults, option


def test_each_constraint_file_holds_its_params_keys_and_defaults():
    from lipbench.constraints import CONSTRAINTS, _import_all

    _import_all()
    for option in _options("constraint"):
        preset = OmegaConf.to_container(OmegaConf.load(CONF / "constraint" / f"{option}.yaml"))
        preset.pop("paper", None)
        assert preset == dataclasses.asdict(CONSTRAINTS.get(option).Params()), option


@pytest.mark.parametrize("group, schema", [("train", TrainSchema), ("eval", EvalSchema), ("optim", OptimSchema)])
def test_the_shared_groups_defaults_are_their_schemas(group, schema):
    name = "paper" if group == "optim" else "default"
    preset = OmegaConf.to_container(OmegaConf.load(CONF / group / f"{name}.yaml"))
    assert preset == OmegaConf.to_container(OmegaConf.structured(schema))
