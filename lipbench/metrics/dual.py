"""Metrics of the dual task: the critic's held-out W1 estimate, the exact W1, and how fast
the estimate got there. No torch import: the report reads :func:`exceeds_bound` from here
(the values are torch tensors, used through their methods).

* :func:`dual_estimate` -- E_P[f] - E_Q[f] over n coupled held-out pairs (p_i, q_i), with
  its standard error std(f(p_i) - f(q_i)) / sqrt(n).
* :func:`ot_w1` -- exact W1 between two equal-weight point clouds (POT ``ot.emd2``), with
  the Euclidean cost computed by ``scipy.spatial.distance.cdist`` in float64 (no
  |x|²+|y|²-2xy expansion, and no n x m x d intermediate, so 64-d and 256-d clouds fit).
* :func:`ot_truth` -- W1(P, Q) as the mean of ``repeats`` exact OT solves, each between
  n coupled held-out samples of P and of Q, and its standard error. Any n-sample solve
  is biased upwards (E W1(P_n, Q_n) >= W1(P, Q), whatever the joint law of the samples,
  since a sup of expectations is at most the expectation of the sup); coupled samples
  keep that bias small, because W1(P_n, Q_n) <= mean ||p_i - q_i|| already. What is
  left is gauged from the solves on the first halves of the same samples: if the bias
  falls like n^(-1/2) (two dimensions), it is about (W1_{n/2} - W1_n) / (sqrt(2) - 1).
* :func:`time_to_fraction` -- the first evaluation at which the estimate reached a
  fraction (0.95) of its final value: steps and training seconds.

By Kantorovich-Rubinstein duality a 1-Lipschitz critic has E_P[f] - E_Q[f] <= W1(P, Q),
so a certified critic whose estimate exceeds W1 by more than :data:`BOUND_SIGMAS`
combined standard errors is a bug (:func:`exceeds_bound`).
"""

from __future__ import annotations

import math
from typing import Callable, Optional, Sequence

import numpy as np

from lipbench.metrics.catalog import FINAL, LOWER, declare_history, output, register_metric

BOUND_SIGMAS = 3.0
FLOAT_RTOL = 1e-5  # float32 critic values: rounding of the order of 1e-7 per term
FRACTION = 0.95
LATE = 0.7  # dual_late_gain: the gain after this share of the steps


def dual_estimate(f_p, f_q) -> tuple:
    """(E f(P) - E f(Q), its standard error) from critic values on n pairs (p_i, q_i).

    The terms f(p_i) - f(q_i) are i.i.d. over i (each pair is drawn independently of the
    others), so their mean is unbiased and std / sqrt(n) is its standard error, however
    p_i and q_i are coupled within a pair."""
    terms = f_p.double() - f_q.double()
    return float(terms.mean()), float(terms.std(unbiased=True)) / math.sqrt(len(terms))


def ot_w1(x, y) -> float:
    """Exact W1 between the uniform measures on the rows of ``x`` (n, d) and ``y`` (m, d)."""
    import ot
    from scipy.spatial.distance import cdist

    x = np.asarray(x.detach().cpu() if hasattr(x, "detach") else x, dtype=np.float64)
    y = np.asarray(y.detach().cpu() if hasattr(y, "detach") else y, dtype=np.float64)
    cost = cdist(x, y, metric="euclidean")
    a, b = np.full(len(x), 1.0 / len(x)), np.full(len(y), 1.0 / len(y))
    return float(ot.emd2(a, b, cost, numItermax=10_000_000))


