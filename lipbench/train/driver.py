"""The one iteration loop of every task: resume, train, evaluate on schedule, checkpoint,
answer stop signals, detect divergence and end the run.

A task (:class:`lipbench.train.task.Task`) builds its parts and defines one training
iteration and one evaluation; :func:`drive` does the rest, the same way for the GAN and the
dual task and for every constraint. The run's :class:`~lipbench.record.Summary` and
:class:`~lipbench.record.History` are written here, through the record
(:func:`lipbench.record.write_summary`, :meth:`lipbench.record.History.append`).

A stop signal ends the run in an ``interrupted`` record at its last step with a checkpoint,
whether it came during an iteration or during an evaluation (where a long step, such as the
domain classifier's first training, hands it over at once). A run resumed from a checkpoint
whose evaluation was cut short evaluates that step first.
"""

from __future__ import annotations

import logging
import math
import signal
import time

from omegaconf import OmegaConf

from lipbench import record
from lipbench.signals import HandlerRaised, Interrupted, SignalFlag
from lipbench.train import monitor
from lipbench.train.state import TrainState
from lipbench.train.task import Task

log = logging.getLogger("lipbench")


def drive(task: Task, summary: record.Summary, plan, stop: SignalFlag, t_start: float) -> None:
    """Resume if ``plan`` says so, write the run's start, train to the end and finish it."""
    Driver(task, summary, stop, t_start).run(plan)


