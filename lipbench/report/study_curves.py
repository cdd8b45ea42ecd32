"""How forgiving each method is, and what tuning buys: the numbers of a study's Phase 1.

* :func:`forgiving_table`: per data set and method, over the settings that ran, the
  fractions that converge (the run's own ``converged`` flag), come within
  :data:`FLOOR_FACTOR` × the sampling floor (final metric ≤ 3 × floor), collapse (0 modes)
  and diverge or fail.
* :func:`cap_scores`: a diverged or failed setting has no score; it gets a declared cap, the
  worst finite score among all settings of its data set (every method), so that it counts
  as a bad draw instead of vanishing from the curves.
* :func:`expected_best_table`: the expected best score after k settings, k = 1..N, by the
  exact form without replacement (:func:`lipbench.report.budget.expected_best`), with the
  with-replacement mean (Dodge et al.'s form) alongside.
* :func:`seconds_table`: the best score found within t training seconds, Monte Carlo over
  random orders of the N settings (:func:`lipbench.report.budget.budget_seconds`), on one
  log-spaced time grid per data set; an order with no finished setting yet counts as the cap.
"""

from __future__ import annotations

import math
from typing import Dict, Optional, Tuple

import numpy as np
import pandas as pd

from lipbench import record
from lipbench.report.budget import budget_seconds, expected_best
from lipbench.report.study_load import FINISHED, method_order, worst_score

FLOOR_FACTOR = 3.0
N_DRAWS = 2000  # random orders of the seconds curves
GRID_POINTS = 120


def floor_name(metric: str, columns) -> Optional[str]:
    """The sampling floor's column of ``metric`` (w1 → w1_floor, fid_domain → fid_floor_domain)."""
    head, _, tail = metric.partition("_")
    for name in (f"{metric}_floor", f"{head}_floor_{tail}" if tail else None):
        if name and name in columns:
            return name
    return None


def _num(df: pd.DataFrame, col: Optional[str]) -> pd.Series:
    if col is None or col not in df:
        return pd.Series(np.nan, index=df.index, dtype=float)
    return pd.to_numeric(df[col], errors="coerce").astype(float)


def _forgiving_row(g: pd.DataFrame, metric: str, better: str, floor: Optional[str]) -> dict:
    ran = g[g["status"].isin(FINISHED)]
    n = len(ran)
    done = ran["status"] == record.COMPLETED
    value, modes = _num(ran, metric), _num(ran, "modes")
    within = done & (value <= FLOOR_FACTOR * _num(ran, floor)) if floor and better == "lower" else None
    frac = lambda mask: float(mask.sum()) / n if n else math.nan  # noqa: E731
    return {
        "n_settings": len(g),
        "n_run": n,
        "n_completed": int(done.sum()),
        "n_diverged": int((ran["status"] == record.DIVERGED).sum()),
        "n_failed": int((ran["status"] == record.FAILED).sum()),
        "frac_converged": frac(_num(ran, "converged") >= 0.5),
        "frac_within_floor": frac(within) if within is not None else math.nan,
        "frac_collapsed": frac(done & (modes == 0)) if modes.notna().any() else math.nan,
        "frac_diverged_failed": frac(ran["status"] != record.COMPLETED),
        "median": float(value.where(done, worst_score(better)).median()) if n else math.nan,
        "best": float(value[done].min() if better == "lower" else value[done].max()) if done.any() else math.nan,
    }


def forgiving_table(search: pd.DataFrame, meta: dict) -> pd.DataFrame:
    """Per data set and method (Phase-1 settings; fractions over the settings that ran,
    ``n_run`` of ``n_settings``): the columns of :func:`_forgiving_row`, and ``rank``: the
    forgivingness order within the data set (most settings within 3 × the floor first, then
    the better median final metric, diverged and failed settings counted as the worst, then most
    converged)."""
    metric, better = meta.get("metric", "w1"), meta.get("better", "lower")
    floor = floor_name(metric, search.columns)
    rows = []
    for data, g in search.groupby("data", sort=True):
        for method in method_order(meta, g["method"]):
            rows.append(
                {"data": data, "method": method} | _forgiving_row(g[g["method"] == method], metric, better, floor)
            )
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    sign = 1.0 if better == "lower" else -1.0
    key = table.assign(_w=-table["frac_within_floor"].fillna(-1), _c=-table["frac_converged"].fillna(-1))
    key = key.assign(_m=(sign * key["median"]).fillna(np.inf))
    key = key.sort_values(["data", "_w", "_m", "_c"], kind="stable")
    table["rank"] = key.groupby("data").cumcount().add(1).reindex(table.index)
    table.attrs["floor"] = floor
    return table


