"""metrics.jsonl as a run keeps it: every evaluation row appended to the file and held in
memory, so that what the run judges at its end (convergence, time to quality) is the history
it wrote, not a copy read back from disk.

A row is kept as it is written (:func:`lipbench.record.io.jsonable`: non-finite floats as
strings, tensors and numpy scalars as Python numbers), which is what reading the file back
gives.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List

from lipbench.record.files import METRICS
from lipbench.record.io import append_jsonl, jsonable, read_jsonl, write_jsonl


class History:
    """The evaluation rows of the run in ``run_dir``, oldest first."""

    def __init__(self, run_dir):
        self.path = Path(run_dir) / METRICS
        self.rows: List[Dict] = []

    def append(self, row: Dict) -> None:
        """Append one evaluation (flushed to metrics.jsonl) and keep it."""
        row = jsonable(row)
        append_jsonl(self.path, row)
        self.rows.append(row)

    def resume(self, max_step: int) -> None:
        """Continue the history on disk up to ``max_step``: the rows after it are dropped from
        the file (they are evaluated again) and the rest are kept."""
        self.rows = read_jsonl(self.path, max_step=max_step)
        write_jsonl(self.path, self.rows)

    def has(self, step: int) -> bool:
        return any(row.get("step") == step for row in self.rows)
