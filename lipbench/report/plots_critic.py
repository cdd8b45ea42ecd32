"""Plots of the critic itself, read from each run dir: the 2-D value surface with samples,
gradient-norm distributions and per-layer spectral norms.

Like :mod:`lipbench.report.plots_runs`, each ``figures_*`` function returns
``{file stem: Figure}`` and ``{}`` when its data is absent.
"""

from __future__ import annotations

import os
from typing import Dict, List, Optional

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from lipbench import record
from lipbench.report.factors import swept_factors
from lipbench.report.plot_common import (
    MAX_PANELS_PER_ROW,
    MAX_WIDTH,
    FigureDict,
    colours,
    data_groups,
    fitting_cols,
    new_figure,
    ordered,
    series_labels,
    spans_decades,
    stem_with,
    title_with,
)
from lipbench.viz import draw_critic_panel

NPZ = record.SAMPLES  # written by the 2-D and dual evaluators
GRID = record.GRID  # written by lipbench.evaluate.images
_NPZ_KEYS = ("real", "fake", "surface_x", "surface_y", "surface_values")


def read_diagnostics(run_dir: str) -> dict:
    """``summary.json["diagnostics"]`` of a run, or {} when unreadable."""
    diag = record.read_summary_field(run_dir, "diagnostics")
    return diag if isinstance(diag, dict) else {}


def read_samples(run_dir: str) -> Optional[Dict[str, np.ndarray]]:
    """The arrays of final_samples.npz, or None when missing or incomplete."""
    path = os.path.join(str(run_dir), NPZ)
    try:
        with np.load(path) as z:
            if not all(k in z for k in ("real", "fake")):
                return None
            return {k: np.asarray(z[k]) for k in _NPZ_KEYS if k in z}
    except Exception:
        return None


def representative_runs(df: pd.DataFrame) -> pd.DataFrame:
    """One run per (data group, series): completed before others, then the lowest seed,
    among runs that have final pictures (final_samples.npz for 2-D, grid_final.png for images)."""
    if df.empty:
        return df
    has = df["run_dir"].map(lambda d: any(os.path.isfile(os.path.join(str(d), f)) for f in (NPZ, GRID)))
    cand = df[has]
    if cand.empty:
        return cand
    factors = swept_factors(df)
    cand = cand.assign(
        _series=series_labels(cand, factors).to_numpy(),
        _done=(cand["status"].astype(str) != record.COMPLETED).astype(int),
        _seed=pd.to_numeric(cand["seed"], errors="coerce").fillna(np.inf),
    )
    keys = ["_series"] + [f for f in factors if f.startswith("cfg.data.")]
    cand = cand.assign(**{k: cand[k].astype(str) for k in keys if k != "_series"})
    picked = cand.sort_values(["_done", "_seed", "run_dir"]).groupby(keys, sort=False).head(1)
    return df.loc[picked.index]


def _samples_panel(ax, rows: pd.DataFrame, label: str, max_points: int) -> bool:
    """One critic-contour panel for series ``label`` from its representative run; False
    when the run has no samples."""
    ax.set_xticks([])
    ax.set_yticks([])
    arr = read_samples(rows.iloc[0]["run_dir"]) if len(rows) else None
    if arr is None:
        ax.set_title(f"{label}\n(no samples)", fontsize="small")
        return False
    run = rows.iloc[0]
    surface = [arr.get(k) for k in ("surface_x", "surface_y", "surface_values")]
    if surface[2] is not None:
        surface[2] = np.asarray(surface[2]).reshape(len(surface[1]), len(surface[0]))
    draw_critic_panel(ax, arr["real"], arr["fake"], *surface, max_points=max_points)
    status = str(run["status"])
    ax.set_title(f"{label} (seed {run['seed']}{'' if status == record.COMPLETED else ', ' + status})", fontsize="small")
    return True


