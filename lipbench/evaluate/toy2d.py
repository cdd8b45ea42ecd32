"""Evaluation on known 2-D distributions: exact W1 and its sampling floor, modes and
high-quality share, the critic's own W1 estimate, Lipschitz diagnostics, and a picture of
the samples over the critic's value surface.

The floor ``w1_floor`` is the exact W1 between two independent samples of the true
distribution, each of ``eval.w1_samples`` points (the size the run's ``w1`` uses),
averaged over ``eval.floor_pairs`` pairs: a perfect generator scores about this much, so
``w1_excess = w1 / w1_floor`` is 1 at the floor. It is computed once per run, from
streams that no other part of the run uses.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from lipbench.evaluate import EVALUATORS
from lipbench.metrics.catalog import LOWER, declare
from lipbench.metrics.lipschitz import lipschitz_report
from lipbench.metrics.toy2d import exact_w1, mode_stats
from lipbench.viz import save_critic_figure

declare("dual_ratio", None, "critic_gap / w1: how tight the critic's dual estimate of W1 is (1 = exact)", target=1.0)
declare("w1_floor", None, "sampling floor: exact W1 between two independent true samples of eval.w1_samples points "
                          "(mean over eval.floor_pairs pairs)")
declare("w1_floor_std", None, "standard deviation of the W1 floor over its eval.floor_pairs pairs")
declare("w1_excess", LOWER, "w1 / w1_floor: 1 = as close as two samples of the true distribution")


def sampling_floor(data, n: int, pairs: int, seed: int):
    """``(mean, std)`` of the exact W1 between two independent ``n``-point samples of ``data``,
    over ``pairs`` pairs (std 0 for one pair)."""
    values = []
    for k in range(pairs):
        a = data.sample(n, torch.Generator().manual_seed(20_011 + 7_919 * seed + 2 * k))
        b = data.sample(n, torch.Generator().manual_seed(20_011 + 7_919 * seed + 2 * k + 1))
        values.append(exact_w1(a.numpy(), b.numpy()))
    return float(np.mean(values)), float(np.std(values, ddof=1)) if pairs > 1 else 0.0


class _EvalMode:
    """Put modules in eval mode (no SN power-iteration updates) and restore their modes."""

    def __init__(self, *modules):
        self.modules = modules

    def __enter__(self):
        self.modes = [m.training for m in self.modules]
        for m in self.modules:
            m.eval()

    def __exit__(self, *exc):
        for m, mode in zip(self.modules, self.modes):
            m.train(mode)


@EVALUATORS.register("toy2d")
class Toy2DEvaluator:
    primary_metric = "w1"  # lower is better; the plateau rule and time-to-quality read it
    floor_metric = "w1_floor"

    def __init__(self, cfg, data, run_dir, device):
        self.cfg, self.data, self.run_dir, self.device = cfg.eval, data, Path(run_dir), device
        self.seed = int(cfg.seed)
        n_real = max(self.cfg.w1_samples, self.cfg.grad_samples)
        self.real = data.sample(n_real, torch.Generator().manual_seed(10_007 + self.seed))
        self.floor, self.floor_std = sampling_floor(data, int(self.cfg.w1_samples), int(self.cfg.floor_pairs), self.seed)

    def _generate(self, G, n, gen):
        z = torch.randn(n, G.z_dim, generator=gen).to(self.device)
        return G(z).float().cpu()

    @torch.no_grad()
    def _surface(self, D, points):
        lo, hi = points.min(0).values.numpy(), points.max(0).values.numpy()
        pad = 0.15 * (hi - lo).max()
        r = int(self.cfg.surface_resolution)
        xs, ys = np.linspace(lo[0] - pad, hi[0] + pad, r), np.linspace(lo[1] - pad, hi[1] + pad, r)
        grid = torch.tensor(np.stack(np.meshgrid(xs, ys), -1).reshape(-1, 2), dtype=torch.float32)
        values = D(grid.to(self.device)).reshape(r, r).float().cpu().numpy()
        return xs, ys, values

    def evaluate(self, G, D, step, final):
        c = self.cfg
        gen = torch.Generator().manual_seed(1_000_003 * (self.seed + 1) + step)
        with _EvalMode(G, D):
            with torch.no_grad():
                fake = self._generate(G, max(c.n_samples, c.w1_samples, c.grad_samples), gen)
                d_real = D(self.real[: c.w1_samples].to(self.device)).float().mean().item()
                d_fake = D(fake[: c.w1_samples].to(self.device)).float().mean().item()
            metrics = {"w1": float("nan") if not torch.isfinite(fake).all() else
                       exact_w1(fake[: c.w1_samples].numpy(), self.real[: c.w1_samples].numpy())}
            metrics.update(w1_floor=self.floor, w1_floor_std=self.floor_std,
                           w1_excess=metrics["w1"] / self.floor if self.floor > 0 else float("nan"))
            metrics["critic_gap"] = d_real - d_fake
            metrics["dual_ratio"] = metrics["critic_gap"] / metrics["w1"] if metrics["w1"] > 0 else None
            if self.data.centers is not None:
                metrics.update(mode_stats(fake[: c.n_samples].numpy(), self.data.centers, self.data.std,
                                          min_count=c.mode_min_count))
            g = c.grad_samples
            lip_metrics, diagnostics = lipschitz_report(
                D, self.real[:g].to(self.device), fake[:g].to(self.device), self.data.shape, generator=gen)
            metrics.update(lip_metrics)
            self._picture(D, fake, step, final)
        return metrics, diagnostics

    def _picture(self, D, fake, step, final):
        self.picture = None
        if not torch.isfinite(fake).all():
            return
        real = self.real[: self.cfg.n_samples]
        sx, sy, values = self._surface(D, torch.cat([real, fake[: len(real)]]))
        name = "samples_final.png" if final else f"samples_step{step:06d}.png"
        title = f"{self.data.name}, step {step}"
        save_critic_figure(self.run_dir / name, real.numpy(), fake.numpy(), sx, sy, values, title)
        self.picture = self.run_dir / name
        if final:
            np.savez_compressed(self.run_dir / "final_samples.npz", real=real.numpy(), fake=fake[: len(real)].numpy(),
                                surface_x=sx, surface_y=sy, surface_values=values)
