"""The dual task: train only a critic to maximise E_P[f] - E_Q[f] for a fixed pair (P, Q).

There is no generator. Each step draws a batch of P and a batch of Q from the pair's
``train`` split, minimises ``loss.critic_loss(f(P), f(Q)) + penalty(critic, P, Q)``
(the Wasserstein loss, so the objective is E_Q[f] - E_P[f]; the constraint's penalty
gets P as ``real`` and Q as ``fake``), takes an optimizer step and calls ``project``.
The constraint's three hooks are called the same way for every method; this task never
looks at which one it trains. ``train.iterations`` counts critic steps (optim.n_critic,
a GAN setting, does not apply).

:func:`train` runs :class:`DualTask` through :func:`lipbench.train.loop.train`, which owns
the run directory, its lock, resume planning, the summary and signal handling, and the
driver every task shares (lipbench.train.driver): checkpoints, resume, evaluation
scheduling and the stop-signal protocol.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch.nn.utils import parametrize

from lipbench import record
from lipbench.dual.evaluation import DualEvaluator
from lipbench.dual.pairs import build_pair
from lipbench.losses import build_loss
from lipbench.metrics.dual import time_to_fraction
from lipbench.train import loop
from lipbench.train.build import build_critic
from lipbench.train.setup import build_optimizer, seed_everything
from lipbench.train.task import Schedule, Task

if TYPE_CHECKING:
    from lipbench.spec import RunSpec

__all__ = ["train", "dual_step", "DualTask"]


def train(spec: RunSpec, run_dir, overrides=(), raise_errors: bool = False) -> dict:
    """Train the dual task of ``spec`` into ``run_dir``; return its summary."""
    return loop.train(spec, run_dir, overrides=overrides, raise_errors=raise_errors, task=DualTask)


def dual_step(critic, opt, loss, constraints, p: torch.Tensor, q: torch.Tensor) -> dict:
    """One critic update on a P batch and a Q batch; returns the losses as floats."""
    with parametrize.cached():
        objective = loss.critic_loss(critic(p).reshape(-1), critic(q).reshape(-1))
        penalty = constraints.penalty(critic, p, q)
    total = objective if penalty is None else objective + penalty
    opt.zero_grad(set_to_none=True)
    total.backward()
    opt.step()
    constraints.project(critic)
    pen = torch.zeros(()) if penalty is None else penalty.detach()
    values = torch.stack([objective.detach().cpu(), pen.cpu()]).tolist()
    return {"loss_d": values[0], "penalty": values[1]}


class DualTask(Task):
    """One dual run: the pair, the constrained critic, its optimizer and its evaluator."""

    losses = ("loss_d", "penalty")
    evaluates_untrained = True  # the untrained critic: the start of the estimate's curve

    def __init__(self, spec: RunSpec, run_dir: Path, summary: record.Summary, device):
        self.data_gen = seed_everything(spec.seed)
        self.pair = build_pair(spec.pair)
        self.critic, self.constraints = build_critic(spec, self.pair.dim, device)
        self.opt = build_optimizer(self.critic.parameters(), spec.optim)
        self.loss = build_loss(spec.loss)
        summary.describe(method=self.constraints.name, task="dual", pair=self.pair.describe())
        self.evaluator = DualEvaluator(spec, self.pair, run_dir, device)
        self.spec, self.run_dir, self.device, self.schedule = spec, Path(run_dir), device, Schedule.of(spec)
        self.parts = {"critic": self.critic, "opt_d": self.opt}

    def start(self) -> None:
        self.critic.train()

    def iteration(self) -> dict:
        p, q = self.pair.sample("train", self.schedule.batch_size, self.data_gen)
        return dual_step(self.critic, self.opt, self.loss, self.constraints, p.to(self.device), q.to(self.device))

    def evaluate(self, step: int, final: bool):
        return self.evaluator.evaluate(self.critic, step, final=final)

    def complete(self, final: dict, rows: list):
        """The time the held-out estimate took to reach 95% of its final value (no plateau rule)."""
        return {**final, **time_to_fraction(rows)}, None

    def ending(self, summary, final: dict) -> str:
        return (
            f"{summary.method} on {self.pair.label}: {summary.status} in {summary.wall_time_s:.1f} s, "
            f"estimate/W1 = {final.get('dual_tightness', math.nan):.4g} -> {self.run_dir}"
        )
