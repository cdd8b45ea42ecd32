"""The statistics of a study's Phase-2 reruns: confidence intervals, pairwise tests and
Holm's correction, and the chosen setting of each method.

* :func:`t_interval`: mean and two-sided t-interval (``scipy.stats.t``) over seeds.
* :func:`welch_p`: two-sided Welch t-test (``scipy.stats.ttest_ind(equal_var=False)``).
* :func:`holm`: Holm's step-down adjusted p-values, p̃(i) = max_{j ≤ i} min(1, (m − j + 1) p(j))
  for the p-values sorted ascending; a difference survives at level α when p̃ < α. Holm
  controls the family-wise error rate for any dependence between the tests.
* :func:`pairwise_table`: every pair of methods per data set on the reruns' final metric;
  the family of Holm's correction is the tested pairs of one data set.
* :func:`chosen_table`: per method and data set, the selected Phase-1 setting, its score and
  its reruns (mean, 95% CI, modes, converged k/n).
"""

from __future__ import annotations

import json
import math
from itertools import combinations
from typing import Sequence, Tuple

import numpy as np
import pandas as pd
from scipy import stats

from lipbench import record
from lipbench.report.study_load import data_label, method_order

LEVEL = 0.95  # of the confidence intervals
MIN_SEEDS = 2  # a t-interval or a Welch test needs a sample variance
TEST_TEXT = "two-sided Welch t-test (scipy.stats.ttest_ind, equal_var=False)"


def _finite(values) -> np.ndarray:
    arr = np.asarray(pd.to_numeric(pd.Series(values, dtype=object), errors="coerce"), dtype=float)
    return arr[np.isfinite(arr)]


def t_interval(values, level: float = LEVEL) -> Tuple[float, float, float, int]:
    """``(mean, lo, hi, n)`` of the finite ``values``: mean ± t_{(1+level)/2, n−1} · s / √n
    (bounds NaN below :data:`MIN_SEEDS` values)."""
    v = _finite(values)
    n = len(v)
    if n == 0:
        return math.nan, math.nan, math.nan, 0
    mean = float(v.mean())
    if n < MIN_SEEDS:
        return mean, math.nan, math.nan, n
    half = float(stats.t.ppf((1 + level) / 2, n - 1) * v.std(ddof=1) / math.sqrt(n))
    return mean, mean - half, mean + half, n


def welch_p(a, b) -> float:
    """Two-sided Welch p-value of "the means of ``a`` and ``b`` differ" (NaN below
    :data:`MIN_SEEDS` values on a side; two samples without spread: 1 when equal, else 0)."""
    a, b = _finite(a), _finite(b)
    if len(a) < MIN_SEEDS or len(b) < MIN_SEEDS:
        return math.nan
    if np.ptp(a) == 0 and np.ptp(b) == 0:
        return 1.0 if a[0] == b[0] else 0.0
    return float(stats.ttest_ind(a, b, equal_var=False).pvalue)


def holm(pvalues: Sequence[float]) -> np.ndarray:
    """Holm-adjusted p-values in the input order; NaN entries stay NaN and are not counted
    in the family size m."""
    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, np.nan)
    idx = np.flatnonzero(np.isfinite(p))
    m = len(idx)
    order = idx[np.argsort(p[idx], kind="stable")]
    running = 0.0
    for j, i in enumerate(order):
        running = max(running, min(1.0, (m - j) * p[i]))
        out[i] = running
    return out


def _better_of(a: str, b: str, mean_a: float, mean_b: float, better: str) -> str:
    lower_wins = mean_a < mean_b
    return a if lower_wins == (better == "lower") else b


