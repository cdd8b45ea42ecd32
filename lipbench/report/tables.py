"""Comparison tables: method x swept factors, metrics as mean ± std over seeds.

:func:`comparison_table` returns the numbers (``<metric>_mean``, ``<metric>_std``,
``<metric>_n``, ``<metric>_tied_best``, ``<metric>_p`` per metric, run counts by status, and
the run-state columns of :mod:`lipbench.report.convergence`); :func:`format_table` renders
them as ``mean ± std`` strings for markdown, LaTeX or plain text;
:func:`lipbench.report.writers.write_tables` writes table.md, table.csv (the numbers) and
table.tex, each with a footer that states the test.

Statistics use completed runs only; diverged, failed and running runs are counted in
``n_diverged``, ``n_failed`` and ``n_running``, never silently dropped. The std is the
sample standard deviation (pandas, ddof=1); with a single completed run it is undefined:
NaN in table.csv and ``—`` in table.md / table.tex. Bold (``<metric>_tied_best``) marks every
row not significantly worse than the column's best mean, by the test of
:mod:`lipbench.report.significance` (direction from the run records,
:mod:`lipbench.report.metric_book`; within each data set when several are in one table);
``<metric>_p`` is that test's p-value.
Sampling floors (``*_floor*``) describe the data, not the method: they are never bold.
"""

from __future__ import annotations

import math
from typing import List, Optional, Sequence

import numpy as np
import pandas as pd

from lipbench import record
from lipbench.report import convergence as conv
from lipbench.report.aggregate import metric_columns
from lipbench.report.factors import swept_factors
from lipbench.report.metric_book import ATTR, MetricBook
from lipbench.report.significance import DEFAULT_ALPHA, check_alpha, rule_text, tied_with_best

COUNT_COLUMNS = ("n_completed", "n_diverged", "n_failed", "n_running")
_NOT_DEFAULT = ("loss_d", "loss_g", "penalty") + conv.STATE_METRICS
STATS = ("mean", "std", "n", "tied_best", "p")


def direction(metric: str, book: Optional[MetricBook] = None) -> Optional[str]:
    """ "lower", "higher" or None (a diagnostic, a sampling floor or an unknown name), from
    ``book`` (the runs' records), else from the declarations of the records of before."""
    return (book or MetricBook()).better(metric)


def default_metrics(df: pd.DataFrame) -> List[str]:
    """The table columns the runs' records name (:meth:`MetricBook.table_order`) present in
    ``df`` (with at least one value), then any other metric with a direction, sorted."""
    book = MetricBook.of(df)
    present = [c for c in metric_columns(df) if df[c].notna().any()]
    if "it_per_s" in df and df["it_per_s"].notna().any():
        present.append("it_per_s")
    ordered = [m for m in book.table_order() if m in present]
    extra = sorted(
        m
        for m in present
        if m not in ordered and m not in _NOT_DEFAULT and not m.endswith("_std") and book.better(m) is not None
    )
    return ordered + extra


def _data_factors(factors: Sequence[str]) -> List[str]:
    return [f for f in factors if f.startswith("cfg.data.")]


