"""Sweepers other than Hydra's basic one: the preflight checks what it can up front, an
Optuna study runs through the console script, every run returns its objective, a trial
that fails is a failed run (the study goes on), and the tune preset's search space."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from conftest import compose_cfg, run_cli
from lipbench.cli import preflight
from lipbench.errors import ConfigError
from lipbench.sweep import sweep_objective

optuna = pytest.importorskip("optuna")  # the `tune` extra (in `test`)

TINY = [
    "train.iterations=6",
    "train.batch_size=32",
    "train.progress=false",
    "train.tensorboard=false",
    "eval.every=3",
    "eval.n_samples=200",
    "eval.w1_samples=100",
    "eval.grad_samples=16",
    "eval.surface_resolution=8",
    "eval.floor_pairs=1",
    "train.threads=1",
    "~hydra.callbacks.report",
]


def _trials(sweep: Path):
    return [json.loads(p.read_text()) for p in sorted(sweep.glob("*/summary.json"))]


def test_the_preflight_checks_an_optuna_sweep_without_expanding_it():
    # the base job, then each listed value on top of it: choices one by one, an interval's two ends
    assert preflight(["-m", "hydra/sweeper=optuna", "constraint=gp"]) == 1
    assert preflight(["-m", "hydra/sweeper=optuna", "constraint=gp,sn", "optim.lr=interval(1e-5,1e-3)"]) == 5
    assert preflight(["-m", "experiment=tune_toy2d", "constraint=gp"]) == 1
    for argv, expected in [
        (["-m", "hydra/sweeper=optuna", "constraint=gp,nope"], "constraint=nope: unknown option"),
        (
            ["-m", "hydra/sweeper=optuna", "constraint=gp", "constraint.gp.weight=interval(-1,10)"],
            "constraint.gp.weight=-1.0: must be >= 0",
        ),
        (["-m", "experiment=tune_toy2d", "constraint=gp", "model.hidden=abc"], "model.hidden=abc: expected an integer"),
        (["-m", "hydra/sweeper=optuna", "hydra.sweeper.n_trials=many"], "n_trials"),
    ]:
        with pytest.raises(ConfigError, match=expected):
            preflight(argv)
    # the basic sweeper still expands every combination
    assert preflight(["-m", "constraint=gp,sn", "seed=0,1,2"]) == 6


def test_a_run_returns_its_final_primary_metric_and_a_bad_run_the_worst():
    done = {"status": "completed", "final": {"w1": 0.25, "fid_domain": 3.0}, "convergence": {"metric": "w1"}}
    assert sweep_objective(done) == 0.25
    assert sweep_objective({**done, "convergence": {"metric": "fid_domain"}}) == 3.0
    assert sweep_objective({"status": "completed", "final": {"fid_domain": 7.5}}) == 7.5  # no record: first present
    assert sweep_objective({**done, "status": "diverged"}) == math.inf
    assert sweep_objective({"status": "failed", "error": "x"}) == math.inf
    assert sweep_objective({**done, "final": {"w1": float("nan")}}) == math.inf


def _hydra_app(args, cwd):
    """The Hydra app without the preflight, as a sweeper's trials reach it."""
    code = "import sys; from lipbench.cli import hydra_app; sys.argv = ['lipbench', *sys.argv[1:]]; hydra_app()"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )


