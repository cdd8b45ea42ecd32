"""The iteration loop both tasks share: train, evaluate on schedule, checkpoint, answer stop
signals, detect divergence and finish the run.

A task (the GAN in lipbench.train.loop, the dual task in lipbench.train.dual) subclasses
:class:`TaskRun`: it builds its parts and its :class:`~lipbench.train.state.TrainState`,
and defines one training iteration and one evaluation. :func:`drive` does the rest, the
same way for every task and every constraint.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

from omegaconf import OmegaConf

from lipbench import record
from lipbench.signals import SignalFlag
from lipbench.train import monitor
from lipbench.train.state import TrainState

log = logging.getLogger("lipbench")


@dataclass(frozen=True)
class Schedule:
    """How long a run trains and when it evaluates, checkpoints and logs (train.*, eval.every)."""

    iterations: int
    every: int  # evaluate every this many steps (0: only at the end)
    checkpoint_every: int  # 0: only at the end and on a stop signal
    log_every: int
    batch_size: int

    @classmethod
    def of(cls, cfg) -> "Schedule":
        t = cfg.train
        return cls(int(t.iterations), int(cfg.eval.every), int(t.checkpoint_every), int(t.log_every), int(t.batch_size))

    def eval_due(self, step: int) -> bool:
        """An evaluation before the final one (which always runs) is due at ``step``."""
        return bool(self.every) and step % self.every == 0 and step < self.iterations

    def checkpoint_due(self, step: int) -> bool:
        return bool(self.checkpoint_every) and step % self.checkpoint_every == 0 and step < self.iterations


class TaskRun:
    """One task's run. A subclass sets ``cfg``, ``state`` and ``schedule`` in its constructor
    (after seeding and building its parts) and defines :meth:`iteration` and :meth:`evaluate`."""

    cfg = None
    state: TrainState
    schedule: Schedule
    progress = None

    def iteration(self) -> dict:
        """One training iteration; returns its losses as floats."""
        raise NotImplementedError

    def evaluate(self, final: bool):
        """Evaluate, append the metrics row; return ``(results, diagnostics, bad)``, ``bad`` the
        ``(name, value)`` that shows divergence, or None."""
        raise NotImplementedError

    def start(self) -> None:
        """Called once before the first iteration (after a resume too)."""

    def show(self, values: dict) -> None:
        """Show an iteration's losses (progress bar, TensorBoard)."""
        self.progress.update(1)

    def complete(self, final: dict) -> dict:
        """The final results plus what the run's history adds (convergence, time to quality)."""
        return final

    def report(self, final: dict) -> None:
        """Log the one line that ends a run."""


def drive(run: TaskRun, plan, stop: SignalFlag) -> None:
    """Resume if ``plan`` says so, write the run's start, train to the end and finish it."""
    state = run.state
    if plan.action == "resume":
        state.restore(plan.checkpoint, run.schedule.iterations)
    record.atomic_write(state.run_dir / record.CONFIG, lambda f: f.write(OmegaConf.to_yaml(run.cfg)))
    record.write_json(state.run_dir / record.SUMMARY, state.summary)
    state.writer = monitor.tensorboard(run.cfg, state.run_dir, state.step)
    run.progress = monitor.progress(run.cfg, run.schedule.iterations, state.step, state.summary["method"])
    run.start()
    if iterate(run, stop):
        conclude(run, stop)


def iterate(run: TaskRun, stop: SignalFlag) -> bool:
    """Train to the last iteration; False when the run diverged (its summary is then written)."""
    state, schedule = run.state, run.schedule
    while state.step < schedule.iterations:
        t0 = time.perf_counter()
        values = run.iteration()
        state.step += 1
        state.train_time += time.perf_counter() - t0
        bad = first_non_finite(values)
        if bad is not None:
            log.warning("diverged at step %d: %s = %s", state.step, bad[0], bad[1])
            return _diverged(run, bad[0], str(bad[1]), dict(values))
        state.record_values(values, schedule.log_every)
        run.show(values)
        if schedule.eval_due(state.step):
            _, _, bad = run.evaluate(final=False)
            if bad is not None:
                return _diverged(run, bad[0], "nan", {})
        if stop.signum is None and schedule.checkpoint_due(state.step):
            state.checkpoint()
        if stop.signum is not None:
            interrupt(run, stop)
    run.progress.close()
    return True


def _diverged(run: TaskRun, quantity: str, value: str, final: dict) -> bool:
    run.state.mark_diverged(quantity, value)
    run.progress.close()
    run.state.finish("diverged", final, {})
    return False


def interrupt(run: TaskRun, stop: SignalFlag) -> None:
    """Checkpoint, record the interruption and hand the signal on; returns only when a
    launcher's handler lets the run go on."""
    state = run.state
    state.checkpoint()
    state.summary.update(**state.timings(), interrupted={"signal": stop.name, "step": state.step, "at": record.now()})
    record.write_json(state.run_dir / record.SUMMARY, state.summary)
    if state.writer is not None:
        state.writer.flush()
    where = state.run_dir / record.CHECKPOINT
    if stop.chained():
        log.warning(
            "%s at step %d: checkpoint written to %s; the launcher decides what happens next "
            "(requeued jobs resume from this checkpoint)",
            stop.name,
            state.step,
            where,
        )
    else:
        run.progress.close()
        if state.writer is not None:
            state.writer.close()
        log.warning(
            "interrupted by %s at step %d; checkpoint written to %s; run the same command again to resume",
            stop.name,
            state.step,
            where,
        )
    stop.hand_over()  # raises Interrupted, or passes the signal to the launcher's handler
    state.summary.pop("interrupted")  # that handler let the run go on


def conclude(run: TaskRun, stop: SignalFlag) -> None:
    """The final evaluation, the last checkpoint and summary (completed or diverged)."""
    final, diagnostics, bad = run.evaluate(final=True)
    final = run.complete(final)
    run.state.checkpoint()
    if bad is not None:
        run.state.mark_diverged(bad[0], "nan")
        run.state.finish("diverged", final, diagnostics)
    else:
        run.state.finish("completed", final, diagnostics)
    run.report(final)
    stop.stop_after_final()


def first_non_finite(values: dict):
    """The first (name, value) that is not finite, or None."""
    for k, v in values.items():
        if isinstance(v, float) and not math.isfinite(v):
            return k, v
    return None


def diverged_metric(metrics: dict, primary=None):
    """``(name, value)`` when an evaluation shows divergence, else None: the evaluator's primary
    metric is NaN or missing (a generator that produced non-finite samples gets none), or, for
    an evaluator that names no primary metric, any metric is NaN. Diagnostics that may be NaN
    by design (a Lipschitz bound with no certificate, a time to quality never reached) do not
    count when a primary metric is named."""
    if primary is not None:
        value = metrics.get(primary, math.nan)
        return (primary, value) if not isinstance(value, (int, float)) or math.isnan(value) else None
    return next(((k, v) for k, v in metrics.items() if isinstance(v, float) and math.isnan(v)), None)
