"""Plots of metrics across runs: histories, final values, settings sweeps, budget curves,
Lipschitz bounds.

Every ``figures_*`` function takes the runs DataFrame of :func:`load_runs` and returns
``{file stem: Figure}``; it returns ``{}`` when the data it needs is absent.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import pandas as pd

from lipbench.report.aggregate import load_histories, swept_factors
from lipbench.report.budget import budget_curves, hyper_factors, primary_metrics
from lipbench.report.plot_common import (FigureDict, colours, completed, data_groups, finite, has_values,
                                         new_figure, ordered, series_labels, short, stem_with, title_with)
from lipbench.report.tables import default_metrics, direction

HISTORY_EXTRA = ("loss_d", "loss_g", "penalty")
# Diagnostics (no "better" direction) still worth a panel next to the scored metrics.
SHOWN_DIAGNOSTICS = ("critic_gap", "grad_interp_mean", "lip_lower", "lip_upper")
MAX_PANELS = 9


def panel_metrics(df: pd.DataFrame) -> list:
    """Default panels: the table's metrics that are scored (declared direction) or key
    diagnostics, in table order, at most :data:`MAX_PANELS`."""
    return [m for m in default_metrics(df) if m != "it_per_s"
            and (direction(m) is not None or m in SHOWN_DIAGNOSTICS)][:MAX_PANELS]


def _label(metric: str) -> str:
    d = direction(metric)
    return metric + {"lower": " (lower is better)", "higher": " (higher is better)"}.get(d, "")


def figures_histories(df: pd.DataFrame, histories: Optional[pd.DataFrame] = None,
                      metrics: Optional[Sequence[str]] = None, band: str = "minmax") -> FigureDict:
    """Each metric against step: per series the mean over seeds, with a min–max band
    (``band="std"``: ± one std). One figure per data set."""
    factors = swept_factors(df)
    hist = load_histories(df, factors) if histories is None else histories
    if hist.empty:
        return {}
    present = set(hist["metric"].unique())
    if metrics is None:
        metrics = [m for m in panel_metrics(df) if m in present] + [m for m in HISTORY_EXTRA if m in present]
    metrics = [m for m in metrics if m in present][:MAX_PANELS + len(HISTORY_EXTRA)]
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
                lo, hi = ((stats["min"], stats["max"]) if band == "minmax"
                          else (stats["mean"] - stats["std"].fillna(0), stats["mean"] + stats["std"].fillna(0)))
                ax.fill_between(stats.index, lo, hi, color=col[s], alpha=0.2, linewidth=0)
            ax.set_title(_label(metric))
            ax.set_xlabel("generator iteration")
            ax.set_ylabel(metric)
            ax.grid(alpha=0.3)
        axes[0].legend(fontsize="small")
        what = "min–max" if band == "minmax" else "±1 std"
        fig.suptitle(title_with(f"Metrics during training (mean over seeds, band: {what})", group))
        figs[stem_with("history", group)] = fig
    return figs


def figures_final(df: pd.DataFrame, metrics: Optional[Sequence[str]] = None) -> FigureDict:
    """Final metrics per series as box plots with the seeds as points (completed runs);
    the tick labels count diverged/failed runs."""
    metrics = [m for m in (panel_metrics(df) if metrics is None else metrics) if has_values(df, m)][:MAX_PANELS]
    if df.empty or not metrics:
        return {}
    factors = swept_factors(df)
    df = df.assign(series=series_labels(df, factors).to_numpy())
    figs = {}
    for group, gdf in data_groups(df, factors):
        series = ordered(gdf["series"])
        ok = completed(gdf)
        ticks = []
        for s in series:
            st = gdf[gdf["series"] == s]["status"].astype(str)
            bad = [f"{int((st == k).sum())} {k}" for k in ("diverged", "failed") if (st == k).any()]
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
                ax.scatter(i + 1 + rng.uniform(-0.12, 0.12, len(d)), d, s=14, alpha=0.8, zorder=3,
                           color=col[series[i]])
            ax.set_xticks(range(1, len(series) + 1), ticks, rotation=30 if len(series) > 4 else 0,
                          fontsize="small", ha="right" if len(series) > 4 else "center")
            ax.set_xlim(0.4, len(series) + 0.6)
            ax.set_title(_label(metric))
            ax.set_ylabel(metric)
            ax.grid(alpha=0.3, axis="y")
        fig.suptitle(title_with("Final metrics per method (completed runs; points = seeds)", group))
        figs[stem_with("final", group)] = fig
    return figs


def _hyper_setup(df: pd.DataFrame, metrics: Optional[Sequence[str]]):
    """(swept factors, the hyper-parameters among them, the metrics to draw) for the
    settings and budget plots."""
    factors = swept_factors(df)
    metrics = primary_metrics([m for m in (default_metrics(df) if metrics is None else metrics)
                               if has_values(df, m)], direction)[:MAX_PANELS]
    return factors, hyper_factors(factors), metrics


def figures_settings(df: pd.DataFrame, metrics: Optional[Sequence[str]] = None) -> FigureDict:
    """For each swept hyper-parameter (e.g. optim.preset A–F): each metric across its
    settings, one line per method (mean ± std over completed seeds)."""
    factors, hyper, metrics = _hyper_setup(df, metrics)
    if df.empty or not hyper or not metrics:
        return {}
    figs = {}
    for factor in hyper:
        for group, gdf in data_groups(df, factors):
            settings = sorted(gdf[factor].astype(str).unique())
            methods = ordered(gdf["method"])
            col = colours(methods)
            fig, axes = new_figure(len(metrics))
            ok = completed(gdf)
            for ax, metric in zip(axes, metrics):
                for m in methods:
                    sub = ok[ok["method"].astype(str) == m]
                    stats = pd.to_numeric(sub[metric], errors="coerce").groupby(sub[factor].astype(str)).agg(["mean", "std"])
                    stats = stats.reindex(settings)
                    x = np.arange(len(settings))
                    ax.errorbar(x, stats["mean"], yerr=stats["std"].fillna(0), color=col[m], marker="o",
                                capsize=3, label=m)
                ax.set_xticks(range(len(settings)), settings)
                ax.set_xlabel(short(factor))
                ax.set_ylabel(metric)
                ax.set_title(_label(metric))
                ax.grid(alpha=0.3)
            axes[0].legend(fontsize="small")
            fig.suptitle(title_with(f"Metrics across {short(factor)} settings (mean ± std over seeds)", group))
            figs[stem_with(f"settings_{short(factor)}", group)] = fig
    return figs


def figures_budget(df: pd.DataFrame, metrics: Optional[Sequence[str]] = None, n_draws: int = 1000,
                   seed: int = 0) -> FigureDict:
    """Kurach-style budget curves per swept hyper-parameter: the expected best metric
    against the number of settings tried (mean over resamples, 25–75th percentile band)."""
    factors, hyper, metrics = _hyper_setup(df, metrics)
    if df.empty or not hyper or not metrics:
        return {}
    figs = {}
    for factor in hyper:
        for group, gdf in data_groups(df, factors):
            if gdf[factor].astype(str).nunique() < 2:
                continue
            methods = ordered(gdf["method"])
            col = colours(methods)
            fig, axes = new_figure(len(metrics))
            for ax, metric in zip(axes, metrics):
                curves = budget_curves(gdf, metric, factor, direction(metric), n_draws=n_draws, seed=seed)
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
                ax.set_title(_label(metric))
                ax.grid(alpha=0.3)
            axes[0].legend(fontsize="small")
            fig.suptitle(title_with(f"Budget curves over {short(factor)} ({n_draws} resamples, band 25–75%)", group))
            figs[stem_with(f"budget_{short(factor)}", group)] = fig
    return figs


def figures_lipschitz(df: pd.DataFrame) -> FigureDict:
    """Lower and upper Lipschitz estimates per series (log scale, line at 1), and the
    critic's own W1 estimate against the exact W1 when both exist."""
    if df.empty or not (has_values(df, "lip_lower") or has_values(df, "lip_upper")):
        return {}
    factors = swept_factors(df)
    df = df.assign(series=series_labels(df, factors).to_numpy())
    gap = has_values(df, "critic_gap") and has_values(df, "w1")
    figs = {}
    for group, gdf in data_groups(df, factors):
        ok = completed(gdf)
        series = ordered(gdf["series"])
        fig, axes = new_figure(2 if gap else 1, ncols=2, size=(max(5.0, 0.9 * len(series) + 2), 4.0))
        ax = axes[0]
        for off, (metric, marker) in zip((-0.1, 0.1), (("lip_lower", "v"), ("lip_upper", "^"))):
            if metric not in ok:
                continue
            for i, s in enumerate(series):
                vals = finite(ok[ok["series"] == s][metric])
                vals = vals[vals > 0]
                ax.scatter(np.full(len(vals), i + off), vals, marker=marker, alpha=0.6,
                           color="tab:blue" if metric == "lip_lower" else "tab:red",
                           label=metric if i == 0 else None)
        ax.axhline(1.0, color="k", lw=0.8, ls="--", label="K = 1")
        ax.set_yscale("log")
        ax.set_xticks(range(len(series)), series, rotation=30 if len(series) > 4 else 0, fontsize="small")
        ax.set_ylabel("Lipschitz constant estimate")
        ax.set_title("Critic Lipschitz bounds (lower: max grad norm; upper: product of layer norms)",
                     fontsize="medium")
        ax.legend(fontsize="small")
        ax.grid(alpha=0.3, axis="y")
        if gap:
            ax = axes[1]
            col = colours(series)
            for s in series:
                sub = ok[ok["series"] == s]
                ax.scatter(sub["w1"], sub["critic_gap"], color=col[s], label=s)
            lim = finite(pd.concat([ok["w1"], ok["critic_gap"]]))
            if len(lim):
                lo, hi = min(lim.min(), 0), lim.max()
                ax.plot([lo, hi], [lo, hi], "k--", lw=0.8, label="critic gap = W1")
            ax.set_xlabel("exact W1 (optimal transport)")
            ax.set_ylabel("critic gap E[D(real)] − E[D(fake)]")
            ax.set_title("Critic's W1 estimate vs exact W1", fontsize="medium")
            ax.legend(fontsize="small")
            ax.grid(alpha=0.3)
        fig.suptitle(title_with("Lipschitz diagnostics (completed runs, one point per seed)", group))
        figs[stem_with("lipschitz", group)] = fig
    return figs
