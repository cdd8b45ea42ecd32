"""study.md: the study's sections in markdown, every number read from the study's frames
(:mod:`lipbench.report.study_curves`, :mod:`lipbench.report.study_stats`), and the closing
answer generated from them (:mod:`lipbench.report.study_answer`)."""

from __future__ import annotations

import json
import math
from typing import List, Sequence

import pandas as pd

from lipbench.report.study_answer import answer_lines, fmt, mean_ci
from lipbench.report.study_curves import FLOOR_FACTOR, N_DRAWS
from lipbench.report.study_stats import LEVEL, TEST_TEXT


def md_table(header: Sequence[str], rows: Sequence[Sequence]) -> List[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return lines + ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]


def _pct(v) -> str:
    return "—" if v is None or not math.isfinite(v) else f"{100 * v:.0f}%"


def header_lines(meta: dict, name: str, notes: Sequence[str]) -> List[str]:
    s, rule, wall = meta.get("sampler") or {}, meta.get("rule") or {}, meta.get("wall_s") or {}
    seeds = meta.get("rerun_seeds") or []
    lines = [
        f"# {name}: study",
        "",
        f"Command: `{meta.get('command', '?')}`.",
        "",
        f"- **Phase 1 (search):** {meta.get('n_settings', '?')} settings per method and data set, drawn i.i.d. by "
        f"{s.get('name', '?')} (seed {s.get('seed', '?')}, optuna {s.get('optuna', '?')}) from the search space "
        "below, one seed each.",
        f"- **Phase 2 (reruns):** the selected setting of each method rerun with {len(seeds)} fresh seeds "
        f"({', '.join(map(str, seeds))}).",
        f"- **Metric:** {meta.get('metric', 'w1')} ({meta.get('better', 'lower')} is better). **Selection rule:** "
        f"{rule.get('text', rule.get('name', '?'))}.",
        "- **Wall time:** " + (", ".join(f"{k} {fmt(v)} s" for k, v in wall.items()) or "not recorded") + ".",
        "",
        "The comparison table, ranking, Lipschitz table and plots of this folder (table.md, ranking.md, "
        "lipschitz.md, plots/) cover the Phase-2 reruns only; this file covers both phases.",
    ]
    return lines + ([""] + [f"- note: {n}" for n in notes] if notes else [])


def space_lines(meta: dict) -> List[str]:
    space = meta.get("space") or {}
    rows = [(m, f"`{k}`", f"`{v}`") for m, keys in space.items() if isinstance(keys, dict) for k, v in keys.items()]
    return ["## Search space", ""] + (md_table(["method", "key", "distribution"], rows) if rows else ["(not recorded)"])


def distribution_lines(forgiving: pd.DataFrame, meta: dict, plots: bool) -> List[str]:
    metric = meta.get("metric", "w1")
    lines = ["## 1. The distribution over settings: how forgiving each method is", ""]
    if plots:
        lines += ["![distribution](plots/study_distribution.png)", ""]
    rows = [
        (r.data, r.method, f"{r.n_run}/{r.n_settings}", _pct(r.frac_converged), _pct(r.frac_within_floor))
        + (_pct(r.frac_collapsed), _pct(r.frac_diverged_failed), fmt(r.median), fmt(r.best), r.rank)
        for r in forgiving.itertuples()
    ]
    header = ["data", "method", "ran", "converge", f"within {FLOOR_FACTOR:g}× floor", "collapse (0 modes)"]
    header += ["diverged/failed", f"median final {metric}", f"best final {metric}", "forgiving rank"]
    floor = forgiving.attrs.get("floor") or "no floor recorded"
    return (
        lines
        + md_table(header, rows)
        + [
            "",
            f"Fractions of the settings that ran (ran = finished / drawn). converge: the run's own `converged` flag "
            f"(its plateau rule); within {FLOOR_FACTOR:g}× floor: completed with final {metric} ≤ {FLOOR_FACTOR:g} × "
            f"the run's sampling floor (`{floor}`); collapse: completed with 0 modes found (— where the data has no "
            "modes); diverged/failed: no final value. Median: over the settings that ran, a diverged or failed one "
            f"counted as ∞; best: over the completed ones. Forgiving rank: most settings within {FLOOR_FACTOR:g}× the "
            "floor first, then the better median, then most converged.",
        ]
    )


def _ks(n: int) -> List[int]:
    return sorted({k for k in (1, 2, 4, 8, 16, math.ceil(n / 2), n) if 1 <= k <= n})


