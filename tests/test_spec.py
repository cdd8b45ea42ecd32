"""The run spec: ``lipbench constraint=gp`` is composed once and validated once; an
out-of-range value of any component stops the command before a run directory exists; and
the keys that leave a run's identity and its directory name come from one declaration
(lipbench.record.identity.RUN_KEYS), so a change that does not change what a run computes
neither moves it to another directory nor makes its directory refuse it."""

from __future__ import annotations

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig

from conftest import CONF, compose_cfg, rejected_in_process
from lipbench.record.identity import run_identity


def _counted(monkeypatch, owner, name: str, counts: dict):
    original = getattr(owner, name)

    def wrapper(*args, **kwargs):
        counts[name] = counts.get(name, 0) + 1
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, wrapper)


def test_a_single_run_composes_once_and_validates_once(monkeypatch, tmp_path, capsys):
    """Every Hydra composition goes through ConfigLoaderImpl.load_configuration, and every
    validation through lipbench.config.checked (spec.from_config's); training receives the
    spec itself, with the identity computed from that one validated config."""
    from hydra._internal.config_loader_impl import ConfigLoaderImpl

    import lipbench.config
    import lipbench.spec
    import lipbench.train.loop
    from lipbench.cli import main

    counts, trained = {}, []
    _counted(monkeypatch, ConfigLoaderImpl, "load_configuration", counts)
    checked = lipbench.config.checked

    def counting_checked(cfg):
        counts["checked"] = counts.get("checked", 0) + 1
        return checked(cfg)

    monkeypatch.setattr(lipbench.config, "checked", counting_checked)
    monkeypatch.setattr(lipbench.spec, "checked", counting_checked)

    def fake_train(spec, run_dir, overrides, raise_errors):
        trained.append((spec, run_dir, overrides))
        return {"status": "completed", "step": 0, "method": "gp", "final": {}}

    monkeypatch.setattr(lipbench.train.loop, "train", fake_train)
    run_dir = tmp_path / "run"
    main(["constraint=gp", f"hydra.run.dir={run_dir}"])
    assert counts == {"load_configuration": 1, "checked": 1}
    [(spec, where, overrides)] = trained
    assert where == run_dir and run_dir.is_dir() and overrides == ["constraint=gp"]
    assert isinstance(spec, lipbench.spec.RunSpec)
    assert spec.optim["lr"] == 1e-4 and [name for name, _ in spec.constraints] == ["gp"]  # optim filled in
    assert spec.run_id == run_identity(spec.config) and spec.config.optim.lr == 1e-4
    assert "gp: completed at step 0" in capsys.readouterr().out


def test_the_spec_holds_every_part_typed():
    from lipbench.config_schemas import TrainSchema
    from lipbench.constraints.gp import GradientPenalty
    from lipbench.models.mlp import MLPConfig
    from lipbench.spec import load

    spec = load(str(CONF), ["constraint=gp", "model.hidden=64", "hydra.run.dir=/x"])
    assert isinstance(spec.model, MLPConfig) and spec.model.hidden == 64
    assert isinstance(spec.train, TrainSchema)
    assert [(name, type(p)) for name, p in spec.constraints] == [("gp", GradientPenalty.Params)]
    assert spec.optim["lr"] == 1e-4 and spec.run_id == run_identity(spec.config)
    with pytest.raises(AttributeError):  # frozen
        spec.seed = 1


BAD = {  # one out-of-range value per component: (overrides, the line's start)
    "data": (["data.std=-1"], "data.std=-1.0: must be > 0"),
    "model": (["model.hidden=0"], "model.hidden=0: must be >= 1"),
    "model_critic": (["model.critic_depth=0"], "model.critic_depth=0: must be >= 1"),
    "image_model": (["model=dcgan", "data=digits", "model.d_width=0"], "model.d_width=0: must be >= 1"),
    "constraint": (["constraint=gp", "constraint.gp.weight=-1"], "constraint.gp.weight=-1.0: must be >= 0"),
    "train": (["train.iterations=0"], "train.iterations=0: must be >= 1"),
    "eval": (["eval.alpha=1.5"], "eval.alpha=1.5: must be in (0, 1)"),
    "optim": (["optim.lr=-1"], "optim.lr=-1.0: must be > 0"),
    "pair": (["task=dual", "pair.shift=0"], "pair.shift=0: must be > 0"),
}


@pytest.mark.parametrize("component", sorted(BAD))
def test_an_out_of_range_value_stops_before_the_run_directory_exists(component, tmp_path, capsys):
    overrides, line = BAD[component]
    run_dir = tmp_path / "run"
    code, err = rejected_in_process([*overrides, f"hydra.run.dir={run_dir}"], capsys)
    assert code == 2 and not run_dir.exists()
    assert len(err) == 1 and err[0].startswith(f"lipbench: config error: {line}"), err


