"""The dual table: how close each constrained critic gets to the exact W1, per pair.

Reads the dual-task runs of a runs DataFrame (``cfg.task == "dual"``) and writes

* ``dual.md`` -- one table per pair: rows = critic (constraint · activation), columns =
  dimension, cells = held-out estimate / W1 as mean ± sample std over seeds; then per
  pair the truth (closed form or exact OT with its standard error and bias gauge), and a
  detail table (Lipschitz verdicts, the tightness of the critic divided by its certified
  Lipschitz bound, steps and seconds to 95% of the final estimate, bound violations);
* ``dual.csv`` -- the same numbers, one row per (pair, dimension, critic).

A *violation* is a run whose estimate exceeds lip_upper x W1 by more than
:data:`lipbench.metrics.dual.BOUND_SIGMAS` combined standard errors: lip_upper is a
guaranteed bound on the critic's Lipschitz constant, so by Kantorovich-Rubinstein that
cannot happen; a non-zero count means a bug in the estimate, the truth or the bound.
"""

from __future__ import annotations

import math
import os
from typing import Dict, List

import numpy as np
import pandas as pd

from lipbench import record
from lipbench.metrics.dual import BOUND_SIGMAS
from lipbench.record.verdict import BOUND_ERROR, fmt_bound
from lipbench.report.dual_select import dual_runs
from lipbench.report.lipschitz_table import TOLERANCE
from lipbench.report.tables import fmt_number
from lipbench.report.writers import write_md_and_csv

KEYS = ("pair", "dim", "critic")


def _stats(values: pd.Series) -> tuple:
    v = pd.to_numeric(values, errors="coerce").dropna()
    return (float(v.mean()) if len(v) else math.nan, float(v.std(ddof=1)) if len(v) > 1 else math.nan, len(v))


def dual_table(df: pd.DataFrame) -> pd.DataFrame:
    """One row per (pair, dim, critic): means/stds over completed seeds and run counts."""
    runs = dual_runs(df)
    if runs.empty:  # no dual runs: no columns to group by
        return pd.DataFrame()
    rows = []
    for (pair, dim, critic), g in runs.groupby(list(KEYS), sort=True):
        done = g[g["status"] == record.COMPLETED]
        row = {
            "pair": pair,
            "dim": int(dim),
            "critic": critic,
            "n_runs": len(g),
            "n_completed": len(done),
            "n_diverged": int((g["status"] == record.DIVERGED).sum()),
            "n_failed": int((g["status"] == record.FAILED).sum()),
        }
        for m in (
            "dual_tightness",
            "dual_tightness_normalized",
            "dual_estimate",
            "lip_upper",
            "lip_lower",
            "steps_to_95",
            "seconds_to_95",
            "dual_late_gain",
            "dual_grad_cos",
            "dual_grad_l2",
        ):
            mean, std, n = _stats(done[m]) if m in done else (math.nan, math.nan, 0)
            row.update({f"{m}_mean": mean, f"{m}_std": std, f"{m}_n": n})
        for m in ("dual_estimate_se", "w1_true", "w1_true_se", "w1_bias_gauge"):
            row[m] = _stats(done[m])[0] if m in done else math.nan
        row["n_certified"] = int((done["verdict"] == "certified").sum())
        row["n_exceeded"] = int((done["verdict"] == "exceeded").sum())
        row["n_bound_error"] = int((done["verdict"] == BOUND_ERROR).sum())
        row["n_violations"] = int(done["violation"].sum())
        rows.append(row)
    return pd.DataFrame(rows)


def _cell(mean: float, std: float, n: int) -> str:
    if not math.isfinite(mean):
        return "—"
    spread = f" ± {std:.3f}" if math.isfinite(std) else ""
    return f"{mean:.3f}{spread}"


def _truth_line(sub: pd.DataFrame) -> str:
    parts = []
    for dim, g in sub.groupby("dim"):
        r = g.iloc[0]
        if not math.isfinite(r["w1_true"]):
            continue
        se = r["w1_true_se"]
        what = "closed form" if se == 0 else f"exact OT ± {fmt_number(se, 2)}"
        gauge = r.get("w1_bias_gauge")
        extra = f", bias gauge {fmt_number(gauge, 2)}" if gauge is not None and np.isfinite(gauge) else ""
        parts.append(f"d={dim}: W1 = {fmt_number(r['w1_true'], 4)} ({what}{extra})")
    return "; ".join(parts)


