"""Which differences are real: the "not significantly worse than the best" marking.

The comparison table bolds, in each column and within each data set, every row whose
seeds are not significantly worse than the row with the best mean. The test, per row
against the best row, is a one-sided Welch t-test over seeds
(``scipy.stats.ttest_ind(..., equal_var=False)``, alternative "the row is worse") at
level ``alpha``; no correction for multiple comparisons. The rule (:func:`tied_with_best`):

* the *best* row is the one with the best mean (ties: every row at that mean);
* if the best row has fewer than :data:`MIN_SEEDS` values, nothing in the column is
  marked: a winner that rests on one seed is chosen by noise;
* the best row is marked; another row with at least :data:`MIN_SEEDS` values is marked
  when the test's p-value is ≥ ``alpha`` (its difference from the best may be noise);
* a row with fewer than :data:`MIN_SEEDS` values cannot be tested and is not marked.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import List, Optional, Sequence

import numpy as np
from scipy import stats

DEFAULT_ALPHA = 0.05
MIN_SEEDS = 2  # Welch's test needs a sample variance on both sides
TEST_NAME = "one-sided Welch t-test over seeds (scipy.stats.ttest_ind, equal_var=False)"


@dataclass
class Marking:
    """Result of :func:`tied_with_best` for one column block.

    ``tied[i]``: row i is not significantly worse than the best; ``p[i]``: the one-sided
    p-value of row i against the best (NaN for the best row itself and untested rows);
    ``tested``: whether the column could be tested at all (the best row has ≥ 2 values)."""

    tied: List[bool]
    p: List[float]
    best: Optional[int]
    tested: bool


def _clean(values) -> np.ndarray:
    arr = np.asarray(values, dtype=float).ravel()
    return arr[np.isfinite(arr)]


def worse_p_value(best: Sequence[float], other: Sequence[float], better: str) -> float:
    """One-sided Welch p-value for "``other`` is worse than ``best``" (``better``: "lower"
    or "higher" is better). Both samples need ≥ 2 values; NaN otherwise. Two samples
    without any spread are equal (p = 1) or decided by their means (p = 0)."""
    a, b = _clean(best), _clean(other)
    if len(a) < MIN_SEEDS or len(b) < MIN_SEEDS:
        return math.nan
    if better not in ("lower", "higher"):
        raise ValueError(f"better must be 'lower' or 'higher', not {better!r}")
    # "other worse" means other > best when lower is better, other < best when higher is.
    alternative = "greater" if better == "lower" else "less"
    if np.ptp(a) == 0 and np.ptp(b) == 0:  # t is 0/0 or ±inf: decide from the means
        worse = b[0] > a[0] if better == "lower" else b[0] < a[0]
        return 0.0 if worse else 1.0
    return float(stats.ttest_ind(b, a, equal_var=False, alternative=alternative).pvalue)


def tied_with_best(samples: Sequence[Sequence[float]], better: Optional[str], alpha: float = DEFAULT_ALPHA) -> Marking:
    """Mark the rows (one sample of seeds each) not significantly worse than the best mean.

    ``better`` None (a diagnostic without direction) marks nothing. See the module
    docstring for the rule; rows without any finite value are never marked."""
    clean = [_clean(s) for s in samples]
    n = len(clean)
    marking = Marking([False] * n, [math.nan] * n, None, False)
    means = np.array([c.mean() if len(c) else np.nan for c in clean])
    if better not in ("lower", "higher") or not np.isfinite(means).any():
        return marking
    best_mean = np.nanmin(means) if better == "lower" else np.nanmax(means)
    at_best = [i for i in range(n) if np.isfinite(means[i]) and math.isclose(means[i], best_mean, rel_tol=1e-12)]
    marking.best = max(at_best, key=lambda i: len(clean[i]))
    if len(clean[marking.best]) < MIN_SEEDS:
        return marking
    marking.tested = True
    ref = clean[marking.best]
    for i in range(n):
        if i == marking.best:
            marking.tied[i] = True
            continue
        p = worse_p_value(ref, clean[i], better)
        marking.p[i] = p
        marking.tied[i] = bool(np.isfinite(p) and p >= alpha)
    return marking


def check_alpha(alpha) -> float:
    """``alpha`` as a float in (0, 1); ValueError naming the value otherwise."""
    try:
        value = float(alpha)
    except (TypeError, ValueError):
        raise ValueError(f"alpha must be a number in (0, 1), got {alpha!r}") from None
    if not 0.0 < value < 1.0:
        raise ValueError(f"alpha must be a number in (0, 1), got {alpha!r}")
    return value


def rule_text(alpha: float, n_range: Optional[tuple] = None) -> str:
    """The footer sentence that states the test, its level and the seeds per row."""
    seeds = ""
    if n_range:
        lo, hi = n_range
        seeds = f"; n = {lo} seeds per row" if lo == hi else f"; n = {lo}–{hi} seeds per row"
    return (
        f"bold: not significantly worse than the best mean of its column (within each data set), "
        f"by a {TEST_NAME} of each row against the best row at α = {alpha:g}, "
        f"no multiple-comparison correction{seeds}. A row with fewer than {MIN_SEEDS} completed seeds "
        f"is not tested and not bold; a column whose best mean rests on fewer than {MIN_SEEDS} seeds "
        "has no bold."
    )


__all__ = [
    "DEFAULT_ALPHA",
    "MIN_SEEDS",
    "TEST_NAME",
    "Marking",
    "worse_p_value",
    "tied_with_best",
    "check_alpha",
    "rule_text",
]
