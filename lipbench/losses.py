"""GAN losses: ``critic_loss(d_real, d_fake)`` and ``generator_loss(d_fake)``, selected by ``loss.name``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch.nn.functional as F

from lipbench.registry import Registry

LOSSES = Registry("loss")


@dataclass
class LossConfig:
    """``loss=NAME``: a loss is chosen by name and has no parameters (one schema for all)."""

    name: str = "wasserstein"


class Loss:
    def critic_loss(self, d_real, d_fake):
        raise NotImplementedError

    def generator_loss(self, d_fake):
        raise NotImplementedError


@LOSSES.register("wasserstein", schema=LossConfig)
class Wasserstein(Loss):
    """WGAN: the critic maximises E[D(real)] - E[D(fake)]."""

    def critic_loss(self, d_real, d_fake):
        return d_fake.mean() - d_real.mean()

    def generator_loss(self, d_fake):
        return -d_fake.mean()


@LOSSES.register("hinge", schema=LossConfig)
class Hinge(Loss):
    """Hinge loss (Lim & Ye 2017; SN-GAN): E[relu(1 - D(real))] + E[relu(1 + D(fake))]."""

    def critic_loss(self, d_real, d_fake):
        return F.relu(1 - d_real).mean() + F.relu(1 + d_fake).mean()

    def generator_loss(self, d_fake):
        return -d_fake.mean()


@LOSSES.register("ns", schema=LossConfig)
class NonSaturating(Loss):
    """The original GAN loss with the non-saturating generator objective (D outputs logits)."""

    def critic_loss(self, d_real, d_fake):
        return F.softplus(-d_real).mean() + F.softplus(d_fake).mean()

    def generator_loss(self, d_fake):
        return F.softplus(-d_fake).mean()


def build_loss(cfg) -> Loss:
    """The loss named by ``cfg``: the spec's loss schema instance, or a mapping ``{"name": ...}``."""
    return LOSSES.get(cfg["name"] if isinstance(cfg, Mapping) else cfg.name)()
