"""The closing "Answer" of study.md, generated from the study's tables (never typed): per data
set, which pairwise differences survive tuning and seeds, the order of the tuned methods and
the order of forgivingness."""

from __future__ import annotations

import math
from typing import List

import pandas as pd

from lipbench.report.study_curves import FLOOR_FACTOR


def fmt(v) -> str:
    """A number in 3 significant digits; "∞" for infinity, "—" when missing."""
    try:
        v = float(v)
    except (TypeError, ValueError):
        return "—"
    if math.isinf(v):
        return "∞" if v > 0 else "−∞"
    return f"{v:.3g}" if math.isfinite(v) else "—"


def mean_ci(r) -> str:
    """ "mean [lo, hi]" of a chosen-table row."""
    return f"{fmt(r.mean)} [{fmt(r.ci_lo)}, {fmt(r.ci_hi)}]"


def _survivors(pw: pd.DataFrame, metric: str) -> List[str]:
    out = []
    for r in pw[pw["survives"]].itertuples():
        loser = r.method_b if r.better == r.method_a else r.method_a
        win, lose = (r.mean_a, r.mean_b) if r.better == r.method_a else (r.mean_b, r.mean_a)
        out.append(f"{r.better} beats {loser} (final {metric} {fmt(win)} vs {fmt(lose)}, Holm p = {fmt(r.p_holm)})")
    return out


def _order(ch: pd.DataFrame, pw: pd.DataFrame, better: str) -> tuple:
    """(the rerun methods best first as "method mean [CI]", adjacent pairs the test separates)."""
    if ch.empty:
        return [], []
    done = ch[ch["rerun"] & ch["mean"].notna()]
    done = done.sort_values("mean", ascending=better == "lower", kind="stable")
    items = [f"{r.method} {mean_ci(r)}" for r in done.itertuples()]
    sep = {frozenset((r.method_a, r.method_b)) for r in pw[pw["survives"]].itertuples()}
    names = done["method"].tolist()
    adjacent = [f"{a}–{b}" for a, b in zip(names, names[1:]) if frozenset((a, b)) in sep]
    return items, adjacent


def _forgiving(fg: pd.DataFrame, metric: str) -> str:
    rows = fg.sort_values("rank", kind="stable").itertuples()
    parts = []
    for r in rows:
        within = (
            f"{r.frac_within_floor:.0%} within {FLOOR_FACTOR:g}× floor, " if math.isfinite(r.frac_within_floor) else ""
        )
        conv = f"{r.frac_converged:.0%} converge" if math.isfinite(r.frac_converged) else "convergence not recorded"
        median = f"median final {metric} {fmt(r.median)}"
        parts.append(f"{r.method} ({within}{median}, {conv}, {r.frac_diverged_failed:.0%} diverged/failed)")
    return " > ".join(parts)


def _data_lines(data, fg, ch, pw, meta, alpha) -> List[str]:
    metric, better = meta.get("metric", "w1"), meta.get("better", "lower")
    tested = pw[pw["p_holm"].notna()]
    won = _survivors(pw, metric)
    lines = [f"**{data}**", ""]
    if tested.empty:
        lines.append("- No pair of methods could be tested (fewer than 2 completed reruns on a side).")
    elif won:
        lines.append(
            f"- {len(won)} of {len(tested)} pairwise differences survive tuning and seeds (Holm, α = {alpha:g}): "
            + "; ".join(won)
            + "."
        )
    else:
        lines.append(
            f"- No pairwise difference survives tuning and seeds (0 of {len(tested)}, Holm, α = {alpha:g}): "
            f"once tuned, these methods cannot be told apart by final {metric} on this data set."
        )
    kept = tested[~tested["survives"]]
    if won and len(kept):
        lines.append("- Not separated: " + ", ".join(f"{r.method_a} vs {r.method_b}" for r in kept.itertuples()) + ".")
    items, adjacent = _order(ch, pw, better)
    if items:
        seeds = f"{int(ch['n_reruns'].max())}-seed" if len(ch) else ""
        lines.append(
            f"- Order of the tuned methods ({seeds} mean of final {metric} with 95% CI, best first): "
            + ", ".join(items)
            + ". "
            + (
                "Adjacent methods separated by the corrected test: " + ", ".join(adjacent) + "."
                if adjacent
                else "No two adjacent methods in this order are separated by the corrected test."
            )
        )
    if not fg.empty:
        lines.append(
            "- Forgivingness over the Phase-1 settings (most forgiving first): " + _forgiving(fg, metric) + "."
        )
    return lines


def answer_lines(forgiving, chosen, pairwise, *, meta: dict, alpha: float) -> List[str]:
    """The "Answer" section: per data set, :func:`_data_lines`."""
    lines = ["## Answer", "", "Generated from the tables above."]
    datas = sorted(set(forgiving.get("data", [])) | set(chosen.get("data", [])))
    for data in datas:
        parts = [t[t["data"] == data] if len(t) else t for t in (forgiving, chosen, pairwise)]
        lines += [""] + _data_lines(data, *parts, meta, alpha)
    return lines if datas else lines + ["", "No finished trials yet."]


__all__ = ["fmt", "mean_ci", "answer_lines"]
