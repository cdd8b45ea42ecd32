"""The dual task: train only a critic to maximise E_P[f] - E_Q[f] for a fixed pair (P, Q).

There is no generator. Each step draws a batch of P and a batch of Q from the pair's
``train`` split, minimises ``loss.critic_loss(f(P), f(Q)) + penalty(critic, P, Q)``
(the Wasserstein loss, so the objective is E_Q[f] - E_P[f]; the constraint's penalty
gets P as ``real`` and Q as ``fake``), takes an optimizer step and calls ``project``.
The constraint's three hooks are called the same way for every method; this loop never
looks at which one it trains. ``train.iterations`` counts critic steps (optim.n_critic,
a GAN setting, does not apply).

It runs inside :func:`lipbench.train.loop.train`, which owns the run directory, its lock,
resume planning, the summary and signal handling; checkpoints, resume, evaluation
scheduling and the stop-signal protocol are the GAN loop's (lipbench.train.driver,
lipbench.signals).
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path

import torch
from omegaconf import DictConfig
from torch.nn.utils import parametrize

from lipbench import record
from lipbench.data.pairs import build_pair
from lipbench.evaluate.dual import DualEvaluator
from lipbench.losses import build_loss
from lipbench.metrics.dual import time_to_fraction
from lipbench.train import loop
from lipbench.train.build import build_critic
from lipbench.train.driver import Schedule, TaskRun, diverged_metric, drive
from lipbench.train.setup import build_optimizer, seed_everything
from lipbench.train.state import TrainState

__all__ = ["train", "build_critic", "dual_step", "DualRun"]
log = logging.getLogger("lipbench")


def train(cfg: DictConfig, run_dir, overrides=(), raise_errors: bool = False) -> dict:
    """Train the dual task of the validated config ``cfg`` into ``run_dir``; return its summary."""
    return loop.train(cfg, run_dir, overrides=overrides, raise_errors=raise_errors, body=_train_dual)


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


def _train_dual(cfg, run_dir: Path, summary: dict, plan, device, stop) -> None:
    drive(DualRun(cfg, run_dir, summary, device), plan, stop)


class DualRun(TaskRun):
    """One dual run: the pair, the constrained critic, its optimizer and training state."""

    def __init__(self, cfg, run_dir: Path, summary: dict, device):
        t_start = time.perf_counter()
        data_gen = seed_everything(int(cfg.seed))
        self.pair = build_pair(cfg.pair)
        self.critic, self.constraints = build_critic(cfg, self.pair.dim, device)
        self.opt = build_optimizer(self.critic.parameters(), cfg.optim)
        self.loss = build_loss(cfg.loss)
        summary.update(method=self.constraints.name, task="dual", pair=self.pair.describe())
        self.evaluator = DualEvaluator(cfg, self.pair, run_dir, device)
        self.cfg, self.device, self.schedule = cfg, device, Schedule.of(cfg)
        self.state = TrainState(
            run_dir,
            summary,
            data_gen,
            {"critic": self.critic, "opt_d": self.opt},
            {"loss_d": [], "penalty": []},
            t_start=t_start,
        )

    def start(self) -> None:
        self.critic.train()
        if self.state.step == 0 and self.schedule.every:
            self.evaluate(final=False)  # the untrained critic: the start of the estimate's curve

    def iteration(self) -> dict:
        p, q = self.pair.sample("train", self.schedule.batch_size, self.state.data_gen)
        return dual_step(self.critic, self.opt, self.loss, self.constraints, p.to(self.device), q.to(self.device))

    def evaluate(self, final: bool):
        state = self.state
        metrics, diagnostics = self.evaluator.evaluate(self.critic, state.step, final=final)
        losses = state.append_row(metrics, train_key="train_s")
        if state.writer is not None:
            for k, v in metrics.items():
                if isinstance(v, (int, float)) and math.isfinite(v):
                    state.writer.add_scalar(f"eval/{k}", v, state.step)
        return {**losses, **metrics}, diagnostics, diverged_metric(metrics)

    def complete(self, final: dict) -> dict:
        return {**final, **time_to_fraction(record.read_jsonl(self.state.run_dir / record.METRICS))}

    def report(self, final: dict) -> None:
        s = self.state.summary
        log.info(
            "%s on %s: %s in %.1f s, estimate/W1 = %.4g -> %s",
            s["method"],
            self.pair.label,
            s["status"],
            s["wall_time_s"],
            final.get("dual_tightness", math.nan),
            self.state.run_dir,
        )
