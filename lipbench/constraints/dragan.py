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

import numpy as np
import torch

from lipbench.constraints import CONSTRAINTS
from lipbench.constraints.base import Constraint
from lipbench.constraints.checks import close, expect, hand_gradient_norms, seeded, tiny_relu_net
from lipbench.constraints.gp import PenaltyParams
from lipbench.constraints.gradients import input_gradient_norms
from lipbench.errors import require


@dataclass
class DraganParams(PenaltyParams):
    c: float = 0.5

    def check(self, path):
        super().check(path)
        require(self.c, f"{path}.c", at_least=0)


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

    @classmethod
    def check_property(cls):
        """The fake batch does not matter; the value is λ·E[(‖∇D‖ − 1)²] by the chain rule at
        x + α·c·std(x)·u, u drawn first (per entry), α second (per sample)."""
        dragan = cls.build(weight=10.0, c=0.5)
        with seeded(1):
            net, real = tiny_relu_net(scale=3.0), torch.randn(16, 2)
            fakes = (torch.randn(16, 2), torch.randn(16, 2) * 100)
        values = []
        for fake in fakes:
            with seeded(7):
                values.append(dragan.penalty(net, real, fake).item())
        expect(values[0] == values[1], "dragan depends on the fake batch")
        with seeded(7):
            u, alpha = torch.rand(16, 2), torch.rand(16, 1)
        points = real + alpha * 0.5 * float(np.std(real.numpy(), ddof=1)) * u
        expected = 10.0 * np.mean((hand_gradient_norms(net, points) - 1) ** 2)
        expect(close(values[0], expected), f"dragan penalty {values[0]} != {expected} by hand")
