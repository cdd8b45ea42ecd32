"""Did a run converge, and when did it first reach quality? Read off its evaluation history.

A final metric describes a *method* only if the run stopped improving; otherwise it
describes the budget. Two rules, both on the run's primary metric (lower is better:
``w1`` on 2-D data, ``fid_domain`` on images):

* **Plateau rule** (:func:`plateau`). Take the last ``window`` evaluations (the final one
  included) and split them into an earlier and a later half. The run has *converged*
  when (a) it stopped improving: the later half's mean is no more than ``tol`` (relative
  to the window's mean) below the earlier half's mean, and (b) it is stable: the
  coefficient of variation (sample std / mean) of the window is at most ``cv``. A run
  that still improves fails (a); a run whose metric swings from one evaluation to the
  next (an oscillating GAN) fails (b): its final number is one draw from the swing.
  A run that settled at a bad value (a collapsed generator) passes: it has plateaued.
  Fewer than ``window`` finite evaluations, or a non-finite value in the window, is
  *not converged*.
* **Time to quality** (:func:`time_to_quality`). The first evaluation at which the
  metric came within ``factor`` times its sampling floor (the same metric between two
  independent samples of the true distribution), as generator iterations and training
  seconds; NaN when the run never got there.

Pure Python on lists of numbers: the report and tests use it without torch.
"""

from __future__ import annotations

import math
from typing import Dict, List, Optional, Sequence, Tuple

from lipbench.metrics.catalog import HIGHER, LOWER, declare_history, output
from lipbench.record import COMPLETED

declare_history(
    "convergence",
    kinds=("toy2d", "image"),
    outputs=(
        output(
            "converged",
            HIGHER,
            "1 when the primary metric stopped improving over the last eval.plateau_window "
            "evaluations (plateau rule, lipbench.metrics.convergence), else 0",
        ),
        output(
            "ttq_steps",
            LOWER,
            "generator iterations until the primary metric first came within "
            "eval.quality_factor x its sampling floor (NaN: never)",
        ),
        output(
            "ttq_s",
            LOWER,
            "training seconds until the primary metric first came within eval.quality_factor x its floor",
        ),
    ),
    doc="computed by the training loop from metrics.jsonl (assess)",
)

# Bumped whenever the rule changes; a record made by an older rule is re-assessed by the report.
RULE_VERSION = 2
# The rule's defaults; EvalSchema (lipbench/config_schemas.py) takes its eval.* fields from them.
DEFAULTS = {"plateau_window": 4, "plateau_tol": 0.1, "plateau_cv": 0.2, "quality_factor": 3.0}
RULE = (
    "converged when, over the last {window} evaluations of {metric}, the later half's mean is at most "
    "{tol:g} x the window's mean below the earlier half's mean and the coefficient of variation is at most {cv:g}"
)


