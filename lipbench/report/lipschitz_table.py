"""The Lipschitz table: is each method's critic 1-Lipschitz, and how loosely?

Every run records two bounds on its critic's Lipschitz constant K (see
:mod:`lipbench.metrics.lipschitz`):

* ``lip_lower``, the largest gradient norm or difference quotient found: a *witness*
  (it is measured on the critic, so K is at least this);
* ``lip_upper``, a *guaranteed* upper bound (exact σ for linear layers, the circulant FFT
  bound for convolutions, L_skip + L_branch for residual blocks, composed over the
  critic's graph); NaN when some layer has no guaranteed bound. ``lip_upper_est`` (the
  product of per-layer estimates, power iteration for convolutions) is shown for
  reference and never certifies anything.

Each completed run gets one verdict (:mod:`lipbench.record.verdict`); ``SLACK`` = 1e-4
(relative) absorbs float rounding in the bounds, nothing else:

* ``bound error``: lip_lower > lip_upper (1 + SLACK): a witness above a guaranteed bound,
  a contradiction that only a bug explains; never counted as certified;
* ``certified``: lip_upper ≤ 1 + SLACK -- the critic is 1-Lipschitz;
* ``exceeded``: lip_lower > 1 + SLACK -- a measured quotient proves K > 1;
* ``undecided``: a certificate exists but is above 1 (K ≤ lip_upper, shown as the
  certified K), and no witness exceeds 1;
* ``no certificate``: no guaranteed bound (lip_upper NaN), and no witness exceeds 1.

Per run, the *tightness* lip_upper / lip_lower (≥ 1) says how far apart the two bounds
are; the table gives its mean and largest value. Below it, lipschitz.md has a per-layer
table (:mod:`lipbench.report.lipschitz_layers`): each layer's exact norm where the run
computed it, its guaranteed bound, their ratio and the method.

Records written before ``lip_upper_est`` existed carry the old power-iteration product in
``lip_upper`` (and in ``sigma_prod``, which the loader reads as ``lip_upper_est``). For
``model=mlp`` that product was already the product of exact σ's (a guaranteed bound); for
every other model it is read as the estimate and certifies nothing.
:func:`lipschitz_table` counts verdicts per method x swept factor, next to the bounds.
"""

from __future__ import annotations

from typing import Dict, Optional

import numpy as np
import pandas as pd

from lipbench import record
from lipbench.record.verdict import BOUND_ERROR, SLACK, VERDICTS, fmt_bound, run_verdict
from lipbench.report.factors import swept_factors
from lipbench.report.lipschitz_layers import layer_markdown, layer_table
from lipbench.report.tables import fmt_number, readable_keys, sort_rows
from lipbench.report.writers import write_md_and_csv

TOLERANCE = SLACK  # the name other reports import
BOUND_COLUMNS = ("lip_lower", "lip_upper", "lip_upper_est", "lip_ratio", "tightness", "dual_ratio")
_GROUP_TEXT = {
    "certified": "1-Lipschitz",
    "exceeded": "not 1-Lipschitz",
    "undecided": "undecided",
    "no certificate": "no certificate",
    BOUND_ERROR: "BOUND ERROR",
}


def sound_bounds(runs: pd.DataFrame) -> pd.DataFrame:
    """``runs`` with legacy records converted: where ``lip_upper`` is the estimate
    ``lip_upper_est`` (read from the old ``sigma_prod``), it stays ``lip_upper`` only for
    ``model=mlp`` (a chain of exact σ's); elsewhere lip_upper and lip_ratio become NaN.
    A record written since then computes lip_upper apart from the estimate, and for a critic
    with a conv layer the two never coincide (the certified bound lies above the true norm,
    power iteration below it)."""
    out = runs.copy()
    for c in BOUND_COLUMNS:
        out[c] = pd.to_numeric(out[c], errors="coerce") if c in out else np.nan
    legacy = out["lip_upper"].notna() & (out["lip_upper"] == out["lip_upper_est"])
    mlp = out["cfg.model.name"].astype(str).eq("mlp") if "cfg.model.name" in out else pd.Series(False, out.index)
    out.loc[legacy & ~mlp, ["lip_upper", "lip_ratio"]] = np.nan
    return out


def _summary(counts: Dict[str, int]) -> str:
    n = sum(counts.values())
    if n == 0:
        return "—"
    for verdict in VERDICTS:
        if counts[verdict] == n:
            return f"{_GROUP_TEXT[verdict]} ({n}/{n})"
    return ", ".join(f"{counts[v]} {v}" for v in VERDICTS if counts[v])


