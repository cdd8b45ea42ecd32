"""The training loop: one function that turns a validated config into a run record.

``train`` takes the run directory's lock, resumes from a checkpoint when one of the same
config is present, and always leaves a ``summary.json`` whose status is ``completed``,
``diverged``, ``failed`` or (interrupted) ``running``. The GAN task (the default body)
alternates ``n_critic`` critic steps with one generator step; lipbench.train.driver
evaluates at ``eval.every`` and at the end and checkpoints atomically. It never looks at
which constraint it trains.

Its parts live in their own modules: signals (lipbench.signals), building the GAN
(lipbench.train.build), the training state (lipbench.train.state), the iteration loop
(lipbench.train.driver) and the summary's lifecycle (lipbench.train.lifecycle).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from omegaconf import DictConfig

from lipbench import record
from lipbench.evaluate import build_evaluator
from lipbench.metrics.convergence import assess
from lipbench.record.identity import run_identity
from lipbench.signals import HandlerRaised, Interrupted, SignalFlag
from lipbench.train import lifecycle, monitor, rundir
from lipbench.train.build import build_gan
from lipbench.train.driver import Schedule, TaskRun, diverged_metric, drive
from lipbench.train.setup import resolve_device, seed_everything, set_threads
from lipbench.train.state import TrainState
from lipbench.train.steps import train_iteration

__all__ = ["train", "Interrupted", "GanRun"]
log = logging.getLogger("lipbench")


def train(cfg: DictConfig, run_dir, overrides=(), raise_errors: bool = False, body=None) -> dict:
    """Train one run of the validated config ``cfg`` into ``run_dir``; return its summary.

    ``body(cfg, run_dir, summary, plan, device, stop)`` does the training between the
    common set-up (run dir, lock, summary, signals) and the failure handling; the default
    trains a GAN, lipbench.train.dual passes the critic-only dual task's."""
    run_dir = Path(run_dir)
    rundir.check_writable(run_dir)
    plan = rundir.plan(run_dir, run_identity(cfg), bool(cfg.train.overwrite))  # reads only; may raise
    if plan.action == "skip":
        log.info(
            "%s already holds a %s run of this config; skipping (train.overwrite=true re-trains)",
            run_dir,
            plan.summary.get("status"),
        )
        return plan.summary
    with rundir.RunLock(run_dir):  # one process at a time trains in a run directory
        return _run(cfg, run_dir, overrides, raise_errors, body or _train)


def _run(cfg: DictConfig, run_dir: Path, overrides, raise_errors: bool, body) -> dict:
    run_id = run_identity(cfg)
    plan = lifecycle.prepare(run_dir, run_id, bool(cfg.train.overwrite))  # again, now that no one else writes
    if plan.action == "skip":
        return plan.summary
    with lifecycle.train_log(run_dir):
        device = resolve_device(cfg.device)
        summary = lifecycle.new_summary(cfg, run_id, plan, overrides, device, set_threads(cfg.train.threads))
        try:
            with SignalFlag() as stop:
                body(cfg, run_dir, summary, plan, device, stop)
        except HandlerRaised as e:
            raise e.__cause__ from None
        except Exception as e:
            lifecycle.record_failure(summary, run_dir, e)
            if raise_errors:
                raise
    return summary


def _train(cfg, run_dir: Path, summary: dict, plan, device, stop: SignalFlag) -> None:
    """The GAN task's body for :func:`train`."""
    drive(GanRun(cfg, run_dir, summary, device), plan, stop)


class GanRun(TaskRun):
    """One GAN run: the data, the GAN, its evaluator and its training state."""

    def __init__(self, cfg, run_dir: Path, summary: dict, device):
        t_start = time.perf_counter()
        data_gen = seed_everything(int(cfg.seed))
        self.data, self.gan = build_gan(cfg, device)
        summary["method"] = self.gan.constraints.name
        summary["data"] = self.data.describe()
        self.evaluator = build_evaluator(cfg, self.data, run_dir, device)
        self.cfg, self.device, self.schedule = cfg, device, Schedule.of(cfg)
        self.n_critic = int(cfg.optim.n_critic)
        g = self.gan
        self.state = TrainState(
            run_dir,
            summary,
            data_gen,
            {"generator": g.generator, "critic": g.critic, "opt_g": g.opt_g, "opt_d": g.opt_d},
            {"loss_d": [], "loss_g": [], "penalty": []},
            t_start=t_start,
        )

    def sample_real(self, n: int):
        return self.data.sample(n, self.state.data_gen).to(self.device, non_blocking=True)

    def start(self) -> None:
        self.gan.generator.train()
        self.gan.critic.train()

    def iteration(self) -> dict:
        return train_iteration(self.gan, self.sample_real, self.n_critic, self.schedule.batch_size)

    def show(self, values: dict) -> None:
        state, log_every = self.state, self.schedule.log_every
        if state.writer is not None and state.step % log_every == 0:
            for k, v in state.running.items():
                state.writer.add_scalar(f"train/{k}", sum(v) / len(v), state.step)
        self.progress.update(1)
        if state.step % log_every == 0:
            self.progress.set_postfix(loss_d=f"{values['loss_d']:.3g}", loss_g=f"{values['loss_g']:.3g}")

    def evaluate(self, final: bool):
        state = self.state
        metrics, diagnostics = self.evaluator.evaluate(self.gan.generator, self.gan.critic, state.step, final=final)
        losses = state.append_row(metrics)
        if state.writer is not None:
            for k, v in metrics.items():
                if isinstance(v, (int, float)) and v is not None:
                    state.writer.add_scalar(f"eval/{k}", v, state.step)
            monitor.log_picture(state.writer, getattr(self.evaluator, "picture", None), state.step)
        bad = diverged_metric(metrics, getattr(self.evaluator, "primary_metric", None))
        return {**losses, **metrics}, diagnostics, bad

    def complete(self, final: dict) -> dict:
        """``final`` plus ``converged`` / ``ttq_steps`` / ``ttq_s`` from the run's evaluation history,
        for evaluators that name a primary metric and its floor (see lipbench.metrics.convergence)."""
        metric = getattr(self.evaluator, "primary_metric", None)
        if metric is None or metric not in final:
            return final
        e = self.cfg.eval
        rows = record.read_jsonl(self.state.run_dir / record.METRICS)
        floor_metric = getattr(self.evaluator, "floor_metric", None)
        comparable_by = getattr(self.evaluator, "comparable_by", None)
        extra, entry = assess(
            rows,
            metric,
            floor=final.get(floor_metric),
            window=int(e.plateau_window),
            tol=float(e.plateau_tol),
            cv=float(e.plateau_cv),
            factor=float(e.quality_factor),
            comparable_by=comparable_by,
        )
        self.state.summary["convergence"] = {**entry, "floor_metric": floor_metric}
        return {**final, **extra}

    def report(self, final: dict) -> None:
        s = self.state.summary
        log.info(
            "%s: %s in %.1f s (%.1f it/s) -> %s",
            s["method"],
            s["status"],
            s["wall_time_s"],
            s["it_per_s"] or 0,
            self.state.run_dir,
        )
