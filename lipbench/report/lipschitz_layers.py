"""The per-layer part of lipschitz.md: how tight each layer's guaranteed bound is.

Every run's final Lipschitz diagnostics (``summary.json["diagnostics"]["layers"]``, written
by :func:`lipbench.metrics.lipschitz.lipschitz_report`) list, per linear or conv layer, its
guaranteed bound (``bound``), the method behind it (``bound_method``) and, where the run
computed it, the layer's exact operator norm (``sigma_exact``: an SVD for a linear layer;
for a conv, the Lanczos value its float64 certificate sits ~1e-9 above). This module
averages them over the runs of each method x swept factor: one row per layer with the
exact norm, the bound, their largest ratio over the runs (1 = exact) and the method.
"""

from __future__ import annotations

import os
from typing import List

import numpy as np
import pandas as pd

from lipbench import record
from lipbench.report.tables import fmt_number

COLUMNS = ("layer", "sigma_exact_mean", "bound_mean", "ratio_max", "bound_method", "n_runs")


def _layers(run_dir) -> list:
    readable = isinstance(run_dir, (str, os.PathLike))
    diagnostics = record.read_summary_field(run_dir, "diagnostics") if readable else None
    layers = diagnostics.get("layers") if isinstance(diagnostics, dict) else None
    return [entry for entry in layers or [] if isinstance(entry, dict) and entry.get("name") is not None]


def _number(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return np.nan


def layer_table(done: pd.DataFrame, keys: List[str]) -> pd.DataFrame:
    """One row per (``keys``..., layer) over the completed runs ``done`` (with ``run_dir``)
    whose record lists per-layer bounds; empty when none does."""
    if done.empty or "run_dir" not in done:
        return pd.DataFrame()
    rows = []
    for _, run in done.iterrows():
        for entry in _layers(run["run_dir"]):
            bound, exact = _number(entry.get("bound")), _number(entry.get("sigma_exact"))
            if not np.isfinite(bound):
                continue  # a layer the run has no bound for (or a record from before the bounds)
            rows.append(
                {
                    **{k: run[k] for k in keys},
                    "layer": str(entry["name"]) or "(critic)",
                    "bound": bound,
                    "sigma_exact": exact,
                    "ratio": bound / exact if exact > 0 else np.nan,
                    "bound_method": str(entry.get("bound_method") or "—"),
                }
            )
    if not rows:
        return pd.DataFrame()
    per_run = pd.DataFrame(rows)
    out = []
    for key, g in per_run.groupby(keys + ["layer"], sort=False, dropna=False):
        methods = g["bound_method"].value_counts()
        out.append(
            {
                **dict(zip(keys + ["layer"], key)),
                "sigma_exact_mean": g["sigma_exact"].mean(),
                "bound_mean": g["bound"].mean(),
                "ratio_max": g["ratio"].max(),
                "bound_method": methods.index[0] + (f" (+{len(methods) - 1} other)" if len(methods) > 1 else ""),
                "n_runs": len(g),
            }
        )
    return pd.DataFrame(out)


def layer_markdown(layers: pd.DataFrame, keys: List[str]) -> str:
    """The section of lipschitz.md for :func:`layer_table` ("" when it is empty)."""
    if layers.empty:
        return ""
    shown = pd.DataFrame({k[4:] if k.startswith("cfg.") else k: layers[k].astype(str) for k in keys})
    shown["layer"] = layers["layer"]
    shown["exact σ"] = [fmt_number(v, 6) for v in layers["sigma_exact_mean"]]
    shown["bound"] = [fmt_number(v, 6) for v in layers["bound_mean"]]
    shown["bound / exact, max"] = [fmt_number(v, 6) for v in layers["ratio_max"]]
    shown["bound method"] = layers["bound_method"]
    shown["runs"] = layers["n_runs"].astype(int)
    return (
        "\n## Per layer: exact operator norm and guaranteed bound\n\n"
        + shown.to_markdown(index=False)
        + "\n\nMeans over each row's completed runs (final evaluation). *exact σ*: the layer's operator "
        "norm on the input size it sees (an SVD for a linear layer; for a convolution, the exact value from "
        "its Gram matrix, which the float64 Cholesky certificate bounds within ~1e-9); — where the map was "
        "too large to compute it. *bound*: the guaranteed upper bound lip_upper is composed from. "
        "*bound / exact, max*: the largest ratio over the runs (1 = the bound is the exact norm).\n"
    )
