"""The summary's lifecycle around a task's training: the run directory made ready, the first
``running`` summary, train.log, and the ``failed`` record of an exception.

The driver (lipbench.train.driver) writes the rest: ``completed``, ``diverged`` or, on a
stop signal, ``running`` with ``interrupted``. The summary is a
:class:`lipbench.record.Summary`, changed through its methods and written by
:func:`lipbench.record.write_summary` only.
"""

from __future__ import annotations

import contextlib
import logging
import traceback
from pathlib import Path

from omegaconf import OmegaConf

import lipbench
from lipbench import record
from lipbench.record.provenance import git_commit, machine, versions
from lipbench.train import rundir

log = logging.getLogger("lipbench")


def prepare(run_dir: Path, run_id: str, overwrite: bool, earlier=None):
    """The plan for ``run_dir`` now that the run holds the lock (see
    lipbench.train.rundir.plan: ``earlier``, the plan read before the lock, unless the record
    files changed since); a fresh run's directory is cleared, stale temporary files removed."""
    plan = rundir.plan(run_dir, run_id, overwrite, earlier=earlier)
    if plan.action == "skip":
        return plan
    if plan.action == "fresh":
        rundir.clear(run_dir)
    rundir.remove_stale_temporaries(run_dir)
    return plan


@contextlib.contextmanager
def train_log(run_dir: Path):
    """Copy every log record into ``run_dir/train.log`` while the run trains."""
    handler = logging.FileHandler(run_dir / record.LOG)
    handler.setFormatter(logging.Formatter("[%(asctime)s][%(levelname)s] %(message)s"))
    logging.getLogger().addHandler(handler)
    try:
        yield
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()


def new_summary(spec, plan, overrides, device, threads: int) -> record.Summary:
    """The summary of the run of ``spec`` (a :class:`lipbench.spec.RunSpec`) that starts (or
    resumes, keeping its start time and resumes)."""
    resume = plan.action == "resume"
    summary = record.Summary(
        lipbench_version=lipbench.__version__,
        status=record.RUNNING,
        run_id=spec.run_id,
        config=OmegaConf.to_container(spec.config, resolve=True),
        overrides=list(overrides),
        step=0,
        iterations=spec.train.iterations,
        wall_time_s=0.0,
        train_time_s=0.0,
        seed=spec.seed,
        device=str(device),
        torch_threads=threads,
        versions=versions(),
        git_commit=git_commit(),
        machine=machine(device),  # this session's machine (a resume records its own); not in the run's identity
        started_at=(plan.summary or {}).get("started_at") if resume else record.now(),
    )
    if resume:
        summary.resumes = list((plan.summary or {}).get("resumes") or []) + [
            {"step": int(plan.checkpoint["step"]), "at": record.now()}
        ]
    return summary


def record_failure(summary: record.Summary, run_dir: Path, error: Exception) -> None:
    """Mark the run ``failed`` with the error and its traceback (call it in the except block)."""
    summary.fail(error, traceback.format_exc())
    try:
        record.write_summary(run_dir, summary)
    except OSError:
        log.error("could not write %s", run_dir / record.SUMMARY)
    log.error("run failed: %s (details in %s)", summary.error, run_dir / record.SUMMARY)
