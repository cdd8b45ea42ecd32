"""The swept factors of a set of runs: the ``cfg.*`` columns of the runs DataFrame
(:func:`lipbench.report.aggregate.load_runs`) that were varied on purpose, besides method
and seed (:func:`swept_factors`). The report's tables and plots group the runs by them.
"""

from __future__ import annotations

from typing import List

import numpy as np
import pandas as pd

# Config keys that never count as a swept factor (bookkeeping, paths, evaluation settings).
_IGNORED_KEYS = {
    "cfg.seed",
    "cfg.device",
    "cfg.name",
    "cfg.train.overwrite",
    "cfg.train.progress",
    "cfg.train.threads",
    "cfg.train.log_every",
    "cfg.train.checkpoint_every",
}
_IGNORED_PREFIXES = ("cfg.hydra", "cfg.eval.")
_IGNORED_LEAVES = {"run_dir", "output_dir", "out_dir", "cache_dir"}
# Factors tried first when several config values change together (e.g. a preset and its lr).
# (the dual task's pair: its data set and dimension first, so that a pair's own keys are not factors)
_FACTOR_PRIORITY = (
    "cfg.data.name",
    "cfg.pair.base.name",
    "cfg.pair.dim",
    "cfg.loss.name",
    "cfg.optim.preset",
    "cfg.model.name",
    "cfg.optim.optimizer",
    "cfg.train.iterations",
)


def _ignored(col: str) -> bool:
    return col in _IGNORED_KEYS or col.startswith(_IGNORED_PREFIXES) or col.rsplit(".", 1)[-1] in _IGNORED_LEAVES


def _key(series: pd.Series) -> pd.Series:
    return series.map(lambda v: "<missing>" if v is None or (isinstance(v, float) and np.isnan(v)) else repr(v))


def swept_factors(df: pd.DataFrame) -> List[str]:
    """The ``cfg.*`` columns that were varied on purpose, besides method and seed.

    A column counts when it takes several values among runs of the same method. Columns
    that follow from factors already chosen (an optimizer preset's lr, a data set's own
    keys, a method's own parameters) are left out, so each factor appears once.
    """
    if df.empty or "method" not in df:
        return []
    cands = [c for c in df.columns if c.startswith("cfg.") and not _ignored(c)]
    keys = {c: _key(df[c]) for c in cands}
    cands = [c for c in cands if keys[c].nunique() > 1]
    cands.sort(key=lambda c: (_FACTOR_PRIORITY.index(c) if c in _FACTOR_PRIORITY else len(_FACTOR_PRIORITY), c))
    chosen: List[str] = []
    for c in cands:
        groups = [df["method"].astype(str)] + [keys[k] for k in chosen]
        grouped = pd.DataFrame({f"g{i}": g for i, g in enumerate(groups)}).assign(_v=keys[c])
        if (grouped.groupby([f"g{i}" for i in range(len(groups))])["_v"].nunique() > 1).any():
            chosen.append(c)
    return chosen
