"""The state of one training run: what it carries from one iteration to the next and what
its checkpoint holds, with the record writes that go with it.

Both tasks (the GAN and the critic-only dual task) keep their state here; they differ
only in ``parts``, the modules and optimizers whose ``state_dict`` a checkpoint holds.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

import torch

from lipbench import record
from lipbench.record.checkpoint import save_checkpoint
from lipbench.train import monitor
from lipbench.train.setup import rng_state, set_rng_state

log = logging.getLogger("lipbench")


@dataclass
class TrainState:
    """Counters, running losses, RNG and timing of a run, and its checkpointed ``parts``."""

    run_dir: Path
    summary: dict
    data_gen: torch.Generator  # the data sampler's generator (its state is checkpointed)
    parts: Dict[str, Any]  # name in the checkpoint -> module or optimizer
    running: Dict[str, List[float]]  # loss name -> its last ``train.log_every`` values
    t_start: float = field(default_factory=time.perf_counter)
    step: int = 0
    train_time: float = 0.0  # seconds spent in training iterations, over all sessions
    elapsed_before: float = 0.0  # wall seconds of the sessions before a resume
    writer: Optional[Any] = None  # a TensorBoard SummaryWriter, or None

    def elapsed(self) -> float:
        """Wall seconds of the run so far, over all sessions."""
        return self.elapsed_before + time.perf_counter() - self.t_start

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
            "run_id": self.summary["run_id"],
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

    def restore(self, ck: dict, iterations: int) -> None:
        """Continue from the checkpoint ``ck``. Rows evaluated after it are evaluated again;
        so is the final one."""
        for name, part in self.parts.items():
            part.load_state_dict(ck[name])
        set_rng_state(ck["rng"], self.data_gen)
        self.step, self.train_time, self.elapsed_before = (
            int(ck["step"]),
            float(ck["train_time_s"]),
            float(ck["wall_time_s"]),
        )
        self.running = {k: list(v) for k, v in ck["running"].items()}
        rows = record.read_jsonl(self.run_dir / record.METRICS, max_step=min(self.step, iterations - 1))
        record.atomic_write(self.run_dir / record.METRICS, lambda f: f.writelines(json.dumps(r) + "\n" for r in rows))
        log.info("resuming %s from step %d", self.run_dir, self.step)

    def append_row(self, metrics: dict, train_key: str = "train_time_s") -> dict:
        """Append the evaluation row of this step to metrics.jsonl; return the mean losses."""
        losses = self.mean_losses()
        row = {
            "step": self.step,
            "time_s": round(self.elapsed(), 3),
            train_key: round(self.train_time, 3),
            **losses,
            **metrics,
        }
        record.append_jsonl(self.run_dir / record.METRICS, row)
        return losses

    def timings(self) -> dict:
        return {"step": self.step, "train_time_s": round(self.train_time, 3), "wall_time_s": round(self.elapsed(), 3)}

    def mark_diverged(self, quantity: str, value: str) -> None:
        self.summary["diverged"] = {"step": self.step, "quantity": quantity, "value": value}

    def finish(self, status: str, final: dict, diagnostics: dict) -> None:
        """Write the run's last summary (``status``, final metrics, timings); log its HParams
        session to TensorBoard and close it."""
        t = self.train_time
        self.summary.update(
            status=status,
            step=self.step,
            final=final,
            diagnostics=diagnostics,
            train_time_s=round(t, 3),
            wall_time_s=round(self.elapsed(), 3),
            it_per_s=round(self.step / t, 3) if t > 0 else None,
            finished_at=record.now(),
        )
        record.write_json(self.run_dir / record.SUMMARY, self.summary)
        if self.writer is not None:
            monitor.log_hparams(self.writer, self.summary)
            self.writer.close()