def figures_samples_2d(df: pd.DataFrame, max_points: int = 1000, per_row: int = MAX_PANELS_PER_ROW) -> FigureDict:
    """Grid in the manner of WGAN-GP Fig. 1: one block per data set (titled), one panel per
    method, at most ``per_row`` panels per row (more methods wrap into further rows); each
    panel shows the critic's value contours, real points and generated points (first seed)."""
    reps = representative_runs(df)
    if reps.empty:
        return {}
    factors = swept_factors(df)
    series_all = ordered(series_labels(reps, factors))
    ncols = max(1, min(per_row, len(series_all)))
    # each data set's block holds only the methods that ran on it, in the common order
    groups = []
    for group, sub in data_groups(reps, factors):
        labels = series_labels(sub, factors).to_numpy()
        groups.append((group, sub, labels, [s for s in series_all if s in set(labels)]))
    rows_of = [max(1, -(-len(present) // ncols)) for *_, present in groups]
    heights = [3.2 * r + 0.4 for r in rows_of]
    fig = Figure(figsize=(3.2 * ncols, sum(heights) + 0.5), layout="constrained")
    FigureCanvasAgg(fig)
    blocks = fig.subfigures(len(groups), 1, squeeze=False, height_ratios=heights).ravel()
    drew, first_ax = False, None
    for block, nrows, (group, sub, labels, present) in zip(blocks, rows_of, groups):
        axes = block.subplots(nrows, ncols, squeeze=False).ravel()
        for ax in axes[len(present) :]:
            ax.set_visible(False)
        for ax, s in zip(axes, present):
            drew = _samples_panel(ax, sub[labels == s], s, max_points) or drew
        first_ax = first_ax or axes[0]
        if group:
            block.suptitle(group, fontsize="large", fontweight="bold")
    if not drew:
        return {}
    first_ax.legend(loc="lower left", fontsize="x-small", markerscale=4)
    fig.suptitle("Critic value contours (filled) with real (orange) and generated (blue) samples")
    return {"samples_2d": fig}


def _diag_rows(df: pd.DataFrame) -> pd.DataFrame:
    done = df[df["status"].astype(str) == record.COMPLETED] if not df.empty else df
    return done.assign(_diag=done["run_dir"].map(read_diagnostics)) if not done.empty else done


def _diag_series(df: pd.DataFrame):
    """Completed runs with their diagnostics and a ``series`` label, and the swept factors."""
    if df.empty:
        return df, []
    factors = swept_factors(df)
    rows = _diag_rows(df)
    return (rows.assign(series=series_labels(rows, factors).to_numpy()) if not rows.empty else rows), factors


def figures_grad_norms(df: pd.DataFrame) -> FigureDict:
    """Violin plots of ‖∇x D‖ at real, fake and interpolated points, per series (seeds pooled)."""
    rows, factors = _diag_series(df)
    if rows.empty:
        return {}
    figs = {}
    for group, gdf in data_groups(rows, factors):
        series = ordered(gdf["series"])
        data = {kind: [] for kind in ("real", "fake", "interp")}
        for kind in data:
            for s in series:
                vals = []
                for diag in gdf[gdf["series"] == s]["_diag"]:
                    g = diag.get("grad_norms", {}) if isinstance(diag, dict) else {}
                    vals.extend(v for v in (g.get(kind) or []) if isinstance(v, (int, float)) and np.isfinite(v))
                data[kind].append(np.asarray(vals, float))
        kinds = [k for k in data if any(len(v) for v in data[k])]
        if not kinds:
            continue
        width = min(MAX_WIDTH, max(4.2, 0.9 * len(series) + 1.5))
        fig, axes = new_figure(len(kinds), ncols=fitting_cols(len(kinds), width), size=(width, 3.6))
        for ax, kind in zip(axes, kinds):
            pos = [i + 1 for i, v in enumerate(data[kind]) if len(v) > 1]
            if pos:
                ax.violinplot([data[kind][p - 1] for p in pos], positions=pos, showmedians=True)
            ax.axhline(1.0, color="k", lw=0.8, ls="--")
            if spans_decades(np.concatenate([v for v in data[kind] if len(v)])):
                ax.set_yscale("log")  # methods differ by orders of magnitude (e.g. clipping)
            ax.set_xticks(range(1, len(series) + 1), series, rotation=30 if len(series) > 4 else 0, fontsize="small")
            ax.set_title(f"at {kind} points")
            ax.set_ylabel("‖∇x D(x)‖")
            ax.grid(alpha=0.3, axis="y")
        fig.suptitle(title_with("Critic gradient norms per method (completed runs; dashed: 1)", group))
        figs[stem_with("grad_norms", group)] = fig
    return figs


def _layer_table(diag: dict) -> Optional[pd.DataFrame]:
    layers = diag.get("layers") if isinstance(diag, dict) else None
    if not isinstance(layers, list) or not layers:
        return None
    recs = [
        {"layer": i, "sigma": l.get("sigma"), "sigma_op": l.get("sigma_op")}
        for i, l in enumerate(layers)
        if isinstance(l, dict)
    ]
    out = pd.DataFrame(recs)
    for c in ("sigma", "sigma_op"):
        out[c] = pd.to_numeric(out[c], errors="coerce")
    return out


def figures_layer_norms(df: pd.DataFrame) -> FigureDict:
    """Per-layer spectral norms: σ of the reshaped weight (solid) and the true operator
    norm (dashed, where it differs, e.g. convolutions), mean over seeds, line per series."""
    rows, factors = _diag_series(df)
    if rows.empty:
        return {}
    figs = {}
    for group, gdf in data_groups(rows, factors):
        series = ordered(gdf["series"])
        col = colours(series)
        fig, axes = new_figure(1, size=(6.5, 4.2))
        ax, drew = axes[0], False
        names: List[str] = []
        for s in series:
            tabs = [t for t in (_layer_table(d) for d in gdf[gdf["series"] == s]["_diag"]) if t is not None]
            if not tabs:
                continue
            mean = pd.concat(tabs).groupby("layer")[["sigma", "sigma_op"]].mean()
            ax.plot(mean.index, mean["sigma"], color=col[s], marker="o", label=f"{s}: σ (reshaped weight)")
            if mean["sigma_op"].notna().any() and not np.allclose(mean["sigma_op"], mean["sigma"], equal_nan=True):
                ax.plot(mean.index, mean["sigma_op"], color=col[s], marker="x", ls="--", label=f"{s}: operator norm")
            drew = True
            if not names:
                names = [str(i) for i in mean.index]
        if not drew:
            continue
        ax.axhline(1.0, color="k", lw=0.8, ls=":", label="σ = 1")
        ax.set_yscale("log")
        ax.set_xticks(range(len(names)), names)
        ax.set_xlabel("critic layer index (input → output)")
        ax.set_ylabel("spectral norm (log scale)")
        ax.legend(fontsize="x-small")
        ax.grid(alpha=0.3)
        ax.set_title(title_with("Per-layer spectral norms of the critic (mean over seeds)", group), fontsize="medium")
        figs[stem_with("layer_norms", group)] = fig
    return figs


def figures_sample_grids(df: pd.DataFrame) -> FigureDict:
    """Images: the final sample grid of one run per method (first seed), side by side."""
    import matplotlib.image as mpimg

    reps = representative_runs(df)
    panels = []
    for _, run in reps.iterrows():
        path = os.path.join(str(run["run_dir"]), GRID)
        if os.path.isfile(path):
            panels.append((f"{run['method']} (seed {run['seed']})", mpimg.imread(path)))
    if not panels:
        return {}
    fig, axes = new_figure(len(panels), ncols=min(MAX_PANELS_PER_ROW, len(panels)), size=(3.2, 3.4))
    for ax, (title, image) in zip(axes, panels):
        ax.imshow(image, cmap="gray" if image.ndim == 2 else None)
        ax.set_title(title, fontsize="small")
        ax.set_axis_off()
    fig.suptitle("Generated samples at the end of training")
    return {"sample_grids": fig}