def ot_truth(sample: Callable[[int, int], tuple], n: int, repeats: int) -> dict:
    """W1(P, Q) by ``repeats`` exact OT solves of n vs n samples.

    ``sample(n, r)`` returns the r-th independent draw ``(p, q)``. Returns w1_true (the
    mean), w1_true_se (std / sqrt(repeats)), w1_true_std, w1_half (the mean solve on the
    first n/2 points of each draw), w1_bias_gauge ((w1_half - w1_true) / (sqrt 2 - 1),
    the upward bias left if it falls like n^(-1/2)), w1_pair_cost (the mean ||p_i - q_i||
    of the draws: the cost of their own coupling, an upper bound of each solve) and the
    solves themselves.
    """
    solves, halves, pair_costs = [], [], []
    for r in range(repeats):
        p, q = sample(n, r)
        solves.append(ot_w1(p, q))
        halves.append(ot_w1(p[: n // 2], q[: n // 2]))
        pair_costs.append(float((p.double() - q.double()).norm(dim=1).mean()))
    s = np.asarray(solves)
    return {
        "w1_true": float(s.mean()),
        "w1_true_se": float(s.std(ddof=1) / math.sqrt(len(s))),
        "w1_true_std": float(s.std(ddof=1)),
        "w1_half": float(np.mean(halves)),
        "w1_bias_gauge": float((np.mean(halves) - s.mean()) / (math.sqrt(2) - 1)),
        "w1_pair_cost": float(np.mean(pair_costs)),
        "w1_n": int(n),
        "w1_repeats": int(repeats),
        "w1_solves": [float(v) for v in s],
        "w1_method": "exact OT (POT ot.emd2), n coupled held-out samples of P and of Q, mean over repeats",
    }


def tightness(est: float, est_se: float, w1: float, w1_se: float) -> dict:
    """estimate / W1 with its (delta-method) standard error, and the excess in standard errors."""
    ratio = est / w1
    ratio_se = abs(ratio) * math.sqrt((est_se / est) ** 2 + (w1_se / w1) ** 2) if est != 0 else est_se / w1
    err = math.hypot(est_se, w1_se)
    z = (est - w1) / err if err > 0 else (math.inf if est > w1 else -math.inf)
    return {"dual_tightness": ratio, "dual_tightness_se": ratio_se, "dual_excess_z": z}


def exceeds_bound(
    est: float, est_se: float, w1: float, w1_se: float, sigmas: float = BOUND_SIGMAS, lip: float = 1.0
) -> bool:
    """Whether an estimate is above ``lip`` x W1 (the most an lip-Lipschitz critic can reach)
    by more than ``sigmas`` combined standard errors, plus :data:`FLOAT_RTOL` x W1 for the
    float32 rounding of the critic's values (which no sampling error covers)."""
    return est > lip * w1 * (1 + FLOAT_RTOL) + sigmas * math.hypot(est_se, w1_se)


def time_to_fraction(rows: Sequence[dict], fraction: float = FRACTION, key: str = "dual_estimate") -> dict:
    """Steps and training seconds until ``rows[i][key]`` first reached ``fraction`` x the last value,
    and ``dual_late_gain``: the share of the final value gained over the last 30% of the steps
    (from the first evaluation at or after 70% of them; near 0 = the estimate had levelled off).

    ``rows`` are evaluations in step order, each with ``step``, ``train_time_s`` and ``key``.
    Undefined (None) when the final value is not positive: there is no scale to reach.
    """
    rows = [r for r in rows if isinstance(r.get(key), (int, float)) and math.isfinite(r[key])]
    final: Optional[float] = rows[-1][key] if rows else None
    if final is None or final <= 0:
        return {"steps_to_95": None, "seconds_to_95": None, "dual_late_gain": None}
    first = next(r for r in rows if r[key] >= fraction * final)
    late = next(r for r in rows if r["step"] >= LATE * rows[-1]["step"])
    return {
        "steps_to_95": int(first["step"]),
        "seconds_to_95": float(first.get("train_time_s", math.nan)),
        "dual_late_gain": (final - late[key]) / final,
    }


# ----------------------------------------------------------------------------- plug-ins
@register_metric(
    "dual",
    kinds=("dual",),
    order=10,
    outputs=(
        output("dual_estimate", None, "critic's held-out E_P[f] - E_Q[f] (fresh samples never used in training)"),
        output(
            "dual_estimate_se", None, "standard error of dual_estimate: std(f(p_i) - f(q_i)) / sqrt(n), coupled pairs"
        ),
        output(
            "w1_true", None, "exact W1(P, Q): closed form, or the mean of several exact OT solves on held-out samples"
        ),
        output(
            "w1_true_se", None, "standard error of w1_true (0 for a closed form; std of the OT solves / sqrt(repeats))"
        ),
        output(
            "w1_bias_gauge",
            None,
            "upward bias left in an OT w1_true if it falls like n^(-1/2): (W1 on n/2 samples - W1 on n) / (sqrt 2 - 1)",
        ),
        output(
            "dual_tightness",
            None,
            "dual_estimate / w1_true: 1 = the critic attains W1; > 1 is impossible when 1-Lipschitz",
            target=1.0,
        ),
        output("dual_tightness_se", None, "standard error of dual_tightness (estimate and truth errors combined)"),
        output(
            "dual_excess_z",
            None,
            "(dual_estimate - w1_true) / combined standard error; > 3 with a certified critic is a bug",
        ),
    ),
)
def dual(ev, params) -> dict:
    """The held-out estimate with its standard error, the exact W1 and their ratio."""
    est, se = dual_estimate(*ev.critic_values)
    truth = ev.truth
    w1, w1_se = float(truth["w1_true"]), float(truth["w1_true_se"])
    metrics = {"dual_estimate": est, "dual_estimate_se": se, "w1_true": w1, "w1_true_se": w1_se}
    if truth.get("w1_bias_gauge") is not None:
        metrics["w1_bias_gauge"] = float(truth["w1_bias_gauge"])
    metrics.update(tightness(est, se, w1, w1_se) if math.isfinite(est) else {"dual_tightness": math.nan})
    return metrics


@register_metric(
    "dual_normalized",
    kinds={"dual": FINAL},
    order=90,
    outputs=(
        output(
            "dual_tightness_normalized",
            None,
            "dual_estimate / (lip_upper x w1_true): the estimate of the critic "
            "divided by its certified constant, against W1",
        ),
    ),
)
def dual_normalized(ev, params) -> dict:
    """The ratio of f / lip_upper to W1 (needs the ``lipschitz`` metric before it)."""
    upper, est = ev.metrics.get("lip_upper"), ev.metrics.get("dual_estimate")
    if isinstance(upper, float) and math.isfinite(upper) and upper > 0 and est is not None:
        return {"dual_tightness_normalized": est / (upper * ev.metrics["w1_true"])}
    return {}


declare_history(
    "time_to_95",
    kinds=("dual",),
    outputs=(
        output("steps_to_95", LOWER, "critic steps until the held-out estimate first reached 95% of its final value"),
        output(
            "dual_late_gain",
            None,
            "share of the final estimate gained over the last 30% of the critic steps "
            "(near 0: levelled off; large: still rising when the budget ended)",
        ),
        output(
            "seconds_to_95", LOWER, "training seconds until the held-out estimate first reached 95% of its final value"
        ),
    ),
    doc="computed by lipbench.dual.task from the run's evaluation history (time_to_fraction)",
)
