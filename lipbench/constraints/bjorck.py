"""``bjorck``: Björck orthonormalization of every critic weight (Anil, Lucas & Grosse
2019, "Sorting out Lipschitz function approximation").

Each layer's weight becomes a parametrization (``torch.nn.utils.parametrize``) of an
unconstrained matrix V: ``iterations`` first-order Björck steps

    W_0 = V / s,   W_{k+1} = W_k (1.5 I − 0.5 W_kᵀ W_k)

(computed on the smaller Gram side), whose fixed point is the orthogonal polar factor
of V: every singular value of W goes to 1. The iteration converges for singular values
in (0, √3); the scale ``s`` is SN's power-iteration estimate of σ(V) (persistent vector,
no gradient), raised to ‖V‖_F/√3·1.01 when the estimate is poor, so σ(W_0) < √3 always.
Gradients flow through every step, as in the paper. Anil et al. initialise the weights
orthogonally; ``ortho_init`` does the same (on by default).

Pair it with a gradient-norm-preserving activation: ``model.critic_activation=groupsort``
(see :mod:`lipbench.models.activations`). With ReLU the critic is still 1-Lipschitz but
loses expressiveness. A conv kernel is orthonormalized as an out × (in·kh·kw) matrix,
which bounds its reshaped-kernel σ by 1 but not its operator norm (see ``sn_conv``).
Defaults: 20 iterations during training (the paper uses about 20; more at test time do
not change the constraint), Adam 1e-4 (0.5, 0.9), n_critic 5 (WGAN-GP's 2-D setting).
"""

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils import parametrize

from lipbench.constraints import CONSTRAINTS
from lipbench.constraints.base import Constraint, Params, require
from lipbench.constraints.layers import constrained_layers


@dataclass
class BjorckParams(Params):
    iterations: int = 20
    n_power_iterations: int = 1
    ortho_init: bool = True

    def check(self, path):
        require(self.iterations >= 1, path, "iterations", self.iterations, "must be >= 1")
        require(self.n_power_iterations >= 1, path, "n_power_iterations", self.n_power_iterations, "must be >= 1")


def bjorck(w: torch.Tensor, iterations: int) -> torch.Tensor:
    """``iterations`` first-order Björck steps on a 2-D ``w`` with σ(w) < √3."""
    wide = w.shape[0] < w.shape[1]
    eye = torch.eye(min(w.shape), device=w.device, dtype=w.dtype)
    for _ in range(iterations):
        if wide:
            w = (1.5 * eye - 0.5 * (w @ w.T)) @ w
        else:
            w = w @ (1.5 * eye - 0.5 * (w.T @ w))
    return w


class BjorckOrthonormal(nn.Module):
    """Parametrization V -> Björck(V / s), for any weight reshaped to out × rest."""

    def __init__(self, weight: torch.Tensor, iterations: int, n_power_iterations: int):
        super().__init__()
        self.iterations, self.n_power = iterations, n_power_iterations
        gen = torch.Generator().manual_seed(0)
        v = torch.randn(weight.reshape(weight.shape[0], -1).shape[1], generator=gen)
        self.register_buffer("v", (v / v.norm()).to(weight.device, weight.dtype))
        self._update(weight.reshape(weight.shape[0], -1).detach(), 15)

    @torch.no_grad()
    def _update(self, w2: torch.Tensor, n: int) -> None:
        v = self.v
        for _ in range(n):
            v = w2.T @ (w2 @ v)
            v = v / v.norm().clamp_min(1e-12)
        self.v.copy_(v)

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        w2 = weight.reshape(weight.shape[0], -1)
        if self.training:
            self._update(w2.detach(), self.n_power)
        with torch.no_grad():
            sigma = (w2 @ self.v).norm()
            scale = torch.maximum(sigma, w2.norm() / 3 ** 0.5 * 1.01).clamp_min(1e-12)
        return bjorck(w2 / scale, self.iterations).reshape(weight.shape)


def raw_weight(module: nn.Module) -> torch.Tensor:
    """The unconstrained parameter behind ``module.weight``."""
    if parametrize.is_parametrized(module, "weight"):
        return module.parametrizations.weight.original
    return module.weight


@CONSTRAINTS.register("bjorck")
class Bjorck(Constraint):
    name = "bjorck"
    Params = BjorckParams

    def wrap(self, critic):
        for module in list(constrained_layers(critic)):
            if self.params.ortho_init:
                with torch.no_grad():  # the raw weight, below any earlier parametrization
                    nn.init.orthogonal_(raw_weight(module))
            p = BjorckOrthonormal(module.weight.detach(), self.params.iterations, self.params.n_power_iterations)
            parametrize.register_parametrization(module, "weight", p)
        return critic
