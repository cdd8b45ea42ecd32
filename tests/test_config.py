"""Config errors surface before training, as one line naming the key and what is allowed."""

import pytest

from conftest import run_cli
from lipbench.cli import preflight
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
        (["train.iterations=many"], "train.iterations: Value 'many'"),
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
