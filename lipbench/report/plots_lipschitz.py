"""Plots of the critics' Lipschitz constants across runs: lower, guaranteed upper and
estimated upper bounds per series, and the critic's own W1 estimate against the exact W1.

Like :mod:`lipbench.report.plots_runs`, :func:`figures_lipschitz` takes the runs DataFrame
and returns ``{file stem: Figure}`` (``{}`` when the runs record no bounds).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lipbench.report.factors import swept_factors
from lipbench.report.plot_common import (
    MAX_WIDTH,
    FigureDict,
    colours,
    completed,
    data_groups,
    finite,
    fitting_cols,
    has_values,
    new_figure,
    ordered,
    series_labels,
    spans_decades,
    stem_with,
    title_with,
)


def _bounds_panel(ax, ok: pd.DataFrame, series) -> None:
    """Lower (a witness: max gradient norm), guaranteed upper (lip_upper; none where there is
    no certificate) and estimated upper (lip_upper_est, product of layer norms) bounds, log scale."""
    from lipbench.report.lipschitz_table import sound_bounds  # legacy records: lip_upper was an estimate

    ok = sound_bounds(ok)
    colours_of = {"lip_lower": "tab:blue", "lip_upper": "tab:red", "lip_upper_est": "tab:gray"}
    for off, (metric, marker) in zip(
        (-0.15, 0.0, 0.15), (("lip_lower", "v"), ("lip_upper", "^"), ("lip_upper_est", "x"))
    ):
        if metric not in ok:
            continue
        for i, s in enumerate(series):
            vals = finite(ok[ok["series"] == s][metric])
            vals = vals[vals > 0]
            ax.scatter(
                np.full(len(vals), i + off),
                vals,
                marker=marker,
                alpha=0.6,
                color=colours_of[metric],
                label=metric if i == 0 else None,
            )
    ax.axhline(1.0, color="k", lw=0.8, ls="--", label="K = 1")
    ax.set_yscale("log")
    ax.set_xticks(range(len(series)), series, rotation=30 if len(series) > 4 else 0, fontsize="small")
    ax.set_ylabel("Lipschitz constant estimate (log scale)")
    ax.set_title(
        "Critic Lipschitz bounds (lower: max grad norm; upper: guaranteed; est: layer-norm product)", fontsize="medium"
    )
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3, axis="y")


def _gap_panel(ax, ok: pd.DataFrame, series) -> None:
    """The critic gap against exact W1, with the diagonal. When the values span decades:
    W1 on a log axis, the gap on a log axis too, or symlog (linear within ± the smallest
    |gap|) when some gaps are ≤ 0, so every run stays visible."""
    w1 = pd.to_numeric(ok["w1"], errors="coerce")
    gap = pd.to_numeric(ok["critic_gap"], errors="coerce")
    both = w1.notna() & gap.notna()
    log = bool(both.any()) and spans_decades(pd.concat([w1[both & (w1 > 0)], gap[both & (gap > 0)].abs()]))
    shown = both & (w1 > 0) if log else both
    col = colours(series)
    for s in series:
        pick = shown & (ok["series"] == s).to_numpy()
        ax.scatter(w1[pick], gap[pick], color=col[s], label=s)
    xs = finite(w1[shown])
    if len(xs):
        lo, hi = (xs.min(), xs.max()) if log else (min(xs.min(), 0), xs.max())
        line = np.geomspace(lo, hi, 50) if log and lo > 0 else np.linspace(lo, hi, 2)
        ax.plot(line, line, "k--", lw=0.8, label="critic gap = W1")
    yscale = ""
    if log:
        ax.set_xscale("log")
        nonpos = bool((gap[shown] <= 0).any())
        small = finite(gap[shown].abs())
        small = small[small > 0]
        if nonpos:
            ax.set_yscale("symlog", linthresh=float(small.min()) if len(small) else 1e-3)
        else:
            ax.set_yscale("log")
        yscale = " (symlog scale)" if nonpos else " (log scale)"
    ax.set_xlabel("exact W1 (optimal transport)" + (" (log scale)" if log else ""))
    ax.set_ylabel("critic gap E[D(real)] − E[D(fake)]" + yscale)
    ax.set_title("Critic's W1 estimate vs exact W1", fontsize="medium")
    ax.legend(fontsize="small", ncol=2 if len(series) > 6 else 1)
    ax.grid(alpha=0.3)


def figures_lipschitz(df: pd.DataFrame) -> FigureDict:
    """Lower and upper Lipschitz estimates per series (log scale, line at 1), and the
    critic's own W1 estimate against the exact W1 when both exist (log-log when spanning
    decades). The panels wrap into rows when they do not fit side by side."""
    if df.empty or not (has_values(df, "lip_lower") or has_values(df, "lip_upper")):
        return {}
    factors = swept_factors(df)
    df = df.assign(series=series_labels(df, factors).to_numpy())
    gap = has_values(df, "critic_gap") and has_values(df, "w1")
    figs = {}
    for group, gdf in data_groups(df, factors):
        ok = completed(gdf)
        series = ordered(gdf["series"])
        width = min(MAX_WIDTH, max(5.0, 0.9 * len(series) + 2))
        n = 2 if gap else 1
        fig, axes = new_figure(n, ncols=fitting_cols(n, width), size=(width, 4.0 if n == 1 else 4.6))
        _bounds_panel(axes[0], ok, series)
        if gap:
            _gap_panel(axes[1], ok, series)
        fig.suptitle(title_with("Lipschitz diagnostics (completed runs, one point per seed)", group))
        figs[stem_with("lipschitz", group)] = fig
    return figs
