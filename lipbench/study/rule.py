"""How a study chooses a method's setting: a rule robust to oscillation.

``tail_mean``: the mean of the run's primary metric (the one its convergence record names:
``w1`` on 2-D data, ``fid_domain`` / ``fid_inception`` on images) over its last ``last``
evaluations, read from its metrics.jsonl, rather than its final value alone. A run that
diverged, failed or has not finished scores +inf, the worst. Lower is better for every
primary metric lipbench declares; ties go to the lower trial index.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Optional, Tuple

from lipbench import record

MISSING = "missing"


def run_score(run_dir: Path, last: int, metric: Optional[str] = None) -> Tuple[str, float, Optional[str]]:
    """(status, score, metric) of one run directory under the tail-mean rule."""
    path = Path(run_dir) / record.SUMMARY
    if not path.exists():
        return MISSING, math.inf, metric
    try:
        summary = record.read_json(path)
    except (OSError, ValueError):
        return MISSING, math.inf, metric
    status = str(summary.get("status"))
    metric = metric or (summary.get("convergence") or {}).get("metric")
    if status != record.COMPLETED or not metric:
        return status, math.inf, metric
    values = [row.get(metric) for row in record.read_jsonl(Path(run_dir) / record.METRICS)]
    values = [float(v) for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
    if not values:
        final = (summary.get("final") or {}).get(metric)
        values = [float(final)] if isinstance(final, (int, float)) and math.isfinite(final) else []
    tail = values[-int(last) :]
    return status, (sum(tail) / len(tail) if tail else math.inf), metric


def rule_text(last: int, metric: str) -> str:
    return (
        f"mean of {metric} over the last {last} evaluations (not the final value alone); "
        "a diverged, failed or unfinished run scores +inf; ties go to the lower trial index"
    )
