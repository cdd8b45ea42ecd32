"""Evaluation of the dual task: the critic's held-out W1 estimate against the exact W1.

:class:`DualEvaluator` draws the held-out samples once, when the run is built, from the
pair's ``heldout`` split with a generator seeded by ``stream_seed(seed, "dual-heldout")``
(the training batches come from the ``train`` split and the run's data generator, seeded
with the plain seed), so no held-out point is ever a training point. The exact W1 is the
pair's closed form, or exact OT on held-out samples drawn from streams seeded by the pair
alone (``pair_seed``), solved once per pair config and cached under
``$LIPBENCH_CACHE/dual_truth/`` (a file lock keeps parallel jobs from solving it twice).

At every evaluation it computes the critic's values on the held-out samples and runs the
selected metrics (by default the held-out estimate with its standard error and ratio to
W1, :mod:`lipbench.metrics.dual`); at the end, also the final-only ones (the Lipschitz
bounds, :mod:`lipbench.metrics.lipschitz_metric`, and the normalized ratio) and, for 2-D
pairs, the critic's value surface (samples_final.png, final_samples.npz).
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np
import torch

from lipbench import record
from lipbench.dual.pairs import Pair, stream_seed
from lipbench.evaluate import Evaluator
from lipbench.evaluate.metric_set import MetricSet, params_from
from lipbench.evaluate.options import DualOptions
from lipbench.metrics.catalog import FINAL
from lipbench.metrics.context import Evaluation, RunContext
from lipbench.metrics.dual import ot_truth
from lipbench.models.modes import eval_mode
from lipbench.viz import draw_critic_panel

TRUTH_VERSION = 1  # bump when the truth's sampling changes, to invalidate cached solves


@torch.no_grad()
def critic_values(critic: torch.nn.Module, x: torch.Tensor, device, chunk: int = 4096) -> torch.Tensor:
    """f(x) for every row of ``x`` as a float64 CPU tensor (the caller sets eval mode)."""
    out = [critic(x[i : i + chunk].to(device)).reshape(-1).double().cpu() for i in range(0, len(x), chunk)]
    return torch.cat(out)


def _cache_dir() -> Path:
    from lipbench.data.images import cache_root

    return Path(cache_root()) / "dual_truth"


def exact_truth(pair: Pair, pair_cfg: dict) -> dict:
    """W1 of the pair: its closed form, or exact OT on held-out samples (cached per pair config)."""
    if pair.w1_closed_form is not None:
        return {"w1_true": pair.w1_closed_form, "w1_true_se": 0.0, "w1_method": "closed form (W1 = ||delta||)"}
    seed = int(pair_cfg.get("pair_seed", 0))
    n, repeats = int(pair_cfg["n_ot"]), int(pair_cfg["ot_repeats"])
    blob = json.dumps({"v": TRUTH_VERSION, "pair": pair_cfg}, sort_keys=True, default=str)
    path = _cache_dir() / f"{pair.label}-{hashlib.sha256(blob.encode()).hexdigest()[:16]}.json"

    def sample(size, r):
        gen = torch.Generator().manual_seed(stream_seed(seed, "dual-truth", r))
        return pair.sample("heldout", size, gen, coupled=True)

    from filelock import FileLock

    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path) + ".lock"):
        if path.exists():
            try:
                return record.read_json(path)
            except (OSError, ValueError):
                pass  # a torn cache file: solve again
        truth = ot_truth(sample, n, repeats)
        record.write_json(path, truth)
    return truth


class DualEvaluator(Evaluator):
    """Held-out estimate, truth and Lipschitz report of a dual-task critic (see module doc).

    It names no primary metric: any NaN metric means the run diverged, and the run is judged
    by the time its estimate took to reach 95% of its final value, not by the plateau rule."""

    shown_metric = "dual_estimate"

    def __init__(self, spec, pair: Pair, run_dir, device):
        self.pair, self.run_dir, self.device = pair, Path(run_dir), device
        self.seed = spec.seed
        self.opt = params_from(spec.eval, DualOptions)
        self.grad_samples, self.resolution = int(self.opt.grad_samples), int(self.opt.surface_resolution)
        gen = torch.Generator().manual_seed(stream_seed(self.seed, "dual-heldout"))
        self.p, self.q = pair.sample("heldout", int(spec.pair["n_heldout"]), gen, coupled=True)
        self.truth = exact_truth(pair, spec.pair)
        self.run = RunContext("dual", pair, (pair.dim,), self.seed, device, self.run_dir, self.opt, spec)
        self.metric_set = MetricSet(self.run, spec.eval)
        self.metric_set.require("dual_estimate", "the held-out estimate: divergence check, time to 95%")

    def evaluate(self, critic, step: int, final: bool):
        """``(metrics, diagnostics)``; the final-only metrics (Lipschitz report) and pictures
        only when ``final`` and the critic's values are finite."""
        with eval_mode(critic):
            values = (critic_values(critic, self.p, self.device), critic_values(critic, self.q, self.device))
        rng = torch.Generator().manual_seed(stream_seed(self.seed, "dual-lipschitz"))
        ev = Evaluation(self.run, step, final, critic, self.p, self.q, rng, critic_values=values, truth=self.truth)
        diagnostics = self.metric_set.run(ev)
        if final and math.isfinite(ev.metrics["dual_estimate"]):
            diagnostics.update(self.metric_set.run(ev, FINAL))
            diagnostics["truth"] = self.truth
            if self.pair.is_2d:
                self._picture(critic)
        if final:
            diagnostics.update(self.metric_set.info())
        return ev.metrics, diagnostics

    @torch.no_grad()
    def _surface(self, critic, points):
        lo, hi = points.min(0).values.numpy(), points.max(0).values.numpy()
        pad = 0.15 * float((hi - lo).max())
        xs = np.linspace(lo[0] - pad, hi[0] + pad, self.resolution)
        ys = np.linspace(lo[1] - pad, hi[1] + pad, self.resolution)
        grid = torch.tensor(np.stack(np.meshgrid(xs, ys), -1).reshape(-1, 2), dtype=torch.float32)
        with eval_mode(critic):
            values = critic_values(critic, grid, self.device).reshape(len(ys), len(xs)).numpy()
        return xs, ys, values

    def _picture(self, critic, n: int = 2000):
        p, q = self.p[:n], self.q[:n]
        sx, sy, values = self._surface(critic, torch.cat([p, q]))
        save_pair_surface(
            self.run_dir / record.SURFACE, p.numpy(), q.numpy(), sx, sy, values, f"{self.pair.label}, critic value"
        )
        np.savez_compressed(
            self.run_dir / record.SAMPLES,
            real=p.numpy(),
            fake=q.numpy(),
            surface_x=sx,
            surface_y=sy,
            surface_values=values,
        )


def save_pair_surface(path, p, q, sx, sy, values, title):
    """P (orange) and Q (blue) over the critic's value contours, as in WGAN-GP Figure 1a."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.2, 4))
    cs = draw_critic_panel(ax, p, q, sx, sy, values, title)
    fig.colorbar(cs, ax=ax, fraction=0.046, pad=0.04, label="critic value f(x)")
    handles, _ = ax.get_legend_handles_labels()
    ax.legend(handles, ["P", "Q = P + noise"], loc="upper right", fontsize=7, markerscale=3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
