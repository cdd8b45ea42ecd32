"""A study folder (issue 19): its ``study.json`` and the run records of its trials, as one frame.

The study sweeper (:mod:`lipbench.study`) writes ``study.json`` into the sweep dir: the
protocol (metric, selection rule, number of settings, sampler, grid, search space, rerun
seeds) and one entry per trial, Phase 1 (``search``: N settings per group, one seed each)
and Phase 2 (``rerun``: the selected setting of each group with fresh seeds). The report
takes from it only what the runs cannot say (phase, group, trial index, seed, params, the
selection); status, final metrics, ``converged`` and training seconds are read from each
trial's run record, and each trial's score is computed again from its metrics.jsonl by the
declared rule (:func:`rule_score`).
"""

from __future__ import annotations

import json
import math
import os
from typing import List, Optional

import numpy as np
import pandas as pd

from lipbench import record
from lipbench.report.aggregate import BASE_COLUMNS, read_run

STUDY_FILE = "study.json"
KIND = "lipbench-study"
FINISHED = record.FINISHED  # completed, diverged, failed; a trial in another state is "not run"
MISSING = "missing"
TRIAL_COLUMNS = (
    "phase",
    "data",
    "method",
    "trial",
    "seed",
    "params",
    "status",
    "score",
    "study_score",
    "converged",
    "train_time_s",
    "group",
    "dir",
)


def read_study(folder) -> Optional[dict]:
    """The study.json object of ``folder`` when it is a study (``kind`` = lipbench-study),
    else None; an unreadable study.json is named in one printed line and gives None."""
    path = os.path.join(os.fspath(folder), STUDY_FILE)
    if not os.path.isfile(path):
        return None
    try:
        with open(path, encoding="utf-8") as f:
            meta = json.load(f)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        print(f"warning: {path} cannot be read ({exc}); the folder is reported as an ordinary sweep")
        return None
    return meta if isinstance(meta, dict) and meta.get("kind") == KIND else None


def find_study(paths) -> Optional[str]:
    """The study folder when ``paths`` is one folder (a path or a one-element list/tuple)
    holding a study.json, else None. Other iterables are not consumed."""
    if isinstance(paths, (list, tuple)) and len(paths) == 1:
        paths = paths[0]
    if not isinstance(paths, (str, os.PathLike)):
        return None
    folder = os.fspath(paths)
    return folder if read_study(folder) is not None else None


def data_label(group: dict, method_key: str) -> str:
    """The group without its method: the data set's name, other grid keys as ``key=value``."""
    parts = [(k, v) for k, v in (group or {}).items() if k != method_key]
    return ", ".join(str(v) if k == "data" else f"{k}={v}" for k, v in parts) or "all"


def method_order(meta: dict, methods) -> List[str]:
    """The methods in the order of the study's grid, then any other, sorted."""
    listed = [str(m) for m in (meta.get("grid") or {}).get(meta.get("method_key", "constraint"), [])]
    present = set(map(str, methods))
    return [m for m in listed if m in present] + sorted(present - set(listed))


def worst_score(better: str) -> float:
    """The score of a run the rule cannot score (diverged, failed): the worst possible."""
    return math.inf if better == "lower" else -math.inf


def rule_score(run_dir: str, status: str, metric: str, *, better: str, rule: dict) -> float:
    """The selection rule's score of one run: for ``tail_mean``, the mean of ``metric`` over
    the run's last ``rule["last"]`` evaluations (metrics.jsonl); a run that did not complete,
    or whose tail is not finite, scores :func:`worst_score`. NaN for a rule this report does
    not know (the study.json score is used then)."""
    if status != record.COMPLETED:
        return worst_score(better)
    if (rule or {}).get("name") != "tail_mean":
        return math.nan
    rows = record.read_jsonl(os.path.join(run_dir, record.METRICS))
    values = [r[metric] for r in rows if isinstance(r.get(metric), (int, float)) and not isinstance(r[metric], bool)]
    tail = np.asarray(values[-int(rule.get("last", 1)) :], dtype=float)
    return float(tail.mean()) if len(tail) and np.isfinite(tail).all() else worst_score(better)


def _final_metrics(row: dict) -> dict:
    return {
        k: v
        for k, v in row.items()
        if k not in BASE_COLUMNS and not k.startswith("cfg.") and isinstance(v, (int, float)) and k != "converged"
    }


def _train_seconds(run_dir: str) -> float:
    for key in ("train_time_s", "wall_time_s"):
        value = record.read_summary_field(run_dir, key)
        if isinstance(value, (int, float)) and math.isfinite(value):
            return float(value)
    return math.nan


def _trial_row(meta: dict, folder: str, trial: dict) -> dict:
    """One trial: its study.json entry, and what its run record says."""
    metric, better = meta.get("metric", "w1"), meta.get("better", "lower")
    run_dir = os.path.join(folder, str(trial.get("dir", "")))
    row, _reason = read_run(run_dir) if os.path.isdir(run_dir) else (None, "no run directory")
    status = str(row["status"]) if row is not None else MISSING
    score = (
        rule_score(run_dir, status, metric, better=better, rule=meta.get("rule")) if status in FINISHED else math.nan
    )
    study_score = trial.get("score")
    study_score = float(study_score) if isinstance(study_score, (int, float)) else math.nan
    if math.isnan(score) and status in FINISHED:  # a rule this report does not know: study.json's value
        score = study_score if math.isfinite(study_score) else worst_score(better)
    out = {
        "phase": str(trial.get("phase", "")),
        "data": data_label(trial.get("group") or {}, meta.get("method_key", "constraint")),
        "method": str(trial.get("method", "")),
        "trial": trial.get("trial"),
        "seed": trial.get("seed"),
        "params": json.dumps(trial.get("params") or {}, sort_keys=True),
        "status": status,
        "score": score,
        "study_score": study_score,
        "converged": float(row["converged"]) if row is not None and "converged" in row else math.nan,
        "train_time_s": _train_seconds(run_dir) if row is not None else math.nan,
        "group": json.dumps(trial.get("group") or {}, sort_keys=True),
        "dir": str(trial.get("dir", "")),
    }
    out.update(_final_metrics(row) if row is not None else {})
    return out


def trials_frame(meta: dict, folder) -> pd.DataFrame:
    """One row per trial of study.json (both phases): :data:`TRIAL_COLUMNS`, then the run's
    final metrics by name (absent for a trial whose run cannot be read: status ``missing``)."""
    folder = os.fspath(folder)
    rows = [_trial_row(meta, folder, t) for t in meta.get("trials") or [] if isinstance(t, dict)]
    df = pd.DataFrame(rows)
    return pd.DataFrame(columns=list(TRIAL_COLUMNS)) if df.empty else df


def rerun_dirs(meta: dict, folder) -> List[str]:
    """The run directories of the Phase-2 reruns that exist, in study.json's order."""
    trials = [t for t in meta.get("trials") or [] if isinstance(t, dict) and t.get("phase") == "rerun"]
    dirs = [os.path.join(os.fspath(folder), str(t.get("dir", ""))) for t in trials]
    return [d for d in dirs if os.path.isdir(d)]


__all__ = [
    "STUDY_FILE",
    "KIND",
    "read_study",
    "find_study",
    "data_label",
    "method_order",
    "worst_score",
    "rule_score",
    "trials_frame",
    "rerun_dirs",
]
