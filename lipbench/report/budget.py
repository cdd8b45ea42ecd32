"""Kurach-style budget curves: the expected best metric after trying k settings.

For one method with K hyper-parameter settings (each scored by its mean over completed
seeds), draw k of the K settings without replacement, keep the best score, and average
over many draws. ``k = K`` gives the best setting overall; ``k = 1`` gives the mean over
settings. The band is the 25th–75th percentile of the best-of-k over the draws.

The exact forms (Dodge et al. 2019, "Show Your Work"), with the K values sorted best first
s(1), …, s(K): P(best of k = s(i)) is C(K−i, k−1) / C(K, k) when the k settings are drawn
without replacement (the average over all k-subsets: an unbiased estimate of the best of k
fresh i.i.d. settings) and ((K−i+1)/K)^k − ((K−i)/K)^k when drawn with replacement (Dodge
et al.'s own form, the best of k draws from the empirical distribution)
(:func:`best_of_k_probs`, :func:`expected_best`). :func:`budget_seconds` is the same
question against cumulative training seconds instead of settings.
"""

from __future__ import annotations

import math
import warnings
from math import comb
from typing import Sequence

import numpy as np
import pandas as pd

from lipbench import record


def budget_curve(
    values: Sequence[float], better: str = "lower", *, n_draws: int = 1000, seed: int = 0, exact: bool = False
) -> pd.DataFrame:
    """Columns ``k, mean, q25, q75`` for k = 1..K (non-finite values are ignored).

    ``exact=False`` resamples (``n_draws`` random orders from ``numpy.random.default_rng(seed)``;
    best-of-k is the best of the first k settings of each order). ``exact=True`` computes
    the same expectation and percentiles from the order-statistic distribution
    P(best = k-th value in order) = C(K-i, k-1) / C(K, k) (:func:`expected_best`).
    """
    if better not in ("lower", "higher"):
        raise ValueError(f"better must be 'lower' or 'higher', not {better!r}")
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    K = len(v)
    if K == 0:
        return pd.DataFrame(columns=["k", "mean", "q25", "q75"])
    if exact:
        return expected_best(v, better)[["k", "mean", "q25", "q75"]]
    sign = 1.0 if better == "lower" else -1.0  # minimise sign * v
    rng = np.random.default_rng(seed)
    orders = np.argsort(rng.random((n_draws, K)), axis=1)
    best = np.minimum.accumulate(sign * v[orders], axis=1) * sign  # (n_draws, K)
    rows = []
    for k in range(1, K + 1):
        col = best[:, k - 1]
        rows.append((k, float(col.mean()), float(np.percentile(col, 25)), float(np.percentile(col, 75))))
    return pd.DataFrame(rows, columns=["k", "mean", "q25", "q75"])


def best_of_k_probs(n: int, k: int, replacement: bool = False) -> np.ndarray:
    """P(the best of k draws is the i-th best of ``n`` values), i = 1..n (ties as distinct
    positions): C(n−i, k−1) / C(n, k) without replacement (k ≤ n), ((n−i+1)/n)^k − ((n−i)/n)^k
    with replacement."""
    i = np.arange(1, n + 1)
    if replacement:
        return ((n - i + 1) / n) ** k - ((n - i) / n) ** k
    if not 1 <= k <= n:
        raise ValueError(f"k must be in 1..{n} without replacement, not {k}")
    return np.array([comb(n - j, k - 1) for j in i], dtype=float) / comb(n, k)


def expected_best(values: Sequence[float], better: str = "lower", replacement: bool = False) -> pd.DataFrame:
    """Columns ``k, mean, std, q25, q75`` for k = 1..K: the exact distribution of the best of
    k of the K finite ``values`` (:func:`best_of_k_probs`): its expectation, standard
    deviation and 25th/75th percentiles."""
    if better not in ("lower", "higher"):
        raise ValueError(f"better must be 'lower' or 'higher', not {better!r}")
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    sign = 1.0 if better == "lower" else -1.0
    s = np.sort(sign * v) * sign  # best first
    rows = []
    for k in range(1, len(s) + 1):
        p = best_of_k_probs(len(s), k, replacement)
        mean = float(p @ s)
        cdf = np.cumsum(p)
        q = sorted(s[min(int(np.searchsorted(cdf, t - 1e-12)), len(s) - 1)] for t in (0.25, 0.75))
        rows.append((k, mean, float(np.sqrt(max(p @ (s - mean) ** 2, 0.0))), float(q[0]), float(q[1])))
    return pd.DataFrame(rows, columns=["k", "mean", "std", "q25", "q75"])


