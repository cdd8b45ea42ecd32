"""The dual task's direction metrics (Korotin et al. 2022, Wasserstein-1 benchmark): does the
critic's gradient point along the true transport direction, not only reach the value?

An optimal critic of ``max E_P[f] - E_Q[f]`` over 1-Lipschitz f has, at a point x of P that
an optimal plan sends to T(x), the gradient ``g*(x) = (x - T(x)) / ||x - T(x)||``: f rises
by exactly ``||x - T(x)||`` from T(x) to x. So, on held-out points of P:

* Gaussian translation (P = N(delta, S), Q = N(0, S)): T(x) = x - delta, and
  ``g* = delta / ||delta||`` everywhere; every held-out P point is used;
* pairs whose W1 is solved by exact OT: T is the exact plan (POT ``ot.emd``; with equal
  weights it is a permutation) between the first ``n = min(pair.n_ot, n_heldout)``
  held-out points of P and of Q, so ``g*(p_i) = (p_i - q_sigma(i)) / ||p_i - q_sigma(i)||``.
  The plan of a finite sample is itself a sample: this direction is noisy, and its
  agreement with any critic is below 1 even for the population optimum. The permutation
  depends on the pair and the run's seed only, and is cached under
  ``$LIPBENCH_CACHE/dual_truth/``.

Outputs, over those points: ``dual_grad_cos``, the mean cosine between ``grad f(x)`` and
``g*(x)`` (1 = the critic moves mass the right way; a zero gradient counts 0), and
``dual_grad_l2``, the root mean square of ``||grad f(x) - g*(x)||`` (0 = the optimal
gradient, norm included; a 1-Lipschitz critic pointing the right way but flatter than
1 shows here and not in the cosine). Sign convention: the estimate is E_P f - E_Q f, so
the optimum rises from Q towards P. Computed at the final evaluation.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np

from lipbench.metrics.catalog import FINAL, HIGHER, LOWER, output, register_metric

CHUNK = 1024


def _gradients(critic, x, device):
    """grad_x f at every row of ``x`` (critic in eval mode, restored; no parameter grads)."""
    import torch

    from lipbench.metrics.lipschitz_bounds import preserved
    from lipbench.models.modes import eval_mode

    out = []
    with preserved(critic), eval_mode(critic), torch.enable_grad():
        for i in range(0, len(x), CHUNK):
            xb = x[i : i + CHUNK].detach().to(device).clone().requires_grad_(True)
            (g,) = torch.autograd.grad(critic(xb).sum(), xb)
            out.append(g.detach().double().cpu())
    return torch.cat(out).numpy()


def direction_scores(grads: np.ndarray, target: np.ndarray) -> dict:
    """``dual_grad_cos`` and ``dual_grad_l2`` of gradients against unit target directions (rows)."""
    norms = np.linalg.norm(grads, axis=1)
    dots = np.einsum("ij,ij->i", grads, target)
    cos = np.where(norms > 0, dots / np.where(norms > 0, norms, 1.0), 0.0)
    l2 = np.sqrt(np.mean(np.sum((grads - target) ** 2, axis=1)))
    return {"dual_grad_cos": float(cos.mean()), "dual_grad_l2": float(l2)}


def exact_plan(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """sigma with the exact W1 plan between the uniform measures on p and q sending p_i to
    q_sigma(i) (POT ``ot.emd``: a permutation matrix for equal sizes)."""
    import ot
    from scipy.spatial.distance import cdist

    n = len(p)
    plan = ot.emd(np.full(n, 1.0 / n), np.full(n, 1.0 / n), cdist(p, q), numItermax=10_000_000)
    return np.asarray(plan.argmax(axis=1))


def _cached_plan(run, p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """:func:`exact_plan`, cached per pair config, seed and sample size."""
    from filelock import FileLock

    from lipbench.data.images import cache_root

    pair_cfg = run.spec.pair if run.spec is not None else {}
    blob = json.dumps({"v": 1, "pair": pair_cfg, "seed": run.seed, "n": len(p)}, sort_keys=True, default=str)
    path = Path(cache_root()) / "dual_truth" / f"plan-{hashlib.sha256(blob.encode()).hexdigest()[:16]}.npy"
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path) + ".lock"):
        if path.exists():
            try:
                sigma = np.load(path)
                if sigma.shape == (len(p),):
                    return sigma
            except (OSError, ValueError):
                pass  # a torn file: solve again
        sigma = exact_plan(p, q)
        np.save(path, sigma)
    return sigma


def true_directions(run, p, q):
    """``(points, unit directions)``: the held-out P points and g* there (module docstring)."""
    pair = run.data
    if pair.info.get("kind") == "gaussian":
        delta = np.asarray(pair.info["delta"], dtype=np.float64)
        return p, np.broadcast_to(delta / np.linalg.norm(delta), (len(p), len(delta)))
    n = min(len(p), int(run.spec.pair["n_ot"])) if run.spec is not None and "n_ot" in run.spec.pair else len(p)
    ps, qs = p[:n].double().numpy(), q[:n].double().numpy()
    moves = ps - qs[_cached_plan(run, ps, qs)]
    lengths = np.linalg.norm(moves, axis=1)
    keep = lengths > 0
    return p[:n][keep], moves[keep] / lengths[keep, None]


@register_metric(
    "dual_direction",
    kinds={"dual": FINAL},
    order=85,
    outputs=(
        output(
            "dual_grad_cos",
            HIGHER,
            "mean cosine between grad f and the true transport direction (x - T(x)) / |x - T(x)| "
            "on held-out P points (1 = the right direction everywhere)",
            target=1.0,
            table=True,
        ),
        output(
            "dual_grad_l2",
            LOWER,
            "root mean square of |grad f - (x - T(x)) / |x - T(x)|| on held-out P points (0 = the optimal gradient)",
            target=0.0,
            table=True,
        ),
    ),
)
def dual_direction(ev, params) -> dict:
    """The critic's gradient against the true transport direction (module docstring)."""
    points, target = true_directions(ev.run, ev.real, ev.fake)
    if len(points) == 0:
        return {"dual_grad_cos": math.nan, "dual_grad_l2": math.nan}
    scores = direction_scores(_gradients(ev.critic, points, ev.run.device), np.asarray(target))
    return scores, {"direction": {"n_points": int(len(points)), "pair": ev.run.data.label}}
