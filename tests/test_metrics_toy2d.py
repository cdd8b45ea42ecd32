"""Exact 2-D metrics: modes / high-quality share and exact W1, against hand-computed truths."""

import math

import numpy as np
import pytest
import torch

from lipbench.errors import DataError
from lipbench.metrics import catalog
from lipbench.metrics.toy2d import exact_w1, mode_stats

# 8 Gaussians as in the WGAN-GP toy script: radius 2 scaled by 1/1.414, std 0.02.
ANGLES = np.arange(8) * np.pi / 4
CENTERS = np.stack([np.cos(ANGLES), np.sin(ANGLES)], axis=1) * 2 / 1.414
STD = 0.02


def test_samples_on_every_mode_capture_all_modes():
    samples = np.repeat(CENTERS, 25, axis=0)
    assert mode_stats(samples, CENTERS, STD) == {"modes": 8, "hq_pct": 100.0}


def test_accepts_torch_tensors():
    samples = torch.tensor(np.repeat(CENTERS, 25, axis=0), dtype=torch.float32)
    assert mode_stats(samples, torch.tensor(CENTERS), STD)["modes"] == 8


def test_all_samples_at_one_mode_capture_one_mode():
    samples = np.repeat(CENTERS[3:4], 200, axis=0)
    out = mode_stats(samples, CENTERS, STD)
    assert out["modes"] == 1 and out["hq_pct"] == 100.0


def test_far_points_capture_nothing():
    samples = np.full((100, 2), 50.0)
    assert mode_stats(samples, CENTERS, STD) == {"modes": 0, "hq_pct": 0.0}


def test_mixture_of_hits_and_misses():
    # 30 points at mode 0 just inside 3 std, 10 at mode 1 (below min_count), 60 misses:
    # 40 of 100 are high quality; only mode 0 reaches 20 samples.
    inside = CENTERS[0] + np.array([0.0, 2.9 * STD])
    outside = CENTERS[2] + np.array([3.1 * STD, 0.0])  # just outside 3 std of the nearest mode
    samples = np.concatenate([np.repeat([inside], 30, 0), np.repeat(CENTERS[1:2], 10, 0), np.repeat([outside], 60, 0)])
    out = mode_stats(samples, CENTERS, STD)
    assert out["modes"] == 1
    assert out["hq_pct"] == pytest.approx(40.0)
    assert mode_stats(samples, CENTERS, STD, min_count=10)["modes"] == 2
    assert mode_stats(samples, CENTERS, STD, n_std=4.0)["hq_pct"] == pytest.approx(100.0)


def test_mode_stats_rejects_bad_shapes():
    with pytest.raises(DataError):
        mode_stats(np.zeros((10, 3)), CENTERS, STD)
    with pytest.raises(DataError):
        mode_stats(np.zeros((10, 2)), CENTERS, 0.0)


def test_w1_of_a_shifted_cloud_is_the_shift_length():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 2))
    d = np.array([0.3, -0.4])  # norm 0.5
    assert exact_w1(x, x + d) == pytest.approx(0.5, rel=1e-6)
    assert exact_w1(torch.tensor(x), torch.tensor(x + 3 * d)) == pytest.approx(1.5, rel=1e-6)


def test_w1_of_a_cloud_with_itself_is_zero():
    x = np.random.default_rng(1).normal(size=(200, 2))
    perm = np.random.default_rng(2).permutation(200)
    assert exact_w1(x, x[perm]) == pytest.approx(0.0, abs=1e-12)


def test_w1_two_point_case_by_hand():
    # x = {(0,0), (1,0)}, y = {(0,1), (3,0)}. Plans: pair (0,0)-(0,1) and (1,0)-(3,0):
    # (1 + 2)/2 = 1.5; the crossed plan: (3 + sqrt(2))/2 > 1.5.  W1 = 1.5.
    x = np.array([[0.0, 0.0], [1.0, 0.0]])
    y = np.array([[0.0, 1.0], [3.0, 0.0]])
    assert exact_w1(x, y) == pytest.approx(1.5, rel=1e-12)
    # One point against two: everything moves from (0,0): (1 + 3)/2 = 2.
    assert exact_w1(x[:1], y) == pytest.approx(2.0, rel=1e-12)
    assert not math.isclose(exact_w1(x, y), (3 + math.sqrt(2)) / 2)


def test_metrics_are_declared():
    assert catalog.direction("w1") == "lower"
    assert catalog.direction("modes") == "higher"
    assert catalog.direction("hq_pct") == "higher"
    assert catalog.info("critic_gap") is not None and catalog.direction("critic_gap") is None
