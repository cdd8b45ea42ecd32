"""One critic step and one generator step. The constraint hooks are called here, the
same way for every method: ``penalty`` is added to the critic loss and ``project`` runs
after the critic's optimizer step (``wrap`` ran once when the run was built).

``train.precision=bf16`` runs every forward pass (and the penalty) under bfloat16
autocast; losses are taken in float32 and backward runs outside autocast, so the
weights, gradients and optimizer state stay float32 (bf16 needs no loss scaling).
``train.compile`` runs the forward passes of the losses through ``torch.compile``d
callables; the penalty always gets the eager critic, because compiled graphs do not
support the double backward that gradient penalties take.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Callable, Optional

import torch
from torch import nn
from torch.nn.utils import parametrize

from lipbench.constraints.base import ConstraintSet
from lipbench.losses import Loss


@dataclass
class GAN:
    """The parts a training step touches."""

    generator: nn.Module
    critic: nn.Module
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    loss: Loss
    constraints: ConstraintSet
    z_dim: int
    device: torch.device
    precision: str = "fp32"
    # what the loss terms call: the modules themselves, or their torch.compile'd forms
    run_generator: Optional[Callable] = None
    run_critic: Optional[Callable] = None

    def __post_init__(self):
        if self.run_generator is None:
            self.run_generator = self.generator
        if self.run_critic is None:
            self.run_critic = self.critic

    def noise(self, n: int) -> torch.Tensor:
        return torch.randn(n, self.z_dim, device=self.device)

    def autocast(self):
        """The context of the forward passes: bfloat16 autocast, or nothing (fp32)."""
        if self.precision == "bf16":
            return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()


def critic_step(gan: GAN, real: torch.Tensor):
    """One critic update on a real batch and a fresh fake batch; returns (loss, penalty) tensors.

    Parametrized weights (SN, Björck, ...) are computed once per update and shared by every
    critic call of the step (real, fake, penalty points): one power iteration per update,
    as in SN-GAN, instead of one per forward pass.
    """
    with torch.no_grad(), gan.autocast():
        fake = gan.run_generator(gan.noise(real.shape[0])).to(real.dtype)
    with parametrize.cached(), gan.autocast():
        d_real, d_fake = gan.run_critic(real).reshape(-1).float(), gan.run_critic(fake).reshape(-1).float()
        loss = gan.loss.critic_loss(d_real, d_fake)
        penalty = gan.constraints.penalty(gan.critic, real, fake)  # eager: it may take a double backward
    penalty = None if penalty is None else penalty.float()
    total = loss if penalty is None else loss + penalty
    gan.opt_d.zero_grad(set_to_none=True)
    total.backward()
    gan.opt_d.step()
    gan.constraints.project(gan.critic)
    return loss.detach(), (torch.zeros((), device=loss.device) if penalty is None else penalty.detach())


def generator_step(gan: GAN, batch_size: int) -> torch.Tensor:
    """One generator update; the critic's parameters get no gradients."""
    params = [p for p in gan.critic.parameters() if p.requires_grad]
    for p in params:
        p.requires_grad_(False)
    try:
        with gan.autocast():
            d_fake = gan.run_critic(gan.run_generator(gan.noise(batch_size))).reshape(-1).float()
            loss = gan.loss.generator_loss(d_fake)
        gan.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        gan.opt_g.step()
    finally:
        for p in params:
            p.requires_grad_(True)
    return loss.detach()


def train_iteration(gan: GAN, sample_real, n_critic: int, batch_size: int) -> dict:
    """``n_critic`` critic steps then one generator step; returns the mean losses as floats.

    ``sample_real(n)`` returns a real batch on the device. Reading the losses back is
    the loop's one host synchronisation per iteration; it is what detects divergence.
    """
    loss_d = penalty = 0.0
    for _ in range(n_critic):
        l, p = critic_step(gan, sample_real(batch_size))
        loss_d, penalty = loss_d + l, penalty + p
    loss_g = generator_step(gan, batch_size)
    values = torch.stack([penalty / n_critic, loss_d / n_critic, loss_g]).tolist()
    return dict(zip(("penalty", "loss_d", "loss_g"), values))
