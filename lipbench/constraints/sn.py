"""``sn``: spectral normalization of every critic layer that has a weight (SN-GAN,
Miyato et al. 2018), with ``n_power_iterations`` power iterations per forward pass and
the vectors kept between steps (PyTorch's parametrization)."""

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from lipbench.constraints import CONSTRAINTS
from lipbench.constraints.base import Constraint, Params
from lipbench.constraints.checks import close, expect, mlp_critic, seeded, singular_values, train_critic
from lipbench.constraints.layers import constrained_layers
from lipbench.errors import require


@dataclass
class SNParams(Params):
    n_power_iterations: int = 1
    eps: float = 1e-12

    def check(self, path):
        require(self.n_power_iterations, f"{path}.n_power_iterations", at_least=1)


@CONSTRAINTS.register("sn")
class SpectralNorm(Constraint):
    name = "sn"
    Params = SNParams

    def wrap(self, critic):
        for module in list(constrained_layers(critic)):
            spectral_norm(module, n_power_iterations=self.params.n_power_iterations, eps=self.params.eps)
        return critic

    @classmethod
    def check_property(cls):
        """After training steps (one power iteration each), every layer's effective weight
        has largest singular value 1 (within 5%), while the raw weight's is far from 1."""
        with seeded(0):
            sn = cls.build(n_power_iterations=1)
            critic = sn.wrap(mlp_critic())
            with torch.no_grad():
                for m in critic:
                    if isinstance(m, nn.Linear):
                        m.parametrizations.weight.original.mul_(3.0)
            train_critic(sn, critic, steps=50, lr=2e-4)  # SN-GAN's learning rate
        critic.eval()
        for m in (m for m in critic if isinstance(m, nn.Linear)):
            sigma, raw = singular_values(m.weight)[0].item(), singular_values(m.parametrizations.weight.original)[0]
            expect(close(sigma, 1.0, rel=0.05), f"sn: effective sigma {sigma:.4f}, not 1")
            expect(abs(raw.item() - 1.0) > 0.05, "sn: the raw weight itself has sigma 1 (the check is vacuous)")
