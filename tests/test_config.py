"""Config errors surface before training, as one line naming the key and what is allowed;
every component's schema is the one place for its keys' defaults and types."""

import re

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, OmegaConf

from conftest import CONF, rejected_in_process, run_cli
from lipbench.cli import preflight
from lipbench.errors import ConfigError
from lipbench.registry import Registry
from lipbench.spec import from_config


@pytest.mark.parametrize(
    "argv, expected",
    [
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
        (
            ["constraint=bjorck", "constraint.bjorck.retract=maybe"],
            "constraint.bjorck.retract=maybe: expected true or false",
        ),
        (["constraint=gp", "constraint.gp.paper.lr=abc"], "constraint.gp.paper.lr=abc: expected a number or null"),
        (
            ["constraint=gp", "constraint.gp.paper.betas=[0.5,x]"],
            "constraint.gp.paper.betas=[0.5,x]: expected a list of numbers or null",
        ),
        (["+loss.margin=1"], "loss.margin: unknown key; allowed: name"),
        (["optim.lr=fast"], "optim.lr=fast: expected a number or null"),
        (["+optim.paper_overrides.gp.lr=abc"], "optim.paper_overrides.gp.lr=abc: expected a number or null"),
        (["eval.prc=maybe"], "eval.prc=maybe: expected true or false"),
        (["seed=abc"], "seed=abc: expected an integer"),
        (["optim.optimizer=lbfgs"], "optim.optimizer=lbfgs: allowed: adam, rmsprop, sgd"),
        (["eval.ref_split=val"], "eval.ref_split=val: allowed: train, test"),
        # eval.* keys declared by an evaluator's options or a metric's params: their own range, at validation
        (["eval.n_samples=0"], "eval.n_samples=0: must be >= 1"),
        (["eval.fid_samples=1"], "eval.fid_samples=1: must be >= 2"),
        (["eval.kid_subset_size=1"], "eval.kid_subset_size=1: must be >= 2"),
        (["eval.mode_min_count=-1"], "eval.mode_min_count=-1: must be >= 0"),
        (["eval.floor_pairs=0"], "eval.floor_pairs=0: must be >= 1"),
        (["eval.extractors=[clip]"], "eval.extractors=['clip']: unknown ['clip']; allowed: domain, inception"),
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


def test_cli_exits_nonzero_and_leaves_an_existing_run_dir_untouched(tmp_path, capsys):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "summary.json").write_text('{"status": "completed", "run_id": "x"}')
    before = {p.name: p.stat().st_mtime_ns for p in run_dir.iterdir()}
    code, lines = rejected_in_process(["constraint=clip", "constraint.clip.c=-1", f"hydra.run.dir={run_dir}"], capsys)
    assert code == 2
    assert lines == ["lipbench: config error: constraint.clip.c=-1.0: must be > 0"]
    assert {p.name: p.stat().st_mtime_ns for p in run_dir.iterdir()} == before


def test_a_wrong_type_on_the_command_line_is_one_line_and_status_2(tmp_path):
    # the console script in a new process: its real stderr holds this one line and nothing else
    proc = run_cli(["model.hidden=abc"], cwd=tmp_path)
    assert proc.returncode == 2
    assert [ln for ln in proc.stderr.splitlines() if ln.strip()] == [
        "lipbench: config error: model.hidden=abc: expected an integer"
    ]
    assert not (tmp_path / "outputs").exists()


def _registry(group) -> Registry:
    from lipbench.constraints import CONSTRAINTS
    from lipbench.data import DATASETS
    from lipbench.losses import LOSSES
    from lipbench.models import MODELS

    return {"model": MODELS, "data": DATASETS, "loss": LOSSES, "constraint": CONSTRAINTS}[group]


@pytest.mark.parametrize("group", ["constraint", "model", "data", "loss"])
def test_an_unknown_option_lists_every_registered_member(group):
    with pytest.raises(ConfigError) as err:
        preflight([f"{group}=nope"])
    assert str(err.value) == f"{group}=nope: unknown option; allowed: {', '.join(_registry(group).names())}"


def _options(group):
    """The options Hydra offers for ``group`` (yaml files and structured configs)."""
    from hydra.core.global_hydra import GlobalHydra

    return GlobalHydra.instance().config_loader().get_group_options(group)


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
        from_config(cfg)
    return str(err.value)


@pytest.mark.parametrize("group", ["model", "data", "loss", "constraint", "optim", "train", "eval"])
def test_every_key_of_every_option_is_type_checked_before_training(group):
    checked = 0
    with initialize_config_dir(config_dir=str(CONF), version_base=None):
        options = _options(group)
        for option in options:
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
    assert checked >= (0 if group == "loss" else len(options))  # a loss has no parameters


@pytest.mark.parametrize("group", ["model", "data", "loss", "constraint"])
def test_every_registered_member_is_an_option_with_a_schema(group):
    registry = _registry(group)
    assert all(registry.schema(name) is not None for name in registry.names() if group != "constraint")
    with initialize_config_dir(config_dir=str(CONF), version_base=None):
        assert _options(group) == registry.names()  # nothing to list by hand: the registry is the list


def _schema_defaults(group, option):
    """The schema's own defaults for ``group=option`` (its structured config, no yaml)."""
    from lipbench.configstore import SHARED, constraint_schema

    if group in SHARED:
        return OmegaConf.to_container(OmegaConf.structured(SHARED[group][1]()))
    registry = _registry(group)
    if group == "constraint":
        return OmegaConf.to_container(OmegaConf.structured(constraint_schema(registry.get(option))))
    return {**OmegaConf.to_container(OmegaConf.structured(registry.schema(option))), "name": option}


@pytest.mark.parametrize("group", ["model", "data", "loss", "constraint", "optim", "train", "eval"])
def test_an_option_is_its_schema_plus_only_the_preset_values_of_its_yaml(group):
    with initialize_config_dir(config_dir=str(CONF), version_base=None):
        for option in _options(group):
            composed = OmegaConf.to_container(compose("config", overrides=[f"{group}={option}"])[group])
            if group == "constraint":
                composed = composed[option]
            defaults = _schema_defaults(group, option)
            path = CONF / group / f"{option}.yaml"
            if not path.exists():
                assert composed == defaults, option
                continue
            preset = OmegaConf.to_container(OmegaConf.load(path))
            schema = "default" if group in ("optim", "train", "eval") else option
            assert preset.pop("defaults") == [f"/schema/{group}/{schema}@_here_", "_self_"], path
            for key, value in preset.items():  # a preset value, or the published `paper` setting
                assert key == "paper" or value != defaults[key], f"{path}: {key}={value} is the schema's default"
            assert composed == {**defaults, **preset}, option


def test_the_shared_groups_defaults_are_their_schemas_with_no_yaml():
    from lipbench.configstore import SHARED

    cfg = compose_default()
    for group, (option, schema) in SHARED.items():
        assert not (CONF / group / f"{option}.yaml").exists()
        if group != "optim":  # validation fills optim in from the paper setting
            assert OmegaConf.to_container(cfg[group]) == OmegaConf.to_container(OmegaConf.structured(schema()))


def compose_default():
    from conftest import compose_cfg

    return compose_cfg()


@pytest.mark.parametrize(
    "override, key", [("model.hidden=abc", "model.hidden"), ("constraint.none.paper.lr=x", "constraint.none.paper.lr")]
)
def test_hydra_types_the_values_when_it_composes(override, key):
    """The structured configs reject a wrong type in composition already (the one-line
    messages above are made from Hydra's error, not from a second look)."""
    from hydra.errors import ConfigCompositionException

    from lipbench.compose_errors import hydra_message

    with initialize_config_dir(config_dir=str(CONF), version_base=None):
        with pytest.raises(ConfigCompositionException) as err:
            compose("config", overrides=[override])
    assert hydra_message(err.value).startswith(f"{override}: expected ")
    assert key in str(err.value.__cause__)


def test_cfg_job_prints_the_config_the_run_uses(capsys):
    from lipbench.cli import main

    with initialize_config_dir(config_dir=str(CONF), version_base=None):
        composed = compose("config", overrides=["constraint=clip"])
    assert composed.optim.lr is None  # Hydra's composition: the paper setting is not filled in yet
    main(["--cfg", "job", "constraint=clip"])
    printed = OmegaConf.create(capsys.readouterr().out)
    from conftest import compose_cfg

    assert OmegaConf.to_container(printed) == OmegaConf.to_container(compose_cfg("constraint=clip"))
    assert printed.optim == {"optimizer": "rmsprop", "lr": 5e-05, "betas": None, "n_critic": 5, "preset": "paper"}


def test_cfg_job_with_a_bad_value_is_one_line_and_status_2(capsys):
    from lipbench.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["--cfg", "job", "model.hidden=abc"])
    assert exit_.value.code == 2
    assert capsys.readouterr().err.strip() == "lipbench: config error: model.hidden=abc: expected an integer"


