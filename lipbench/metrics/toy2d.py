"""Exact metrics for 2-D toy data, where the true distribution is known.

* :func:`mode_stats` -- modes captured and the share of high-quality samples, as in
  VEEGAN (Srivastava et al. 2017) and PacGAN (Lin et al. 2018): a sample is of high
  quality when it lies within ``n_std`` standard deviations (Euclidean distance) of its
  nearest mode, and a mode counts as captured when at least ``min_count`` high-quality
  samples fall on it.
* :func:`exact_w1` -- the exact Wasserstein-1 distance between two equal-weight point
  clouds, solved as a linear program by POT's network simplex (``ot.emd2``).

``critic_gap`` (the critic's own estimate E[D(real)] - E[D(fake)]) is declared here so
that all 2-D metric names live together; the evaluator computes it from the critic.
"""

from __future__ import annotations

import numpy as np

from lipbench.errors import DataError
from lipbench.metrics.catalog import HIGHER, LOWER, declare

declare("w1", LOWER, "exact Wasserstein-1 between generated and true samples (POT ot.emd2, Euclidean cost)")
declare("modes", HIGHER, "number of mixture modes with at least eval.mode_min_count high-quality samples")
declare("hq_pct", HIGHER, "percentage of samples within 3 std (Euclidean) of their nearest mode")
declare("critic_gap", None, "critic's estimate E[D(real)]-E[D(fake)] of W1")


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


def mode_stats(samples, centers, std, n_std: float = 3.0, min_count: int = 20) -> dict:
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