def _markdown_pair(pair: str, sub: pd.DataFrame) -> List[str]:
    dims = sorted(sub["dim"].unique())
    critics = sorted(sub["critic"].unique())
    lines = [
        f"## {pair}",
        "",
        _truth_line(sub),
        "",
        "| critic | " + " | ".join(f"d={d}" for d in dims) + " |",
        "|---|" + "---:|" * len(dims),
    ]
    for c in critics:
        cells = []
        for d in dims:
            r = sub[(sub["critic"] == c) & (sub["dim"] == d)]
            cells.append(_cell(*(r.iloc[0][f"dual_tightness_{s}"] for s in ("mean", "std", "n"))) if len(r) else "—")
        lines.append(f"| {c} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "| critic | d | seeds | estimate/W1 | held-out se/W1 | ÷ lip_upper | lip_upper | certified "
        "| grad cos | grad L2 | steps to 95% | s to 95% | late gain | violations |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for _, r in sub.sort_values(["critic", "dim"]).iterrows():
        lines.append(
            f"| {r['critic']} | {r['dim']} | {r['n_completed']}/{r['n_runs']} | "
            f"{_cell(r['dual_tightness_mean'], r['dual_tightness_std'], r['dual_tightness_n'])} | "
            f"{fmt_number(r['dual_estimate_se'] / r['w1_true'], 2)} | "
            f"{fmt_number(r['dual_tightness_normalized_mean'], 3)} | {fmt_bound(r['lip_upper_mean'], 3)} | "
            f"{_certified(r)} | {_metric_cell(r, 'dual_grad_cos')} | {_metric_cell(r, 'dual_grad_l2')} | "
            f"{fmt_number(r['steps_to_95_mean'], 3)} | "
            f"{fmt_number(r['seconds_to_95_mean'], 2)} | {_percent(r['dual_late_gain_mean'])} | {r['n_violations']} |"
        )
    return lines + [""]


def _metric_cell(r, name: str) -> str:
    """mean ± std over seeds of a metric, "—" where the runs do not record it."""
    return _cell(r.get(f"{name}_mean", math.nan), r.get(f"{name}_std", math.nan), 0)


def _certified(r) -> str:
    errors = r.get("n_bound_error", 0)
    return f"{r['n_certified']}/{r['n_completed']}" + (f" (**{errors} bound error**)" if errors else "")


def _percent(v: float) -> str:
    return f"{100 * v:.1f}%" if v is not None and np.isfinite(v) else "—"


def to_markdown(table: pd.DataFrame, caption: str = "dual") -> str:
    """dual.md: the notes, then one section per pair."""
    lines = [
        f"# {caption}: held-out critic estimate / exact W1",
        "",
        "Cells: E_P[f] − E_Q[f] on held-out samples (never in a training batch) divided by the exact W1, "
        "mean ± sample std over completed seeds. 1 = the critic attains W1; a critic that is truly "
        "1-Lipschitz cannot exceed 1. *÷ lip_upper*: the same divided by the critic's guaranteed Lipschitz "
        "bound (the tightness of the rescaled, certified critic). *lip_upper*: mean over seeds, printed with "
        f"the digits that keep it on its side of 1 and of {1 + TOLERANCE:g}. *certified*: runs with lip_upper ≤ "
        f"{1 + TOLERANCE:g}; a *bound error* is a run whose measured lower bound exceeds lip_upper (a bug). "
        "*grad cos*, *grad L2*: on held-out points of P, the mean cosine and the root mean square "
        "distance between the critic's gradient and the true transport direction (x − T(x)) / ‖x − T(x)‖ "
        "(Korotin et al. 2022): δ/‖δ‖ for the Gaussian translation, the exact OT plan of n_ot held-out "
        "points otherwise (itself a sample, so below 1 even for the optimum); 1 and 0 are the optimal "
        "critic's. *violations*: runs whose estimate exceeds lip_upper × W1 by more than "
        f"{BOUND_SIGMAS:g} combined standard errors (impossible; a bug if non-zero). *late gain*: share of the "
        "final estimate gained over the last 30% of the steps (large = still rising when the budget ended). "
        "OT truths are biased upwards by the finite sample; the bias gauge estimates what is left.",
        "",
    ]
    for pair in _pair_order(table):
        lines += _markdown_pair(pair, table[table["pair"] == pair])
    return "\n".join(lines)


def _pair_order(table: pd.DataFrame) -> List[str]:
    pairs = list(dict.fromkeys(table["pair"])) if not table.empty else []
    return sorted(pairs, key=lambda p: (p != "gaussian", p))


def write_dual_tables(df: pd.DataFrame, out_dir, caption: str = "dual") -> Dict[str, str]:
    """Write dual.md and dual.csv when ``df`` holds dual runs; returns ``{"md", "csv"}`` paths ({} if none)."""
    table = dual_table(df)
    if table.empty:
        return {}
    return write_md_and_csv(table, out_dir, "dual", markdown=to_markdown(table, caption) + "\n")


def dual_report(
    df: pd.DataFrame, out_dir, caption: str = "dual", plots: bool = True, errors=None, quiet: bool = False
) -> List[str]:
    """The dual part of a report, when ``df`` holds dual runs: dual.md/.csv, the npz files the
    surface panels need (into the run copies) and the dual plots. Returns the files written."""
    paths = write_dual_tables(df, out_dir, caption)
    if not paths:
        return []
    from lipbench.report.plots_dual import copy_dual_samples, plot_dual

    files = list(paths.values())
    try:
        copy_dual_samples(df, out_dir)
    except OSError as exc:
        if errors is not None:
            errors.append(f"copying dual samples: {exc}")
    if plots:
        files += plot_dual(df, os.path.join(out_dir, "plots"), errors)
    if not quiet:
        with open(paths["md"], encoding="utf-8") as f:
            print(f.read())
        print(f"Dual table: {paths['md']}")
    return files
