"""The checks every registered constraint gets (tests/test_constraint_registry.py runs them
for each member of the registry, tests/test_plugin_constraint.py for a toy constraint a
test registers): its declared defining property holds, it composes from the config, its
hooks run on tiny critics, a tiny run produces the Lipschitz report and resumes after a
stop signal to the numbers of an uninterrupted run."""

from __future__ import annotations

import math
import os
import signal

import pytest
import torch
from torch import nn

from conftest import CONF, compose_cfg, compose_spec, untimed
from lipbench.constraints import CONSTRAINTS, build_constraints
from lipbench.constraints.base import ConstraintSet

# a run of a few iterations, evaluated at the end only, with two critic steps per iteration
TINY_RUN = [
    "model.hidden=8",
    "train.batch_size=16",
    "train.iterations=4",
    "train.checkpoint_every=0",
    "train.log_every=1",
    "train.progress=false",
    "train.threads=1",
    "train.tensorboard=false",
    "eval.every=0",
    "eval.n_samples=100",
    "eval.w1_samples=50",
    "eval.grad_samples=16",
    "eval.surface_resolution=4",
    "optim.n_critic=2",
]
STOP_AT_PROJECTION = 3  # the first critic step of iteration 2 (two critic steps per iteration)


def declared_property_holds(cls) -> None:
    """The class declares its own ``check_property`` (not inherited), and it passes."""
    assert "check_property" in vars(cls), (
        f"constraint {cls.name!r} ({cls.__module__}.{cls.__qualname__}) declares no check_property(): "
        "every constraint checks the property that defines it (see lipbench/constraints/checks.py)"
    )
    cls.check_property()


def _critics():
    """A tiny MLP critic on R² and a tiny conv critic on 1 x 8 x 8 images, with their batch shapes."""
    mlp = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 1))
    conv = nn.Sequential(nn.Conv2d(1, 4, 3, 2, 1), nn.LeakyReLU(0.2), nn.Flatten(), nn.Linear(4 * 4 * 4, 1))
    return [(mlp, (8, 2)), (conv, (8, 1, 8, 8))]


def with_an_optimizer(name: str, overrides) -> list:
    """``overrides``, plus ``optim=A`` (SN-GAN's setting A) for a constraint that publishes no
    optimizer setting (no ``paper`` block: a module without a yaml), unless they pick one."""
    overrides = list(overrides)
    if any(o.startswith("optim=") for o in overrides):
        return overrides
    has_paper = (CONF / "constraint" / f"{name}.yaml").is_file()  # the paper block lives in that yaml only
    return overrides if has_paper else [*overrides, "optim=A"]


def hooks_run_on_tiny_critics(name: str, *overrides: str) -> None:
    """``constraint=name`` composes and validates; its wrap, penalty and project hooks run
    through one critic update on each tiny critic, leaving finite values."""
    cfg = compose_cfg(f"constraint={name}", *with_an_optimizer(name, overrides))
    assert list(cfg.constraint) == [name] and cfg.optim.n_critic >= 1
    for critic, shape in _critics():
        constraints = build_constraints(cfg.constraint)
        assert constraints.name == name
        critic = constraints.wrap(critic)
        real, fake = torch.randn(shape), torch.randn(shape)
        opt = torch.optim.SGD(critic.parameters(), lr=1e-2)
        loss = critic(fake).mean() - critic(real).mean()
        penalty = constraints.penalty(critic, real, fake)
        (loss if penalty is None else loss + penalty).backward()
        opt.step()
        constraints.project(critic)
        assert torch.isfinite(loss) and (penalty is None or torch.isfinite(penalty))
        assert all(torch.isfinite(p).all() for p in critic.parameters())


def _stop_signal_at_projection(monkeypatch, count: int) -> None:
    """Send this process SIGTERM from the ``count``-th projection (after a critic step)."""
    real, calls = ConstraintSet.project, []

    def project(self, critic):
        calls.append(1)
        if len(calls) == count:
            os.kill(os.getpid(), signal.SIGTERM)
        return real(self, critic)

    monkeypatch.setattr(ConstraintSet, "project", project)


def tiny_run_reports_lipschitz_and_resumes(name: str, tmp_path, monkeypatch, *overrides: str) -> None:
    """A tiny run completes with the Lipschitz report in its final metrics; the same run
    stopped by SIGTERM mid-way, then run again, ends with the uninterrupted numbers."""
    from lipbench.record import read_jsonl
    from lipbench.record.checkpoint import load_checkpoint
    from lipbench.signals import Interrupted
    from lipbench.train.loop import train

    run = [f"constraint={name}", *TINY_RUN, *with_an_optimizer(name, overrides)]
    reference = train(compose_spec(*run), tmp_path / "reference")
    assert reference["status"] == "completed" and reference["method"] == name
    final = reference["final"]
    lower, upper = final["lip_lower"], final["lip_upper"]  # upper: NaN where no certificate exists
    assert math.isfinite(lower) and lower >= 0 and (math.isnan(upper) or lower <= upper * (1 + 1e-4))
    with monkeypatch.context() as patch:
        _stop_signal_at_projection(patch, STOP_AT_PROJECTION)
        with pytest.raises(Interrupted):
            train(compose_spec(*run), tmp_path / "run")
    assert load_checkpoint(tmp_path / "run" / "checkpoint.pt")["step"] == 2
    resumed = train(compose_spec(*run), tmp_path / "run")
    assert resumed["status"] == "completed" and resumed["resumes"][0]["step"] == 2
    assert untimed(resumed["final"]) == untimed(final)
    rows = [[untimed(r) for r in read_jsonl(d / "metrics.jsonl")] for d in (tmp_path / "run", tmp_path / "reference")]
    assert rows[0] == rows[1]


def registered_constraints():
    return CONSTRAINTS.names()
