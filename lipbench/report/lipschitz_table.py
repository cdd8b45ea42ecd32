"""The Lipschitz table: is each method's critic 1-Lipschitz, and how loosely?

Every run records two bounds on its critic's Lipschitz constant K (see
:mod:`lipbench.metrics.lipschitz`): ``lip_lower``, the largest gradient norm found (a
witness: K is at least this), and ``lip_upper``, the product of per-layer operator norms
(a certificate: K is at most this). Each completed run therefore gets one verdict:

* ``certified``: lip_upper ≤ 1 + tol -- the critic is (within tol) 1-Lipschitz;
* ``exceeded``: lip_lower > 1 + tol -- some point has a gradient norm above 1 + tol;
* ``undecided``: neither (the layer-wise bound is too loose to tell).

The tolerance (5% by default) absorbs the power-iteration estimate of each layer's
norm, which SN's own one-step iteration lags by a few percent. :func:`lipschitz_table`
counts verdicts per method x swept factor, next to the bounds' means over seeds.
"""

from __future__ import annotations

import os
from typing import Dict, Optional

import numpy as np
import pandas as pd

from lipbench.report.aggregate import swept_factors
from lipbench.report.tables import fmt_number, readable_keys, sort_rows

TOLERANCE = 0.05
VERDICTS = ("certified", "exceeded", "undecided")
BOUND_COLUMNS = ("lip_lower", "lip_upper", "lip_ratio", "dual_ratio")


def run_verdict(lip_lower: float, lip_upper: float, tol: float = TOLERANCE) -> Optional[str]:
    """One run's verdict from its two bounds; None when neither bound was measured."""
    upper_ok = lip_upper is not None and np.isfinite(lip_upper)
    lower_ok = lip_lower is not None and np.isfinite(lip_lower)
    if upper_ok and lip_upper <= 1 + tol:
        return "certified"
    if lower_ok and lip_lower > 1 + tol:
        return "exceeded"
    return "undecided" if (upper_ok or lower_ok) else None


def _summary(counts: Dict[str, int]) -> str:
    n = sum(counts.values())
    if n == 0:
        return "—"
    for verdict, text in (("certified", "1-Lipschitz"), ("exceeded", "not 1-Lipschitz"),
                          ("undecided", "undecided")):
        if counts[verdict] == n:
            return f"{text} ({n}/{n})"
    return ", ".join(f"{counts[v]} {v}" for v in VERDICTS if counts[v])


def lipschitz_table(df: pd.DataFrame, tol: float = TOLERANCE) -> pd.DataFrame:
    """One row per method x swept factor: verdict counts over completed runs, the bounds'
    means, the largest lower bound and the smallest upper bound. Empty when no run
    recorded the bounds."""
    if df.empty or not any(c in df for c in ("lip_lower", "lip_upper")):
        return pd.DataFrame()
    factors = swept_factors(df)
    keys = ["method"] + factors
    done = df[df["status"].astype(str) == "completed"].copy()
    if done.empty:
        return pd.DataFrame()
    for c in BOUND_COLUMNS:
        done[c] = pd.to_numeric(done[c], errors="coerce") if c in done else np.nan
    done["verdict"] = [run_verdict(lo, up, tol) for lo, up in zip(done["lip_lower"], done["lip_upper"])]
    rows = []
    for key, g in readable_keys(done, keys).groupby(keys, sort=False, dropna=False):
        row = dict(zip(keys, key if isinstance(key, tuple) else (key,)))
        counts = {v: int((g["verdict"] == v).sum()) for v in VERDICTS}
        row.update({f"n_{v}": counts[v] for v in VERDICTS})
        row["verdict"] = _summary(counts)
        row["lip_lower_max"] = g["lip_lower"].max()
        row["lip_upper_min"] = g["lip_upper"].min()
        for c in BOUND_COLUMNS:
            row[f"{c}_mean"] = g[c].mean()
        rows.append(row)
    table = sort_rows(pd.DataFrame(rows), keys)
    table.attrs.update(factors=factors, tol=tol)
    return table


def to_markdown(table: pd.DataFrame) -> str:
    if table.empty:
        return "_No run recorded Lipschitz bounds._\n"
    factors = table.attrs.get("factors", [])
    shown = pd.DataFrame({"method": table["method"].astype(str)})
    for f in factors:
        shown[f[4:] if f.startswith("cfg.") else f] = table[f].astype(str)
    shown["1-Lipschitz?"] = table["verdict"]
    shown["K ≥ (lip_lower)"] = [fmt_number(v, 3) for v in table["lip_lower_mean"]]
    shown["K ≤ (lip_upper)"] = [fmt_number(v, 3) for v in table["lip_upper_mean"]]
    shown["upper / lower"] = [fmt_number(v, 3) for v in table["lip_ratio_mean"]]
    shown["critic_gap / W1"] = [fmt_number(v, 3) for v in table["dual_ratio_mean"]]
    if shown["critic_gap / W1"].eq("—").all():
        shown = shown.drop(columns="critic_gap / W1")
    return shown.to_markdown(index=False) + "\n"


def write_lipschitz_table(table: pd.DataFrame, out_dir, caption: Optional[str] = None) -> Dict[str, str]:
    """Write lipschitz.md and lipschitz.csv into ``out_dir``; returns {kind: path} ({} if empty)."""
    if table.empty:
        return {}
    tol = table.attrs.get("tol", TOLERANCE)
    paths = {k: os.path.join(os.fspath(out_dir), f"lipschitz.{k}") for k in ("md", "csv")}
    with open(paths["md"], "w", encoding="utf-8") as f:
        if caption:
            f.write(f"# {caption}: how Lipschitz is each critic?\n\n")
        f.write(to_markdown(table))
        f.write(f"\nPer completed run: **certified** when the upper bound lip_upper (product of per-layer "
                f"operator norms) is ≤ {1 + tol:g}; **exceeded** when the lower bound lip_lower (largest "
                f"gradient norm found) is > {1 + tol:g}; otherwise **undecided**. Bounds are means over "
                "those runs; critic_gap / W1 is 1 for an optimal 1-Lipschitz critic (2-D data only).\n")
    table.to_csv(paths["csv"], index=False)
    return paths
