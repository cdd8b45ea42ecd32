"""summary.json: the statuses a run can be in and the typed summary readers work with.

A run's summary is written at its start (status ``running``), at every interruption and
at its end (``completed``, ``diverged`` or ``failed``). :class:`Summary` gives its fields
names and types; :meth:`Summary.from_dict` reads any record this project ever wrote
(missing fields take their defaults, fields it does not know are kept in ``extra``), and
:meth:`Summary.to_dict` writes them back in the same layout.

A run owns one :class:`Summary` and changes it only through its lifecycle methods
(:meth:`~Summary.describe`, :meth:`~Summary.interrupt`, :meth:`~Summary.go_on`,
:meth:`~Summary.finish`, :meth:`~Summary.diverge`, :meth:`~Summary.fail`);
:func:`write_summary` is the one writer of summary.json.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from lipbench.record.files import RUN_MARKERS, SUMMARY
from lipbench.record.io import now, write_json

RUNNING = "running"  # training, or interrupted (a checkpoint to resume from)
COMPLETED = "completed"
DIVERGED = "diverged"  # a loss or the primary metric became non-finite
FAILED = "failed"  # an exception; ``error`` and ``traceback`` say which
STATUSES = (COMPLETED, DIVERGED, FAILED, RUNNING)
FINISHED = (COMPLETED, DIVERGED, FAILED)
DONE = (COMPLETED, DIVERGED)  # a rerun of the same config skips these


class RecordError(ValueError):
    """A run record that cannot be read; the message is the reason, one line."""


@dataclass
class Summary:
    """The fields of summary.json (see the module docstring), in the order the loop writes them."""

    lipbench_version: Optional[str] = None
    status: Optional[str] = None  # one of STATUSES
    run_id: Optional[str] = None
    method: Optional[str] = None
    config: Dict[str, Any] = field(default_factory=dict)
    overrides: List[str] = field(default_factory=list)
    step: Optional[int] = None
    iterations: Optional[int] = None
    final: Dict[str, Any] = field(default_factory=dict)
    diagnostics: Dict[str, Any] = field(default_factory=dict)  # with METRIC_INFO (lipbench.record.metric_info)
    diverged: Optional[Dict[str, Any]] = None  # {"step", "quantity", "value"}
    error: Optional[str] = None
    wall_time_s: Optional[float] = None
    train_time_s: Optional[float] = None
    it_per_s: Optional[float] = None
    seed: Optional[int] = None
    device: Optional[str] = None
    torch_threads: Optional[int] = None
    versions: Dict[str, str] = field(default_factory=dict)
    git_commit: Optional[str] = None
    machine: Optional[Dict[str, Any]] = None  # lipbench.record.provenance.machine (records before it: None)
    started_at: Optional[str] = None
    finished_at: Optional[str] = None
    # written only by some runs
    resumes: Optional[List[Dict[str, Any]]] = None  # [{"step", "at"}], one per resume
    task: Optional[str] = None  # "dual" for the dual task
    data: Optional[Dict[str, Any]] = None  # the data source's describe()
    pair: Optional[Dict[str, Any]] = None  # the dual task's pair
    convergence: Optional[Dict[str, Any]] = None  # lipbench.metrics.convergence.assess
    interrupted: Optional[Dict[str, Any]] = None  # {"signal", "step", "at"}
    traceback: Optional[str] = None
    extra: Dict[str, Any] = field(default_factory=dict)  # keys this version does not know
    absent: Tuple[str, ...] = field(default=(), repr=False)  # fields the record read did not have

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "Summary":
        """The summary of a summary.json object. Mappings that are not mappings become empty
        and ``seed`` falls back to the config's, as the report has always read them."""
        known = [f.name for f in dataclasses.fields(cls) if f.name not in ("extra", "absent")]
        values = {k: data[k] for k in known if k in data}
        for key in ("config", "final", "diagnostics"):
            if not isinstance(values.get(key), dict):
                values[key] = {}
        for key in ("diverged", "data", "pair", "convergence", "interrupted", "machine"):
            if key in values and not isinstance(values[key], dict):
                values[key] = None
        if "seed" not in data:
            values["seed"] = values["config"].get("seed")
        return cls(
            **values,
            extra={k: v for k, v in data.items() if k not in known},
            absent=tuple(k for k in known if k not in data),
        )

    def to_dict(self) -> Dict[str, Any]:
        """The summary.json object: every field but those the record read did not have and
        that are still unset (None or empty), then the keys this version does not know."""
        out = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name in ("extra", "absent") or (f.name in self.absent and value in (None, {}, [])):
                continue
            if f.name in _OPTIONAL and value is None:
                continue
            out[f.name] = value
        out.update(self.extra)
        return out

    # -- the lifecycle: a run changes its summary only through these --------------------------

    def describe(self, **fields) -> None:
        """Set what the run is (``method``, ``data``, ``task``, ``pair``) once it is built."""
        for key, value in fields.items():
            if key not in _DESCRIPTIVE:
                raise TypeError(f"Summary.describe: {key!r} is not one of {', '.join(_DESCRIPTIVE)}")
            setattr(self, key, value)

    def at(self, step: int, train_time: float, wall_time: float) -> None:
        """The run's progress: its step and seconds so far (training, wall clock over all sessions)."""
        self.step, self.train_time_s, self.wall_time_s = step, round(train_time, 3), round(wall_time, 3)

    def interrupt(self, signal: str, step: int, train_time: float, wall_time: float) -> None:
        """A stop signal at ``step``: still ``running``, with a checkpoint to resume from."""
        self.at(step, train_time, wall_time)
        self.interrupted = {"signal": signal, "step": step, "at": now()}

    def go_on(self) -> None:
        """A launcher's handler let an interrupted run go on."""
        self.interrupted = None

    def finish(self, final: dict, diagnostics: dict, step: int, train_time: float, wall_time: float) -> None:
        """The run ``completed``: its final metrics, diagnostics and timings."""
        self._end(COMPLETED, final, diagnostics, step, train_time, wall_time)

    def diverge(
        self, quantity: str, value: str, final: dict, diagnostics: dict, step: int, train_time: float, wall_time: float
    ) -> None:
        """The run ``diverged`` at ``step``: ``quantity`` became ``value`` (non-finite)."""
        self.diverged = {"step": step, "quantity": quantity, "value": value}
        self._end(DIVERGED, final, diagnostics, step, train_time, wall_time)

    def _end(self, status: str, final: dict, diagnostics: dict, step: int, train_time: float, wall_time: float):
        self.status, self.final, self.diagnostics = status, final, diagnostics
        self.at(step, train_time, wall_time)
        self.it_per_s = round(step / train_time, 3) if train_time > 0 else None
        self.finished_at = now()

    def fail(self, error: BaseException, traceback: str) -> None:
        """The run ``failed`` with ``error`` (its traceback kept)."""
        self.status, self.error, self.traceback = FAILED, f"{type(error).__name__}: {error}", traceback
        self.finished_at = now()

    @classmethod
    def rejected(cls, error: str, overrides: List[str], config: Dict[str, Any]) -> "Summary":
        """A sweep's trial whose config was rejected before it ran: ``failed``, with the error."""
        out = cls.from_dict({"status": FAILED, "error": error, "overrides": overrides, "config": config})
        out.seed, out.finished_at = None, now()
        return out