def _run_dir(*overrides) -> str:
    """The run directory Hydra would give ``lipbench OVERRIDES`` (relative to the working directory)."""
    with initialize_config_dir(config_dir=str(CONF), version_base=None, job_name="lipbench"):
        cfg = compose("config", overrides=list(overrides), return_hydra_config=True)
        HydraConfig.instance().set_config(cfg)
        return str(cfg.hydra.run.dir)


@pytest.mark.parametrize(
    "override",
    [
        "device=cpu",  # was: the same directory, another identity (the run there is refused)
        "train.checkpoint_every=100",  # was: another directory (the run trains again)
        "eval.alpha=0.1",  # was: another identity and another directory (trains again)
    ],
)
def test_a_key_that_does_not_change_the_run_keeps_its_directory_and_identity(override):
    assert _run_dir("constraint=gp", override) == _run_dir("constraint=gp") == "outputs/default/constraint=gp"
    assert run_identity(compose_cfg("constraint=gp", override)) == run_identity(compose_cfg("constraint=gp"))


SAMPLE = {  # a value other than the default, for each key RUN_KEYS declares
    "name": "name=other",
    "device": "device=cpu",
    "train.overwrite": "train.overwrite=true",
    "train.progress": "train.progress=false",
    "train.threads": "train.threads=2",
    "train.checkpoint_every": "train.checkpoint_every=100",
    "eval.alpha": "eval.alpha=0.1",
    "train.precision": "train.precision=bf16",
    "train.compile": "train.compile=true",
    "eval.metrics": "eval.metrics=[w1]",
}


@pytest.mark.parametrize("key", sorted(SAMPLE))
def test_each_declared_key_leaves_the_identity_and_the_directory_name_as_declared(key):
    from lipbench.record.identity import AS_DEFAULT, DROPPED, RUN_KEYS, run_dirname

    assert set(RUN_KEYS) - {"experiment"} == set(SAMPLE)  # a sample value for every declared key
    declared, override = RUN_KEYS[key], SAMPLE[key]
    assert (run_dirname([override, "seed=1"]) == "seed=1") == (not declared.in_dirname)
    same = run_identity(compose_cfg(override)) == run_identity(compose_cfg())
    assert same == (declared.identity in (DROPPED, AS_DEFAULT))


def test_the_directory_names_of_ordinary_runs_and_sweeps_are_unchanged():
    """Names computed by the code before RUN_KEYS (Hydra's override_dirname with exclude_keys)."""
    mnist = ["experiment=mnist", "constraint=gp", "data.root=../shared/data/mnist-idx.tar.gz", "model.width=32"]
    assert _run_dir(*mnist, "seed=0").endswith(
        "/mnist/constraint=gp,data.root=.._shared_data_mnist-idx.tar.gz,model.width=32,seed=0"
    )
    assert _run_dir() == "outputs/default/defaults"
    assert _run_dir("constraint=[sn,gp]", "optim=D", "loss=hinge") == (
        "outputs/default/constraint=[sn,gp],loss=hinge,optim=D"
    )
    extra = ["device=cpu", "train.threads=2", "name=x", "train.overwrite=true", "train.progress=false"]
    assert _run_dir("constraint=gp", "seed=1", *extra) == "outputs/x/constraint=gp,seed=1"
    long = ["data=twentyfive_gaussians", "constraint=gp", "constraint.gp.weight=1.0", "optim.lr=0.0002"]
    long += ["optim.betas=[0.5,0.999]", "model.hidden=256", "model.depth=4", "train.iterations=3000"]
    long += ["eval.every=100", "seed=12", "train.batch_size=128", "data.std=0.04", "device=cpu"]
    assert _run_dir(*long) == (
        "outputs/default/constraint.gp.weight=1.0,constraint=gp,data.std=0.04,data=twentyfive_gaussians,"
        "eval.every=100,model.depth=4,model.hidden=256,optim.betas=[0.5,0.999],optim.lr=0....95c2f944f3d0"
    )


def test_validation_leaves_the_composed_config_as_it_was():
    """from_config checks a copy: the composed config keeps its placeholders (optim.lr is null
    under optim=paper until validation fills it in, in the spec's config only)."""
    from omegaconf import OmegaConf

    from lipbench.spec import compose_job, from_config

    composed = compose_job(str(CONF), ["constraint=gp", "model.hidden=64"])
    before = OmegaConf.to_yaml(composed)
    spec = from_config(composed)
    assert OmegaConf.to_yaml(composed) == before and composed.optim.lr is None
    assert spec.config.optim.lr == 1e-4 and spec.optim["lr"] == 1e-4
