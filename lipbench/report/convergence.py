"""Per-row run state for the comparison table: did the runs converge, and how fast did they
reach quality?

Each run's final metrics carry (see :mod:`lipbench.metrics.catalog`) ``converged`` (1 or 0:
the plateau rule of eval.plateau_window / eval.plateau_tol over its last evaluations) and
``ttq_steps`` / ``ttq_s`` (generator iterations and training seconds until its primary
metric first came within eval.quality_factor × its sampling floor; NaN when it never did).
Per table row (completed runs only; diverged and failed runs have their own columns):

* ``n_checked`` runs record the flag, ``n_converged`` of them converged;
* ``n_reached`` of the ``n_completed`` runs reached quality; ``ttq_steps_median`` and
  ``ttq_s_median`` are medians over those that did.

Runs written before these fields existed have none of them: the columns are then absent
and the report says that convergence is unknown instead of guessing.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence

import numpy as np
import pandas as pd

STATE_METRICS = ("converged", "ttq_steps", "ttq_s")  # per-run state, not averaged as metrics
CONVERGED_COLUMNS = ("n_checked", "n_converged")
TTQ_COLUMNS = ("n_reached", "ttq_steps_median", "ttq_s_median")
MAX_LISTED = 8  # rows named in the warning before "... and k more"


def present(df: pd.DataFrame, col: str) -> bool:
    """``col`` is in ``df`` with at least one value."""
    return col in df.columns and pd.to_numeric(df[col], errors="coerce").notna().any()


def state_columns(df: pd.DataFrame) -> List[str]:
    """The run-state columns a table of ``df`` gets (none for runs without the fields)."""
    cols: List[str] = []
    if present(df, "converged"):
        cols += CONVERGED_COLUMNS
    if present(df, "ttq_steps") or ("ttq_steps" in df.columns and cols):  # NaN = never reached
        cols += TTQ_COLUMNS
    return cols


def row_state(done: pd.DataFrame, columns: Sequence[str]) -> Dict[str, float]:
    """The run-state values of one row from its completed runs ``done``."""
    out: Dict[str, float] = {}
    if "n_checked" in columns:
        flag = pd.to_numeric(done["converged"], errors="coerce").dropna()
        out["n_checked"] = int(len(flag))
        out["n_converged"] = int((flag >= 0.5).sum())
    if "n_reached" in columns:
        steps = pd.to_numeric(done["ttq_steps"], errors="coerce").astype(float)
        secs = pd.to_numeric(done["ttq_s"], errors="coerce") if "ttq_s" in done else pd.Series(np.nan, done.index)
        reached = steps.notna() & np.isfinite(steps)
        out["n_reached"] = int(reached.sum())
        out["ttq_steps_median"] = float(steps[reached].median()) if reached.any() else np.nan
        out["ttq_s_median"] = float(secs[reached].median()) if secs[reached].notna().any() else np.nan
    return out


def _num(v: float) -> str:
    return f"{v:.3g}" if v is not None and np.isfinite(v) else "—"


def format_converged(row) -> str:
    """ "k/n" converged among the completed runs that record the flag ("—" when none do)."""
    n = int(row["n_checked"])
    return f"{int(row['n_converged'])}/{n}" if n else "—"


def format_ttq(row) -> str:
    """ "<median it> it, <median s> s (k/n)" over the runs that reached quality; "never (0/n)"."""
    n, k = int(row["n_completed"]), int(row["n_reached"])
    if n == 0:
        return "—"
    if k == 0:
        return f"never (0/{n})"
    return f"{_num(row['ttq_steps_median'])} it, {_num(row['ttq_s_median'])} s ({k}/{n})"


def row_label(row, factors: Sequence[str]) -> str:
    """ "method (factor values)", e.g. "none (eight_gaussians)"."""
    values = [str(row[f]) for f in factors]
    return str(row["method"]) + (f" ({', '.join(values)})" if values else "")


def convergence_warning(table: pd.DataFrame, factors: Sequence[str]) -> Optional[str]:
    """The plain-words warning when rows hold completed runs that did not converge, else None."""
    if table.empty or "n_checked" not in table.columns:
        return None
    checked = table[table["n_checked"] > 0]
    bad = checked[checked["n_converged"] < checked["n_checked"]]
    if bad.empty:
        return None
    named = [
        f"{row_label(r, factors)}: {int(r['n_converged'])}/{int(r['n_checked'])} converged"
        for _, r in bad.head(MAX_LISTED).iterrows()
    ]
    if len(bad) > MAX_LISTED:
        named.append(f"... and {len(bad) - MAX_LISTED} more")
    return (
        f"WARNING: {len(bad)} of {len(checked)} rows have runs that did not converge "
        f"({'; '.join(named)}); their final numbers describe the training budget, not the method. "
        "Train longer (train.iterations) or read these rows as a budget study."
    )


def unknown_convergence_note(table: pd.DataFrame) -> Optional[str]:
    """A note when no run of the table records whether it converged (an older run record)."""
    if table.empty or "n_checked" in table.columns:
        return None
    return (
        "note: these runs do not record whether they converged (a run record without `converged`); "
        "their final numbers are the state at the end of the training budget, which may not be converged."
    )


def ttq_note(table: pd.DataFrame) -> Optional[str]:
    """What the ttq column means, with the quality factor the runs used."""
    if table.empty or "n_reached" not in table.columns:
        return None
    factor = table.attrs.get("quality_factor")
    within = f"{factor:g} ×" if isinstance(factor, (int, float)) and np.isfinite(factor) else "eval.quality_factor ×"
    return (
        f"ttq (time to quality): generator iterations and training seconds until the run's primary metric "
        f"first came within {within} its sampling floor; median over the completed seeds that got there "
        "(k/n of completed seeds); never: no seed got there."
    )


def converged_note(table: pd.DataFrame) -> Optional[str]:
    """What the converged column means, in the words of the run side's plateau rule
    (:data:`lipbench.metrics.convergence.RULE`) with the settings the runs used."""
    if table.empty or "n_checked" not in table.columns:
        return None
    window, tol = table.attrs.get("plateau_window"), table.attrs.get("plateau_tol")
    metric = next((m for m in ("w1", "fid_domain") if f"{m}_mean" in table.columns), "the primary metric")
    try:
        from lipbench.metrics.convergence import RULE

        rule = RULE.format(window=int(window), tol=float(tol), metric=metric)
    except Exception:  # settings not recorded, or the rule text not importable: say it generically
        known = isinstance(window, (int, float)) and isinstance(tol, (int, float))
        rule = (
            f"{metric} stopped improving by more than tol = {tol:g} over the last {window:g} evaluations"
            if known
            else f"{metric} stopped improving over the last eval.plateau_window evaluations"
        )
    return (
        f"converged: completed seeds that meet the plateau rule ({rule}), out of the completed seeds that "
        'record the flag; each run\'s summary.json "convergence" gives its reason.'
    )


def config_value(df: pd.DataFrame, key: str, default: Optional[float] = None) -> Optional[float]:
    """The one numeric value of config column ``key`` across runs (the smallest when they
    differ); ``default`` when no run records it."""
    if key not in df.columns:
        return default
    vals = pd.to_numeric(df[key], errors="coerce").dropna()
    return float(vals.min()) if len(vals) else default


__all__ = [
    "STATE_METRICS",
    "CONVERGED_COLUMNS",
    "TTQ_COLUMNS",
    "state_columns",
    "row_state",
    "format_converged",
    "format_ttq",
    "convergence_warning",
    "unknown_convergence_note",
    "ttq_note",
    "converged_note",
    "config_value",
    "row_label",
    "present",
]
