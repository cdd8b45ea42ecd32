"""Evaluation on image data: torch-fidelity FID / KID / IS (domain classifier and
Inception features), precision/recall, Lipschitz diagnostics of the critic, and an 8x8
grid of samples from fixed noise.

Config keys (``cfg.eval``, each with a default when missing): ``fid_samples`` (10000,
final evaluation), ``fid_samples_during`` (1000, intermediate ones), ``ref_split``
(train|test), ``extractors`` ([domain, inception]), ``inception_weights`` (path or null),
``kid_subset_size`` (1000), ``prc`` (true), ``fidelity_batch_size`` (200),
``grad_samples`` (256).
"""

from __future__ import annotations

from pathlib import Path

import torch
from omegaconf import OmegaConf
from torchvision.utils import save_image

from lipbench.errors import ConfigError
from lipbench.evaluate import EVALUATORS
from lipbench.metrics.fidelity import EXTRACTORS, compute_fidelity, inception_weights_path
from lipbench.metrics.catalog import LOWER, declare
from lipbench.metrics.lipschitz import lipschitz_report

declare("fid_floor_*", None, "sampling floor: FID of the held-out real split (up to eval.fid_samples images) "
                             "against the reference split")
declare("fid_excess_*", LOWER, "fid / fid_floor: 1 = as close as held-out real images")
declare("fid_n", None, "number of generated images behind this evaluation's fidelity metrics")

DEFAULTS = dict(
    fid_samples=10000, fid_samples_during=1000, ref_split="train", extractors=list(EXTRACTORS),
    inception_weights=None, kid_subset_size=1000, prc=True, fidelity_batch_size=200, grad_samples=256,
)
GRID = 64  # 8 x 8 sample grid


def _eval_option(cfg, key):
    value = OmegaConf.select(cfg, f"eval.{key}", default=None) if OmegaConf.is_config(cfg) else None
    if value is None and not OmegaConf.is_config(cfg):
        value = getattr(getattr(cfg, "eval", None), key, None)
    if OmegaConf.is_config(value):
        value = OmegaConf.to_container(value)
    return DEFAULTS[key] if value is None else value


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    """Images in [-1, 1] -> uint8 in [0, 255] (clamped, rounded)."""
    return x.detach().float().clamp(-1, 1).add(1).mul(127.5).round().to(torch.uint8)


