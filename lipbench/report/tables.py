"""Comparison tables: method x swept factors, metrics as mean ± std over seeds.

:func:`comparison_table` returns the numbers (``<metric>_mean``, ``<metric>_std``,
``<metric>_n``, ``<metric>_best`` per metric, plus run counts by status); :func:`format_table`
renders them as ``mean ± std`` strings for markdown, LaTeX or plain text; :func:`write_tables`
writes table.md, table.csv (the numbers, best marked by the boolean ``*_best`` columns) and
table.tex.

Statistics use completed runs only; diverged, failed and running runs are counted in
``n_diverged``, ``n_failed`` and ``n_running``, never silently dropped. The std is the
sample standard deviation (pandas, ddof=1); with a single completed run it is undefined:
NaN in table.csv and ``—`` in table.md / table.tex. The best mean per column is marked
using the direction declared in :mod:`lipbench.metrics.catalog`; when several data sets are
in one table, the best is marked within each data set.
"""

from __future__ import annotations

import math
import os
from typing import Dict, List, Optional, Sequence

import numpy as np
import pandas as pd

from lipbench.report.aggregate import metric_columns, swept_factors

# Default metric order; only the metrics present in the runs are kept.
METRIC_ORDER = (
    "w1", "modes", "hq_pct", "critic_gap", "dual_ratio",
    "fid_domain", "kid_domain", "is_domain", "precision_domain", "recall_domain", "domain_clf_acc",
    "fid_inception", "kid_inception", "is_inception",
    "grad_real_mean", "grad_fake_mean", "grad_interp_mean",
    "sigma_max", "sigma_prod", "lip_lower", "lip_upper", "lip_ratio", "it_per_s",
)
COUNT_COLUMNS = ("n_completed", "n_diverged", "n_failed", "n_running")
_NOT_DEFAULT = ("loss_d", "loss_g", "penalty")


def direction(metric: str) -> Optional[str]:
    """"lower", "higher" or None, from the metric catalog; None if the catalog cannot answer."""
    try:
        from lipbench.metrics.catalog import direction as catalog_direction

        return catalog_direction(metric)
    except Exception:  # a half-written metric module must not break the report
        return None


def default_metrics(df: pd.DataFrame) -> List[str]:
    """The metrics of :data:`METRIC_ORDER` present in ``df`` (with at least one value), then
    any other metric whose direction is declared."""
    present = [c for c in metric_columns(df) if df[c].notna().any()]
    if "it_per_s" in df and df["it_per_s"].notna().any():
        present.append("it_per_s")
    ordered = [m for m in METRIC_ORDER if m in present]
    extra = sorted(m for m in present if m not in ordered and m not in _NOT_DEFAULT
                   and not m.endswith("_std") and direction(m) is not None)
    return ordered + extra


def _data_factors(factors: Sequence[str]) -> List[str]:
    return [f for f in factors if f.startswith("cfg.data.")]


