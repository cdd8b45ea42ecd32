"""Evaluation of the dual task: the critic's held-out W1 estimate against the exact W1.

:class:`DualEvaluator` draws the held-out samples once, when the run is built, from the
pair's ``heldout`` split with a generator seeded by ``stream_seed(seed, "dual-heldout")``
(the training batches come from the ``train`` split and the run's data generator, seeded
with the plain seed), so no held-out point is ever a training point. The exact W1 is the
pair's closed form, or exact OT on held-out samples drawn from streams seeded by the pair
alone (``pair_seed``), solved once per pair config and cached under
``$LIPBENCH_CACHE/dual_truth/`` (a file lock keeps parallel jobs from solving it twice).

At every evaluation it computes the held-out estimate and its standard error; at the end,
also the Lipschitz bounds (:func:`lipbench.metrics.lipschitz.lipschitz_report`) and, for
2-D pairs, the critic's value surface (samples_final.png, final_samples.npz).
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np
import torch
from omegaconf import OmegaConf

from lipbench.data.pairs import Pair, stream_seed
from lipbench.metrics.dual import critic_values, dual_estimate, ot_truth, tightness
from lipbench.metrics.lipschitz import lipschitz_report
from lipbench.train import record
from lipbench.viz import draw_critic_panel

TRUTH_VERSION = 1  # bump when the truth's sampling changes, to invalidate cached solves


class _EvalMode:
    """Eval mode (no SN power-iteration updates) inside, the previous flags restored after."""

    def __init__(self, module):
        self.module = module

    def __enter__(self):
        self.flags = [(m, m.training) for m in self.module.modules()]
        self.module.eval()

    def __exit__(self, *exc):
        for m, flag in self.flags:
            m.training = flag


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


class DualEvaluator:
    """Held-out estimate, truth and Lipschitz report of a dual-task critic (see module doc)."""

    def __init__(self, cfg, pair: Pair, run_dir, device):
        self.pair, self.run_dir, self.device = pair, Path(run_dir), device
        self.seed, self.grad_samples = int(cfg.seed), int(cfg.eval.grad_samples)
        self.resolution = int(cfg.eval.surface_resolution)
        pair_cfg = OmegaConf.to_container(cfg.pair, resolve=True)
        gen = torch.Generator().manual_seed(stream_seed(self.seed, "dual-heldout"))
        self.p, self.q = pair.sample("heldout", int(pair_cfg["n_heldout"]), gen, coupled=True)
        self.truth = exact_truth(pair, pair_cfg)

    def evaluate(self, critic, step: int, final: bool):
        """``(metrics, diagnostics)``; the Lipschitz report and pictures only when ``final``."""
        with _EvalMode(critic):
            f_p = critic_values(critic, self.p, self.device)
            f_q = critic_values(critic, self.q, self.device)
        est, se = dual_estimate(f_p, f_q)
        w1, w1_se = float(self.truth["w1_true"]), float(self.truth["w1_true_se"])
        metrics = {"dual_estimate": est, "dual_estimate_se": se, "w1_true": w1, "w1_true_se": w1_se}
        if self.truth.get("w1_bias_gauge") is not None:
            metrics["w1_bias_gauge"] = float(self.truth["w1_bias_gauge"])
        metrics.update(tightness(est, se, w1, w1_se) if math.isfinite(est) else {"dual_tightness": math.nan})
        diagnostics = {}
        if final and math.isfinite(est):
            g = self.grad_samples
            gen = torch.Generator().manual_seed(stream_seed(self.seed, "dual-lipschitz"))
            lip, diagnostics = lipschitz_report(critic, self.p[:g].to(self.device), self.q[:g].to(self.device),
                                                (self.pair.dim,), generator=gen)
            metrics.update(lip)
            upper = lip.get("lip_upper")
            if isinstance(upper, float) and math.isfinite(upper) and upper > 0:
                metrics["dual_tightness_normalized"] = est / (upper * w1)
            diagnostics["truth"] = self.truth
            if self.pair.is_2d:
                self._picture(critic)
        return metrics, diagnostics

    @torch.no_grad()
    def _surface(self, critic, points):
        lo, hi = points.min(0).values.numpy(), points.max(0).values.numpy()
        pad = 0.15 * float((hi - lo).max())
        xs = np.linspace(lo[0] - pad, hi[0] + pad, self.resolution)
        ys = np.linspace(lo[1] - pad, hi[1] + pad, self.resolution)
        grid = torch.tensor(np.stack(np.meshgrid(xs, ys), -1).reshape(-1, 2), dtype=torch.float32)
        with _EvalMode(critic):
            values = critic_values(critic, grid, self.device).reshape(len(ys), len(xs)).numpy()
        return xs, ys, values

    def _picture(self, critic, n: int = 2000):
        p, q = self.p[:n], self.q[:n]
        sx, sy, values = self._surface(critic, torch.cat([p, q]))
        save_pair_surface(self.run_dir / "samples_final.png", p.numpy(), q.numpy(), sx, sy, values,
                          f"{self.pair.label}, critic value")
        np.savez_compressed(self.run_dir / "final_samples.npz", real=p.numpy(), fake=q.numpy(),
                            surface_x=sx, surface_y=sy, surface_values=values)


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
