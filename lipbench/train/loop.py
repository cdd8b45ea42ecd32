"""Training: one function that turns a run's spec into a run record.

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
from typing import TYPE_CHECKING

from lipbench.signals import HandlerRaised, SignalFlag
from lipbench.train import lifecycle, rundir
from lipbench.train.driver import drive
from lipbench.train.gan import GanTask
from lipbench.train.setup import resolve_device, set_threads

if TYPE_CHECKING:
    from lipbench.spec import RunSpec

__all__ = ["train"]
log = logging.getLogger("lipbench")


def train(spec: RunSpec, run_dir, overrides=(), raise_errors: bool = False, task=GanTask) -> dict:
    """Train the run of ``spec`` (:func:`lipbench.spec.load`) into ``run_dir``; return its summary.

    ``task`` is the task's class (:class:`lipbench.train.task.Task`), built as
    ``task(spec, run_dir, summary, device)`` between the common set-up (run dir, lock, summary,
    signals) and the failure handling. The run's identity is the spec's ``run_id``."""
    run_dir = Path(run_dir)
    rundir.check_writable(run_dir)
    plan = rundir.plan(run_dir, spec.run_id, spec.train.overwrite)  # reads only; may raise
    if plan.action == "skip":
        log.info(
            "%s already holds a %s run of this config; skipping (train.overwrite=true re-trains)",
            run_dir,
            plan.summary.get("status"),
        )
        return plan.summary
    with rundir.RunLock(run_dir):  # one process at a time trains in a run directory
        return _run(spec, run_dir, plan, overrides, raise_errors, task)


def _run(spec: RunSpec, run_dir: Path, earlier, overrides, raise_errors: bool, task) -> dict:
    # the plan again, now that no one else writes: the one read before the lock if no file changed
    plan = lifecycle.prepare(run_dir, spec.run_id, spec.train.overwrite, earlier=earlier)
    if plan.action == "skip":
        return plan.summary
    with lifecycle.train_log(run_dir):
        device = resolve_device(spec.device)
        summary = lifecycle.new_summary(spec, plan, overrides, device, set_threads(spec.train.threads))
        try:
            with SignalFlag() as stop:
                t_start = time.perf_counter()
                drive(task(spec, run_dir, summary, device), summary, plan, stop, t_start)
        except HandlerRaised as e:
            raise e.__cause__ from None
        except Exception as e:
            lifecycle.record_failure(summary, run_dir, e)
            if raise_errors:
                raise
    return summary.to_dict()
