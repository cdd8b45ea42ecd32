"""``gp``: two-sided gradient penalty λ·E[(‖∇D(x̂)‖ - 1)²] on random interpolates
(WGAN-GP, Gulrajani et al. 2017)."""

from dataclasses import dataclass

import numpy as np
import torch

from lipbench.constraints import CONSTRAINTS
from lipbench.constraints.base import Constraint, Params
from lipbench.constraints.checks import close, expect, hand_gradient_norms, seeded, tiny_relu_net
from lipbench.constraints.gradients import input_gradient_norms, interpolates
from lipbench.errors import require


@dataclass
class PenaltyParams(Params):
    weight: float = 10.0

    def check(self, path):
        require(self.weight, f"{path}.weight", at_least=0)


@CONSTRAINTS.register("gp")
class GradientPenalty(Constraint):
    name = "gp"
    Params = PenaltyParams

    def penalty(self, critic, real, fake):
        norms = input_gradient_norms(critic, interpolates(real, fake))
        return self.params.weight * ((norms - 1) ** 2).mean()

    @classmethod
    def check_property(cls):
        """λ·E[(‖∇D(x̂)‖ − 1)²] is the chain-rule value on a tiny ReLU net (real = fake, so
        every interpolate is the point itself, whatever the mixing weights)."""
        with seeded(1):
            net, x = tiny_relu_net(), torch.randn(7, 2)
            value = cls.build(weight=10.0).penalty(net, x, x.clone()).item()
        expected = 10.0 * np.mean((hand_gradient_norms(net, x) - 1) ** 2)
        expect(close(value, expected), f"gp penalty {value} != {expected} by hand")
