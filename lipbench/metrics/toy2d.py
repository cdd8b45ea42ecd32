"""Exact metrics for 2-D toy data, where the true distribution is known.

* :func:`mode_stats` -- modes captured and the share of high-quality samples, as in
  VEEGAN (Srivastava et al. 2017) and PacGAN (Lin et al. 2018): a sample is of high
  quality when it lies within ``n_std`` standard deviations (Euclidean distance) of its
  nearest mode, and a mode counts as captured when at least ``min_count`` high-quality
  samples fall on it.
* :func:`exact_w1` -- the exact Wasserstein-1 distance between two equal-weight point
  clouds, solved as a linear program by POT's network simplex (``ot.emd2``).
* :func:`sampling_floor` -- the exact W1 between two independent samples of the true
  distribution: what a perfect generator scores.

The 2-D metric plug-ins (:mod:`lipbench.metrics.catalog`) live here too: ``w1`` (exact W1,
its floor and ``w1_excess = w1 / w1_floor``), ``modes`` (modes and high-quality share) and
``critic_gap`` (the critic's own estimate E[D(real)] - E[D(fake)] of W1).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from lipbench.errors import DataError, require
from lipbench.metrics.catalog import HIGHER, LOWER, output, register_metric


def _as_points(a, what: str, dim: int | None = None) -> np.ndarray:
    """A float64 (n, d) numpy array from a numpy array or a (possibly CUDA) torch tensor."""
    if hasattr(a, "detach"):
        a = a.detach().cpu().numpy()
    a = np.asarray(a, dtype=np.float64)
    if a.ndim != 2 or (dim is not None and a.shape[1] != dim):
        want = f"(n, {dim})" if dim is not None else "(n, d)"
        raise DataError(f"{what}: expected an array of shape {want}, got shape {a.shape}")
    if a.shape[0] == 0:
        raise DataError(f"{what}: is empty, need at least one point")
    return a


def mode_stats(samples, centers, std, *, n_std: float = 3.0, min_count: int = 20) -> dict:
    """Modes captured and percentage of high-quality samples.

    Args:
        samples: (n, 2) generated points (numpy array or torch tensor).
        centers: (K, 2) mode centres of the true mixture.
        std: standard deviation of each (isotropic) mixture component.
        n_std: a sample is high quality when its distance to the nearest centre is
            at most ``n_std * std``.
        min_count: a mode is captured when at least this many high-quality samples
            have it as their nearest centre.

    Returns:
        ``{"modes": int, "hq_pct": float}`` with ``hq_pct`` in [0, 100].
    """
    if std is None or not np.isfinite(std) or std <= 0:
        raise DataError(f"mode_stats: std must be a positive number, got {std!r}")
    x = _as_points(samples, "mode_stats samples", 2)
    c = _as_points(centers, "mode_stats centers", 2)
    # (n, K) distances; n is a few thousand and K at most a few dozen.
    dist = np.linalg.norm(x[:, None, :] - c[None, :, :], axis=-1)
    nearest = dist.argmin(axis=1)
    hq = dist[np.arange(len(x)), nearest] <= n_std * std
    counts = np.bincount(nearest[hq], minlength=len(c))
    return {"modes": int((counts >= min_count).sum()), "hq_pct": float(100.0 * hq.mean())}


def exact_w1(x, y, num_iter_max: int = 1_000_000) -> float:
    """Exact W1 between the uniform distributions on point clouds ``x`` (n, d) and ``y`` (m, d).

    The ground cost is the Euclidean distance, computed directly from coordinate
    differences in float64 (not via the |x|^2 + |y|^2 - 2xy expansion, which loses
    precision for nearby points). ``n`` and ``m`` may differ; each cloud then carries
    weights 1/n and 1/m.
    """
    import ot  # POT; imported lazily so that importing the catalog stays cheap

    a_pts = _as_points(x, "exact_w1 x")
    b_pts = _as_points(y, "exact_w1 y", a_pts.shape[1])
    cost = np.sqrt(((a_pts[:, None, :] - b_pts[None, :, :]) ** 2).sum(axis=-1))
    a = np.full(len(a_pts), 1.0 / len(a_pts))
    b = np.full(len(b_pts), 1.0 / len(b_pts))
    return float(ot.emd2(a, b, cost, numItermax=int(num_iter_max)))


# exact W1 of floor sample pairs already solved in this process, by the digest of both samples:
# the runs of a sweep that a worker process runs one after another share their floors
_FLOOR_W1: dict = {}


def sampling_floor(data, n: int, *, pairs: int, seed: int):
    """``(mean, std)`` of the exact W1 between two independent ``n``-point samples of ``data``,
    over ``pairs`` pairs (std 0 for one pair), from streams no other part of a run uses."""
    import torch

    values = []
    for k in range(pairs):
        a = data.sample(n, torch.Generator().manual_seed(20_011 + 7_919 * seed + 2 * k)).numpy()
        b = data.sample(n, torch.Generator().manual_seed(20_011 + 7_919 * seed + 2 * k + 1)).numpy()
        key = hashlib.sha256(np.ascontiguousarray(a).tobytes() + np.ascontiguousarray(b).tobytes()).hexdigest()
        if key not in _FLOOR_W1:
            _FLOOR_W1[key] = exact_w1(a, b)
        values.append(_FLOOR_W1[key])
    return float(np.mean(values)), float(np.std(values, ddof=1)) if pairs > 1 else 0.0


# ----------------------------------------------------------------------------- plug-ins
@dataclass
class W1Params:
    floor_pairs: int = 3  # pairs of true samples averaged for the floor

    def __post_init__(self):
        require(self.floor_pairs, "eval.floor_pairs", at_least=1)


@register_metric(
    "w1",
    kinds=("toy2d",),
    params=W1Params,
    order=10,
    outputs=(
        output(
            "w1",
            LOWER,
            "exact Wasserstein-1 between generated and true samples (POT ot.emd2, Euclidean cost)",
            table=True,
        ),
        output(
            "w1_floor",
            None,
            "sampling floor: exact W1 between two independent true samples of eval.w1_samples "
            "points (mean over eval.floor_pairs pairs)",
            table=True,
        ),
        output("w1_floor_std", None, "standard deviation of the W1 floor over its eval.floor_pairs pairs"),
        output("w1_excess", LOWER, "w1 / w1_floor: 1 = as close as two samples of the true distribution", table=True),
    ),
)
class W1:
    """Exact W1 of ``eval.w1_samples`` generated against as many true points, and its floor."""

    def __init__(self, run, params: W1Params):
        self.n = int(run.options.w1_samples)
        self.floor, self.floor_std = sampling_floor(run.data, self.n, pairs=int(params.floor_pairs), seed=run.seed)

    def __call__(self, ev) -> dict:
        fake = ev.fake.numpy()
        w1 = exact_w1(fake[: self.n], ev.real[: self.n].numpy()) if np.isfinite(fake).all() else float("nan")
        return {
            "w1": w1,
            "w1_floor": self.floor,
            "w1_floor_std": self.floor_std,
            "w1_excess": w1 / self.floor if self.floor > 0 else float("nan"),
        }


@dataclass
class ModesParams:
    mode_min_count: int = 20  # high-quality samples a mode needs to count as captured

    def __post_init__(self):
        require(self.mode_min_count, "eval.mode_min_count", at_least=0)


@register_metric(
    "modes",
    kinds=("toy2d",),
    params=ModesParams,
    order=20,
    outputs=(
        output(
            "modes",
            HIGHER,
            "number of mixture modes with at least eval.mode_min_count high-quality samples",
            table=True,
        ),
        output("hq_pct", HIGHER, "percentage of samples within 3 std (Euclidean) of their nearest mode", table=True),
    ),
)
def modes(ev, params: ModesParams) -> dict:
    """:func:`mode_stats` of ``eval.n_samples`` generated points (data with mode centres only)."""
    data = ev.run.data
    if data.centers is None:
        return {}
    fake = ev.fake[: int(ev.run.options.n_samples)].numpy()
    return mode_stats(fake, data.centers, data.std, min_count=params.mode_min_count)


@register_metric(
    "critic_gap",
    kinds=("toy2d",),
    order=30,
    outputs=(
        output("critic_gap", None, "critic's estimate E[D(real)]-E[D(fake)] of W1", table=True),
        output(
            "dual_ratio",
            None,
            "critic_gap / w1: how tight the critic's dual estimate of W1 is (1 = exact)",
            target=1.0,
            table=True,
        ),
    ),
)
def critic_gap(ev, params) -> dict:
    """E[D(real)] - E[D(fake)] over ``eval.w1_samples`` points each, and its ratio to ``w1``."""
    import torch

    n, device = int(ev.run.options.w1_samples), ev.run.device
    with torch.no_grad():
        d_real = ev.critic(ev.real[:n].to(device)).float().mean().item()
        d_fake = ev.critic(ev.fake[:n].to(device)).float().mean().item()
    gap, w1 = d_real - d_fake, ev.metrics.get("w1")
    return {"critic_gap": gap, "dual_ratio": gap / w1 if isinstance(w1, float) and w1 > 0 else None}