def lipschitz_table(df: pd.DataFrame, tol: float = SLACK) -> pd.DataFrame:
    """One row per method x swept factor: verdict counts over completed runs, the bounds'
    means, the largest lower bound, the smallest upper bound and ``certified_k`` (the
    largest lip_upper, a bound for every run of the row; NaN unless every run has one).
    Empty when no run recorded the bounds."""
    if df.empty or not any(c in df for c in ("lip_lower", "lip_upper")):
        return pd.DataFrame()
    factors = swept_factors(df)
    keys = ["method"] + factors
    done = df[df["status"].astype(str) == record.COMPLETED]
    if done.empty:
        return pd.DataFrame()
    done = sound_bounds(done)
    done["verdict"] = [run_verdict(lo, up, tol) for lo, up in zip(done["lip_lower"], done["lip_upper"])]
    done["tightness"] = done["lip_upper"] / done["lip_lower"].where(done["lip_lower"] > 0)
    rows = []
    for key, g in readable_keys(done, keys).groupby(keys, sort=False, dropna=False):
        row = dict(zip(keys, key if isinstance(key, tuple) else (key,)))
        counts = {v: int((g["verdict"] == v).sum()) for v in VERDICTS}
        row.update({f"n_{v.replace(' ', '_')}": counts[v] for v in VERDICTS})
        row["verdict"] = _summary(counts)
        row["lip_lower_max"] = g["lip_lower"].max()
        row["lip_upper_min"] = g["lip_upper"].min()
        row["certified_k"] = g["lip_upper"].max() if g["lip_upper"].notna().all() else np.nan
        for c in BOUND_COLUMNS:
            row[f"{c}_mean"] = g[c].mean()
        row["tightness_max"] = g["tightness"].max()
        rows.append(row)
    table = sort_rows(pd.DataFrame(rows), keys)
    layers = layer_table(readable_keys(done, keys), keys)
    table.attrs.update(factors=factors, tol=tol, layers_md=layer_markdown(layers, keys))
    return table


def to_markdown(table: pd.DataFrame) -> str:
    if table.empty:
        return "_No run recorded Lipschitz bounds._\n"
    factors = table.attrs.get("factors", [])
    shown = pd.DataFrame({"method": table["method"].astype(str)})
    for f in factors:
        shown[f[4:] if f.startswith("cfg.") else f] = table[f].astype(str)
    shown["1-Lipschitz?"] = table["verdict"]
    shown["certified K ≤"] = [fmt_bound(v, 4) for v in table["certified_k"]]
    shown["K ≥ (lip_lower)"] = [fmt_bound(v, 3) for v in table["lip_lower_mean"]]
    shown["K ≤ (lip_upper)"] = [fmt_bound(v, 3) for v in table["lip_upper_mean"]]
    shown["estimate (lip_upper_est)"] = [fmt_number(v, 3) for v in table["lip_upper_est_mean"]]
    tightness = table["tightness_mean"] if "tightness_mean" in table else table["lip_ratio_mean"]
    shown["tightness: upper / lower"] = [fmt_number(v, 3) for v in tightness]
    if "tightness_max" in table:
        shown["tightness, max"] = [fmt_number(v, 3) for v in table["tightness_max"]]
    shown["critic_gap / W1"] = [fmt_number(v, 3) for v in table["dual_ratio_mean"]]
    for col in ("estimate (lip_upper_est)", "critic_gap / W1"):
        if shown[col].eq("—").all():
            shown = shown.drop(columns=col)
    return shown.to_markdown(index=False) + "\n"


def footer(tol: float = SLACK) -> str:
    """What each verdict guarantees, for the bottom of lipschitz.md."""
    return (
        f"\nPer completed run, with a slack of {tol:g} (relative) for float rounding only: "
        f"**certified** (1-Lipschitz): lip_upper, a guaranteed upper bound on the critic's Lipschitz "
        f"constant K (exact σ for linear layers; for convolutions the exact norm with a float64 certificate "
        f"where the map is small enough, else the circulant FFT bound; L_skip + L_branch for "
        f"residual blocks), is ≤ {1 + tol:g}, so K ≤ 1 holds up to rounding. **BOUND ERROR**: lip_lower is "
        f"above lip_upper by more than the slack, a contradiction (a bug in one of the two); such a run is "
        f"never counted as certified. **exceeded** (not 1-Lipschitz): "
        f"lip_lower, a gradient norm or difference quotient measured on the critic, is > {1 + tol:g}, so "
        "K > 1 for sure. **undecided**: K ≤ lip_upper with lip_upper > 1 (the column *certified K ≤* holds "
        "the largest over the row's runs) and no witness above 1. **no certificate**: no guaranteed bound "
        "exists for this critic (some layer has none, or the run predates the sound bounds and is not an "
        "MLP) and no witness above 1; lip_upper_est, the product of per-layer estimates (power iteration "
        "for convolutions), is shown but is not a bound. Other bounds are means over those runs; "
        "*tightness* is lip_upper / lip_lower per run (1 = the certificate is attained): its mean and "
        "largest value; critic_gap / W1 is 1 for an optimal 1-Lipschitz critic (2-D data only).\n"
    )


def write_lipschitz_table(table: pd.DataFrame, out_dir, caption: Optional[str] = None) -> Dict[str, str]:
    """Write lipschitz.md and lipschitz.csv into ``out_dir``; returns {kind: path} ({} if empty)."""
    if table.empty:
        return {}
    heading = f"{caption}: how Lipschitz is each critic?" if caption else None
    markdown = to_markdown(table) + footer(table.attrs.get("tol", SLACK)) + table.attrs.get("layers_md", "")
    return write_md_and_csv(table, out_dir, "lipschitz", markdown=markdown, heading=heading)