def _finite(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def plateau(values: Sequence[float], window: int, tol: float, *, cv: float = math.inf) -> Tuple[bool, str]:
    """``(converged, reason)`` for a history ``values`` (oldest first) under the plateau rule."""
    if window < 2:
        raise ValueError(f"window must be >= 2, got {window}")
    if tol < 0 or cv < 0:
        raise ValueError(f"tol and cv must be >= 0, got {tol}, {cv}")
    if len(values) < window:
        return False, f"only {len(values)} evaluations, the rule needs {window}"
    last = list(values[-window:])
    if not all(_finite(v) for v in last):
        return False, "a non-finite value in the last evaluations"
    half = window // 2
    early, late = last[: window - half], last[window - half :]
    m_early, m_late, mean = sum(early) / len(early), sum(late) / len(late), sum(last) / window
    scale = abs(mean)
    drop = (m_early - m_late) / scale if scale > 0 else 0.0
    spread = math.sqrt(sum((v - mean) ** 2 for v in last) / (window - 1)) / scale if scale > 0 else 0.0
    if drop > tol:
        return False, f"still improving: relative improvement {drop:.3f} > {tol:g} over the last {window} evaluations"
    if spread > cv:
        return False, f"unstable: coefficient of variation {spread:.3f} > {cv:g} over the last {window} evaluations"
    return True, f"relative improvement {drop:.3f} <= {tol:g}, coefficient of variation {spread:.3f} <= {cv:g}"


def time_to_quality(
    steps: Sequence[int], seconds: Sequence[float], values: Sequence[float], *, floor: Optional[float], factor: float
) -> Tuple[float, float]:
    """``(steps, seconds)`` at the first evaluation with ``value <= factor * floor``; NaNs if none."""
    if not _finite(floor) or floor <= 0:
        return math.nan, math.nan
    threshold = factor * floor
    for step, sec, value in zip(steps, seconds, values):
        if _finite(value) and value <= threshold:
            return float(step), float(sec)
    return math.nan, math.nan


def assess(
    rows: List[dict],
    metric: str,
    *,
    floor: Optional[float],
    window: int,
    tol: float,
    cv: float = math.inf,
    factor: float,
    comparable_by: Optional[str] = None,
) -> Tuple[Dict[str, float], dict]:
    """Convergence metrics for a run's evaluation ``rows`` (metrics.jsonl, oldest first).

    ``comparable_by`` names a row key (e.g. ``fid_n``, the sample size behind an image metric)
    that must equal the final row's for a row to count: a metric measured on another sample
    size is biased differently. Returns ``(metrics, record)``: ``metrics`` holds ``converged``
    (1.0 / 0.0), ``ttq_steps`` and ``ttq_s`` for the run's final metrics; ``record`` is the
    ``convergence`` entry of summary.json (metric, rule, window, tol, cv, quality factor,
    floor, converged, reason).
    """
    history = [r for r in rows if metric in r]
    if comparable_by is not None and history:
        history = [r for r in history if r.get(comparable_by) == history[-1].get(comparable_by)]
    values = [r[metric] if _finite(r[metric]) else math.nan for r in history]
    converged, reason = plateau(values, window, tol, cv=cv)
    steps = [r["step"] for r in history]
    seconds = [r.get("train_time_s", r.get("time_s", math.nan)) for r in history]
    ttq_steps, ttq_s = time_to_quality(steps, seconds, values, floor=floor, factor=factor)
    metrics = {"converged": 1.0 if converged else 0.0, "ttq_steps": ttq_steps, "ttq_s": ttq_s}
    record = {
        "metric": metric,
        "rule_version": RULE_VERSION,
        "rule": RULE.format(window=window, metric=metric, tol=tol, cv=cv),
        "window": window,
        "tol": tol,
        "cv": cv,
        "quality_factor": factor,
        "floor": floor if _finite(floor) else None,
        "converged": converged,
        "reason": reason,
        "ttq_steps": None if math.isnan(ttq_steps) else int(ttq_steps),
        "ttq_s": None if math.isnan(ttq_s) else ttq_s,
    }
    return metrics, record


def reassess(summary: dict, rows: List[dict]) -> Optional[Tuple[Dict[str, float], dict]]:
    """:func:`assess` again for a completed run whose ``convergence`` entry was made by an older
    rule (its ``rule_version`` is below :data:`RULE_VERSION`), from its metrics.jsonl ``rows``
    and with the rule's parameters from the run's own config (the current defaults where the
    run predates a parameter). None when there is nothing to redo: no convergence entry, not
    completed, or already judged by the current rule. The report uses this so that every
    run of a table is judged by one rule."""
    entry = summary.get("convergence")
    if not isinstance(entry, dict) or not entry.get("metric") or summary.get("status") != COMPLETED:
        return None
    if int(entry.get("rule_version", 1)) >= RULE_VERSION:
        return None
    e = (summary.get("config") or {}).get("eval") or {}
    final = summary.get("final") or {}
    floor = final.get(entry.get("floor_metric") or "", entry.get("floor"))
    floor = floor if _finite(floor) else None
    comparable = "fid_n" if any("fid_n" in r for r in rows) else None
    return assess(
        rows,
        entry["metric"],
        floor=floor,
        window=int(e.get("plateau_window", DEFAULTS["plateau_window"])),
        tol=float(e.get("plateau_tol", DEFAULTS["plateau_tol"])),
        cv=float(e.get("plateau_cv", DEFAULTS["plateau_cv"])),
        factor=float(e.get("quality_factor", DEFAULTS["quality_factor"])),
        comparable_by=comparable,
    )
