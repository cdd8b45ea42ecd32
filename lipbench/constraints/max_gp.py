"""``max_gp``: penalty on the largest gradient norm in the batch (Zhou et al. 2019,
"Lipschitz Generative Adversarial Nets").

LGANs penalise the square of the critic's Lipschitz constant, k(f)², and estimate k(f)
by the largest gradient norm over interpolates between the real and fake batches:

    form=square (the paper's):  λ · (max_i ‖∇D(x̂_i)‖)²
    form=hinge  (a variant):    λ · max(0, max_i ‖∇D(x̂_i)‖ − 1)²

Only the sample with the largest norm receives a gradient. With the Wasserstein loss,
``square`` sets the critic's scale rather than pinning it at 1: the critic maximising
k·W1 − λk² has Lipschitz constant k = W1 / (2λ); ``hinge`` targets a 1-Lipschitz critic.
Default λ = 10 as in the rest of the gradient-penalty family (lipbench's choice: the
paper's own λ could not be checked offline).
"""

from dataclasses import dataclass

import torch

from lipbench.constraints import CONSTRAINTS
from lipbench.constraints.base import Constraint
from lipbench.constraints.checks import close, expect, hand_gradient_norms, seeded, tiny_relu_net
from lipbench.constraints.gp import PenaltyParams
from lipbench.constraints.gradients import input_gradient_norms, interpolates
from lipbench.errors import require

FORMS = ("square", "hinge")


@dataclass
class MaxGPParams(PenaltyParams):
    form: str = "square"

    def check(self, path):
        super().check(path)
        require(self.form, f"{path}.form", self.form in FORMS, f"allowed: {', '.join(FORMS)}")


@CONSTRAINTS.register("max_gp")
class MaxGradientPenalty(Constraint):
    name = "max_gp"
    Params = MaxGPParams

    def penalty(self, critic, real, fake):
        top = input_gradient_norms(critic, interpolates(real, fake)).max()
        if self.params.form == "hinge":
            top = (top - 1).clamp_min(0)
        return self.params.weight * top**2

    @classmethod
    def check_property(cls):
        """λ·(max ‖∇D‖)² (square) and λ·max(0, max ‖∇D‖ − 1)² (hinge) by the chain rule; the
        arg-max sample alone gives the same value."""
        with seeded(1):
            net, x = tiny_relu_net(scale=3.0), torch.randn(8, 2)
        norms = hand_gradient_norms(net, x)
        square = cls.build(weight=10.0).penalty(net, x, x.clone()).item()
        hinge = cls.build(weight=10.0, form="hinge").penalty(net, x, x.clone()).item()
        expect(close(square, 10.0 * norms.max() ** 2), f"max_gp square {square} != {10.0 * norms.max() ** 2}")
        expect(close(hinge, 10.0 * max(norms.max() - 1, 0) ** 2), f"max_gp hinge {hinge} is not the hinge value")
        top = x[int(norms.argmax())][None]
        alone = cls.build(weight=10.0).penalty(net, top, top.clone()).item()
        expect(close(alone, square, rel=1e-6), "max_gp: the arg-max sample alone gives another value")
