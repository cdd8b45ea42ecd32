"""Plots of metrics across runs: histories, final values, settings sweeps, budget curves.

The Lipschitz bound plots are in :mod:`lipbench.report.plots_lipschitz`. Every
``figures_*`` function takes the runs DataFrame of :func:`load_runs` and returns
``{file stem: Figure}``; it returns ``{}`` when the data it needs is absent. A panel whose
values span decades (:func:`~lipbench.report.plot_common.spans_decades`) gets a log axis;
the history of a metric with a sampling floor (w1, fid_domain) shows the floor as a band.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import pandas as pd

from lipbench import record
from lipbench.report.aggregate import load_histories
from lipbench.report.budget import budget_curves, hyper_factors, primary_metrics
from lipbench.report.factors import swept_factors
from lipbench.report.metric_book import MetricBook
from lipbench.report.plot_common import (
    FigureDict,
    colours,
    completed,
    data_groups,
    finite,
    has_values,
    is_missing,
    log_if_spanning,
    new_figure,
    ordered,
    place_legend,
    series_labels,
    short,
    stem_with,
    title_with,
)
from lipbench.report.tables import default_metrics

HISTORY_EXTRA = ("loss_d", "loss_g", "penalty")
# Diagnostics (no "better" direction) still worth a panel next to the scored metrics.
SHOWN_DIAGNOSTICS = ("critic_gap", "grad_interp_mean", "lip_lower", "lip_upper")
MAX_PANELS = 9
FLOOR_OF = {"w1": "w1_floor", "fid_domain": "fid_floor_domain"}  # metric -> its sampling floor


def panel_metrics(df: pd.DataFrame) -> list:
    """Default panels: the table's metrics that are scored (declared direction) or key
    diagnostics, in table order, at most :data:`MAX_PANELS`. Floors and excess ratios are
    left out: the floor is drawn inside its metric's history panel."""
    book = MetricBook.of(df)
    return [
        m
        for m in default_metrics(df)
        if m != "it_per_s"
        and "_floor" not in m
        and "_excess" not in m
        and (book.better(m) is not None or m in SHOWN_DIAGNOSTICS)
    ][:MAX_PANELS]


def _label(metric: str, book: MetricBook) -> str:
    d = book.better(metric)
    return metric + {"lower": " (lower is better)", "higher": " (higher is better)"}.get(d, "")


def figures_histories(
    df: pd.DataFrame,
    histories: Optional[pd.DataFrame] = None,
    *,
    metrics: Optional[Sequence[str]] = None,
    band: str = "minmax",
) -> FigureDict:
    """Each metric against step: per series the mean over seeds, with a min–max band
    (``band="std"``: ± one std). One figure per data set."""
    factors, book = swept_factors(df), MetricBook.of(df)
    hist = load_histories(df, factors) if histories is None else histories
    if hist.empty:
        return {}
    present = set(hist["metric"].unique())
    if metrics is None:
        metrics = [m for m in panel_metrics(df) if m in present] + [m for m in HISTORY_EXTRA if m in present]
    metrics = [m for m in metrics if m in present][: MAX_PANELS + len(HISTORY_EXTRA)]
    if not metrics:
        return {}
    hist = hist.assign(series=series_labels(hist, factors).to_numpy())
    figs = {}
    for group, gdf in data_groups(hist, factors):
        series = ordered(gdf["series"])
        col = colours(series)
        fig, axes = new_figure(len(metrics))
        for ax, metric in zip(axes, metrics):
            part = gdf[gdf["metric"] == metric]
            for s in series:
                stats = part[part["series"] == s].groupby("step")["value"].agg(["mean", "std", "min", "max", "count"])
                if stats.empty:
                    continue
                n = part[part["series"] == s]["run_dir"].nunique()
                ax.plot(stats.index, stats["mean"], color=col[s], label=f"{s} (n={n})")
                lo, hi = (
                    (stats["min"], stats["max"])
                    if band == "minmax"
                    else (stats["mean"] - stats["std"].fillna(0), stats["mean"] + stats["std"].fillna(0))
                )
                ax.fill_between(stats.index, lo, hi, color=col[s], alpha=0.2, linewidth=0)
            _draw_floor(ax, gdf, df, FLOOR_OF.get(metric))
            log = log_if_spanning(ax, part["value"])
            ax.set_title(_label(metric, book))
            ax.set_xlabel("generator iteration")
            ax.set_ylabel(metric + (" (log scale)" if log else ""))
            ax.grid(alpha=0.3)
        place_legend(fig, axes[0], len(series))
        what = "min–max" if band == "minmax" else "±1 std"
        fig.suptitle(title_with(f"Metrics during training (mean over seeds, band: {what})", group))
        figs[stem_with("history", group)] = fig
    return figs


