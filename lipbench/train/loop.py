"""Training: one function that turns a validated config into a run record.

``train`` takes the run directory's lock, resumes from a checkpoint when one of the same
config is present, and always leaves a ``summary.json`` whose status is ``completed``,
``diverged``, ``failed`` or (interrupted) ``running``. It builds the task (the GAN by
default, :class:`lipbench.train.gan.GanTask`; the dual task passes
:class:`lipbench.dual.task.DualTask`) and hands it to the one iteration loop,
:func:`lipbench.train.driver.drive`, which evaluates at ``eval.every`` and at the end and
checkpoints atomically. It never looks at which constraint it trains.

Its parts live in their own modules: signals (lipbench.signals), building the GAN
(lipbench.train.build), the training state (lipbench.train.state), the task's interface
(lipbench.train.task), the iteration loop (lipbench.train.driver) and the summary's start and
failure (lipbench.train.lifecycle); the summary itself is the record's
(:class:`lipbench.record.Summary`).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from omegaconf import DictConfig

from lipbench.record.identity import run_identity
from lipbench.signals import HandlerRaised, Interrupted, SignalFlag
from lipbench.train import lifecycle, rundir
from lipbench.train.driver import drive
from lipbench.train.gan import GanTask
from lipbench.train.setup import resolve_device, set_threads

__all__ = ["train", "Interrupted"]
log = logging.getLogger("lipbench")


def train(cfg: DictConfig, run_dir, overrides=(), raise_errors: bool = False, task=GanTask) -> dict:
    """Train one run of the validated config ``cfg`` into ``run_dir``; return its summary.

    ``task`` is the task's class (:class:`lipbench.train.task.Task`), built as
    ``task(cfg, run_dir, summary, device)`` between the common set-up (run dir, lock, summary,
    signals) and the failure handling."""
    run_dir = Path(run_dir)
    rundir.check_writable(run_dir)
    run_id = run_identity(cfg)  # once per run: the plan before the lock and the one after use it
    plan = rundir.plan(run_dir, run_id, bool(cfg.train.overwrite))  # reads only; may raise
    if plan.action == "skip":
        log.info(
            "%s already holds a %s run of this config; skipping (train.overwrite=true re-trains)",
            run_dir,
            plan.summary.get("status"),
        )
        return plan.summary
    with rundir.RunLock(run_dir):  # one process at a time trains in a run directory
        return _run(cfg, run_id, run_dir, overrides, raise_errors, task)


def _run(cfg: DictConfig, run_id: str, run_dir: Path, overrides, raise_errors: bool, task) -> dict:
    plan = lifecycle.prepare(run_dir, run_id, bool(cfg.train.overwrite))  # again, now that no one else writes
    if plan.action == "skip":
        return plan.summary
    with lifecycle.train_log(run_dir):
        device = resolve_device(cfg.device)
        summary = lifecycle.new_summary(cfg, run_id, plan, overrides, device, set_threads(cfg.train.threads))
        try:
            with SignalFlag() as stop:
                t_start = time.perf_counter()
                drive(task(cfg, run_dir, summary, device), summary, plan, stop, t_start)
        except HandlerRaised as e:
            raise e.__cause__ from None
        except Exception as e:
            lifecycle.record_failure(summary, run_dir, e)
            if raise_errors:
                raise
    return summary.to_dict()
