"""Shared helpers for the report plots: grouping, labels, colours and saving.

Figures are built with the object-oriented ``matplotlib.figure.Figure`` (no pyplot), so the
library works with any backend: files are written with the Agg canvas, and notebooks
display the same Figure objects inline.

Grouping convention: one figure per *data group* (the values of the swept ``cfg.data.*``
factors, e.g. one per data set), and within a figure one *series* per method crossed with
the other swept factors (e.g. ``gp | optim.preset=B``).
"""

from __future__ import annotations

import math
import os
import re
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from lipbench import record
from lipbench.report.factors import swept_factors

FigureDict = Dict[str, Figure]  # file stem -> figure
LOG_SPAN = 50.0  # positive values whose max/min exceeds this are drawn on a log axis
MAX_WIDTH = 16.0  # inches (1600 px at the PNG's 100 dpi): wider grids wrap into rows
MAX_PANELS_PER_ROW = 5  # one panel per method (samples, sample grids): at most this many per row


def short(col: str) -> str:
    return col[4:] if col.startswith("cfg.") else col


def is_missing(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def data_factors(factors: Sequence[str]) -> List[str]:
    return [f for f in factors if f.startswith("cfg.data.")]


def other_factors(factors: Sequence[str]) -> List[str]:
    return [f for f in factors if not f.startswith("cfg.data.")]


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-") or "all"


def _value_label(col: str, v) -> str:
    v = "—" if is_missing(v) else v
    return str(v) if col == "cfg.data.name" else f"{short(col)}={v}"


def data_groups(df: pd.DataFrame, factors: Optional[Sequence[str]] = None) -> Iterator[Tuple[str, pd.DataFrame]]:
    """Yield ``(label, rows)`` per combination of the data-set factors ('' when none)."""
    factors = list(swept_factors(df) if factors is None else factors)
    dcols = data_factors(factors)
    if not dcols:
        yield "", df
        return
    keyed = df.assign(_k=df[dcols].astype(str).agg("|".join, axis=1))
    for _k, g in keyed.groupby("_k", sort=True):
        first = g.iloc[0]
        yield ", ".join(_value_label(c, first[c]) for c in dcols), g.drop(columns="_k")


def series_labels(df: pd.DataFrame, factors: Optional[Sequence[str]] = None) -> pd.Series:
    """Per row: the method, plus the values of the non-data swept factors."""
    factors = list(swept_factors(df) if factors is None else factors)
    ocols = other_factors(factors)
    labels = df["method"].astype(str)
    for c in ocols:
        labels = labels + " | " + df[c].map(lambda v, c=c: _value_label(c, v))
    return labels


def ordered(labels) -> List[str]:
    """Series in a stable order: the 'none' baseline first, then alphabetical."""
    uniq = sorted(set(map(str, labels)))
    return sorted(uniq, key=lambda s: (not s.split(" | ")[0] == "none", s))


def colours(labels: Sequence[str]) -> Dict[str, tuple]:
    from matplotlib import colormaps

    cmap = colormaps["tab10" if len(labels) <= 10 else "tab20"]
    return {lab: cmap(i % cmap.N) for i, lab in enumerate(labels)}


def new_figure(n_panels: int, ncols: int = 3, size: Tuple[float, float] = (4.2, 3.4)) -> Tuple[Figure, List]:
    """A figure with ``n_panels`` axes on a grid (unused cells hidden)."""
    ncols = max(1, min(ncols, n_panels))
    nrows = max(1, math.ceil(n_panels / ncols))
    fig = Figure(figsize=(size[0] * ncols, size[1] * nrows), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel().tolist()
    for ax in axes[n_panels:]:
        ax.set_visible(False)
    return fig, axes[:n_panels]


def fitting_cols(n_panels: int, panel_width: float, max_cols: Optional[int] = None) -> int:
    """How many panels of ``panel_width`` inches fit side by side in :data:`MAX_WIDTH`
    (at least 1, at most ``max_cols`` and ``n_panels``)."""
    cols = max(1, int(MAX_WIDTH // max(panel_width, 1e-9)))
    return max(1, min(cols, n_panels, max_cols or n_panels))


def spans_decades(values) -> bool:
    """All finite values positive and their max/min above :data:`LOG_SPAN`."""
    arr = finite(values)
    return len(arr) > 1 and bool((arr > 0).all()) and arr.max() / arr.min() > LOG_SPAN


def log_if_spanning(ax, values, axis: str = "y") -> bool:
    """Switch ``ax``'s ``axis`` to a log scale when ``values`` span decades; returns
    whether it did (the axis label then says "log scale")."""
    if not spans_decades(values):
        return False
    (ax.set_yscale if axis == "y" else ax.set_xscale)("log")
    return True


def place_legend(fig: Figure, ax, n_series: int, *, max_inside: int = 6) -> None:
    """The series legend: inside ``ax`` for a few series, below the whole figure (in
    columns) for more, where it hides no data."""
    if n_series <= max_inside:
        ax.legend(fontsize="small")
        return
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=min(5, len(labels)), fontsize="small")


def title_with(base: str, group: str) -> str:
    return f"{base} — {group}" if group else base


def stem_with(base: str, group: str) -> str:
    return f"{base}_{slug(group)}" if group else base


def save_figures(figures: FigureDict, out_dir) -> List[str]:
    """Write each figure as ``<stem>.png`` and ``<stem>.pdf``; returns the paths."""
    if not figures:
        return []
    out_dir = os.fspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    paths = []
    for stem, fig in figures.items():
        for ext in ("png", "pdf"):
            path = os.path.join(out_dir, f"{stem}.{ext}")
            # no creation date in the PDF: the same runs redraw byte-identical files
            fig.savefig(
                path, dpi=100 if ext == "png" else None, metadata={"CreationDate": None} if ext == "pdf" else None
            )
            fig.set_layout_engine("none")  # laid out once (constrained) for the PNG; reuse it for the PDF
            paths.append(path)
    return paths


def completed(df: pd.DataFrame) -> pd.DataFrame:
    return df[df["status"].astype(str) == record.COMPLETED] if "status" in df else df


def has_values(df: pd.DataFrame, col: str) -> bool:
    return col in df.columns and pd.to_numeric(df[col], errors="coerce").notna().any()


def finite(values) -> np.ndarray:
    arr = np.asarray(pd.to_numeric(pd.Series(values), errors="coerce"), dtype=float)
    return arr[np.isfinite(arr)]