def _draw_floor(ax, hist: pd.DataFrame, runs: pd.DataFrame, floor: Optional[str]) -> None:
    """The sampling floor of a history panel: its mean as a dashed line, its min–max over
    runs and evaluations as a grey band. Read from the histories, else from the final
    metrics of the same runs; nothing when the runs do not record it."""
    if not floor:
        return
    vals = finite(hist[hist["metric"] == floor]["value"])
    if not len(vals) and floor in runs.columns:
        vals = finite(runs[runs["run_dir"].isin(hist["run_dir"].unique())][floor])
    if not len(vals):
        return
    ax.axhspan(vals.min(), vals.max(), color="0.5", alpha=0.25, linewidth=0)
    ax.axhline(vals.mean(), color="k", ls="--", lw=0.9, label=f"sampling floor ({floor})")


def figures_final(df: pd.DataFrame, metrics: Optional[Sequence[str]] = None) -> FigureDict:
    """Final metrics per series as box plots with the seeds as points (completed runs);
    the tick labels count diverged/failed runs."""
    metrics = [m for m in (panel_metrics(df) if metrics is None else metrics) if has_values(df, m)][:MAX_PANELS]
    if df.empty or not metrics:
        return {}
    factors, book = swept_factors(df), MetricBook.of(df)
    df = df.assign(series=series_labels(df, factors).to_numpy())
    figs = {}
    for group, gdf in data_groups(df, factors):
        series = ordered(gdf["series"])
        ok = completed(gdf)
        ticks = []
        for s in series:
            st = gdf[gdf["series"] == s]["status"].astype(str)
            bad = [f"{int((st == k).sum())} {k}" for k in (record.DIVERGED, record.FAILED) if (st == k).any()]
            ticks.append(s + ("\n(" + ", ".join(bad) + ")" if bad else ""))
        width = max(3.8, 0.45 * len(series) + 1.5)
        fig, axes = new_figure(len(metrics), ncols=3 if width < 6 else 2 if width < 9 else 1, size=(width, 3.6))
        col = colours(series)
        rng = np.random.default_rng(0)  # jitter only
        for ax, metric in zip(axes, metrics):
            data = [finite(ok[ok["series"] == s][metric]) for s in series]
            pos = [i + 1 for i, d in enumerate(data) if len(d)]
            if pos:
                ax.boxplot([data[p - 1] for p in pos], positions=pos, widths=0.5, showfliers=False)
            for i, d in enumerate(data):
                ax.scatter(i + 1 + rng.uniform(-0.12, 0.12, len(d)), d, s=14, alpha=0.8, zorder=3, color=col[series[i]])
            ax.set_xticks(
                range(1, len(series) + 1),
                ticks,
                rotation=30 if len(series) > 4 else 0,
                fontsize="small",
                ha="right" if len(series) > 4 else "center",
            )
            ax.set_xlim(0.4, len(series) + 0.6)
            log = log_if_spanning(ax, np.concatenate(data) if data else [])
            ax.set_title(_label(metric, book))
            ax.set_ylabel(metric + (" (log scale)" if log else ""))
            ax.grid(alpha=0.3, axis="y")
        fig.suptitle(title_with("Final metrics per method (completed runs; points = seeds)", group))
        figs[stem_with("final", group)] = fig
    return figs


def _hyper_setup(df: pd.DataFrame, metrics: Optional[Sequence[str]]):
    """(swept factors, the hyper-parameters among them, the metrics to draw) for the
    settings and budget plots."""
    factors = swept_factors(df)
    metrics = primary_metrics(
        [m for m in (default_metrics(df) if metrics is None else metrics) if has_values(df, m)],
        MetricBook.of(df).better,
    )[:MAX_PANELS]
    return factors, hyper_factors(factors), metrics


