"""Did a run converge, and when did it first reach quality? Read off its evaluation history.

A final metric describes a *method* only if the run stopped improving; otherwise it
describes the budget. Two rules, both on the run's primary metric (lower is better:
``w1`` on 2-D data, ``fid_domain`` on images):

* **Plateau rule** (:func:`plateau`). Take the last ``window`` evaluations (the final one
  included) and split them into an earlier and a later half. The run has *converged*
  when the later half's mean is no more than ``tol`` (relative to the window's mean)
  below the earlier half's mean: in the last stretch of training it stopped improving.
  A run that oscillates or gets worse at the end is also at its plateau under this rule
  (more training would not help it); its instability shows in the spread over seeds.
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

from lipbench.metrics.catalog import HIGHER, LOWER, declare

declare("converged", HIGHER, "1 when the primary metric stopped improving over the last eval.plateau_window "
                             "evaluations (plateau rule, lipbench.metrics.convergence), else 0")
declare("ttq_steps", LOWER, "generator iterations until the primary metric first came within "
                            "eval.quality_factor x its sampling floor (NaN: never)")
declare("ttq_s", LOWER, "training seconds until the primary metric first came within eval.quality_factor x its floor")

RULE = ("converged when, over the last {window} evaluations, the later half's mean of {metric} is at most "
        "{tol:g} x the window's mean below the earlier half's mean")


def _finite(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def plateau(values: Sequence[float], window: int, tol: float) -> Tuple[bool, str]:
    """``(converged, reason)`` for a history ``values`` (oldest first) under the plateau rule."""
    if window < 2:
        raise ValueError(f"window must be >= 2, got {window}")
    if tol < 0:
        raise ValueError(f"tol must be >= 0, got {tol}")
    if len(values) < window:
        return False, f"only {len(values)} evaluations, the rule needs {window}"
    last = list(values[-window:])
    if not all(_finite(v) for v in last):
        return False, "a non-finite value in the last evaluations"
    half = window // 2
    early, late = last[: window - half], last[window - half:]
    m_early, m_late = sum(early) / len(early), sum(late) / len(late)
    scale = abs(sum(last) / window)
    drop = (m_early - m_late) / scale if scale > 0 else 0.0
    if drop <= tol:
        return True, f"relative improvement {drop:.3f} <= {tol:g} over the last {window} evaluations"
    return False, f"still improving: relative improvement {drop:.3f} > {tol:g} over the last {window} evaluations"


def time_to_quality(steps: Sequence[int], seconds: Sequence[float], values: Sequence[float],
                    floor: Optional[float], factor: float) -> Tuple[float, float]:
    """``(steps, seconds)`` at the first evaluation with ``value <= factor * floor``; NaNs if none."""
    if not _finite(floor) or floor <= 0:
        return math.nan, math.nan
    threshold = factor * floor
    for step, sec, value in zip(steps, seconds, values):
        if _finite(value) and value <= threshold:
            return float(step), float(sec)
    return math.nan, math.nan


def assess(rows: List[dict], metric: str, floor: Optional[float], window: int, tol: float,
           factor: float) -> Tuple[Dict[str, float], dict]:
    """Convergence metrics for a run's evaluation ``rows`` (metrics.jsonl, oldest first).

    Returns ``(metrics, record)``: ``metrics`` holds ``converged`` (1.0 / 0.0), ``ttq_steps``
    and ``ttq_s`` for the run's final metrics; ``record`` is the ``convergence`` entry of
    summary.json (metric, rule, window, tol, quality factor, floor, converged, reason).
    """
    history = [r for r in rows if metric in r]
    values = [r[metric] if _finite(r[metric]) else math.nan for r in history]
    converged, reason = plateau(values, window, tol)
    steps = [r["step"] for r in history]
    seconds = [r.get("train_time_s", r.get("time_s", math.nan)) for r in history]
    ttq_steps, ttq_s = time_to_quality(steps, seconds, values, floor, factor)
    metrics = {"converged": 1.0 if converged else 0.0, "ttq_steps": ttq_steps, "ttq_s": ttq_s}
    record = {"metric": metric, "rule": RULE.format(window=window, metric=metric, tol=tol),
              "window": window, "tol": tol, "quality_factor": factor,
              "floor": floor if _finite(floor) else None, "converged": converged, "reason": reason,
              "ttq_steps": None if math.isnan(ttq_steps) else int(ttq_steps),
              "ttq_s": None if math.isnan(ttq_s) else ttq_s}
    return metrics, record