def expected_lines(curves: pd.DataFrame, seconds: pd.DataFrame, caps: dict, *, meta: dict, plots: bool) -> List[str]:
    lines = ["## 2. The expected best after k settings", ""]
    if plots and not curves.empty:
        lines += ["![expected best](plots/study_expected_best.png)", ""]
    if plots and not seconds.empty:
        lines += ["![expected best against seconds](plots/study_expected_best_seconds.png)", ""]
    n_max = int(curves["k"].max()) if not curves.empty else 0
    ks = _ks(n_max)
    rows = []
    for (data, method), g in curves.groupby(["data", "method"], sort=False):
        at = g.set_index("k")
        cells = [
            f"{fmt(at.at[k, 'mean'])} [{fmt(at.at[k, 'q25'])}, {fmt(at.at[k, 'q75'])}]" if k in at.index else "—"
            for k in ks
        ]
        s = seconds[(seconds["data"] == data) & (seconds["method"] == method)]
        rows.append([data, method, *cells, fmt(s["t"].max()) if len(s) else "—"])
    cap_text = "; ".join(f"{d}: {fmt(c)}" for d, c in caps.items())
    return (
        lines
        + md_table(["data", "method", *[f"k = {k}" for k in ks], "total training s"], rows)
        + [
            "",
            "Expected best score (the selection rule's score) of the best of k settings drawn from the N that ran, "
            "with the 25–75% band of that best. Estimator: Dodge et al. (2019), exact, in the form **without "
            "replacement** (the average over all k-subsets of the N settings, "
            "P(best = i-th best) = C(N−i, k−1)/C(N, k); "
            "an unbiased estimate of the best of k fresh settings; k = N is the best setting). study_expected_best.csv "
            "also gives Dodge et al.'s with-replacement form (`mean_with_replacement`).",
            "",
            "Diverged or failed settings have no score; each is given a declared cap score, the worst finite score "
            f"among all settings of its data set (every method): {cap_text or 'none'}.",
            "",
            f"Against seconds (equal compute, not only equal trials): Monte Carlo over {N_DRAWS} random orders of a "
            "method's N settings; in each order, the best score among the settings whose training seconds "
            "(`train_time_s`, summed in that order) fit within t, the cap while none does; the plot and the table "
            "below give the median and the 25–75% band over the orders (study_expected_best_seconds.csv also gives "
            "the mean, which a single exploded setting can dominate), on a log time grid common to the data set's "
            "methods, up to the method's total; a line starts where its median drops below the cap.",
            "",
        ]
        + seconds_lines(seconds)
    )


def seconds_lines(seconds: pd.DataFrame) -> List[str]:
    """Best score within t training seconds (median [25%, 75%] over random orders) at a few t."""
    if seconds.empty:
        return []
    marks = [t for t in (30, 100, 300, 1000, 3000) if t <= seconds["t"].max()]
    rows = []
    for (data, method), g in seconds.groupby(["data", "method"], sort=False):
        cells = []
        for t in marks:
            upto = g[g["t"] <= t * (1 + 1e-9)]
            r = upto.iloc[-1] if len(upto) else None
            cells.append(f"{fmt(r['median'])} [{fmt(r['q25'])}, {fmt(r['q75'])}]" if r is not None else "—")
        rows.append([data, method, *cells])
    return md_table(["data", "method", *[f"within {t} s" for t in marks]], rows)


def _params(text: str) -> str:
    try:
        params = json.loads(text)
    except (TypeError, ValueError):
        return str(text)
    return ", ".join(f"{k}={fmt(v) if isinstance(v, float) else v}" for k, v in params.items()) or "—"


def chosen_lines(chosen: pd.DataFrame, meta: dict) -> List[str]:
    metric = meta.get("metric", "w1")
    rows = []
    for r in chosen.itertuples():
        trial = "—" if r.trial is None or (isinstance(r.trial, float) and math.isnan(r.trial)) else int(r.trial)
        conv = f"{r.n_converged}/{r.n_checked}" if r.n_checked else "—"
        rerun = mean_ci(r) + f" (n = {r.n_completed}/{r.n_reruns})" if r.rerun else "not rerun"
        rows.append([r.data, r.method, trial, _params(r.params), fmt(r.score), rerun, fmt(r.modes_mean), conv])
    header = [
        "data",
        "method",
        "trial",
        "chosen setting",
        "score",
        f"final {metric}, mean [{LEVEL:.0%} CI]",
        "modes",
        "converged",
    ]
    return (
        ["## 3. The chosen setting and its reruns", ""]
        + md_table(header, rows)
        + [
            "",
            "score: the selection rule's score of the chosen Phase-1 trial, recomputed from its run. Reruns: mean of "
            f"the final {metric} over the completed seeds with a two-sided {LEVEL:.0%} t-interval (mean ± t·s/√n); "
            "modes: mean over completed seeds; converged: seeds whose run meets its plateau rule, of the completed "
            "seeds.",
        ]
    )


def pairwise_lines(pairwise: pd.DataFrame, meta: dict, alpha: float) -> List[str]:
    metric = meta.get("metric", "w1")
    rows = [
        [r.data, f"{r.method_a} vs {r.method_b}", f"{fmt(r.mean_a)} (n={r.n_a})", f"{fmt(r.mean_b)} (n={r.n_b})"]
        + [fmt(r.diff), fmt(r.p), fmt(r.p_holm), f"**yes: {r.better}**" if r.survives else "no"]
        for r in pairwise.itertuples()
    ]
    header = ["data", "pair (a vs b)", f"mean final {metric} a", "b", "a − b", "p", "p (Holm)", "survives"]
    return (
        ["## 4. Pairwise comparisons on the reruns", ""]
        + md_table(header, rows)
        + [
            "",
            f"Test: {TEST_TEXT} on the final {metric} of the completed reruns (diverged or failed reruns are left "
            "out; n counts the completed ones). Correction for multiple comparisons: Holm's step-down method over "
            f"the tested pairs of each data set (family-wise error rate α = {alpha:g}); a difference survives when its "
            f"Holm-adjusted p-value is below α = {alpha:g}. Pairs with fewer than 2 completed reruns on a side are "
            "not tested.",
        ]
    )


def render(meta, name, notes, *, forgiving, curves, seconds, caps, chosen, pairwise, alpha, plots) -> str:
    parts = [
        header_lines(meta, name, notes),
        space_lines(meta),
        distribution_lines(forgiving, meta, plots),
        expected_lines(curves, seconds, caps, meta=meta, plots=plots),
        chosen_lines(chosen, meta),
        pairwise_lines(pairwise, meta, alpha),
        answer_lines(forgiving, chosen, pairwise, meta=meta, alpha=alpha),
    ]
    return "\n\n".join("\n".join(p) for p in parts) + "\n"


__all__ = ["render", "md_table"]
