"""``sn``: spectral normalization of every critic layer that has a weight (SN-GAN,
Miyato et al. 2018), with ``n_power_iterations`` power iterations per forward pass and
the vectors kept between steps (PyTorch's parametrization)."""

from dataclasses import dataclass

from torch.nn.utils.parametrizations import spectral_norm

from lipbench.constraints import CONSTRAINTS
from lipbench.constraints.base import Constraint, Params, require
from lipbench.constraints.layers import constrained_layers


@dataclass
class SNParams(Params):
    n_power_iterations: int = 1
    eps: float = 1e-12

    def check(self, path):
        require(self.n_power_iterations >= 1, path, "n_power_iterations", self.n_power_iterations, "must be >= 1")


@CONSTRAINTS.register("sn")
class SpectralNorm(Constraint):
    name = "sn"
    Params = SNParams

    def wrap(self, critic):
        for module in list(constrained_layers(critic)):
            spectral_norm(module, n_power_iterations=self.params.n_power_iterations, eps=self.params.eps)
        return critic