def pairwise_table(reruns: pd.DataFrame, meta: dict, alpha: float) -> pd.DataFrame:
    """One row per pair of methods per data set: the completed reruns' final ``metric``
    (n, mean of each side, difference a − b), the Welch p-value, its Holm adjustment within
    the data set, ``survives`` (adjusted p < alpha) and the better method when it does."""
    metric, better = meta.get("metric", "w1"), meta.get("better", "lower")
    rows = []
    for data, g in reruns.groupby("data", sort=True):
        done = g[g["status"] == record.COMPLETED]
        values = {
            m: _finite(done.loc[done["method"] == m, metric]) if metric in done else np.array([]) for m in g["method"]
        }
        part = []
        for a, b in combinations(method_order(meta, g["method"]), 2):
            va, vb = values[a], values[b]
            ma, mb = (float(v.mean()) if len(v) else math.nan for v in (va, vb))
            part.append(
                {"data": data, "method_a": a, "method_b": b, "n_a": len(va), "n_b": len(vb), "mean_a": ma}
                | {"mean_b": mb, "diff": ma - mb, "p": welch_p(va, vb)}
            )
        adjusted = holm([r["p"] for r in part])
        for r, q in zip(part, adjusted):
            r["p_holm"] = q
            r["survives"] = bool(np.isfinite(q) and q < alpha)
            r["better"] = (
                _better_of(r["method_a"], r["method_b"], r["mean_a"], r["mean_b"], better) if r["survives"] else ""
            )
        rows += part
    cols = [
        "data",
        "method_a",
        "method_b",
        "n_a",
        "n_b",
        "mean_a",
        "mean_b",
        "diff",
        "p",
        "p_holm",
        "survives",
        "better",
    ]
    return pd.DataFrame(rows, columns=cols)


def _selected(meta: dict) -> dict:
    """{(data, method): selected entry} from study.json's ``selected``."""
    key = meta.get("method_key", "constraint")
    out = {}
    for s in meta.get("selected") or []:
        if isinstance(s, dict):
            out[(data_label(s.get("group") or {}, key), str(s.get("method", "")))] = s
    return out


def _rerun_stats(runs: pd.DataFrame, metric: str) -> dict:
    """Mean, 95% t-interval, modes and converged k/n of one method's reruns."""
    done = runs[runs["status"] == record.COMPLETED]
    mean, lo, hi, n = t_interval(done[metric] if metric in done else [])
    flag = pd.to_numeric(done["converged"], errors="coerce").dropna()
    modes = _finite(done["modes"]) if "modes" in done else np.array([])
    return {
        "n_reruns": len(runs),
        "n_completed": n,
        "mean": mean,
        "ci_lo": lo,
        "ci_hi": hi,
        "std": float(np.std(_finite(done[metric]), ddof=1)) if n >= MIN_SEEDS else math.nan,
        "modes_mean": float(modes.mean()) if len(modes) else math.nan,
        "n_converged": int((flag >= 0.5).sum()),
        "n_checked": int(len(flag)),
    }


def chosen_table(trials: pd.DataFrame, meta: dict) -> pd.DataFrame:
    """Per data set and method: the selected trial (study.json's selection, else the trial
    the reruns repeat, else the best Phase-1 score: not rerun), its params, its score
    recomputed from its run, the best Phase-1 trial by that score, and :func:`_rerun_stats`."""
    metric, better = meta.get("metric", "w1"), meta.get("better", "lower")
    search, reruns = trials[trials["phase"] == "search"], trials[trials["phase"] == "rerun"]
    selected, rows = _selected(meta), []
    for data in sorted(set(search["data"]) | set(reruns["data"])):
        in_data = trials[trials["data"] == data]
        for method in method_order(meta, in_data["method"]):
            s = search[(search["data"] == data) & (search["method"] == method)]
            r = reruns[(reruns["data"] == data) & (reruns["method"] == method)]
            scores = pd.to_numeric(s["score"], errors="coerce").astype(float)
            ranked = s.assign(_s=scores if better == "lower" else -scores).sort_values("_s", kind="stable")
            best = ranked["trial"].iloc[0] if len(ranked) and np.isfinite(ranked["_s"].iloc[0]) else None
            sel = selected.get((data, method))
            trial = sel.get("trial") if sel else (r["trial"].iloc[0] if len(r) else best)
            row = s[s["trial"] == trial]
            params = (sel or {}).get("params") or (json.loads(row["params"].iloc[0]) if len(row) else {})
            rows.append(
                {"data": data, "method": method, "trial": trial, "params": json.dumps(params or {}, sort_keys=True)}
                | {"score": float(row["score"].iloc[0]) if len(row) else math.nan, "best_trial": best}
                | {"rerun": bool(len(r))}
                | _rerun_stats(r, metric)
            )
    return pd.DataFrame(rows)


__all__ = ["LEVEL", "TEST_TEXT", "t_interval", "welch_p", "holm", "pairwise_table", "chosen_table"]
