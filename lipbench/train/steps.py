"""One critic step and one generator step. The constraint hooks are called here, the
same way for every method: ``penalty`` is added to the critic loss and ``project`` runs
after the critic's optimizer step (``wrap`` ran once when the run was built)."""

from __future__ import annotations

from dataclasses import dataclass

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

    def noise(self, n: int) -> torch.Tensor:
        return torch.randn(n, self.z_dim, device=self.device)


def critic_step(gan: GAN, real: torch.Tensor):
    """One critic update on a real batch and a fresh fake batch; returns (loss, penalty) tensors.

    Parametrized weights (SN, Björck, ...) are computed once per update and shared by every
    critic call of the step (real, fake, penalty points): one power iteration per update,
    as in SN-GAN, instead of one per forward pass.
    """
    with torch.no_grad():
        fake = gan.generator(gan.noise(real.shape[0]))
    with parametrize.cached():
        loss = gan.loss.critic_loss(gan.critic(real).reshape(-1), gan.critic(fake).reshape(-1))
        penalty = gan.constraints.penalty(gan.critic, real, fake)
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
        loss = gan.loss.generator_loss(gan.critic(gan.generator(gan.noise(batch_size))).reshape(-1))
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