class Driver:
    """One run of ``task``: its state, history, summary and what shows its progress."""

    def __init__(self, task: Task, summary: record.Summary, stop: SignalFlag, t_start: float):
        self.task, self.summary, self.stop, self.schedule = task, summary, stop, task.schedule
        self.run_dir = task.run_dir
        running = {k: [] for k in task.losses}
        self.state = TrainState(self.run_dir, summary.run_id, task.data_gen, task.parts, running, t_start=t_start)
        self.history = record.History(self.run_dir)
        self.writer = self.progress = None

    def run(self, plan) -> None:
        state, task = self.state, self.task
        if plan.action == "resume":
            state.restore(plan.checkpoint)
            self.history.resume(max_step=min(state.step, self.schedule.iterations - 1))
        record.write_text(self.run_dir / record.CONFIG, OmegaConf.to_yaml(task.spec.config))
        record.write_summary(self.run_dir, self.summary)
        self.writer = monitor.tensorboard(task.spec.train, self.run_dir, state.step)
        self.progress = monitor.progress(task.spec.train, self.schedule.iterations, state.step, self.summary.method)
        task.start()
        if self._catch_up() and self._iterate():
            self._conclude()

    def _catch_up(self) -> bool:
        """The evaluation due now that no row holds yet: the untrained one (dual task), or the one
        a stop signal cut short before the checkpoint resumed from. False when it diverged."""
        step = self.state.step
        if step == 0 and self.task.evaluates_untrained and self.schedule.every and not self.history.has(0):
            self.evaluate(final=False)  # the start of the estimate's curve; it cannot diverge yet
        elif step > 0 and self.schedule.eval_due(step) and not self.history.has(step):
            _, _, bad = self.evaluate(final=False)
            if bad is not None:
                return self._diverged(bad[0], "nan", {})
        return True

    def _iterate(self) -> bool:
        """Train to the last iteration; False when the run diverged (its summary is then written)."""
        state, schedule, stop = self.state, self.schedule, self.stop
        while state.step < schedule.iterations:
            t0 = time.perf_counter()
            values = self.task.iteration()
            state.step += 1
            state.train_time += time.perf_counter() - t0
            bad = first_non_finite(values)
            if bad is not None:
                log.warning("diverged at step %d: %s = %s", state.step, bad[0], bad[1])
                return self._diverged(bad[0], str(bad[1]), dict(values))
            state.record_values(values, schedule.log_every)
            self._show(values)
            if schedule.eval_due(state.step):
                _, _, bad = self.evaluate(final=False)
                if bad is not None:
                    return self._diverged(bad[0], "nan", {})
            if stop.signum is None and schedule.checkpoint_due(state.step):
                state.checkpoint()
            if stop.signum is not None:
                self._interrupt()
        self.progress.close()
        return True

    def _show(self, values: dict) -> None:
        state, log_every = self.state, self.schedule.log_every
        if self.writer is not None and state.step % log_every == 0:
            for k, v in state.running.items():
                self.writer.add_scalar(f"train/{k}", sum(v) / len(v), state.step)
        self.progress.update(1)
        if state.step % log_every == 0:
            self.progress.set_postfix(**{k: f"{values[k]:.3g}" for k in ("loss_d", "loss_g") if k in values})

    def evaluate(self, final: bool):
        """Evaluate, append the row; return ``(results, diagnostics, bad)``, ``bad`` the
        ``(name, value)`` that shows divergence, or None."""
        state, evaluator = self.state, self.task.evaluator
        self.stop.handed = None
        try:
            metrics, diagnostics = self.task.evaluate(state.step, final)
        except BaseException as e:
            self._stopped_in_evaluation(e)
            raise
        row = state.row(metrics)
        self.history.append(row)
        if self.writer is not None:
            for k, v in metrics.items():
                if isinstance(v, (int, float)) and math.isfinite(v):
                    self.writer.add_scalar(f"eval/{k}", v, state.step)
            monitor.log_picture(self.writer, evaluator.picture, state.step)
        self._log_evaluation(metrics, final)
        losses = {k: row[k] for k in state.running}
        return {**losses, **metrics}, diagnostics, diverged_metric(metrics, evaluator.primary_metric)

    def _log_evaluation(self, metrics: dict, final: bool) -> None:
        """One line per evaluation in the run's log (train.log): its progress."""
        state, name = self.state, self.task.evaluator.shown_metric
        value = metrics.get(name) if name is not None else None
        shown = f"{name} = {value:.6g}" if isinstance(value, (int, float)) else f"{name} = {value}"
        log.info(
            "step %d/%d%s: %s, %.1f s, %.1f it/s",
            state.step,
            self.schedule.iterations,
            " (final)" if final else "",
            shown if name is not None else "evaluated",
            state.elapsed(),
            state.it_per_s(),
        )

    def _stopped_in_evaluation(self, error: BaseException) -> None:
        """A stop signal a step of the evaluation handed over (or Ctrl-C): the interrupted
        record at this step, with its checkpoint, before the exception goes on."""
        if self.stop.handed is not None:
            name = signal.Signals(self.stop.handed).name
        elif isinstance(error, (KeyboardInterrupt, Interrupted)):
            name = "SIGINT"
        else:
            return
        if isinstance(error, (SystemExit, KeyboardInterrupt, HandlerRaised)):
            self._record_interruption(name)
            log.warning("interrupted by %s during the evaluation at step %d", name, self.state.step)

    def _record_interruption(self, name: str) -> None:
        state = self.state
        state.checkpoint()
        self.summary.interrupt(name, state.step, state.train_time, state.elapsed())
        record.write_summary(self.run_dir, self.summary)
        if self.writer is not None:
            self.writer.flush()

    def _interrupt(self) -> None:
        """Checkpoint, record the interruption and hand the signal on; returns only when a
        launcher's handler lets the run go on."""
        state, stop = self.state, self.stop
        self._record_interruption(stop.name)
        where = self.run_dir / record.CHECKPOINT
        if stop.chained():
            log.warning(
                "%s at step %d: checkpoint written to %s; the launcher decides what happens next "
                "(requeued jobs resume from this checkpoint)",
                stop.name,
                state.step,
                where,
            )
        else:
            self.progress.close()
            if self.writer is not None:
                self.writer.close()
            log.warning(
                "interrupted by %s at step %d; checkpoint written to %s; run the same command again to resume",
                stop.name,
                state.step,
                where,
            )
        stop.hand_over()  # raises Interrupted, or passes the signal to the launcher's handler
        self.summary.go_on()  # that handler let the run go on

    def _diverged(self, quantity: str, value: str, final: dict, diagnostics=None) -> bool:
        self.progress.close()
        s = self.state
        self.summary.diverge(quantity, value, final, diagnostics or {}, s.step, s.train_time, s.elapsed())
        self._end()
        return False

    def _conclude(self) -> None:
        """The final evaluation, the last checkpoint and summary (completed or diverged)."""
        final, diagnostics, bad = self.evaluate(final=True)
        final, convergence = self.task.complete(final, self.history.rows)
        if convergence is not None:
            self.summary.convergence = convergence
        self.state.checkpoint()
        if bad is not None:
            self._diverged(bad[0], "nan", final, diagnostics)
        else:
            s = self.state
            self.summary.finish(final, diagnostics, s.step, s.train_time, s.elapsed())
            self._end()
        log.info("%s", self.task.ending(self.summary, final))
        self.stop.stop_after_final()

    def _end(self) -> None:
        """Write the run's last summary; log its HParams session to TensorBoard and close it."""
        record.write_summary(self.run_dir, self.summary)
        if self.writer is not None:
            monitor.log_hparams(self.writer, self.summary.to_dict())
            self.writer.close()


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
