"""``gp``: two-sided gradient penalty λ·E[(‖∇D(x̂)‖ - 1)²] on random interpolates
(WGAN-GP, Gulrajani et al. 2017)."""

from dataclasses import dataclass

from lipbench.constraints import CONSTRAINTS
from lipbench.constraints.base import Constraint, Params, require
from lipbench.constraints.gradients import input_gradient_norms, interpolates


@dataclass
class PenaltyParams(Params):
    weight: float = 10.0

    def check(self, path):
        require(self.weight >= 0, path, "weight", self.weight, "must be >= 0")


@CONSTRAINTS.register("gp")
class GradientPenalty(Constraint):
    name = "gp"
    Params = PenaltyParams

    def penalty(self, critic, real, fake):
        norms = input_gradient_norms(critic, interpolates(real, fake))
        return self.params.weight * ((norms - 1) ** 2).mean()
