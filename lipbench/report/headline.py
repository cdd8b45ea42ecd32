"""The headline table: the comparison in at most :data:`MAX_COLUMNS` columns that fit
:data:`WIDTH` characters, for the terminal, the top of table.md and each results folder's
README.md. The full table (every metric, the run counts, time to quality) is table_full.md,
table.csv and table.tex.

Its columns, from the comparison table and the Lipschitz table (never recomputed here):

* the method and the swept factors;
* ``completed`` (k/n), only when some run diverged, failed or is still running;
* ``converged`` (k/n completed seeds that meet the plateau rule), when the runs record it;
* the primary metrics, each followed by its sampling floor: every metric with a direction that
  has a floor (``w1`` and ``w1_floor``; ``fid_domain`` and ``fid_floor_domain``), else the first
  metric with a direction;
* further metrics with a direction in the table's order (not the ``*_excess`` ratios to the
  floor, not the ``lip_*`` bounds), as many as fit;
* ``1-Lipschitz?``: the verdict of :func:`lipbench.report.lipschitz_table.lipschitz_table`.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Tuple

import pandas as pd

from lipbench.report import convergence as conv
from lipbench.report.metric_book import MetricBook, is_floor
from lipbench.report.significance import DEFAULT_ALPHA, TEST_NAME
from lipbench.report.tables import fmt_number, metric_cell, seeds_range, table_factors, table_metrics

WIDTH = 120  # characters: a terminal's width
MAX_COLUMNS = 8
VERDICT = "1-Lipschitz?"
ARROWS = {"lower": " ↓", "higher": " ↑"}


def _floor_of(metric: str, metrics: List[str]) -> Optional[str]:
    return next((m for m in metrics if is_floor(m) and m.replace("_floor", "", 1) == metric), None)


def metric_plan(table: pd.DataFrame) -> Tuple[List[str], List[str]]:
    """``(primary metrics, each followed by its floor; further candidates in table order)``."""
    metrics, book = table_metrics(table), MetricBook.of(table)
    directed = [m for m in metrics if book.better(m) and "_excess" not in m and not m.startswith("lip_")]
    primary = [m for m in directed if _floor_of(m, metrics)] or directed[:1]
    first: List[str] = []
    for m in primary:
        first += [m] + ([_floor_of(m, metrics)] if _floor_of(m, metrics) else [])
    return first, [m for m in directed if m not in first]


def _verdicts(table: pd.DataFrame, lip: Optional[pd.DataFrame]) -> Optional[List[str]]:
    """The Lipschitz table's verdict for each row of ``table`` ("—" where it has none)."""
    if lip is None or lip.empty or "verdict" not in lip:
        return None
    keys = ["method"] + table_factors(table)
    if any(k not in lip for k in keys):
        return None
    found: Dict[tuple, str] = {tuple(str(r[k]) for k in keys): str(r["verdict"]) for _, r in lip.iterrows()}
    return [found.get(tuple(str(r[k]) for k in keys), "—") for _, r in table.iterrows()]


def _base(table: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame(index=table.index)
    out["method"] = table["method"].astype(str)
    for f in table_factors(table):
        out[f[4:] if f.startswith("cfg.") else f] = table[f].astype(str)
    total = table["n_completed"] + table["n_diverged"] + table["n_failed"] + table.get("n_running", 0)
    if (total != table["n_completed"]).any():
        out["completed"] = [f"{int(k)}/{int(n)}" for k, n in zip(table["n_completed"], total)]
    if "n_checked" in table:
        out["converged"] = [conv.format_converged(r) for _, r in table.iterrows()]
    return out


def _add_metric(out: pd.DataFrame, table: pd.DataFrame, m: str, style: str) -> None:
    if is_floor(m):  # a property of the data: its mean over the row's seeds, no spread
        out[m] = [fmt_number(v, 3) for v in table[f"{m}_mean"]]
        return
    out[m + ARROWS.get(MetricBook.of(table).better(m), "")] = [metric_cell(r, m, style) for _, r in table.iterrows()]


def _render(frame: pd.DataFrame, style: str) -> str:
    return frame.to_markdown(index=False, tablefmt="github" if style == "markdown" else "simple") + "\n"


def _width(frame: pd.DataFrame) -> int:
    return max(len(line) for line in _render(frame, "plain").splitlines())


def headline_frame(table: pd.DataFrame, lip: Optional[pd.DataFrame] = None, style: str = "markdown") -> pd.DataFrame:
    """The headline's cells (``style``: "markdown" bolds with ``**``, "plain" marks with `` *``).
    The columns are chosen on the plain rendering, so that both styles show the same ones."""
    verdicts = _verdicts(table, lip)
    first, more = metric_plan(table)

    def build(metrics: List[str], cell_style: str) -> pd.DataFrame:
        out = _base(table)
        for m in metrics:
            _add_metric(out, table, m, cell_style)
        if verdicts is not None:
            out[VERDICT] = verdicts
        return out.reset_index(drop=True)

    chosen = list(first)
    for m in more:
        trial = build(chosen + [m], "plain")
        if len(trial.columns) > MAX_COLUMNS or _width(trial) > WIDTH:
            break
        chosen.append(m)
    return build(chosen, style)


def headline_markdown(table: pd.DataFrame, lip: Optional[pd.DataFrame] = None) -> str:
    if table.empty:
        return "_No readable runs._\n"
    return _render(headline_frame(table, lip, "markdown"), "markdown")


def headline_text(table: pd.DataFrame, lip: Optional[pd.DataFrame] = None) -> str:
    """The headline for a terminal: aligned columns, `` *`` for the bold of table.md."""
    if table.empty:
        return "No readable runs: the table is empty.\n"
    return _render(headline_frame(table, lip, "plain"), "plain")


def legend(table: pd.DataFrame, full: str = "table_full.md", mark: str = "*") -> str:
    """One paragraph under the headline: what the cells and ``mark`` (`` *`` in the printout,
    bold in markdown) mean, and where the rest is."""
    alpha = table.attrs.get("alpha", DEFAULT_ALPHA)
    seeds = seeds_range(table)
    n = "" if not seeds else f", n = {seeds[0]}" + ("" if seeds[0] == seeds[1] else f"–{seeds[1]}") + " seeds per row"
    return (
        f"mean ± std over completed seeds; {mark} = not significantly worse than the column's best ({TEST_NAME}, "
        f"α = {alpha:g}{n}); a floor is the metric between two samples of the real data; converged: seeds that "
        f"meet the plateau rule. Every column, and the notes: {full}."
    )
