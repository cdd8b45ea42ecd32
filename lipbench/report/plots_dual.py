"""Plots of the dual benchmark, from the dual runs of a runs DataFrame.

* :func:`figures_dual_dimension` -- estimate / W1 against the dimension (log x) per
  critic, mean ± std over seeds, for every pair measured in several dimensions.
* :func:`figures_dual_curves` -- the held-out estimate / W1 against the critic step, per
  pair and dimension (mean over seeds), with the 95% line of the time-to-95% metric.
* :func:`figures_dual_surfaces` -- WGAN-GP Figure-1a-style panels: rows = 2-D pairs,
  columns = critics, the critic's value contours under P and Q (first completed seed).

Each returns ``{file stem: Figure}`` ({} when its data is absent); :func:`plot_dual`
saves them. :func:`copy_dual_samples` copies the final_samples.npz the surfaces need
into a report's run copies.
"""

from __future__ import annotations

import os
import shutil
from typing import List, Optional

import numpy as np
import pandas as pd

from lipbench import record
from lipbench.report.dual_select import dual_runs
from lipbench.report.plot_common import FigureDict, colours, new_figure, save_figures
from lipbench.report.plots_critic import NPZ, read_samples
from lipbench.viz import draw_critic_panel


def _critics(runs: pd.DataFrame) -> List[str]:
    return sorted(runs["critic"].unique())


def figures_dual_dimension(df: pd.DataFrame, runs: Optional[pd.DataFrame] = None) -> FigureDict:
    """estimate / W1 vs dimension (log x), one line per critic, for each multi-dimension pair."""
    runs = dual_runs(df) if runs is None else runs
    runs = runs[runs["status"] == record.COMPLETED] if not runs.empty else runs
    figures = {}
    for pair, sub in runs.groupby("pair") if not runs.empty else []:
        if sub["dim"].nunique() < 2:
            continue
        fig, (ax,) = new_figure(1, size=(6.0, 4.2))
        cols = colours(_critics(runs))
        for critic, g in sub.groupby("critic"):
            stats = g.groupby("dim")["dual_tightness"].agg(["mean", "std"]).sort_index()
            ax.errorbar(
                stats.index,
                stats["mean"],
                yerr=stats["std"].fillna(0),
                marker="o",
                capsize=3,
                label=critic,
                color=cols[critic],
            )
        ax.axhline(1.0, color="k", lw=0.8, ls="--")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("dimension d (log scale)")
        ax.set_ylabel("held-out estimate / W1")
        ax.set_title(f"{pair}: how close each critic gets to W1 (mean ± std over seeds)", fontsize=9)
        ax.legend(fontsize=7, ncol=2)
        figures[f"dual_ratio_vs_dim_{pair}"] = fig
    return figures


def _curve(run_dir) -> pd.DataFrame:
    try:
        rows = record.read_jsonl(os.path.join(str(run_dir), record.METRICS))
    except OSError:
        rows = []
    return pd.DataFrame(
        [(r["step"], r["dual_tightness"]) for r in rows if isinstance(r.get("dual_tightness"), (int, float))],
        columns=["step", "ratio"],
    )


def figures_dual_curves(df: pd.DataFrame, runs: Optional[pd.DataFrame] = None) -> FigureDict:
    """Held-out estimate / W1 against the critic step, one panel per (pair, dimension)."""
    runs = dual_runs(df) if runs is None else runs
    if runs.empty:
        return {}
    groups = list(runs.groupby(["pair", "dim"], sort=True))
    fig, axes = new_figure(len(groups), ncols=4, size=(3.6, 3.0))
    cols = colours(_critics(runs))
    for ax, ((pair, dim), sub) in zip(axes, groups):
        for critic, g in sub.groupby("critic"):
            curves = [_curve(d) for d in g["run_dir"]]
            curves = [c for c in curves if not c.empty]
            if not curves:
                continue
            mean = pd.concat(curves).groupby("step")["ratio"].mean()
            ax.plot(mean.index, mean.values, color=cols[critic], label=critic, lw=1.2)
        ax.axhline(1.0, color="k", lw=0.8, ls="--")
        ax.set_title(f"{pair}, d={dim}", fontsize=9)
        ax.set_xlabel("critic step")
        ax.set_ylabel("estimate / W1")
    if axes:
        axes[0].legend(fontsize=6)
    return {"dual_curves": fig}