def setting_labels(values: pd.Series) -> pd.Series:
    """A factor's values as labels; a run without the key (NaN: e.g. ``pair.base`` on a pair
    that has none) is "—" (pandas' ``astype(str)`` keeps NaN as a float, which breaks sorting)."""
    return values.map(lambda v: "—" if is_missing(v) else str(v))


def figures_settings(df: pd.DataFrame, metrics: Optional[Sequence[str]] = None) -> FigureDict:
    """For each swept hyper-parameter (e.g. optim.preset A–F): each metric across its
    settings, one line per method (mean ± std over completed seeds)."""
    factors, hyper, metrics = _hyper_setup(df, metrics)
    if df.empty or not hyper or not metrics:
        return {}
    figs, book = {}, MetricBook.of(df)
    for factor in hyper:
        for group, gdf in data_groups(df, factors):
            labels = setting_labels(gdf[factor])
            settings = sorted(labels.unique())
            methods = ordered(gdf["method"])
            col = colours(methods)
            fig, axes = new_figure(len(metrics))
            ok = completed(gdf)
            for ax, metric in zip(axes, metrics):
                for m in methods:
                    sub = ok[ok["method"].astype(str) == m]
                    values = pd.to_numeric(sub[metric], errors="coerce")
                    stats = values.groupby(labels.loc[sub.index]).agg(["mean", "std"])
                    stats = stats.reindex(settings)
                    x = np.arange(len(settings))
                    ax.errorbar(
                        x, stats["mean"], yerr=stats["std"].fillna(0), color=col[m], marker="o", capsize=3, label=m
                    )
                ax.set_xticks(range(len(settings)), settings)
                ax.set_xlabel(short(factor))
                log = log_if_spanning(ax, ok[metric])
                ax.set_ylabel(metric + (" (log scale)" if log else ""))
                ax.set_title(_label(metric, book))
                ax.grid(alpha=0.3)
            place_legend(fig, axes[0], len(methods))
            fig.suptitle(title_with(f"Metrics across {short(factor)} settings (mean ± std over seeds)", group))
            figs[stem_with(f"settings_{short(factor)}", group)] = fig
    return figs


def figures_budget(
    df: pd.DataFrame, metrics: Optional[Sequence[str]] = None, *, n_draws: int = 1000, seed: int = 0
) -> FigureDict:
    """Kurach-style budget curves per swept hyper-parameter: the expected best metric
    against the number of settings tried (mean over resamples, 25–75th percentile band)."""
    factors, hyper, metrics = _hyper_setup(df, metrics)
    if df.empty or not hyper or not metrics:
        return {}
    figs, book = {}, MetricBook.of(df)
    for factor in hyper:
        for group, gdf in data_groups(df, factors):
            if setting_labels(gdf[factor]).nunique() < 2:
                continue
            methods = ordered(gdf["method"])
            col = colours(methods)
            fig, axes = new_figure(len(metrics))
            for ax, metric in zip(axes, metrics):
                curves = budget_curves(gdf, metric, factor, better=book.better(metric), n_draws=n_draws, seed=seed)
                for m in methods:
                    c = curves[curves["method"].astype(str) == m]
                    if c.empty:
                        continue
                    excl = int(c["n_excluded"].iloc[0])
                    lab = m + (f" ({excl} setting(s) without a completed run left out)" if excl else "")
                    ax.plot(c["k"], c["mean"], color=col[m], marker="o", label=lab)
                    ax.fill_between(c["k"], c["q25"], c["q75"], color=col[m], alpha=0.2, linewidth=0)
                ax.set_xlabel(f"number of {short(factor)} settings tried (k)")
                ax.set_ylabel(f"expected best {metric}")
                ax.set_title(_label(metric, book))
                ax.grid(alpha=0.3)
            place_legend(fig, axes[0], len(methods))
            fig.suptitle(title_with(f"Budget curves over {short(factor)} ({n_draws} resamples, band 25–75%)", group))
            figs[stem_with(f"budget_{short(factor)}", group)] = fig
    return figs