def cap_scores(search: pd.DataFrame, better: str) -> Tuple[pd.DataFrame, Dict[str, float]]:
    """The settings that ran, with ``capped``: the score, or for a non-finite one the cap of
    its data set (the worst finite score of all its settings). Returns (frame, {data: cap})."""
    ran = search[search["status"].isin(FINISHED)].copy()
    scores = pd.to_numeric(ran["score"], errors="coerce").astype(float)
    caps = {}
    for data, s in scores.groupby(ran["data"]):
        fin = s[np.isfinite(s)]
        caps[data] = float(fin.max() if better == "lower" else fin.min()) if len(fin) else math.nan
    ran["capped"] = [v if math.isfinite(v) else caps[d] for v, d in zip(scores, ran["data"])]
    ran["is_capped"] = ~np.isfinite(scores.to_numpy())
    return ran, caps


def expected_best_table(capped: pd.DataFrame, meta: dict) -> pd.DataFrame:
    """Per data set and method: k, mean, std, q25, q75 (without replacement) and
    ``mean_with_replacement``, over the capped scores of the settings that ran."""
    better, frames = meta.get("better", "lower"), []
    for data, g in capped.groupby("data", sort=True):
        for method in method_order(meta, g["method"]):
            values = g.loc[g["method"] == method, "capped"].to_numpy(float)
            if not np.isfinite(values).any():
                continue
            curve = expected_best(values, better)
            curve["mean_with_replacement"] = expected_best(values, better, replacement=True)["mean"]
            frames.append(curve.assign(data=data, method=method, n=int(np.isfinite(values).sum())))
    cols = ["data", "method", "n", "k", "mean", "std", "q25", "q75", "mean_with_replacement"]
    return pd.concat(frames, ignore_index=True)[cols] if frames else pd.DataFrame(columns=cols)


def seconds_table(
    capped: pd.DataFrame, caps: Dict[str, float], meta: dict, *, n_draws: int = N_DRAWS, seed: int = 0
) -> pd.DataFrame:
    """Per data set and method: the best capped score within t training seconds (mean and
    25–75% over ``n_draws`` random orders of its settings), for t on a log grid shared by the
    data set's methods, up to (and at) the method's own total seconds. Until an order's first
    setting has finished, it counts as the data set's cap (``caps``): nothing found yet is as
    bad as the worst setting. A setting without a recorded time costs 0 s. Columns: data,
    method, t, mean, median, q25, q75, frac (share of orders with a finished setting by t)."""
    better, frames = meta.get("better", "lower"), []
    cols = ["data", "method", "t", "mean", "median", "q25", "q75", "frac"]
    for data, g in capped.groupby("data", sort=True):
        secs = pd.to_numeric(g["train_time_s"], errors="coerce").fillna(0.0).clip(lower=0.0)
        totals = secs.groupby(g["method"]).sum()
        if not (secs > 0).any():
            continue
        grid = np.geomspace(secs[secs > 0].min(), totals.max(), GRID_POINTS)
        for method in method_order(meta, g["method"]):
            mask = g["method"] == method
            total = float(totals.get(method, 0.0))
            if total <= 0:
                continue
            t = np.append(grid[grid < total], total)  # ends where the method's N settings are done
            values, cap = g.loc[mask, "capped"], caps.get(data, math.nan)
            curve = budget_seconds(values, secs[mask], t, better=better, n_draws=n_draws, seed=seed, before=cap)
            frames.append(curve.assign(data=data, method=method))
    return pd.concat(frames, ignore_index=True)[cols] if frames else pd.DataFrame(columns=cols)


__all__ = [
    "FLOOR_FACTOR",
    "floor_name",
    "forgiving_table",
    "cap_scores",
    "expected_best_table",
    "seconds_table",
]
