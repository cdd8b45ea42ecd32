"""Read run directories into one pandas DataFrame (one row per run).

The input is the run record (:mod:`lipbench.record`): ``summary.json`` (status, config,
final metrics, timings, what the metrics are) and ``metrics.jsonl`` (one evaluation per
line). Nothing here raises on a bad run directory: a run that cannot be read is returned in
the ``incomplete`` list as ``(path, reason)`` so the report can name it. The runs' metric
infos (directions, table columns) are merged into the frame's ``attrs["metric_info"]``
(:mod:`lipbench.report.metric_book`). Metrics and infos are read under their current names:
a name that older records use is renamed by :data:`lipbench.report.metric_book.OLD_NAMES`,
the one table of such names.
"""

from __future__ import annotations

import json
import os
from typing import Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np
import pandas as pd

from lipbench import record
from lipbench.record import FINISHED, RUN_MARKERS
from lipbench.report.factors import swept_factors
from lipbench.report.metric_book import ATTR, current_infos, current_names

REPORT_MARKER = ".lipbench-report"  # written into every report out_dir; skipped when found below an input

# Columns taken from the top level of summary.json (final metrics never overwrite them).
BASE_COLUMNS = (
    "run_dir",
    "run_id",
    "method",
    "status",
    "seed",
    "step",
    "iterations",
    "wall_time_s",
    "it_per_s",
    "device",
    "diverged_step",
    "diverged_quantity",
    "error",
    "finished_at",
)

PathLike = Union[str, os.PathLike]


def is_run_dir(path: PathLike) -> bool:
    """A run dir holds at least one file of the run record."""
    return any(os.path.isfile(os.path.join(path, m)) for m in RUN_MARKERS)


def find_run_dirs(path: PathLike) -> List[str]:
    """``path`` itself if it is a run dir, else every run dir below it (sorted).

    Hidden folders (``.hydra``) and report folders found below ``path`` are skipped, so
    the copies a report keeps of its runs are not counted twice.
    """
    path = os.fspath(path)
    if is_run_dir(path):
        return [path]
    found = []
    for root, dirs, _files in os.walk(path):
        dirs[:] = sorted(
            d for d in dirs if not d.startswith(".") and not os.path.isfile(os.path.join(root, d, REPORT_MARKER))
        )
        keep = []
        for d in dirs:
            sub = os.path.join(root, d)
            if is_run_dir(sub):
                found.append(sub)
            else:
                keep.append(d)
        dirs[:] = keep
    return sorted(found)


def flatten(cfg, prefix: str = "cfg.") -> dict:
    """Flatten a nested config dict to dotted keys; lists become JSON strings (hashable)."""
    out = {}
    if not isinstance(cfg, dict):
        return out
    for key, value in cfg.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            if value:
                out.update(flatten(value, name + "."))
            else:
                out[name] = "{}"
        elif isinstance(value, (list, tuple)):
            out[name] = json.dumps(value)
        else:
            out[name] = value
    return out


def _method_from_config(cfg) -> str:
    cons = cfg.get("constraint") if isinstance(cfg, dict) else None
    if isinstance(cons, dict) and cons:
        return "+".join(str(k) for k in cons)
    return "none"


