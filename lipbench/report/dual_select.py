"""The dual-task runs of a report: which rows they are, their pair, dimension and critic,
and whether a run's estimate breaks the bound its critic certifies."""

from __future__ import annotations

import math

import pandas as pd

from lipbench import record
from lipbench.metrics.dual import exceeds_bound
from lipbench.record.verdict import run_verdict


def dual_runs(df: pd.DataFrame) -> pd.DataFrame:
    """The dual-task rows of ``df`` with columns pair, dim, critic and violation added."""
    if df.empty or "cfg.task" not in df:
        return df.iloc[0:0]
    runs = df[df["cfg.task"].astype(str) == "dual"].copy()
    if runs.empty:
        return runs
    info = runs["run_dir"].map(_pair_info)
    runs["pair"] = [i[0] for i in info]
    runs["dim"] = [i[1] for i in info]
    runs["critic"] = [critic_label(r) for _, r in runs.iterrows()]
    runs["violation"] = [_violation(r) for _, r in runs.iterrows()]
    runs["verdict"] = [run_verdict(r.get("lip_lower"), r.get("lip_upper")) for _, r in runs.iterrows()]
    return runs


def _pair_info(run_dir) -> tuple:
    """(pair label, dimension) from a run's summary.json (``pair`` block)."""
    pair = record.read_summary_field(run_dir, "pair") or {}
    try:
        return str(pair.get("label", "?")), int(pair.get("dim", 0))
    except (AttributeError, ValueError, TypeError):
        return "?", 0


def critic_label(row) -> str:
    """``constraint · activation`` (the critic's activation: critic_activation, else activation)."""
    act = row.get("cfg.model.critic_activation")
    if act is None or (isinstance(act, float) and math.isnan(act)):
        act = row.get("cfg.model.activation", "?")
    return f"{row['method']} · {act}"


def _num(row, key) -> float:
    try:
        v = float(row.get(key))
    except (TypeError, ValueError):
        return math.nan
    return v


def _violation(row) -> bool:
    est, se, w1, w1_se, lip = (
        _num(row, k) for k in ("dual_estimate", "dual_estimate_se", "w1_true", "w1_true_se", "lip_upper")
    )
    if not all(math.isfinite(v) for v in (est, se, w1, w1_se, lip)):
        return False
    return exceeds_bound(est, se, w1, w1_se, lip=lip)
