"""What records written before ``metric_info`` existed say about their metrics.

Those records (the committed results/ and the sweeps run until then) carry no directions.
These are the declarations of the code that wrote them, frozen: the metric catalog's
directions and targets, and the report's column order of that time (its table showed the
first group, then every other metric with a direction). They never change: a new metric is
described by the records that hold it.
"""

from __future__ import annotations

from typing import Dict, Mapping

from lipbench.record.metric_info import HIGHER, LOWER, MetricInfo, recorded

# the report's table columns, in order
_TABLE = (
    "w1",
    "w1_floor",
    "w1_excess",
    "modes",
    "hq_pct",
    "critic_gap",
    "dual_ratio",
    "fid_domain",
    "fid_floor_domain",
    "fid_excess_domain",
    "kid_domain",
    "is_domain",
    "precision_domain",
    "recall_domain",
    "domain_clf_acc",
    "fid_inception",
    "kid_inception",
    "is_inception",
    "grad_real_mean",
    "grad_fake_mean",
    "grad_interp_mean",
    "sigma_max",
    "sigma_prod",
    "lip_lower",
    "lip_upper",
    "lip_ratio",
    "it_per_s",
)
# every other declared metric
_OTHERS = (
    "dual_estimate",
    "dual_estimate_se",
    "w1_true",
    "w1_true_se",
    "w1_bias_gauge",
    "dual_tightness",
    "dual_tightness_se",
    "dual_excess_z",
    "steps_to_95",
    "dual_late_gain",
    "seconds_to_95",
    "converged",
    "ttq_steps",
    "ttq_s",
    "kid_domain_std",
    "is_domain_std",
    "kid_inception_std",
    "is_inception_std",
    "grad_real_max",
    "grad_fake_max",
    "grad_interp_max",
    "lip_upper_est",
    "fid_floor_*",
    "fid_excess_*",
    "fid_n",
    "w1_floor_std",
)
_BETTER = {
    "w1": LOWER,
    "w1_excess": LOWER,
    "modes": HIGHER,
    "hq_pct": HIGHER,
    "fid_domain": LOWER,
    "fid_excess_domain": LOWER,
    "kid_domain": LOWER,
    "is_domain": HIGHER,
    "precision_domain": HIGHER,
    "recall_domain": HIGHER,
    "fid_inception": LOWER,
    "kid_inception": LOWER,
    "is_inception": HIGHER,
    "lip_ratio": LOWER,
    "steps_to_95": LOWER,
    "seconds_to_95": LOWER,
    "converged": HIGHER,
    "ttq_steps": LOWER,
    "ttq_s": LOWER,
    "fid_excess_*": LOWER,
}
_TARGET = {"dual_ratio": 1.0, "grad_interp_mean": 1.0, "grad_interp_max": 1.0, "dual_tightness": 1.0}

LEGACY_METRIC_INFO: Dict[str, MetricInfo] = {
    name: MetricInfo(name, _BETTER.get(name), target=_TARGET.get(name), table=name in _TABLE)
    for name in _TABLE + _OTHERS
}


def metric_info_of(summary: Mapping) -> Dict[str, MetricInfo]:
    """The metric infos of a run: what its record says, else :data:`LEGACY_METRIC_INFO`."""
    return recorded(summary) or dict(LEGACY_METRIC_INFO)