def _float(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def read_run(run_dir: str) -> Tuple[Optional[dict], Optional[str]]:
    """One run as a flat row dict, or ``(None, reason)`` when it cannot be read."""
    row, _, reason = _read(run_dir)
    return row, reason


def _read(run_dir: str):
    """``(row, metric infos, None)``, or ``(None, None, reason)``."""
    try:
        raw = record.read_summary_dict(run_dir)
    except record.RecordError as exc:
        return None, None, str(exc)
    s = record.Summary.from_dict(raw)
    diverged = s.diverged or {}
    row = {
        "run_dir": run_dir,
        "run_id": str(s.run_id or os.path.basename(os.path.normpath(run_dir))),
        "method": str(s.method or _method_from_config(s.config)),
        "status": s.status,
        "seed": s.seed,
        "step": s.step,
        "iterations": s.iterations,
        "wall_time_s": _float(s.wall_time_s),
        "it_per_s": _float(s.it_per_s),
        "device": s.device,
        "diverged_step": diverged.get("step"),
        "diverged_quantity": diverged.get("quantity"),
        "error": s.error,
        "finished_at": s.finished_at,
    }
    for name, value in current_names(s.final).items():
        if name not in row and not isinstance(value, (dict, list)):
            row[name] = _float(value)
    row.update(_convergence_now(raw, run_dir))
    row.update(flatten(s.config))
    return row, current_infos(record.metric_info_of(raw)), None


def _history(run_dir) -> List[dict]:
    """The run's metrics.jsonl rows (none when the file cannot be read)."""
    try:
        return record.read_jsonl(os.path.join(str(run_dir), record.METRICS))
    except OSError:
        return []


def _convergence_now(summary: dict, run_dir: str) -> dict:
    """``converged`` / ``ttq_steps`` / ``ttq_s`` re-derived from the run's metrics.jsonl by the
    current plateau rule when the run was judged by an older one
    (:func:`lipbench.metrics.convergence.reassess`, with the run's own parameters), so one
    table never mixes rules; empty otherwise (the run's own values stand)."""
    from lipbench.metrics.convergence import reassess

    again = reassess(summary, _history(run_dir))
    return {} if again is None else {k: _float(v) for k, v in again[0].items()}


def _dedupe(df: pd.DataFrame) -> pd.DataFrame:
    """Keep one row per (run_id, seed): finished before running, then the newest."""
    if df.empty:
        return df
    rank = df["status"].map(lambda s: 1 if s in FINISHED else 0)
    mtime = df["run_dir"].map(lambda d: _mtime(os.path.join(d, record.SUMMARY)))
    order = df.assign(_rank=rank, _mtime=mtime, _seed=df["seed"].astype(str))
    order = order.sort_values(["_rank", "_mtime"], kind="stable")
    order = order.drop_duplicates(["run_id", "_seed"], keep="last")
    return order.sort_index().drop(columns=["_rank", "_mtime", "_seed"])


def _mtime(path: str) -> float:
    try:
        return os.path.getmtime(path)
    except OSError:
        return 0.0


def load_runs(paths: Union[PathLike, Iterable[PathLike]]) -> Tuple[pd.DataFrame, List[Tuple[str, str]]]:
    """Read every run below ``paths`` (run dirs or sweep dirs, merged).

    Returns ``(runs, incomplete)``: ``runs`` has one row per run with the columns
    :data:`BASE_COLUMNS`, every final metric by its contract name, and every config value
    as ``cfg.<dotted.key>``; ``incomplete`` lists ``(path, reason)`` for runs that could not
    be read (missing or corrupted summary.json) and for inputs that do not exist.
    Runs found twice (merged sweeps, report copies) are kept once, the newest finished.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    rows, infos, incomplete = [], [], []
    for p in paths:
        p = os.fspath(p)
        if not os.path.isdir(p):
            incomplete.append((p, "no such directory"))
            continue
        for run_dir in find_run_dirs(p):
            row, info, reason = _read(run_dir)
            if row is None:
                incomplete.append((run_dir, reason))
            else:
                rows.append(row)
                infos.append(info)
    df = pd.DataFrame(rows)
    if df.empty:
        df = pd.DataFrame(columns=list(BASE_COLUMNS))
    df = _dedupe(df).reset_index(drop=True)
    df.attrs[ATTR] = record.merge(infos)
    return df, incomplete


def metric_columns(df: pd.DataFrame) -> List[str]:
    """Final-metric columns of a runs DataFrame (everything but bookkeeping and cfg.*)."""
    return [
        c
        for c in df.columns
        if c not in BASE_COLUMNS and not c.startswith("cfg.") and pd.api.types.is_numeric_dtype(df[c])
    ]


def load_histories(df: pd.DataFrame, factors: Optional[Sequence[str]] = None) -> pd.DataFrame:
    """Every run's metrics.jsonl in long format.

    Columns: run_dir, run_id, method, seed, status, the swept factors, step, metric, value.
    Lines that are not valid JSON and non-numeric values are skipped.
    """
    factors = list(swept_factors(df) if factors is None else factors)
    keep = ["run_dir", "run_id", "method", "seed", "status"] + factors
    frames = []
    for _, run in df.iterrows():
        recs = _history(run["run_dir"])
        rows = []
        for rec in recs:
            step = _float(rec.get("step"))
            for name, value in current_names(rec).items():
                if name in ("step", "time_s") or isinstance(value, (dict, list, str, bool)) or value is None:
                    continue
                v = _float(value)
                if not np.isnan(step):
                    rows.append((step, name, v))
        if rows:
            part = pd.DataFrame(rows, columns=["step", "metric", "value"])
            for col in reversed(keep):
                part.insert(0, col, run.get(col))
            frames.append(part)
    if not frames:
        return pd.DataFrame(columns=keep + ["step", "metric", "value"])
    return pd.concat(frames, ignore_index=True)
