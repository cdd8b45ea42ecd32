"""Cross-data-set ranking: which method does well everywhere, not just on one data set?

From a comparison table (:func:`lipbench.report.tables.comparison_table`), for each metric
with a declared direction: within each data set (the values of the swept ``cfg.data.*``
factors) the entries (a method, crossed with any other swept factor) are ranked by their
mean over completed seeds (1 = best; ties share the average rank; an entry without a
value on a data set is not ranked there). Per entry and metric the ranking reports the
mean rank over data sets, its sample std (ddof=1; undefined for one data set), the best
and worst rank, and the rank on each data set. Left out by default: excess-over-floor
metrics (``*_excess*``: within a data set they order methods like the metric they divide)
and the Lipschitz-bound diagnostics (``lip_*``: they score a bound's looseness, not the
generator).
"""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence

import numpy as np
import pandas as pd

from lipbench.report.metric_book import MetricBook
from lipbench.report.tables import fmt_number, table_factors, table_metrics
from lipbench.report.writers import write_md_and_csv

RANK_STATS = ("mean_rank", "std_rank", "min_rank", "max_rank", "n_datasets")


def ranked_metrics(table: pd.DataFrame) -> List[str]:
    """The table's metrics ranked by default (declared direction; no excess ratio, no lip_*)."""
    book = MetricBook.of(table)
    return [
        m
        for m in table_metrics(table)
        if book.better(m) in ("lower", "higher") and "_excess" not in m and not m.startswith("lip_")
    ]


def _block_label(row, data_cols: Sequence[str]) -> str:
    return ", ".join(str(row[c]) if c == "cfg.data.name" else f"{c[4:]}={row[c]}" for c in data_cols) or "all"


def _rank_record(
    key: tuple, entity: Sequence[str], metric: str, per_block: Dict[str, float], blocks: Sequence[str]
) -> dict:
    vals = np.array([per_block.get(b, np.nan) for b in blocks], dtype=float)
    ok = vals[np.isfinite(vals)]
    rec = dict(zip(entity, key), metric=metric)
    rec.update(
        mean_rank=ok.mean() if len(ok) else np.nan,
        std_rank=ok.std(ddof=1) if len(ok) > 1 else np.nan,
        min_rank=ok.min() if len(ok) else np.nan,
        max_rank=ok.max() if len(ok) else np.nan,
        n_datasets=int(len(ok)),
    )
    rec.update({f"rank[{b}]": v for b, v in zip(blocks, vals)})
    return rec


def ranking_table(table: pd.DataFrame, metrics: Optional[Sequence[str]] = None) -> pd.DataFrame:
    """Long format: one row per entry x metric with :data:`RANK_STATS` and one
    ``rank[<data set>]`` column per data set, entries in table order. Empty when nothing
    can be ranked."""
    metrics = [m for m in (ranked_metrics(table) if metrics is None else metrics) if f"{m}_mean" in table]
    if table.empty or not metrics:
        return pd.DataFrame()
    factors = table_factors(table)
    data_cols = [f for f in factors if f.startswith("cfg.data.")]
    entity = ["method"] + [f for f in factors if f not in data_cols]
    work = table.assign(
        _block=[_block_label(r, data_cols) for _, r in table.iterrows()],
        _key=[tuple(k) for k in table[entity].itertuples(index=False)],
    )
    blocks = list(dict.fromkeys(work["_block"]))
    keys = list(dict.fromkeys(work["_key"]))
    records, book = [], MetricBook.of(table)
    for m in metrics:
        ascending = book.better(m) == "lower"
        per_key: Dict[tuple, Dict[str, float]] = {k: {} for k in keys}
        for block, g in work.groupby("_block", sort=False):
            ranks = pd.to_numeric(g[f"{m}_mean"], errors="coerce").rank(ascending=ascending, method="average")
            for key, rank in zip(g["_key"], ranks):
                per_key[key][block] = rank
        records += [_rank_record(k, entity, m, per_key[k], blocks) for k in keys]
    out = pd.DataFrame(records)
    out = out[out["n_datasets"] > 0].reset_index(drop=True)
    ranked_on = {
        m: int(out.loc[out["metric"] == m, [f"rank[{b}]" for b in blocks]].notna().any().sum()) for m in metrics
    }
    out.attrs.update(metrics=[m for m in metrics if ranked_on[m]], blocks=blocks, entity=entity, ranked_on=ranked_on)
    return out


