"""The state of one training run: what it carries from one iteration to the next and what
its checkpoint holds.

Both tasks (the GAN and the critic-only dual task) keep their state here; they differ
only in ``parts``, the modules and optimizers whose ``state_dict`` a checkpoint holds.
The summary and the evaluation history are the record's (:class:`lipbench.record.Summary`,
:class:`lipbench.record.History`); the driver (:mod:`lipbench.train.driver`) writes them.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List

import torch

from lipbench import record
from lipbench.record.checkpoint import save_checkpoint
from lipbench.train.setup import rng_state, set_rng_state

log = logging.getLogger("lipbench")


@dataclass
class TrainState:
    """Counters, running losses, RNG and timing of a run, and its checkpointed ``parts``."""

    run_dir: Path
    run_id: str
    data_gen: torch.Generator  # the data sampler's generator (its state is checkpointed)
    parts: Dict[str, Any]  # name in the checkpoint -> module or optimizer
    running: Dict[str, List[float]]  # loss name -> its last ``train.log_every`` values
    t_start: float = field(default_factory=time.perf_counter)
    step: int = 0
    train_time: float = 0.0  # seconds spent in training iterations, over all sessions
    elapsed_before: float = 0.0  # wall seconds of the sessions before a resume

    def elapsed(self) -> float:
        """Wall seconds of the run so far, over all sessions."""
        return self.elapsed_before + time.perf_counter() - self.t_start

    def it_per_s(self) -> float:
        """Training iterations per second of training time so far (0 before the first)."""
        return self.step / self.train_time if self.train_time > 0 else 0.0

    def record_values(self, values: dict, log_every: int) -> None:
        """Keep the last ``log_every`` values of each loss."""
        for k, v in values.items():
            self.running[k].append(v)
            del self.running[k][:-log_every]

    def mean_losses(self) -> dict:
        return {k: (sum(v) / len(v) if v else None) for k, v in self.running.items()}

    def checkpoint(self) -> None:
        """Write the checkpoint atomically; on failure the previous one is left as it was."""
        path = self.run_dir / record.CHECKPOINT
        state = {
            "run_id": self.run_id,
            "step": self.step,
            **{name: part.state_dict() for name, part in self.parts.items()},
            "rng": rng_state(self.data_gen),
            "running": self.running,
            "train_time_s": self.train_time,
            "wall_time_s": self.elapsed(),
        }
        try:
            save_checkpoint(path, state)
        except OSError as e:
            raise OSError(
                e.errno,
                f"writing {path} at step {self.step} failed ({e.strerror or e}); "
                "any previous checkpoint is left intact",
            ) from e

    def restore(self, ck: dict) -> None:
        """Continue from the checkpoint ``ck``."""
        for name, part in self.parts.items():
            part.load_state_dict(ck[name])
        set_rng_state(ck["rng"], self.data_gen)
        self.step, self.train_time, self.elapsed_before = (
            int(ck["step"]),
            float(ck["train_time_s"]),
            float(ck["wall_time_s"]),
        )
        self.running = {k: list(v) for k, v in ck["running"].items()}
        log.info("resuming %s from step %d", self.run_dir, self.step)

    def row(self, metrics: dict) -> dict:
        """The evaluation row of this step (metrics.jsonl): step, times, mean losses, metrics."""
        return {
            "step": self.step,
            "time_s": round(self.elapsed(), 3),
            "train_time_s": round(self.train_time, 3),
            **self.mean_losses(),
            **metrics,
        }
