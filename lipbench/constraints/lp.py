"""``lp``: one-sided gradient penalty λ·E[max(0, ‖∇D(x̂)‖ − 1)²] on random interpolates
(WGAN-LP, Petzka, Fischer & Lukovnikov 2018).

Unlike WGAN-GP's two-sided penalty it only punishes gradient norms above 1, which is
exactly the Lipschitz constraint: a critic with ‖∇D‖ ≤ 1 everywhere pays nothing.
Petzka et al. use λ = 10 (their toy experiments also try 5) and WGAN-GP's optimizer.
"""

from lipbench.constraints import CONSTRAINTS
from lipbench.constraints.base import Constraint
from lipbench.constraints.gp import PenaltyParams
from lipbench.constraints.gradients import input_gradient_norms, interpolates


@CONSTRAINTS.register("lp")
class LipschitzPenalty(Constraint):
    name = "lp"
    Params = PenaltyParams

    def penalty(self, critic, real, fake):
        norms = input_gradient_norms(critic, interpolates(real, fake))
        return self.params.weight * (norms - 1).clamp_min(0).pow(2).mean()