def surface_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """One run per (2-D pair, critic) with final_samples.npz: completed first, lowest seed."""
    if runs.empty:
        return runs
    flat = runs[(runs["dim"] == 2) & (runs["pair"] != "gaussian")]
    flat = flat[flat["run_dir"].map(lambda d: os.path.isfile(os.path.join(str(d), NPZ)))]
    if flat.empty:
        return flat
    flat = flat.assign(
        _done=(flat["status"] != record.COMPLETED).astype(int),
        _seed=pd.to_numeric(flat["seed"], errors="coerce").fillna(np.inf),
    )
    return flat.sort_values(["_done", "_seed"]).groupby(["pair", "critic"], sort=True).head(1)


def figures_dual_surfaces(df: pd.DataFrame, runs: Optional[pd.DataFrame] = None, max_points: int = 600) -> FigureDict:
    """Rows = 2-D pairs, columns = critics: value contours with P (orange) and Q (blue)."""
    runs = dual_runs(df) if runs is None else runs
    reps = surface_runs(runs)
    if reps.empty:
        return {}
    pairs, critics = sorted(reps["pair"].unique()), _critics(reps)
    fig, axes = new_figure(len(pairs) * len(critics), ncols=len(critics), size=(2.6, 2.6))
    for i, pair in enumerate(pairs):
        for j, critic in enumerate(critics):
            ax = axes[i * len(critics) + j]
            hit = reps[(reps["pair"] == pair) & (reps["critic"] == critic)]
            s = read_samples(hit.iloc[0]["run_dir"]) if len(hit) else None
            if s is None:
                ax.set_visible(False)
                continue
            ratio = hit.iloc[0].get("dual_tightness")
            title = f"{critic}\n{pair}" + (f", est/W1 {ratio:.2f}" if np.isfinite(ratio) else "")
            draw_critic_panel(
                ax,
                s["real"],
                s["fake"],
                s.get("surface_x"),
                s.get("surface_y"),
                s.get("surface_values"),
                title,
                max_points=max_points,
            )
    fig.suptitle("Critic value surfaces: P (orange) against Q = P + noise (blue), as in WGAN-GP Fig. 1a", fontsize=10)
    return {"dual_surfaces": fig}


def copy_dual_samples(df: pd.DataFrame, out_dir: str) -> None:
    """Copy final_samples.npz of the surface runs into ``out_dir/<record>`` (the report's run copies)."""
    if "record" not in df:
        return
    reps = surface_runs(dual_runs(df))
    for _, r in reps.iterrows():
        dst = os.path.join(out_dir, str(r["record"]))
        src = os.path.join(str(r["run_dir"]), NPZ)
        if os.path.isdir(dst) and os.path.realpath(src) != os.path.realpath(os.path.join(dst, NPZ)):
            shutil.copy2(src, os.path.join(dst, NPZ))


def all_dual_figures(df: pd.DataFrame) -> FigureDict:
    runs = dual_runs(df)
    if runs.empty:
        return {}
    figures = {}
    for make in (figures_dual_dimension, figures_dual_curves, figures_dual_surfaces):
        figures.update(make(df, runs))
    return figures


def plot_dual(df: pd.DataFrame, out_dir, errors: Optional[list] = None) -> List[str]:
    """Save every dual figure as png + pdf into ``out_dir``; problems go to ``errors``."""
    try:
        return save_figures(all_dual_figures(df), out_dir)
    except Exception as exc:  # a plot must never break the report
        if errors is None:
            raise
        errors.append(f"dual plots: {type(exc).__name__}: {exc}")
        return []
