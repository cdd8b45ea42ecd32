"""Evaluation on image data: the selected metrics (by default torch-fidelity FID / KID / IS
with the domain classifier's and Inception's features, precision/recall, the sampling
floor, and the critic's Lipschitz diagnostics; see :mod:`lipbench.metrics.fidelity_metric`) and an
8x8 grid of samples from fixed noise.

Its own keys (``spec.eval``, each with a default when missing; :class:`ImageOptions`):
``fid_samples`` (10000, generated images at the final evaluation), ``fid_samples_during``
(1000, at intermediate ones), ``fidelity_batch_size`` (200), ``grad_samples`` (256).
"""

from __future__ import annotations

from pathlib import Path

import torch

from lipbench import record
from lipbench.evaluate import EVALUATORS, Evaluator
from lipbench.evaluate.metric_set import MetricSet, params_from
from lipbench.evaluate.options import ImageOptions
from lipbench.metrics.context import Evaluation, RunContext
from lipbench.metrics.fidelity_metric import FidelityParams
from lipbench.models.modes import eval_mode

GRID = 64  # 8 x 8 sample grid


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    """Images in [-1, 1] -> uint8 in [0, 255] (clamped, rounded)."""
    return x.detach().float().clamp(-1, 1).add(1).mul(127.5).round().to(torch.uint8)


@EVALUATORS.register("image")
class ImageEvaluator(Evaluator):
    """Built once per run; ``evaluate`` is called at each evaluation point."""

    def __init__(self, spec, data, run_dir, device):
        self.data, self.run_dir, self.device = data, Path(run_dir), torch.device(device)
        self.seed = spec.seed
        self.opt = params_from(spec.eval, ImageOptions)
        self.run = RunContext("image", data, tuple(data.shape), self.seed, self.device, self.run_dir, self.opt, spec)
        self.metric_set = MetricSet(self.run, spec.eval)
        self.real = data.sample(int(self.opt.grad_samples), torch.Generator().manual_seed(10_007 + self.seed))
        extractors = params_from(spec.eval, FidelityParams).extractors
        self.primary_metric = f"fid_{extractors[0]}" if extractors else None
        self.floor_metric = f"fid_floor_{extractors[0]}" if extractors else None
        if self.primary_metric is not None:
            self.metric_set.require(self.primary_metric, "its primary metric: divergence check, plateau rule")
        # FID is biased by the sample size: the plateau rule compares evaluations of one size only
        self.comparable_by = "fid_n"

    def _generate(self, G, n, gen):
        """``n`` samples as uint8 (CPU), plus the first ``grad_samples`` as float."""
        bs, g = int(self.opt.fidelity_batch_size), int(self.opt.grad_samples)
        images, floats = [], []
        for start in range(0, n, bs):
            z = torch.randn(min(bs, n - start), G.z_dim, generator=gen).to(self.device)
            x = G(z).float().cpu()
            if sum(len(f) for f in floats) < g:
                floats.append(x)
            images.append(to_uint8(x) if torch.isfinite(x).all() else None)
        fake = torch.cat(floats)[:g]
        return (None if any(i is None for i in images) else torch.cat(images)), fake

    def evaluate(self, G, D, step, final):
        o = self.opt
        n = int(o.fid_samples if final else o.fid_samples_during)
        with eval_mode(G), torch.no_grad():
            # fixed noise streams: every evaluation of a run sees the same z
            fake_u8, fake = self._generate(G, n, torch.Generator().manual_seed(7_919 * (self.seed + 1)))
            grid = G(torch.randn(GRID, G.z_dim, generator=torch.Generator().manual_seed(self.seed)).to(self.device))
        name = record.grid_picture(step, final)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        from torchvision.utils import save_image  # torchvision's import takes seconds; only image runs need it

        save_image(grid.float().cpu().clamp(-1, 1) * 0.5 + 0.5, str(self.run_dir / name), nrow=8, padding=2)
        self.picture = self.run_dir / name

        rng = torch.Generator().manual_seed(31 * (self.seed + 1) + step)
        ev = Evaluation(self.run, step, final, D, self.real, fake, rng, generator=G, images_u8=fake_u8, n_generated=n)
        diagnostics = self.metric_set.run(ev)
        if final:
            diagnostics.update(self.metric_set.info())
        return ev.metrics, diagnostics