def test_an_optuna_study_goes_on_past_trials_that_fail_and_minimises_what_the_runs_return(tmp_path):
    # the grid: a valid trial, one whose config is invalid (weight -1), and dcgan on 2-D data,
    # which passes the config checks but cannot be built
    proc = _hydra_app(
        [
            "-m",
            "hydra/sweeper=optuna",
            "hydra/sweeper/sampler=grid",
            "hydra.sweeper.n_trials=4",
            "hydra.sweeper.n_jobs=1",
            "name=grid",
            "constraint=gp",
            "model=choice(mlp,dcgan)",
            "constraint.gp.weight=choice(10,-1)",
            *TINY,
        ],
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    sweep = tmp_path / "multirun" / "grid"
    trials = {(s["config"]["model"]["name"], s["config"]["constraint"]["gp"]["weight"]): s for s in _trials(sweep)}
    assert sorted(trials) == [("dcgan", -1), ("dcgan", 10), ("mlp", -1), ("mlp", 10)]
    assert trials[("mlp", 10)]["status"] == "completed"
    for key in (("mlp", -1), ("dcgan", -1)):  # rejected by the config checks, in the run
        assert trials[key]["status"] == "failed"
        assert trials[key]["error"] == "ConfigError: constraint.gp.weight=-1.0: must be >= 0"
    assert "lipbench: config error: constraint.gp.weight=-1.0: must be >= 0" in proc.stderr.splitlines()
    assert trials[("dcgan", 10)]["status"] == "failed" and "needs square image data" in trials[("dcgan", 10)]["error"]
    result = OmegaConf.load(sweep / "optimization_results.yaml")
    assert result.best_params == {"model": "mlp", "constraint.gp.weight": 10}
    assert result.best_value == pytest.approx(trials[("mlp", 10)]["final"]["w1"])  # what the run returned


def test_the_tune_preset_samples_each_methods_lr_and_penalty_weight(tmp_path):
    proc = run_cli(
        [
            "-m",
            "experiment=tune_toy2d",
            "constraint=gp",
            "hydra/launcher=basic",
            "hydra.sweeper.n_trials=2",
            "hydra.sweeper.n_jobs=1",
            "model.hidden=16",
            *TINY,
        ],
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    sweep = tmp_path / "multirun" / "tune_toy2d" / "gp"
    trials = _trials(sweep)
    assert len(trials) == 2 and all(t["status"] == "completed" for t in trials)
    lrs = [t["config"]["optim"]["lr"] for t in trials]
    weights = [t["config"]["constraint"]["gp"]["weight"] for t in trials]
    assert all(1e-5 <= lr <= 1e-3 for lr in lrs) and len(set(lrs)) == 2  # gp's paper lr 1e-4, x/÷ 10
    assert all(1.0 <= w <= 100.0 for w in weights) and len(set(weights)) == 2  # gp's weight 10, x/÷ 10
    result = OmegaConf.load(sweep / "optimization_results.yaml")
    best = min(trials, key=lambda t: t["final"]["w1"])
    assert result.best_value == pytest.approx(best["final"]["w1"])
    assert result.best_params["optim.lr"] == pytest.approx(best["config"]["optim"]["lr"])
    assert result.best_params["constraint.gp.weight"] == pytest.approx(best["config"]["constraint"]["gp"]["weight"])


def _suggested(cfg, fixed=None):
    from lipbench.tune import lr_and_penalty_weight

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    trial = study.ask()
    for key, value in (fixed or {}).items():
        trial.set_user_attr(key, value)
    lr_and_penalty_weight(cfg, trial)
    return trial.distributions


@pytest.mark.parametrize(
    "constraint, weight_key, weight",
    [
        ("gp", "constraint.gp.weight", 10.0),
        ("ortho", "constraint.ortho.weight", 1e-4),
        ("clip", None, None),
        ("sn", None, None),
    ],
)
def test_the_search_space_is_centred_on_each_methods_own_setting(constraint, weight_key, weight):
    cfg = compose_cfg(f"constraint={constraint}")
    space = _suggested(cfg)
    lr = cfg.optim.lr  # the method's paper lr
    assert (space["optim.lr"].low, space["optim.lr"].high) == pytest.approx((lr / 10, lr * 10))
    assert sorted(space) == sorted(["optim.lr"] + ([weight_key] if weight_key else []))  # no penalty: lr only
    if weight_key:
        assert (space[weight_key].low, space[weight_key].high) == pytest.approx((weight / 10, weight * 10))
    combined = _suggested(compose_cfg("constraint=[sn,gp]", "constraint.gp.weight=2"))
    assert (combined["constraint.gp.weight"].low, combined["constraint.gp.weight"].high) == pytest.approx((0.2, 20))
    assert "optim.lr" not in _suggested(cfg, fixed={"optim.lr": 1e-3})  # a value fixed on the command line stays
