"""The dual task trained for real: the certified-critic bound, held-out samples that never
enter a training batch, resume after a stop signal, and a tiny sweep through the CLI that
ends with the dual table."""

import json
import os
import signal

import pandas as pd
import pytest
import torch

from conftest import run_cli
from lipbench.dual import task as dual
from lipbench.dual.pairs import Pair
from lipbench.metrics.dual import exceeds_bound

FAST = [
    "task=dual",
    "model.hidden=32",
    "train.batch_size=64",
    "train.progress=false",
    "train.threads=1",
    "train.tensorboard=false",
    "eval.every=20",
    "eval.grad_samples=64",
    "eval.surface_resolution=20",
]


def _train(spec_factory, run_dir, *overrides):
    return dual.train(spec_factory(*FAST, *overrides), run_dir, raise_errors=True)


@pytest.mark.parametrize(
    "pair",
    [
        ["pair=gaussian", "pair.dim=16", "pair.n_heldout=4000"],
        ["pair=eight_gaussians", "pair.n_ot=300", "pair.ot_repeats=2", "pair.n_heldout=4000"],
    ],
)
@pytest.mark.parametrize(
    "critic", [["constraint=bjorck", "model.critic_activation=groupsort"], ["constraint=sn_exact"]]
)
def test_a_certified_critic_never_exceeds_w1_plus_its_error_bar(spec_factory, tmp_path, monkeypatch, pair, critic):
    monkeypatch.setenv("LIPBENCH_CACHE", str(tmp_path / "cache"))
    # a large step size brings the critic close to W1 quickly, where a wrong bound would show
    s = _train(spec_factory, tmp_path / "run", *pair, *critic, "train.iterations=150", "optim.lr=0.003")
    f = s["final"]
    assert s["status"] == "completed"
    assert f["lip_upper"] <= 1.0 + 1e-3  # Björck / exact SN: the product of exact σ's is a certificate
    # it got close to W1, so the bound is not vacuous
    assert f["dual_estimate"] > (0.7 if "pair=gaussian" in pair else 0.1) * f["w1_true"]
    assert not exceeds_bound(f["dual_estimate"], f["dual_estimate_se"], f["w1_true"], f["w1_true_se"])
    assert f["dual_tightness"] == pytest.approx(f["dual_estimate"] / f["w1_true"])
    if "pair=gaussian" in pair:  # near W1, the gradient points up the shift (P = Q + delta)
        assert f["dual_grad_cos"] > 0.5
    assert -1 <= f["dual_grad_cos"] <= 1 and f["dual_grad_l2"] <= 1 + f["lip_upper"]
    assert s["pair"]["dim"] == (16 if "pair=gaussian" in pair else 2)
    if "pair=eight_gaussians" in pair:
        assert (tmp_path / "run" / "final_samples.npz").exists() and (tmp_path / "run" / "samples_final.png").exists()
        assert s["diagnostics"]["truth"]["w1_n"] == 300 and f["w1_true_se"] > 0


def test_no_held_out_point_is_ever_in_a_training_batch(spec_factory, tmp_path, monkeypatch):
    seen = {"train": [], "heldout": []}
    original = Pair.sample

    def spy(self, split, n, generator, coupled=False):
        p, q = original(self, split, n, generator, coupled)
        seen[split].append(torch.cat([p, q]))
        return p, q

    monkeypatch.setattr(Pair, "sample", spy)
    s = _train(
        spec_factory,
        tmp_path / "run",
        "pair=gaussian",
        "pair.dim=4",
        "pair.n_heldout=500",
        "constraint=sn",
        "train.iterations=60",
    )
    assert s["status"] == "completed"
    assert len(seen["train"]) == 60 and len(seen["heldout"]) == 1  # one batch per step; held-out drawn once
    train = {tuple(r) for r in torch.cat(seen["train"]).tolist()}
    held = {tuple(r) for r in torch.cat(seen["heldout"]).tolist()}
    assert len(held) == 1000 and not (train & held)


def test_a_stopped_dual_run_resumes_to_the_same_result(spec_factory, tmp_path, monkeypatch):
    args = (
        "pair=gaussian",
        "pair.dim=4",
        "pair.n_heldout=500",
        "constraint=gp",
        "train.iterations=60",
        "train.checkpoint_every=0",
    )
    straight = _train(spec_factory, tmp_path / "a", *args)
    step_fn, calls = dual.dual_step, {"n": 0}

    def stop_at_25(*a, **k):
        calls["n"] += 1
        if calls["n"] == 25:
            os.kill(os.getpid(), signal.SIGTERM)  # caught by the loop's signal flag
        return step_fn(*a, **k)

    monkeypatch.setattr(dual, "dual_step", stop_at_25)
    with pytest.raises(SystemExit):
        _train(spec_factory, tmp_path / "b", *args)
    stopped = json.loads((tmp_path / "b" / "summary.json").read_text())
    assert stopped["status"] == "running" and stopped["interrupted"]["step"] == 25
    resumed = _train(spec_factory, tmp_path / "b", *args)
    assert resumed["status"] == "completed" and resumed["resumes"][0]["step"] == 25
    for key in ("dual_estimate", "dual_estimate_se", "lip_upper", "steps_to_95"):
        assert resumed["final"][key] == straight["final"][key]
    rows = [json.loads(line) for line in (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [0, 20, 40, 60]  # no evaluation lost or repeated
    assert all("train_time_s" in r and "train_s" not in r for r in rows)  # the GAN rows' name


def test_a_tiny_dual_sweep_through_the_cli_ends_with_the_dual_table(tmp_path):
    proc = run_cli(
        [
            "-m",
            *FAST,
            "name=dual_e2e",
            "pair=gaussian",
            "pair.dim=2,8",
            "pair.n_heldout=500",
            "constraint=sn_exact,bjorck",
            "seed=0",
            "train.iterations=40",
        ],
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = tmp_path / "multirun" / "dual_e2e" / "report"
    table = pd.read_csv(report / "dual.csv")
    assert sorted(zip(table["critic"], table["dim"])) == [
        ("bjorck · relu", 2),
        ("bjorck · relu", 8),
        ("sn_exact · relu", 2),
        ("sn_exact · relu", 8),
    ]
    assert (table["n_completed"] == 1).all() and (table["n_violations"] == 0).all()
    assert (table["w1_true"] - 1.0).abs().max() < 1e-6 and table["dual_tightness_mean"].between(0, 1.01).all()
    md = (report / "dual.md").read_text()
    assert "## gaussian" in md and "| critic | d=2 | d=8 |" in md
    assert "Dual table:" in proc.stdout
    assert (report / "plots" / "dual_ratio_vs_dim_gaussian.png").exists()
    assert (report / "plots" / "dual_curves.png").exists()
