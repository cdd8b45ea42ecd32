"""Kurach-style budget curves: the expected best metric after trying k settings.

For one method with K hyper-parameter settings (each scored by its mean over completed
seeds), draw k of the K settings without replacement, keep the best score, and average
over many draws. ``k = K`` gives the best setting overall; ``k = 1`` gives the mean over
settings. The band is the 25th–75th percentile of the best-of-k over the draws.
"""

from __future__ import annotations

from math import comb
from typing import Sequence

import numpy as np
import pandas as pd

from lipbench import record


def budget_curve(
    values: Sequence[float], better: str = "lower", n_draws: int = 1000, seed: int = 0, exact: bool = False
) -> pd.DataFrame:
    """Columns ``k, mean, q25, q75`` for k = 1..K (non-finite values are ignored).

    ``exact=False`` resamples (``n_draws`` random orders from ``numpy.random.default_rng(seed)``;
    best-of-k is the best of the first k settings of each order). ``exact=True`` computes
    the same expectation and percentiles from the order-statistic distribution
    P(best = k-th value in order) = C(K-i, k-1) / C(K, k).
    """
    if better not in ("lower", "higher"):
        raise ValueError(f"better must be 'lower' or 'higher', not {better!r}")
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    K = len(v)
    if K == 0:
        return pd.DataFrame(columns=["k", "mean", "q25", "q75"])
    sign = 1.0 if better == "lower" else -1.0  # minimise sign * v
    rows = []
    if exact:
        s = np.sort(sign * v)
        for k in range(1, K + 1):
            p = np.array([comb(K - i, k - 1) for i in range(1, K + 1)], dtype=float) / comb(K, k)
            cdf = np.cumsum(p)
            q = [s[min(int(np.searchsorted(cdf, t - 1e-12)), K - 1)] for t in (0.25, 0.75)]
            rows.append((k, sign * float(p @ s), *sorted(sign * np.array(q))))
    else:
        rng = np.random.default_rng(seed)
        orders = np.argsort(rng.random((n_draws, K)), axis=1)
        best = np.minimum.accumulate(sign * v[orders], axis=1) * sign  # (n_draws, K)
        for k in range(1, K + 1):
            col = best[:, k - 1]
            rows.append((k, float(col.mean()), float(np.percentile(col, 25)), float(np.percentile(col, 75))))
    return pd.DataFrame(rows, columns=["k", "mean", "q25", "q75"])


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
    df: pd.DataFrame, metric: str, factor: str, better: str, n_draws: int = 1000, seed: int = 0
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
    """Swept factors that are hyper-parameter settings (not the data set)."""
    return [f for f in factors if not f.startswith("cfg.data.")]


def primary_metrics(metrics: Sequence[str], direction) -> list:
    """Metrics with a declared direction, the headline ones first (w1, fid, ...)."""
    return [m for m in metrics if direction(m) in ("lower", "higher") and m != "it_per_s"]


__all__ = ["budget_curve", "budget_curves", "setting_scores", "hyper_factors", "primary_metrics"]