def comparison_table(
    df: pd.DataFrame,
    metrics: Optional[Sequence[str]] = None,
    *,
    factors: Optional[Sequence[str]] = None,
    alpha: Optional[float] = None,
) -> pd.DataFrame:
    """One row per method x swept factor (seeds pooled), with mean/std/n/tied_best/p per metric.

    Columns: ``method``, the swept factors (``cfg.``-prefixed names), ``n_completed``,
    ``n_diverged``, ``n_failed``, ``n_running``, the run-state columns the runs record
    (:func:`lipbench.report.convergence.state_columns`), then for each metric ``<m>_mean``,
    ``<m>_std`` (ddof=1, NaN for n=1), ``<m>_n``, ``<m>_tied_best`` (bool: not significantly
    worse than the best at level ``alpha``) and ``<m>_p`` (that test's p-value). ``alpha``
    defaults to the runs' ``eval.alpha`` (else 0.05). The metric list, factors, alpha and
    the runs' quality/plateau settings are stored in ``table.attrs`` (with the runs'
    ``metric_info``).
    """
    book = MetricBook.of(df)
    factors = list(swept_factors(df) if factors is None else factors)
    metrics = [
        m
        for m in (default_metrics(df) if metrics is None else metrics)
        if m in df.columns and m not in conv.STATE_METRICS
    ]
    alpha = check_alpha(alpha) if alpha is not None else runs_alpha(df)
    keys = ["method"] + factors
    state = conv.state_columns(df)
    cols = keys + list(COUNT_COLUMNS) + state + [f"{m}_{s}" for m in metrics for s in STATS]
    attrs = dict(
        metrics=metrics,
        factors=factors,
        alpha=alpha,
        **{ATTR: book.infos},
        quality_factor=conv.config_value(df, "cfg.eval.quality_factor"),
        plateau_window=conv.config_value(df, "cfg.eval.plateau_window"),
        plateau_tol=conv.config_value(df, "cfg.eval.plateau_tol"),
    )
    if df.empty:
        table = pd.DataFrame(columns=cols)
        table.attrs.update(attrs)
        return table
    rows, samples = [], []
    for key, group in readable_keys(df, keys).groupby(keys, sort=False, dropna=False):
        row, values = _group_row(key, group, keys, state, metrics)
        rows.append(row)
        samples.append(values)
    order = sort_rows(pd.DataFrame(rows), keys, return_order=True)
    table = pd.DataFrame([rows[i] for i in order])
    samples = [samples[i] for i in order]
    for m in metrics:
        _mark_tied_best(table, [s[m] for s in samples], m, _data_factors(factors), alpha, book.better(m))
    table = table[cols]
    table.attrs.update(attrs)
    return table


def _group_row(key, group: pd.DataFrame, keys: List[str], state: List[str], metrics: List[str]):
    """A row of :func:`comparison_table` for one method x factors group (its counts, run
    state and per-metric mean/std/n over the completed runs), and those runs' values."""
    row = dict(zip(keys, key if isinstance(key, tuple) else (key,)))
    status = group["status"].astype(str)
    for c in COUNT_COLUMNS:
        row[c] = int((status == c[2:]).sum())
    done = group[status == record.COMPLETED]
    row.update(conv.row_state(done, state))
    values = {m: pd.to_numeric(done[m], errors="coerce").dropna().to_numpy(float) for m in metrics}
    for m, vals in values.items():
        row[f"{m}_mean"] = vals.mean() if len(vals) else np.nan
        row[f"{m}_std"] = vals.std(ddof=1) if len(vals) > 1 else np.nan
        row[f"{m}_n"] = int(len(vals))
    return row, values


def runs_alpha(df: pd.DataFrame) -> float:
    """The significance level the runs recorded (eval.alpha; the smallest when they differ),
    else :data:`~lipbench.report.significance.DEFAULT_ALPHA` (also for an invalid value)."""
    try:
        return check_alpha(conv.config_value(df, "cfg.eval.alpha", DEFAULT_ALPHA))
    except ValueError:
        return DEFAULT_ALPHA


def _mark_tied_best(
    table: pd.DataFrame, samples: List[np.ndarray], metric: str, within: List[str], alpha: float, better: Optional[str]
) -> None:
    """Fill ``<metric>_tied_best`` and ``<metric>_p`` per block of rows (each data set)."""
    tied = pd.Series(False, index=table.index)
    pvals = pd.Series(np.nan, index=table.index)
    blocks = table.groupby(within, dropna=False).groups.values() if within else [table.index]
    for idx in blocks:
        marking = tied_with_best([samples[i] for i in idx], better, alpha)
        tied.loc[idx] = marking.tied
        pvals.loc[idx] = marking.p
    table[f"{metric}_tied_best"] = tied.astype(bool)
    table[f"{metric}_p"] = pvals


