"""The plateau rule, time to quality and the 2-D sampling floor, on made-up histories and real samples."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lipbench.errors import ConfigError
from lipbench.metrics.convergence import RULE_VERSION, assess, plateau, time_to_quality


def test_flat_history_has_converged():
    assert plateau([5.0, 3.0, 1.0, 1.01, 0.99, 1.0], window=4, tol=0.1)[0]


def test_still_falling_history_has_not_converged():
    ok, reason = plateau([1.0, 0.8, 0.6, 0.4], window=4, tol=0.1)
    assert not ok and "still improving" in reason


def test_the_tolerance_is_relative_to_the_window_mean():
    # halves 1.0 and 0.9: a drop of 0.1 / 0.95 = 0.105 of the mean
    values = [1.0, 1.0, 0.9, 0.9]
    assert not plateau(values, 4, 0.10)[0]
    assert plateau(values, 4, 0.11)[0]
    # the same shape at another scale gives the same answer
    assert plateau([v * 1e-3 for v in values], 4, 0.11)[0] and not plateau([v * 1e3 for v in values], 4, 0.10)[0]


def test_getting_worse_at_the_end_counts_as_a_plateau():
    assert plateau([0.2, 0.2, 0.5, 0.6], window=4, tol=0.1)[0]


def test_odd_window_puts_the_middle_value_in_the_earlier_half():
    # earlier half [1, 1, 0.5] (mean 0.833), later [0.5, 0.5]: drop 0.333 / 0.7 = 0.48
    assert not plateau([1, 1, 0.5, 0.5, 0.5], window=5, tol=0.4)[0]
    assert plateau([1, 1, 0.5, 0.5, 0.5], window=5, tol=0.5)[0]


def test_too_few_or_non_finite_evaluations_are_not_converged():
    assert not plateau([1.0, 1.0, 1.0], window=4, tol=0.1)[0]
    assert not plateau([1.0, 1.0, math.nan, 1.0], window=4, tol=0.1)[0]
    with pytest.raises(ValueError):
        plateau([1.0, 1.0], window=1, tol=0.1)


def test_time_to_quality_is_the_first_crossing():
    steps, secs, vals = [100, 200, 300, 400], [1.0, 2.0, 3.0, 4.0], [1.0, 0.29, 0.5, 0.2]
    assert time_to_quality(steps, secs, vals, floor=0.1, factor=3.0) == (200.0, 2.0)
    assert all(math.isnan(v) for v in time_to_quality(steps, secs, vals, floor=0.01, factor=3.0))
    assert all(math.isnan(v) for v in time_to_quality(steps, secs, vals, floor=None, factor=3.0))


def test_assess_reads_a_metrics_history():
    w1s = [2.0, 1.0, 0.5, 0.31, 0.3, 0.3]
    rows = [{"step": 100 * i, "train_time_s": float(i), "w1": w} for i, w in enumerate(w1s, 1)]
    metrics, rec = assess(rows, "w1", floor=0.1, window=4, tol=0.1, factor=3.0)
    assert metrics["converged"] == 0.0  # halves 0.75 and 0.3 over the last four
    assert (metrics["ttq_steps"], metrics["ttq_s"]) == (500.0, 5.0)
    assert rec["converged"] is False and rec["metric"] == "w1" and "last 4 evaluations" in rec["rule"]
    metrics, _ = assess(
        rows + [{"step": 700, "w1": 0.3}, {"step": 800, "w1": 0.3}], "w1", floor=0.1, window=4, tol=0.1, factor=3.0
    )
    assert metrics["converged"] == 1.0


def _mixture():
    from omegaconf import OmegaConf

    from lipbench.data import DATASETS, build_data

    return build_data(OmegaConf.structured(DATASETS.schema("eight_gaussians")))  # data=eight_gaussians' defaults


def test_floor_of_two_samples_of_one_mixture_and_of_a_shifted_one():
    from lipbench.metrics.toy2d import exact_w1, sampling_floor

    data = _mixture()
    n = 400
    floor, floor_std = sampling_floor(data, n, pairs=3, seed=0)
    assert 0 < floor < 0.3 and floor_std >= 0
    # another independent pair of true samples lands near the floor ...
    a = data.sample(n, torch.Generator().manual_seed(1)).numpy()
    b = data.sample(n, torch.Generator().manual_seed(2)).numpy()
    assert exact_w1(a, b) < floor + 4 * max(floor_std, 0.02)
    # ... a shift by d costs about d more (W1 of a shift by d is d), far above the floor
    d = 0.5
    shifted = exact_w1(a, b + np.array([d, 0.0]))
    assert shifted > 3 * floor and abs(shifted - d) < floor + 0.05


def test_floor_is_deterministic_per_seed():
    from lipbench.metrics.toy2d import sampling_floor

    data = _mixture()
    assert sampling_floor(data, 200, pairs=2, seed=3) == sampling_floor(data, 200, pairs=2, seed=3)
    assert sampling_floor(data, 200, pairs=2, seed=3) != sampling_floor(data, 200, pairs=2, seed=4)


@pytest.mark.parametrize(
    "override, key",
    [
        ("eval.plateau_window=1", "eval.plateau_window"),
        ("eval.plateau_tol=-0.1", "eval.plateau_tol"),
        ("eval.plateau_tol=1.5", "eval.plateau_tol"),
        ("eval.quality_factor=0.5", "eval.quality_factor"),
        ("eval.alpha=0", "eval.alpha"),
        ("eval.alpha=1.2", "eval.alpha"),
        ("eval.floor_pairs=0", "eval.floor_pairs"),
    ],
)
def test_bad_convergence_keys_name_the_key(cfg_factory, override, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        cfg_factory(override)


def test_an_oscillating_history_is_not_converged_but_a_settled_bad_one_is():
    swinging = [1.4, 2.8, 1.4, 2.7]  # no trend, but one evaluation to the next doubles
    ok, reason = plateau(swinging, window=4, tol=0.1, cv=0.2)
    assert not ok and "unstable" in reason
    assert plateau(swinging, window=4, tol=0.1)[0]  # without the stability condition it would pass
    collapsed = [2.0, 2.1, 1.95, 2.05]  # a collapsed generator that stays collapsed has plateaued
    assert plateau(collapsed, window=4, tol=0.1, cv=0.2)[0]


def test_comparable_rows_only():
    # a final evaluation on more samples is not compared with the smaller intermediate ones
    rows = [{"step": s, "fid_domain": 10.0, "fid_n": 500} for s in (1, 2, 3, 4)]
    rows.append({"step": 5, "fid_domain": 5.0, "fid_n": 2000})
    assert assess(rows, "fid_domain", floor=None, window=4, tol=0.1, factor=3.0, comparable_by="fid_n")[1][
        "reason"
    ].startswith("only 1")
    assert (
        assess(rows[:4], "fid_domain", floor=None, window=4, tol=0.1, factor=3.0, comparable_by="fid_n")[0]["converged"]
        == 1.0
    )


def test_reassess_uses_the_runs_own_parameters():
    from lipbench.metrics.convergence import reassess

    rows = [{"step": 100 * i, "train_time_s": float(i), "w1": w} for i, w in enumerate([1.0, 0.5, 0.45, 0.44], 1)]
    summary = {
        "status": "completed",  # a record of rule version 1 (no rule_version): trend only, no cv
        "convergence": {"metric": "w1", "floor": 0.1, "floor_metric": "w1_floor"},
        "config": {"eval": {"plateau_window": 4, "plateau_tol": 0.1}},
        "final": {"w1_floor": 0.2},
    }
    assert reassess(summary, rows)[0]["converged"] == 0.0  # halves 0.75 / 0.445
    summary["config"]["eval"]["plateau_window"] = 2
    metrics, rec = reassess(summary, rows)
    assert metrics["converged"] == 1.0 and rec["window"] == 2
    assert metrics["ttq_steps"] == 200.0  # the floor is read from final["w1_floor"] = 0.2: 0.5 <= 3 x 0.2
    del summary["convergence"]["floor_metric"]  # an older record: its stored floor 0.1, 3 x 0.1 never reached
    assert math.isnan(reassess(summary, rows)[0]["ttq_steps"])
    assert reassess({**summary, "status": "diverged"}, rows) is None
    assert reassess({"status": "completed"}, rows) is None
    current = {**summary, "convergence": {**summary["convergence"], "rule_version": RULE_VERSION}}
    assert reassess(current, rows) is None  # judged by the current rule already: its values stand