_DESCRIPTIVE = ("method", "data", "task", "pair")
_OPTIONAL = ("resumes", "task", "data", "pair", "convergence", "interrupted", "traceback")


def write_summary(run_dir, summary: Summary) -> None:
    """Write ``summary`` as ``run_dir``'s summary.json, atomically: the one writer of that file."""
    write_json(os.path.join(os.fspath(run_dir), SUMMARY), summary.to_dict())


def read_summary_dict(run_dir) -> Dict[str, Any]:
    """The summary.json object of ``run_dir`` with a known status.

    Raises :class:`RecordError` with the reason: no summary.json (and which record files
    there are), unreadable, not JSON, not an object, or a status that is not one of
    :data:`STATUSES`."""
    path = os.path.join(os.fspath(run_dir), SUMMARY)
    if not os.path.isfile(path):
        what = [m for m in RUN_MARKERS if os.path.isfile(os.path.join(os.fspath(run_dir), m))]
        raise RecordError(f"no {SUMMARY} (found {', '.join(what)}); the run was interrupted or is still starting")
    try:
        with open(path, encoding="utf-8") as f:
            summary = json.load(f)
    except (OSError, UnicodeDecodeError) as exc:
        raise RecordError(f"{SUMMARY} cannot be read: {exc}") from None
    except json.JSONDecodeError as exc:
        raise RecordError(f"{SUMMARY} is not valid JSON: {exc}") from None
    if not isinstance(summary, dict):
        raise RecordError(f"{SUMMARY} is not valid JSON: expected an object, got {type(summary).__name__}")
    status = summary.get("status")
    if status not in STATUSES:
        raise RecordError(f"{SUMMARY} has status={status!r}; expected one of {', '.join(STATUSES)}")
    return summary


def read_summary(run_dir) -> Summary:
    """:func:`read_summary_dict` as a :class:`Summary`."""
    return Summary.from_dict(read_summary_dict(run_dir))


def read_summary_field(run_dir, key: str, default=None):
    """One top-level field of ``run_dir``'s summary.json, or ``default`` when it cannot be read
    (for the report's plots, which draw what they can)."""
    try:
        with open(os.path.join(os.fspath(run_dir), SUMMARY), encoding="utf-8") as f:
            summary = json.load(f)
    except (OSError, ValueError):
        return default
    return summary.get(key, default) if isinstance(summary, dict) else default