def _rank_text(r: dict, n_blocks: int) -> str:
    if not r["n_datasets"]:
        return "—"
    text = fmt_number(r["mean_rank"], 3)
    if r["n_datasets"] > 1:
        text += f" ± {fmt_number(r['std_rank'], 2)} ({fmt_number(r['min_rank'], 3)}–{fmt_number(r['max_rank'], 3)})"
    if r["n_datasets"] < n_blocks:
        text += f" (n={int(r['n_datasets'])})"
    return text


def format_ranking(ranking: pd.DataFrame) -> pd.DataFrame:
    """Display frame: one row per entry, a ``<metric> rank`` column per metric, then the
    primary metric's rank on each data set; sorted by the primary metric's mean rank
    (ties in table order)."""
    metrics, blocks, entity = (ranking.attrs[k] for k in ("metrics", "blocks", "entity"))
    by_metric = {
        m: {tuple(r[c] for c in entity): r for r in g.to_dict("records")}
        for m, g in ranking.groupby("metric", sort=False)
    }
    primary = by_metric.get(metrics[0], {})
    keys = list(dict.fromkeys(tuple(k) for k in ranking[entity].itertuples(index=False)))
    keys.sort(key=lambda k: primary[k]["mean_rank"] if k in primary else np.inf)
    shown = pd.DataFrame(
        {(c[4:] if c.startswith("cfg.") else c): [str(k[i]) for k in keys] for i, c in enumerate(entity)}
    )
    for m in metrics:
        part = by_metric.get(m, {})
        n_blocks = ranking.attrs.get("ranked_on", {}).get(m, len(blocks))  # data sets that have metric m
        shown[f"{m} rank"] = [_rank_text(part[k], n_blocks) if k in part else "—" for k in keys]
    if len(blocks) > 1:
        for b in blocks:
            shown[f"{metrics[0]} @ {b}"] = [
                fmt_number(primary[k][f"rank[{b}]"], 3) if k in primary else "—" for k in keys
            ]
    return shown


def ranking_note(ranking: pd.DataFrame) -> str:
    """The footer that says how the ranks were computed."""
    n = len(ranking.attrs.get("blocks", []))
    return (
        f"Within each data set, methods are ranked by their mean over completed seeds (1 = best; ties share "
        f"the average rank). Each cell: mean rank over the data sets (of {n}) that have the metric ± its sample "
        "std (ddof=1), best–worst rank in brackets; (n=k) when a method has values on only k of them. Ranks "
        "use means only: a difference of one rank may be noise (the bold in table.md marks what is "
        "significant)."
    )


def ranking_markdown(ranking: pd.DataFrame) -> str:
    """The ranking as GitHub markdown with its footer; a one-line note when empty."""
    if ranking.empty:
        return "_No metric with a direction to rank._\n"
    return format_ranking(ranking).to_markdown(index=False) + "\n\n" + ranking_note(ranking) + "\n"


def write_ranking(ranking: pd.DataFrame, out_dir, caption: Optional[str] = None) -> Dict[str, str]:
    """Write ranking.md and ranking.csv into ``out_dir``; returns {kind: path} ({} if empty)."""
    if ranking.empty:
        return {}
    heading = f"{caption}: ranking across data sets" if caption else None
    return write_md_and_csv(ranking, out_dir, "ranking", markdown=ranking_markdown(ranking), heading=heading)


__all__ = [
    "ranking_table",
    "ranked_metrics",
    "format_ranking",
    "ranking_markdown",
    "ranking_note",
    "write_ranking",
    "RANK_STATS",
]