@EVALUATORS.register("image")
class ImageEvaluator:
    """Built once per run; ``evaluate`` is called at each evaluation point."""

    def __init__(self, cfg, data, run_dir, device):
        self.data, self.run_dir, self.device = data, Path(run_dir), torch.device(device)
        self.seed = int(OmegaConf.select(cfg, "seed", default=0) if OmegaConf.is_config(cfg) else getattr(cfg, "seed", 0))
        self.opt = {k: _eval_option(cfg, k) for k in DEFAULTS}
        o = self.opt
        o["extractors"] = [o["extractors"]] if isinstance(o["extractors"], str) else list(o["extractors"])
        bad = [e for e in o["extractors"] if e not in EXTRACTORS]
        if bad:
            raise ConfigError(f"eval.extractors={o['extractors']}: unknown {bad}; allowed: {', '.join(EXTRACTORS)}")
        if o["ref_split"] not in ("train", "test"):
            raise ConfigError(f"eval.ref_split={o['ref_split']}: allowed train, test")
        if o["ref_split"] == "test" and data.test_images is None:
            raise ConfigError(f"eval.ref_split=test: data set {data.key} has no test split; use train")
        for key in ("fid_samples", "fid_samples_during", "fidelity_batch_size", "grad_samples", "kid_subset_size"):
            if int(o[key]) < 2:
                raise ConfigError(f"eval.{key}={o[key]}: must be >= 2")
        # Settle the slow or failing parts before training: train (or load) the domain
        # classifier, check the Inception weights (one message when unavailable).
        if "domain" in o["extractors"]:
            from lipbench.metrics.domain import register_domain_extractor

            register_domain_extractor(data, device=self.device)
        if "inception" in o["extractors"]:
            inception_weights_path(o["inception_weights"])
        n = int(o["grad_samples"])
        self.real = data.sample(n, torch.Generator().manual_seed(10_007 + self.seed))
        self.primary_metric = f"fid_{o['extractors'][0]}" if o["extractors"] else None
        self.floor_metric = f"fid_floor_{o['extractors'][0]}" if o["extractors"] else None
        # FID is biased by the sample size: the plateau rule compares evaluations of one size only
        self.comparable_by = "fid_n"
        self.floor = self._floor()

    def _floor(self) -> dict:
        """The sampling floor: fidelity metrics of the held-out real split (the one that is not
        ``ref_split``, at most ``fid_samples`` images) against the reference split, as
        ``fid_floor_<extractor>``. Empty when the data set has no held-out split."""
        o, data = self.opt, self.data
        held_out = data.test_images if o["ref_split"] == "train" else data.train_images
        if held_out is None or len(held_out) < 2:
            return {}
        held_out = held_out[: int(o["fid_samples"])]
        m = compute_fidelity(held_out, data, extractors=o["extractors"], ref_split=o["ref_split"],
                             inception_weights=o["inception_weights"], kid_subset_size=int(o["kid_subset_size"]),
                             prc=False, batch_size=int(o["fidelity_batch_size"]), device=self.device)
        return {f"fid_floor_{ex}": m[f"fid_{ex}"] for ex in o["extractors"] if f"fid_{ex}" in m}

    def _generate(self, G, n, gen):
        """``n`` samples as uint8 (CPU), plus the first ``grad_samples`` as float."""
        bs = int(self.opt["fidelity_batch_size"])
        images, floats = [], []
        for start in range(0, n, bs):
            z = torch.randn(min(bs, n - start), G.z_dim, generator=gen).to(self.device)
            x = G(z).float().cpu()
            if sum(len(f) for f in floats) < int(self.opt["grad_samples"]):
                floats.append(x)
            images.append(to_uint8(x) if torch.isfinite(x).all() else None)
        fake = torch.cat(floats)[: int(self.opt["grad_samples"])]
        return (None if any(i is None for i in images) else torch.cat(images)), fake

    def evaluate(self, G, D, step, final):
        o = self.opt
        n = int(o["fid_samples"] if final else o["fid_samples_during"])
        was_training = G.training
        G.eval()
        try:
            with torch.no_grad():
                # fixed noise streams: every evaluation of a run sees the same z
                fake_u8, fake = self._generate(G, n, torch.Generator().manual_seed(7_919 * (self.seed + 1)))
                grid = G(torch.randn(GRID, G.z_dim, generator=torch.Generator().manual_seed(self.seed)).to(self.device))
        finally:
            G.train(was_training)
        name = "grid_final.png" if final else f"grid_step{step:06d}.png"
        self.run_dir.mkdir(parents=True, exist_ok=True)
        save_image(grid.float().cpu().clamp(-1, 1) * 0.5 + 0.5, str(self.run_dir / name), nrow=8, padding=2)
        self.picture = self.run_dir / name

        metrics = {}
        if fake_u8 is not None:  # a diverged generator gets no fidelity numbers
            metrics.update(compute_fidelity(
                fake_u8, self.data, extractors=o["extractors"], ref_split=o["ref_split"],
                inception_weights=o["inception_weights"], kid_subset_size=int(o["kid_subset_size"]),
                prc=bool(o["prc"]), batch_size=int(o["fidelity_batch_size"]), device=self.device,
            ))
        metrics.update(self.floor, fid_n=n)
        for ex in o["extractors"]:
            fid, floor = metrics.get(f"fid_{ex}"), self.floor.get(f"fid_floor_{ex}")
            if fid is not None and floor:
                metrics[f"fid_excess_{ex}"] = fid / floor
        lip_metrics, diagnostics = lipschitz_report(
            D, self.real.to(self.device), fake.to(self.device), self.data.shape,
            generator=torch.Generator().manual_seed(31 * (self.seed + 1) + step),
        )
        metrics.update(lip_metrics)
        return metrics, diagnostics