def budget_seconds(
    values: Sequence[float],
    seconds: Sequence[float],
    grid: Sequence[float],
    *,
    better: str = "lower",
    n_draws: int = 1000,
    seed: int = 0,
    before: float = math.nan,
) -> pd.DataFrame:
    """The best value found within t training seconds, for each t of ``grid``, when the
    settings are tried one after the other in a random order (``n_draws`` orders from
    ``numpy.random.default_rng(seed)``; setting j costs ``seconds[j]``). Columns ``t, mean,
    median, q25, q75, frac``: ``frac`` is the share of orders with a finished setting by t; an order
    without one counts as ``before`` (NaN: left out, then the mean is over the orders that
    have one, and NaN where none has; a finite value such as the worst score keeps each
    order's curve, and so the mean, non-increasing in t)."""
    v, c = np.asarray(values, dtype=float), np.asarray(seconds, dtype=float)
    sign = 1.0 if better == "lower" else -1.0
    orders = np.argsort(np.random.default_rng(seed).random((n_draws, len(v))), axis=1)
    best = np.minimum.accumulate(sign * v[orders], axis=1) * sign
    done = np.cumsum(c[orders], axis=1)
    t = np.asarray(grid, dtype=float)
    n_done = np.stack([np.searchsorted(row, t, side="right") for row in done])  # (n_draws, len(grid))
    found = np.take_along_axis(best, np.maximum(n_done - 1, 0), axis=1)
    found = np.where(n_done > 0, found, before)
    frac = (n_done > 0).mean(axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns: nothing finished yet
        mean, median = np.nanmean(found, axis=0), np.nanmedian(found, axis=0)
        q25, q75 = np.nanpercentile(found, 25, axis=0), np.nanpercentile(found, 75, axis=0)
    return pd.DataFrame({"t": t, "mean": mean, "median": median, "q25": q25, "q75": q75, "frac": frac})


def setting_scores(df: pd.DataFrame, metric: str, factor: str) -> pd.DataFrame:
    """Per (method, setting of ``factor``): mean of ``metric`` over completed runs and counts.

    Columns: method, setting, score (NaN when no completed run has the metric), n, n_runs.
    """
    rows = []
    for (method, setting), g in df.groupby(["method", factor], sort=True, dropna=False):
        ok = g[g["status"].astype(str) == record.COMPLETED]
        vals = pd.to_numeric(ok[metric], errors="coerce").dropna() if metric in ok else pd.Series([], dtype=float)
        rows.append(
            {
                "method": method,
                "setting": setting,
                "score": vals.mean() if len(vals) else np.nan,
                "n": int(len(vals)),
                "n_runs": int(len(g)),
            }
        )
    return pd.DataFrame(rows, columns=["method", "setting", "score", "n", "n_runs"])


def budget_curves(
    df: pd.DataFrame, metric: str, factor: str, *, better: str, n_draws: int = 1000, seed: int = 0
) -> pd.DataFrame:
    """Budget curve per method over the settings of ``factor``.

    Settings without a completed run are left out of the draws and counted in
    ``n_excluded``. Columns: method, k, mean, q25, q75, n_settings, n_excluded.
    """
    scores = setting_scores(df, metric, factor)
    frames = []
    for method, g in scores.groupby("method", sort=True):
        curve = budget_curve(g["score"].to_numpy(float), better, n_draws=n_draws, seed=seed)
        if curve.empty:
            continue
        curve.insert(0, "method", method)
        curve["n_settings"] = int(g["score"].notna().sum())
        curve["n_excluded"] = int(g["score"].isna().sum())
        frames.append(curve)
    if not frames:
        return pd.DataFrame(columns=["method", "k", "mean", "q25", "q75", "n_settings", "n_excluded"])
    return pd.concat(frames, ignore_index=True)


def hyper_factors(factors: Sequence[str]) -> list:
    """Swept factors that are hyper-parameter settings (not the data set, nor a dual task's pair)."""
    return [f for f in factors if not f.startswith(("cfg.data.", "cfg.pair."))]


def primary_metrics(metrics: Sequence[str], direction) -> list:
    """Metrics with a declared direction, the headline ones first (w1, fid, ...)."""
    return [m for m in metrics if direction(m) in ("lower", "higher") and m != "it_per_s"]


__all__ = [
    "best_of_k_probs",
    "expected_best",
    "budget_seconds",
    "budget_curve",
    "budget_curves",
    "setting_scores",
    "hyper_factors",
    "primary_metrics",
]
