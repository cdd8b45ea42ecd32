"""Evaluation on known 2-D distributions: the selected metrics (by default exact W1 and
its sampling floor, modes and high-quality share, the critic's own W1 estimate, Lipschitz
diagnostics; see :mod:`lipbench.metrics.toy2d`) and a picture of the samples over the
critic's value surface.

Every evaluation draws its generated points from a stream seeded by the run's seed and
the step, the same for every selection of metrics; the Lipschitz pair search continues
that stream. The true points are drawn once per run.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from lipbench import record
from lipbench.evaluate import EVALUATORS, Evaluator
from lipbench.evaluate.metric_set import MetricSet, params_from
from lipbench.evaluate.options import Toy2DOptions
from lipbench.metrics.context import Evaluation, RunContext
from lipbench.models.modes import eval_mode
from lipbench.viz import save_critic_figure


@EVALUATORS.register("toy2d")
class Toy2DEvaluator(Evaluator):
    primary_metric = "w1"  # lower is better; the plateau rule and time-to-quality read it
    floor_metric = "w1_floor"

    def __init__(self, spec, data, run_dir, device):
        self.data, self.run_dir, self.device = data, Path(run_dir), device
        self.seed = spec.seed
        self.opt = o = params_from(spec.eval, Toy2DOptions)
        self.real = data.sample(max(o.w1_samples, o.grad_samples), torch.Generator().manual_seed(10_007 + self.seed))
        self.run = RunContext("toy2d", data, tuple(data.shape), self.seed, device, self.run_dir, o, spec)
        self.metric_set = MetricSet(self.run, spec.eval)
        self.metric_set.require(self.primary_metric, "its primary metric: divergence check, plateau rule")

    def _generate(self, G, n, gen):
        z = torch.randn(n, G.z_dim, generator=gen).to(self.device)
        return G(z).float().cpu()

    @torch.no_grad()
    def _surface(self, D, points):
        lo, hi = points.min(0).values.numpy(), points.max(0).values.numpy()
        pad = 0.15 * (hi - lo).max()
        r = int(self.opt.surface_resolution)
        xs, ys = np.linspace(lo[0] - pad, hi[0] + pad, r), np.linspace(lo[1] - pad, hi[1] + pad, r)
        grid = torch.tensor(np.stack(np.meshgrid(xs, ys), -1).reshape(-1, 2), dtype=torch.float32)
        values = D(grid.to(self.device)).reshape(r, r).float().cpu().numpy()
        return xs, ys, values

    def evaluate(self, G, D, step, final):
        o = self.opt
        gen = torch.Generator().manual_seed(1_000_003 * (self.seed + 1) + step)
        with eval_mode(G, D):
            with torch.no_grad():
                fake = self._generate(G, max(o.n_samples, o.w1_samples, o.grad_samples), gen)
            ev = Evaluation(self.run, step, final, D, self.real, fake, gen, generator=G)
            diagnostics = self.metric_set.run(ev)
            self._picture(D, fake, step, final)
        if final:
            diagnostics.update(self.metric_set.info())
        return ev.metrics, diagnostics

    def _picture(self, D, fake, step, final):
        self.picture = None
        if not torch.isfinite(fake).all():
            return
        real = self.real[: self.opt.n_samples]
        sx, sy, values = self._surface(D, torch.cat([real, fake[: len(real)]]))
        name = record.samples_picture(step, final)
        title = f"{self.data.name}, step {step}"
        save_critic_figure(self.run_dir / name, real.numpy(), fake.numpy(), sx, sy, values, title)
        self.picture = self.run_dir / name
        if final:
            np.savez_compressed(
                self.run_dir / record.SAMPLES,
                real=real.numpy(),
                fake=fake[: len(real)].numpy(),
                surface_x=sx,
                surface_y=sy,
                surface_values=values,
            )
