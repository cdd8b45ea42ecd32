"""The training loop: run record, determinism, divergence."""

import json
import math

import pytest
import torch

from conftest import FAST_2D, compose_spec, untimed
from lipbench.constraints import CONSTRAINTS
from lipbench.constraints.base import Constraint
from lipbench.record import read_jsonl
from lipbench.record.checkpoint import load_checkpoint
from lipbench.train.loop import train


def _summary(path):
    return json.loads((path / "summary.json").read_text())


def test_run_record_is_complete(tmp_path):
    s = train(compose_spec(*FAST_2D, "constraint=sn"), tmp_path)
    assert s["status"] == "completed" and s["method"] == "sn" and s["step"] == 20
    on_disk = _summary(tmp_path)
    for key in (
        "run_id",
        "config",
        "final",
        "diagnostics",
        "wall_time_s",
        "it_per_s",
        "seed",
        "device",
        "versions",
        "git_commit",
        "machine",
        "started_at",
        "finished_at",
    ):
        assert key in on_disk
    machine = on_disk["machine"]  # where it was made: bitwise reproducibility holds per machine
    assert isinstance(machine["cpu"], str) and machine["cpu"] and machine["cpu_count"] >= 1
    assert set(machine) == {"cpu", "cpu_count", "cpu_capability", "platform", "cuda_device"}
    assert on_disk["config"]["optim"]["lr"] == pytest.approx(2e-4)  # SN's paper setting was resolved
    rows = read_jsonl(tmp_path / "metrics.jsonl")
    assert [r["step"] for r in rows] == [10, 20]
    for key in ("w1", "critic_gap", "modes", "hq_pct", "grad_interp_mean", "sigma_max", "loss_d", "loss_g"):
        assert key in rows[-1] and key in on_disk["final"]
    assert 0 <= on_disk["final"]["modes"] <= 8 and 0 <= on_disk["final"]["hq_pct"] <= 100
    # SN: every layer's effective spectral norm is ~1
    assert all(abs(layer["sigma"] - 1) < 0.1 for layer in on_disk["diagnostics"]["layers"])
    for name in ("samples_final.png", "samples_step000010.png", "final_samples.npz", "config.yaml"):
        assert (tmp_path / name).exists(), name
    ckpt = load_checkpoint(tmp_path / "checkpoint.pt")  # weights_only=True
    assert ckpt["step"] == 20 and ckpt["run_id"] == on_disk["run_id"]


def test_same_seed_same_numbers_different_seed_different_numbers(tmp_path):
    a = train(compose_spec(*FAST_2D, "constraint=gp", "seed=3"), tmp_path / "a")
    b = train(compose_spec(*FAST_2D, "constraint=gp", "seed=3"), tmp_path / "b")
    c = train(compose_spec(*FAST_2D, "constraint=gp", "seed=4"), tmp_path / "c")
    assert untimed(a["final"]) == untimed(b["final"])
    assert [untimed(r) for r in read_jsonl(tmp_path / "a" / "metrics.jsonl")] == [
        untimed(r) for r in read_jsonl(tmp_path / "b" / "metrics.jsonl")
    ]
    assert a["final"]["w1"] != c["final"]["w1"]


class _NaNAfter(Constraint):
    """A test-only constraint whose penalty turns NaN at its 7th call."""

    name = "nan_after"

    def __init__(self, params):
        super().__init__(params)
        self.calls = 0

    def penalty(self, critic, real, fake):
        self.calls += 1
        return torch.tensor(float("nan") if self.calls >= 7 else 0.0)


@pytest.fixture
def nan_after():
    CONSTRAINTS.register("nan_after")(_NaNAfter)
    yield
    CONSTRAINTS.unregister("nan_after")


def test_nan_ends_the_run_as_diverged_not_a_crash(tmp_path, nan_after):
    spec = compose_spec(*FAST_2D, "+constraint.nan_after={}", "optim=A")  # n_critic 5: 7th call is in step 2
    s = train(spec, tmp_path)
    assert s["status"] == "diverged"
    assert s["diverged"]["step"] == 2 and s["diverged"]["quantity"] == "penalty"
    assert _summary(tmp_path)["status"] == "diverged"


def test_an_exception_is_recorded_as_failed(tmp_path, monkeypatch):
    import lipbench.train.gan as gan

    def boom(*a, **k):
        raise RuntimeError("simulated failure")

    monkeypatch.setattr(gan, "train_iteration", boom)
    s = train(compose_spec(*FAST_2D), tmp_path)
    assert s["status"] == "failed" and "simulated failure" in s["error"]
    assert _summary(tmp_path)["status"] == "failed"


def test_completed_run_is_skipped_and_other_config_is_refused(tmp_path):
    from lipbench.errors import RunDirError

    first = train(compose_spec(*FAST_2D), tmp_path)
    mtime = (tmp_path / "checkpoint.pt").stat().st_mtime_ns
    again = train(compose_spec(*FAST_2D), tmp_path)
    assert again["finished_at"] == first["finished_at"]
    assert (tmp_path / "checkpoint.pt").stat().st_mtime_ns == mtime
    with pytest.raises(RunDirError, match="another config"):
        train(compose_spec(*FAST_2D, "seed=9"), tmp_path)
    redo = train(compose_spec(*FAST_2D, "seed=9", "train.overwrite=true"), tmp_path)
    assert redo["status"] == "completed" and redo["seed"] == 9
    assert math.isfinite(redo["final"]["w1"])


@pytest.mark.parametrize("iterations,every,ckpt", [(20, 10, 0), (25, 10, 7), (20, 0, 20), (9, 3, 1)])
def test_the_schedule_evaluates_and_checkpoints_at_multiples_before_the_end(iterations, every, ckpt):
    from lipbench.train.task import Schedule

    spec = compose_spec(
        *FAST_2D, f"train.iterations={iterations}", f"eval.every={every}", f"train.checkpoint_every={ckpt}"
    )
    s = Schedule.of(spec)
    assert (s.iterations, s.every, s.checkpoint_every, s.batch_size) == (iterations, every, ckpt, 64)
    # the final evaluation and checkpoint always run; these are the ones before it
    steps = range(1, iterations + 1)
    assert [t for t in steps if s.eval_due(t)] == (list(range(every, iterations, every)) if every else [])
    assert [t for t in steps if s.checkpoint_due(t)] == (list(range(ckpt, iterations, ckpt)) if ckpt else [])