def readable_keys(df: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """A copy of ``df`` whose ``keys`` columns group on readable values: a missing value
    (a factor absent for a run) becomes "—" and stays a group of its own."""
    work = df.copy()
    for k in keys:
        work[k] = work[k].map(lambda v: "—" if v is None or (isinstance(v, float) and math.isnan(v)) else v)
    return work


def sort_rows(table: pd.DataFrame, keys: Sequence[str], return_order: bool = False):
    """Rows ordered by ``keys``: the 'none' baseline first, numbers numerically, then text
    (``return_order=True``: the positions in that order instead of the sorted frame)."""
    order = sorted(range(len(table)), key=lambda i: tuple(_sort_key(table.at[i, k]) for k in keys))
    return order if return_order else table.iloc[order].reset_index(drop=True)


def _sort_key(value):
    """Baseline first, numbers numerically, everything else as text."""
    if value == "none":
        return (0, 0.0, "")
    if isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
        return (1, float(value), "")
    return (2, 0.0, str(value))


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
    rows not significantly worse than the best in bold (``**`` for markdown, ``\\textbf``
    for latex, ``*`` suffix for plain), and the run-state columns ``converged`` (k/n) and
    ``ttq`` when the runs record them."""
    metrics, factors, book = table_metrics(table), table_factors(table), MetricBook.of(table)
    arrows = {
        "lower": {"latex": r" $\downarrow$", "markdown": " ↓", "plain": " (lower)"},
        "higher": {"latex": r" $\uparrow$", "markdown": " ↑", "plain": " (higher)"},
    }
    out = pd.DataFrame(index=table.index)
    out["method"] = table["method"].astype(str)
    for f in factors:
        out[f[4:] if f.startswith("cfg.") else f] = table[f].astype(str)
    for c in ("n_completed", "n_diverged", "n_failed"):
        out[c] = table[c].astype(int)
    if "n_running" in table and table["n_running"].sum() > 0:
        out["n_running"] = table["n_running"].astype(int)
    if "n_checked" in table:
        out["converged"] = [conv.format_converged(r) for _, r in table.iterrows()]
    if "n_reached" in table:
        out["ttq"] = [conv.format_ttq(r) for _, r in table.iterrows()]
    for m in metrics:
        cells = [metric_cell(r, m, style) for _, r in table.iterrows()]
        d = book.better(m)
        out[m + (arrows[d][style] if d in arrows else "")] = cells
    return out.reset_index(drop=True)


def metric_cell(r, m: str, style: str) -> str:
    """One metric cell: mean ± std, the seed count when partial, bold when tied with the best."""
    if not r[f"{m}_n"]:
        return "—"
    mean, std = r[f"{m}_mean"], r[f"{m}_std"]
    if np.isfinite(std) and std <= 1e-9 * abs(mean):
        std = 0.0  # float round-off of identical seeds (e.g. one floor), not a spread
    text = f"{fmt_number(mean, 3)} ± {fmt_number(std, 2)}"
    if r[f"{m}_n"] != r["n_completed"]:
        text += f" (n={int(r[f'{m}_n'])})"
    if r.get(f"{m}_tied_best", False):
        text = {"markdown": f"**{text}**", "latex": f"\\textbf{{{text}}}"}.get(style, text + " *")
    return text


def seeds_range(table: pd.DataFrame) -> Optional[tuple]:
    """(min, max) completed seeds behind the cells that carry a direction (None if none)."""
    book = MetricBook.of(table)
    ns = [int(v) for m in table_metrics(table) if book.better(m) for v in table[f"{m}_n"] if v]
    return (min(ns), max(ns)) if ns else None


def table_notes(table: pd.DataFrame, warnings: bool = True) -> List[str]:
    """The footer of table.md/.tex: statistics, the significance rule, run-state notes and
    (``warnings``) the convergence warning or the note that convergence is unknown."""
    if table.empty:
        return []
    alpha = table.attrs.get("alpha", DEFAULT_ALPHA)
    notes = [
        "mean ± sample std (ddof=1) over completed seeds; — : undefined (one run) or no completed run; "
        "↓ lower / ↑ higher is better; sampling floors (w1_floor, fid_floor_domain) describe the data "
        "and are never bold.",
        rule_text(alpha, seeds_range(table)),
    ]
    notes += [n for n in (conv.converged_note(table), conv.ttq_note(table)) if n]
    if warnings:
        notes += [
            n
            for n in (conv.convergence_warning(table, table_factors(table)), conv.unknown_convergence_note(table))
            if n
        ]
    return notes


def to_markdown(table: pd.DataFrame) -> str:
    """The table as GitHub markdown (tabulate); a one-line note when it is empty."""
    if table.empty:
        return "_No readable runs._\n"
    return format_table(table, "markdown").to_markdown(index=False) + "\n"
