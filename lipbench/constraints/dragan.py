"""``dragan``: gradient penalty around the real data (DRAGAN, Kodali et al. 2017).

    penalty = λ · E[(‖∇D(x̂)‖ − 1)²],   x̂ = x + α·δ,   δ = c · std(x) · u

with x a real batch, ``std(x)`` the standard deviation over every entry of the batch,
u ~ U[0, 1] per entry and α ~ U[0, 1] per sample: points on the segment from each real
point to a perturbed copy of it, as in the authors' reference code. Only real samples
enter; the fake batch is ignored. Defaults: λ = 10, c = 0.5 (Kodali et al.).

Random numbers come from the global stream (like ``gp``'s interpolates), in this order:
u, then α.
"""

from dataclasses import dataclass

import torch

from lipbench.constraints import CONSTRAINTS
from lipbench.constraints.base import Constraint, require
from lipbench.constraints.gp import PenaltyParams
from lipbench.constraints.gradients import input_gradient_norms


@dataclass
class DraganParams(PenaltyParams):
    c: float = 0.5

    def check(self, path):
        super().check(path)
        require(self.c >= 0, path, "c", self.c, "must be >= 0")


def perturbed_real(real: torch.Tensor, c: float) -> torch.Tensor:
    """x + α·c·std(x)·u with u ~ U[0,1] per entry and α ~ U[0,1] per sample (global RNG)."""
    x = real.detach()
    delta = c * x.std() * torch.rand_like(x)
    alpha = torch.rand((x.shape[0],) + (1,) * (x.dim() - 1), device=x.device, dtype=x.dtype)
    return x + alpha * delta


@CONSTRAINTS.register("dragan")
class Dragan(Constraint):
    name = "dragan"
    Params = DraganParams

    def penalty(self, critic, real, fake):
        norms = input_gradient_norms(critic, perturbed_real(real, self.params.c))
        return self.params.weight * ((norms - 1) ** 2).mean()