def comparison_table(df: pd.DataFrame, metrics: Optional[Sequence[str]] = None,
                     factors: Optional[Sequence[str]] = None) -> pd.DataFrame:
    """One row per method x swept factor (seeds pooled), with mean/std/n/best per metric.

    Columns: ``method``, the swept factors (``cfg.``-prefixed names), ``n_completed``,
    ``n_diverged``, ``n_failed``, ``n_running``, then for each metric ``<m>_mean``,
    ``<m>_std`` (ddof=1, NaN for n=1), ``<m>_n`` and ``<m>_best`` (bool). The metric list
    and factors are stored in ``table.attrs``.
    """
    factors = list(swept_factors(df) if factors is None else factors)
    metrics = [m for m in (default_metrics(df) if metrics is None else metrics) if m in df.columns]
    keys = ["method"] + factors
    cols = keys + list(COUNT_COLUMNS) + [f"{m}_{s}" for m in metrics for s in ("mean", "std", "n", "best")]
    if df.empty:
        table = pd.DataFrame(columns=cols)
        table.attrs.update(metrics=metrics, factors=factors)
        return table
    work = readable_keys(df, keys)
    rows = []
    for key, group in work.groupby(keys, sort=False, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        row = dict(zip(keys, key))
        status = group["status"].astype(str)
        for c in COUNT_COLUMNS:
            row[c] = int((status == c[2:]).sum())
        done = group[status == "completed"]
        for m in metrics:
            vals = pd.to_numeric(done[m], errors="coerce").dropna()
            row[f"{m}_mean"] = vals.mean() if len(vals) else np.nan
            row[f"{m}_std"] = vals.std(ddof=1) if len(vals) > 1 else np.nan
            row[f"{m}_n"] = int(len(vals))
        rows.append(row)
    table = sort_rows(pd.DataFrame(rows), keys)
    within = _data_factors(factors)
    for m in metrics:
        table[f"{m}_best"] = _best_mask(table, f"{m}_mean", direction(m), within)
    table = table[cols]
    table.attrs.update(metrics=metrics, factors=factors)
    return table


def readable_keys(df: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """A copy of ``df`` whose ``keys`` columns group on readable values: a missing value
    (a factor absent for a run) becomes "—" and stays a group of its own."""
    work = df.copy()
    for k in keys:
        work[k] = work[k].map(lambda v: "—" if v is None or (isinstance(v, float) and math.isnan(v)) else v)
    return work


def sort_rows(table: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """Rows ordered by ``keys``: the 'none' baseline first, numbers numerically, then text."""
    order = sorted(range(len(table)), key=lambda i: tuple(_sort_key(table.at[i, k]) for k in keys))
    return table.iloc[order].reset_index(drop=True)


def _sort_key(value):
    """Baseline first, numbers numerically, everything else as text."""
    if value == "none":
        return (0, 0.0, "")
    if isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
        return (1, float(value), "")
    return (2, 0.0, str(value))


def _best_mask(table: pd.DataFrame, col: str, better: Optional[str], within: List[str]) -> pd.Series:
    mask = pd.Series(False, index=table.index)
    if better not in ("lower", "higher"):
        return mask
    groups = table.groupby(within, dropna=False) if within else [(None, table)]
    for _, g in groups:
        vals = pd.to_numeric(g[col], errors="coerce")
        if vals.notna().sum() == 0:
            continue
        best = vals.min() if better == "lower" else vals.max()
        mask.loc[g.index[np.isclose(vals.fillna(np.inf if better == "lower" else -np.inf), best,
                                    rtol=1e-12, atol=0)]] = True
    return mask


def fmt_number(v: float, digits: int) -> str:
    if v is None or not np.isfinite(v):
        return "—"
    return f"{v:.{digits}g}"


def table_metrics(table: pd.DataFrame) -> List[str]:
    return list(table.attrs.get("metrics") or [c[:-5] for c in table.columns if c.endswith("_mean")])


def table_factors(table: pd.DataFrame) -> List[str]:
    if "factors" in table.attrs:
        return list(table.attrs["factors"])
    return [c for c in table.columns if c.startswith("cfg.")]


def format_table(table: pd.DataFrame, style: str = "markdown") -> pd.DataFrame:
    """Strings for display: ``mean ± std`` (``(n=k)`` when fewer runs than n_completed),
    best values bold (``**`` for markdown, ``\\textbf`` for latex, ``*`` suffix for plain)."""
    metrics, factors = table_metrics(table), table_factors(table)
    arrows = {"lower": {"latex": r" $\downarrow$", "markdown": " ↓", "plain": " (lower)"},
              "higher": {"latex": r" $\uparrow$", "markdown": " ↑", "plain": " (higher)"}}
    out = pd.DataFrame(index=table.index)
    out["method"] = table["method"].astype(str)
    for f in factors:
        out[f[4:] if f.startswith("cfg.") else f] = table[f].astype(str)
    for c in ("n_completed", "n_diverged", "n_failed"):
        out[c] = table[c].astype(int)
    if "n_running" in table and table["n_running"].sum() > 0:
        out["n_running"] = table["n_running"].astype(int)
    for m in metrics:
        cells = []
        for _, r in table.iterrows():
            if not r[f"{m}_n"]:
                cells.append("—")
                continue
            text = f"{fmt_number(r[f'{m}_mean'], 3)} ± {fmt_number(r[f'{m}_std'], 2)}"
            if r[f"{m}_n"] != r["n_completed"]:
                text += f" (n={int(r[f'{m}_n'])})"
            if r[f"{m}_best"]:
                text = {"markdown": f"**{text}**", "latex": f"\\textbf{{{text}}}"}.get(style, text + " *")
            cells.append(text)
        d = direction(m)
        out[m + (arrows[d][style] if d in arrows else "")] = cells
    return out.reset_index(drop=True)


def to_markdown(table: pd.DataFrame) -> str:
    """The table as GitHub markdown (tabulate); a one-line note when it is empty."""
    if table.empty:
        return "_No readable runs._\n"
    return format_table(table, "markdown").to_markdown(index=False) + "\n"


_LATEX_ESCAPES = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
                  "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\^{}"}


def _tex_escape(text: str) -> str:
    return "".join(_LATEX_ESCAPES.get(ch, ch) for ch in text)


def to_latex(table: pd.DataFrame, caption: Optional[str] = None) -> str:
    """A booktabs ``tabular`` (inside a ``table`` float when a caption is given)."""
    if table.empty:
        return "% No readable runs.\n"
    shown = format_table(table, "latex")
    metrics = set(table_metrics(table))

    def cell(text: str) -> str:
        if text.startswith("\\textbf{"):
            return "\\textbf{" + cell(text[8:-1]) + "}"
        return _tex_escape(text).replace("±", "$\\pm$").replace("—", "--")

    def head(col: str) -> str:
        base, _, arrow = col.partition(" $")
        return _tex_escape(base) + (" $" + arrow if arrow else "")

    align = "".join("r" if c.split(" ")[0] in metrics or c.startswith("n_") else "l" for c in shown.columns)
    lines = [f"\\begin{{tabular}}{{{align}}}", "\\toprule",
             " & ".join(head(c) for c in shown.columns) + " \\\\", "\\midrule"]
    for _, r in shown.iterrows():
        lines.append(" & ".join(cell(str(v)) for v in r) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}"]
    if caption:
        lines = ["\\begin{table}[t]", "\\centering", f"\\caption{{{_tex_escape(caption)}}}"] + lines + ["\\end{table}"]
    return "\n".join(lines) + "\n"


def write_tables(table: pd.DataFrame, out_dir, caption: Optional[str] = None) -> Dict[str, str]:
    """Write table.md, table.csv and table.tex into ``out_dir``; returns {kind: path}."""
    out_dir = os.fspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    paths = {k: os.path.join(out_dir, f"table.{k}") for k in ("md", "csv", "tex")}
    with open(paths["md"], "w", encoding="utf-8") as f:
        if caption:
            f.write(f"# {caption}\n\n")
        f.write(to_markdown(table))
        if not table.empty:
            f.write("\nmean ± sample std (ddof=1) over completed seeds; — : undefined (one run) or no "
                    "completed run; bold: best per column (↓ lower / ↑ higher is better).\n")
    table.to_csv(paths["csv"], index=False)
    with open(paths["tex"], "w", encoding="utf-8") as f:
        f.write(to_latex(table, caption))
    return paths
