"""What a task gives the driver: its parts, one training iteration and one evaluation.

A task (the GAN, :class:`lipbench.train.gan.GanTask`; the critic-only dual task,
:class:`lipbench.dual.task.DualTask`) seeds and builds its parts in its constructor, in the
order that fixes its random numbers, and names them in the run's summary
(:meth:`lipbench.record.Summary.describe`). :func:`lipbench.train.driver.drive` does the
rest the same way for every task and every constraint: resume, the schedule, evaluation
rows, checkpoints, stop signals, divergence and the run's end.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Optional, Tuple

from lipbench.evaluate import Evaluator
from lipbench.metrics.convergence import assess


@dataclass(frozen=True)
class Schedule:
    """How long a run trains and when it evaluates, checkpoints and logs (train.*, eval.every)."""

    iterations: int
    every: int  # evaluate every this many steps (0: only at the end)
    checkpoint_every: int  # 0: only at the end and on a stop signal
    log_every: int
    batch_size: int

    @classmethod
    def of(cls, spec) -> "Schedule":
        """The schedule of a run's spec (:class:`lipbench.spec.RunSpec`)."""
        t = spec.train
        return cls(t.iterations, spec.eval.every, t.checkpoint_every, t.log_every, t.batch_size)

    def eval_due(self, step: int) -> bool:
        """An evaluation before the final one (which always runs) is due at ``step``."""
        return bool(self.every) and step % self.every == 0 and step < self.iterations

    def checkpoint_due(self, step: int) -> bool:
        return bool(self.checkpoint_every) and step % self.checkpoint_every == 0 and step < self.iterations


class Task:
    """One task's run. A subclass's constructor ``(spec, run_dir, summary, device)`` sets the
    attributes below and defines :meth:`iteration` and :meth:`evaluate`."""

    spec: Any  # the run's lipbench.spec.RunSpec
    run_dir: Any
    schedule: Schedule
    evaluator: Evaluator
    data_gen: Any  # the torch.Generator of the training batches (checkpointed)
    parts: Dict[str, Any]  # checkpoint name -> module or optimizer
    losses: Tuple[str, ...]  # the names of the losses an iteration returns, in row order
    evaluates_untrained = False  # evaluate at step 0 too (the start of the dual estimate's curve)

    def start(self) -> None:
        """Called once before the first iteration (after a resume too): training mode."""

    def iteration(self) -> dict:
        """One training iteration; returns its losses as floats."""
        raise NotImplementedError

    def evaluate(self, step: int, final: bool) -> Tuple[dict, dict]:
        """``(metrics, diagnostics)`` of the evaluator on the task's networks at ``step``."""
        raise NotImplementedError

    def complete(self, final: dict, rows: list) -> Tuple[dict, Optional[dict]]:
        """``(final, convergence)``: the final metrics plus ``converged`` / ``ttq_steps`` / ``ttq_s``
        judged from the run's evaluation ``rows`` by the evaluator's primary and floor metrics
        (:func:`lipbench.metrics.convergence.assess`), and the record of that judgement; the
        final metrics unchanged and None for an evaluator that names no primary metric."""
        ev, e = self.evaluator, self.spec.eval
        if ev.primary_metric is None or ev.primary_metric not in final:
            return final, None
        extra, entry = assess(
            rows,
            ev.primary_metric,
            floor=final.get(ev.floor_metric),
            window=e.plateau_window,
            tol=e.plateau_tol,
            factor=e.quality_factor,
            cv=e.plateau_cv,
            comparable_by=ev.comparable_by,
        )
        return {**final, **extra}, {**entry, "floor_metric": ev.floor_metric}

    def ending(self, summary, final: dict) -> str:
        """The one line logged when the run ends."""
        return (
            f"{summary.method}: {summary.status} in {summary.wall_time_s:.1f} s "
            f"({summary.it_per_s or 0:.1f} it/s) -> {self.run_dir}"
        )
