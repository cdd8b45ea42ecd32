"""All report plots, as figure builders (``figures_*``) and file writers (``plot_*``).

``figures_*(df, ...)`` returns ``{file stem: matplotlib Figure}`` (notebooks display them);
``plot_*(df, out_dir, ...)`` writes each figure as PNG and PDF into ``out_dir`` and returns
the paths. Every function returns nothing (``{}`` / ``[]``) rather than failing when the
data it needs is absent. :func:`plot_all` draws every plot and never raises.
"""

from __future__ import annotations

from typing import Callable, Dict, List, Optional, Sequence, Tuple

import pandas as pd

from lipbench.report.plot_common import save_figures
from lipbench.report.plots_critic import (
    figures_grad_norms,
    figures_layer_norms,
    figures_sample_grids,
    figures_samples_2d,
    representative_runs,
)
from lipbench.report.plots_lipschitz import figures_lipschitz
from lipbench.report.plots_runs import figures_budget, figures_final, figures_histories, figures_settings


def plot_histories(
    df: pd.DataFrame, out_dir, *, histories: Optional[pd.DataFrame] = None, metrics: Optional[Sequence[str]] = None
) -> List[str]:
    """history*.png/pdf: each metric against step, mean and band over seeds, per method."""
    return save_figures(figures_histories(df, histories, metrics=metrics), out_dir)


def plot_final(df: pd.DataFrame, out_dir, metrics: Optional[Sequence[str]] = None) -> List[str]:
    """final*.png/pdf: box + strip plots of the final metrics per method."""
    return save_figures(figures_final(df, metrics), out_dir)


def plot_samples_2d(df: pd.DataFrame, out_dir) -> List[str]:
    """samples_2d.png/pdf: critic contours with real and generated points, one panel per method."""
    return save_figures(figures_samples_2d(df), out_dir)


def plot_grad_norms(df: pd.DataFrame, out_dir) -> List[str]:
    """grad_norms*.png/pdf: distribution of critic gradient norms per method."""
    return save_figures(figures_grad_norms(df), out_dir)


def plot_layer_norms(df: pd.DataFrame, out_dir) -> List[str]:
    """layer_norms*.png/pdf: per-layer spectral norms per method, line at 1."""
    return save_figures(figures_layer_norms(df), out_dir)


def plot_settings(df: pd.DataFrame, out_dir, metrics: Optional[Sequence[str]] = None) -> List[str]:
    """settings_<factor>*.png/pdf: metrics across the settings of each swept hyper-parameter."""
    return save_figures(figures_settings(df, metrics), out_dir)


def plot_budget(
    df: pd.DataFrame, out_dir, *, metrics: Optional[Sequence[str]] = None, n_draws: int = 1000, seed: int = 0
) -> List[str]:
    """budget_<factor>*.png/pdf: expected best metric against the number of settings tried."""
    return save_figures(figures_budget(df, metrics, n_draws=n_draws, seed=seed), out_dir)


def plot_lipschitz(df: pd.DataFrame, out_dir) -> List[str]:
    """lipschitz*.png/pdf: lower/upper Lipschitz estimates, critic gap vs exact W1."""
    return save_figures(figures_lipschitz(df), out_dir)


# (name, builder taking (df, metrics)) in the order the report draws them.
FIGURES: Tuple[Tuple[str, Callable[..., Dict]], ...] = (
    ("histories", lambda df, metrics: figures_histories(df, metrics=metrics)),
    ("final", lambda df, metrics: figures_final(df, metrics)),
    ("samples_2d", lambda df, metrics: figures_samples_2d(df)),
    ("sample_grids", lambda df, metrics: figures_sample_grids(df)),
    ("grad_norms", lambda df, metrics: figures_grad_norms(df)),
    ("layer_norms", lambda df, metrics: figures_layer_norms(df)),
    ("settings", lambda df, metrics: figures_settings(df, metrics)),
    ("budget", lambda df, metrics: figures_budget(df, metrics)),
    ("lipschitz", lambda df, metrics: figures_lipschitz(df)),
)


def all_figures(df: pd.DataFrame, metrics: Optional[Sequence[str]] = None, errors: Optional[list] = None):
    """Every report figure as ``{stem: Figure}``; a plot that fails is skipped (and its
    error appended to ``errors`` when given)."""
    figs = {}
    for name, build in FIGURES:
        try:
            figs.update(build(df, metrics))
        except Exception as exc:  # one bad plot must not lose the others
            if errors is not None:
                errors.append(f"plot {name}: {type(exc).__name__}: {exc}")
    return figs


def plot_all(
    df: pd.DataFrame, out_dir, *, metrics: Optional[Sequence[str]] = None, errors: Optional[list] = None
) -> List[str]:
    """Draw every report plot into ``out_dir``; returns the files written. Never raises."""
    files = []
    for name, build in FIGURES:
        try:
            files += save_figures(build(df, metrics), out_dir)
        except Exception as exc:
            if errors is not None:
                errors.append(f"plot {name}: {type(exc).__name__}: {exc}")
    return files


__all__ = [
    "plot_histories",
    "plot_final",
    "plot_samples_2d",
    "plot_grad_norms",
    "plot_layer_norms",
    "plot_settings",
    "plot_budget",
    "plot_lipschitz",
    "plot_all",
    "all_figures",
    "FIGURES",
    "figures_histories",
    "figures_final",
    "figures_samples_2d",
    "figures_sample_grids",
    "figures_grad_norms",
    "figures_layer_norms",
    "figures_settings",
    "figures_budget",
    "figures_lipschitz",
    "representative_runs",
]