@pytest.mark.parametrize("method", ["clip", "gp", "sn"])
def test_a_preset_changes_one_constraints_paper_setting_without_adding_it_to_other_jobs(cfg_factory, method):
    """experiment=cifar10_sngan gives gp the WGAN-GP paper's image betas (0, 0.9) through
    optim.paper_overrides; the clip and sn jobs of that sweep train only their own constraint."""
    from omegaconf import OmegaConf

    cfg = cfg_factory("experiment=cifar10_sngan", f"constraint={method}", "data.root=/tmp/x")
    assert list(cfg.constraint) == [method]
    published = OmegaConf.load(CONF / "constraint" / f"{method}.yaml").paper
    expected_betas = [0.0, 0.9] if method == "gp" else published.betas
    assert cfg.optim.betas == expected_betas
    assert cfg.constraint[method].paper.betas == expected_betas  # the record says which setting was used
    assert (cfg.optim.lr, cfg.optim.n_critic) == (published.lr, published.n_critic)


def test_paper_overrides_name_a_registered_constraint(cfg_factory):
    with pytest.raises(ConfigError) as err:
        cfg_factory("constraint=gp", "+optim.paper_overrides.gpp.betas=[0.0,0.9]")
    assert str(err.value).startswith("optim.paper_overrides.gpp: unknown constraint; allowed: ")
    # under a fixed preset (optim=A) the published settings, and their changes, are not used
    cfg = cfg_factory("constraint=gp", "optim=A", "+optim.paper_overrides.gp.lr=0.5")
    assert cfg.optim.lr == 1e-4
