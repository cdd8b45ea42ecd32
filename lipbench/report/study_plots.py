"""The study's plots (plots/study_*.png|pdf), one panel per data set:

* ``study_distribution``: the final metric of every Phase-1 setting per method (box over
  the completed settings, one point per setting), the sampling floor and 3 × the floor
  dashed, and above the axis the count of settings that diverged or failed (no value);
* ``study_expected_best``: the expected best score after k settings, with its 25–75% band;
* ``study_expected_best_seconds``: the best score found within t training seconds (mean over
  random orders, 25–75% band; an order with nothing finished yet counts as the cap).
"""

from __future__ import annotations

from typing import Dict, List

import numpy as np
import pandas as pd
from matplotlib.ticker import FormatStrFormatter, LogLocator, NullFormatter
from matplotlib.transforms import blended_transform_factory

from lipbench import record
from lipbench.report.plot_common import FigureDict, colours, fitting_cols, log_if_spanning, new_figure
from lipbench.report.study_curves import FLOOR_FACTOR, floor_name
from lipbench.report.study_load import method_order

PANEL = (5.0, 3.8)


def _panels(datas: List[str]):
    fig, axes = new_figure(len(datas), ncols=fitting_cols(len(datas), PANEL[0]), size=PANEL)
    return fig, dict(zip(datas, axes))


def _distribution_panel(ax, g: pd.DataFrame, meta: dict, col: Dict[str, tuple]) -> None:
    metric = meta.get("metric", "w1")
    methods = method_order(meta, g["method"])
    done = g[g["status"] == record.COMPLETED]
    values = [pd.to_numeric(done.loc[done["method"] == m, metric], errors="coerce").dropna() for m in methods]
    shown = [i for i, v in enumerate(values) if len(v)]
    if shown:
        ax.boxplot([values[i] for i in shown], positions=shown, widths=0.5, showfliers=False)
    rng = np.random.default_rng(0)
    for i, (m, v) in enumerate(zip(methods, values)):
        ax.scatter(i + rng.uniform(-0.15, 0.15, len(v)), v, s=12, color=col[m], alpha=0.7, zorder=3)
    top = blended_transform_factory(ax.transData, ax.transAxes)
    for i, m in enumerate(methods):
        bad = int(g.loc[g["method"] == m, "status"].isin([record.DIVERGED, record.FAILED]).sum())
        ax.text(i, 1.01, f"{bad} div./failed", transform=top, ha="center", va="bottom", fontsize="x-small")
    floor = floor_name(metric, g.columns)
    if floor and meta.get("better", "lower") == "lower":
        f = pd.to_numeric(g[floor], errors="coerce").median()
        if np.isfinite(f):
            ax.axhline(f, color="grey", ls=":", lw=1, label="floor")
            ax.axhline(FLOOR_FACTOR * f, color="grey", ls="--", lw=1, label=f"{FLOOR_FACTOR:g} × floor")
            ax.legend(fontsize="x-small", loc="lower right")
    log = log_if_spanning(ax, pd.concat(values) if values else [])
    ax.set_xticks(range(len(methods)), methods)
    ax.set_ylabel(f"final {metric}" + (" (log scale)" if log else ""))
    ax.grid(alpha=0.3, axis="y")


def figure_distribution(search: pd.DataFrame, meta: dict) -> FigureDict:
    """study_distribution: the final metric over the Phase-1 settings, per method."""
    if search.empty:
        return {}
    datas = sorted(search["data"].unique())
    fig, axes = _panels(datas)
    col = colours(method_order(meta, search["method"]))
    for data, ax in axes.items():
        _distribution_panel(ax, search[search["data"] == data], meta, col)
        ax.set_title(data, pad=14)
    n = meta.get("n_settings", "N")
    fig.suptitle(f"Final {meta.get('metric', 'w1')} over the {n} settings of each method\n(points: settings)")
    return {"study_distribution": fig}


def _curve_panel(ax, curves: pd.DataFrame, x: str, methods, col, cap: float) -> None:
    y = "mean" if x == "k" else "median"  # over random orders, one exploded setting would dominate a mean
    if x != "k" and np.isfinite(cap):  # a line starts once most orders have found something (below the cap)
        curves = curves[curves[y] < cap * (1 - 1e-9)].assign(q75=lambda c: c["q75"].clip(upper=c[y].max() * 10))
    for m in methods:
        c = curves[curves["method"] == m]
        if c.empty:
            continue
        ax.plot(c[x], c[y], color=col[m], marker="o" if x == "k" else None, ms=3, label=m)
        ax.fill_between(c[x], c["q25"], c["q75"], color=col[m], alpha=0.2, linewidth=0)
    if np.isfinite(cap) and curves[y].max() >= cap * (1 - 1e-9):  # only where a curve reaches it
        ax.axhline(cap, color="grey", ls=":", lw=1, label="cap (diverged/failed/none yet)")
    log_if_spanning(ax, pd.concat([curves[y], curves["q25"], curves["q75"]]))
    ax.grid(alpha=0.3)
    ax.legend(fontsize="x-small")


def figure_expected_best(curves: pd.DataFrame, meta: dict, caps: Dict[str, float], *, seconds: bool) -> FigureDict:
    """study_expected_best (x: settings tried) or study_expected_best_seconds (x: training seconds)."""
    if curves.empty:
        return {}
    datas = sorted(curves["data"].unique())
    fig, axes = _panels(datas)
    col = colours(method_order(meta, curves["method"]))
    x = "t" if seconds else "k"
    for data, ax in axes.items():
        g = curves[curves["data"] == data]
        _curve_panel(ax, g, x, method_order(meta, g["method"]), col, caps.get(data, np.nan))
        ax.set_title(data)
        what = "median" if seconds else "expected"
        ax.set_ylabel(f"{what} best score ({meta.get('metric', 'w1')}, selection rule)")
        ax.set_xlabel("cumulative training seconds (log scale)" if seconds else "settings tried (k)")
        if seconds:
            ax.set_xscale("log")
            ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))  # 20, 50, 100, 200 s ...
            ax.xaxis.set_major_formatter(FormatStrFormatter("%g"))
            ax.xaxis.set_minor_formatter(NullFormatter())
    what = (
        "within t training seconds\n(median over random orders of the settings"
        if seconds
        else "after k settings\n(exact, without replacement"
    )
    fig.suptitle(f"{'Best' if seconds else 'Expected best'} {what}; band 25–75%)")
    return {"study_expected_best" + ("_seconds" if seconds else ""): fig}


__all__ = ["figure_distribution", "figure_expected_best"]
