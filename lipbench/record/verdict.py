"""One run's Lipschitz verdict from the two bounds it records, and how to print a bound.

A run records ``lip_lower``, the largest gradient norm or difference quotient found on its
critic (a *witness*: the Lipschitz constant K is at least this), and ``lip_upper``, a
*guaranteed* upper bound on K (NaN when some layer has none). ``SLACK`` = 1e-4 (relative)
absorbs float rounding in the bounds and nothing else:

* ``bound error``: lip_lower > lip_upper * (1 + SLACK). A witness above a guaranteed bound
  is a contradiction: one of the two computations is wrong. Never read as certified;
* ``certified``: lip_upper <= 1 + SLACK -- the critic is 1-Lipschitz;
* ``exceeded``: lip_lower > 1 + SLACK -- a measured quotient proves K > 1;
* ``undecided``: a certificate exists but is above 1, and no witness exceeds 1;
* ``no certificate``: no guaranteed bound (lip_upper NaN), and no witness exceeds 1.

The report (:mod:`lipbench.report.lipschitz_table`, the dual table) and the single-run
printout of ``lipbench`` use these. Pure Python: no torch, no pandas.
"""

from __future__ import annotations

import math
from typing import Optional

SLACK = 1e-4
BOUND_ERROR = "bound error"
VERDICTS = ("certified", "exceeded", "undecided", "no certificate", BOUND_ERROR)


def _finite(v) -> bool:
    try:
        return v is not None and math.isfinite(float(v))
    except (TypeError, ValueError):
        return False


def run_verdict(lip_lower, lip_upper, tol: float = SLACK) -> Optional[str]:
    """One run's verdict from its witness ``lip_lower`` and its guaranteed ``lip_upper``
    (NaN / None: no certificate); None when neither was measured."""
    upper_ok, lower_ok = _finite(lip_upper), _finite(lip_lower)
    if upper_ok and lower_ok and float(lip_lower) > float(lip_upper) * (1 + tol):
        return BOUND_ERROR
    if upper_ok and float(lip_upper) <= 1 + tol:
        return "certified"
    if lower_ok and float(lip_lower) > 1 + tol:
        return "exceeded"
    if upper_ok:
        return "undecided"
    return "no certificate" if lower_ok else None


def fmt_bound(v, digits: int = 3, tol: float = SLACK) -> str:
    """``v`` with ``digits`` significant digits, or more where fewer would put it on the other
    side of 1 or of 1 + ``tol`` (so 1.001, not certified, never prints as "1"); "—" if not finite."""
    if not _finite(v):
        return "—"
    v = float(v)
    for d in range(digits, 18):
        text = f"{v:.{d}g}"
        shown = float(text)
        if (shown > 1) == (v > 1) and (shown > 1 + tol) == (v > 1 + tol):
            return text
    return repr(v)
