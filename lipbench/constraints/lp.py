"""``lp``: one-sided gradient penalty λ·E[max(0, ‖∇D(x̂)‖ − 1)²] on random interpolates
(WGAN-LP, Petzka, Fischer & Lukovnikov 2018).

Unlike WGAN-GP's two-sided penalty it only punishes gradient norms above 1, which is
exactly the Lipschitz constraint: a critic with ‖∇D‖ ≤ 1 everywhere pays nothing.
Petzka et al. use λ = 10 (their toy experiments also try 5) and WGAN-GP's optimizer.
"""

import numpy as np
import torch

from lipbench.constraints import CONSTRAINTS
from lipbench.constraints.base import Constraint
from lipbench.constraints.checks import close, expect, hand_gradient_norms, seeded, tiny_relu_net
from lipbench.constraints.gp import PenaltyParams
from lipbench.constraints.gradients import input_gradient_norms, interpolates


@CONSTRAINTS.register("lp")
class LipschitzPenalty(Constraint):
    name = "lp"
    Params = PenaltyParams

    def penalty(self, critic, real, fake):
        norms = input_gradient_norms(critic, interpolates(real, fake))
        return self.params.weight * (norms - 1).clamp_min(0).pow(2).mean()

    @classmethod
    def check_property(cls):
        """Zero for a critic whose gradient norms are all below 1; λ·E[max(0, ‖∇D‖ − 1)²] by
        the chain rule for one with norms on both sides of 1."""
        lp = cls.build(weight=10.0)
        with seeded(1):
            x, small = torch.randn(9, 2), tiny_relu_net(scale=0.1)
            big = tiny_relu_net(scale=3.0)
        expect(hand_gradient_norms(small, x).max() < 1, "lp check: the small net's norms are not all below 1")
        expect(lp.penalty(small, x, x.clone()).item() == 0.0, "lp penalises gradient norms below 1")
        with torch.no_grad():  # the median gradient norm just below 1
            big[2].weight.div_(float(np.median(hand_gradient_norms(big, x))) * 1.01)
        norms = hand_gradient_norms(big, x)
        expect(bool((norms > 1).any() and (norms < 1).any()), "lp check: norms not on both sides of 1")
        expected = 10.0 * np.mean(np.maximum(norms - 1, 0) ** 2)
        value = lp.penalty(big, x, x.clone()).item()
        expect(close(value, expected), f"lp penalty {value} != {expected} by hand")
