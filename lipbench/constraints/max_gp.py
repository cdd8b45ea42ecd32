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

from lipbench.constraints import CONSTRAINTS
from lipbench.constraints.base import Constraint, require
from lipbench.constraints.gp import PenaltyParams
from lipbench.constraints.gradients import input_gradient_norms, interpolates

FORMS = ("square", "hinge")


@dataclass
class MaxGPParams(PenaltyParams):
    form: str = "square"

    def check(self, path):
        super().check(path)
        require(self.form in FORMS, path, "form", self.form, f"allowed: {', '.join(FORMS)}")


@CONSTRAINTS.register("max_gp")
class MaxGradientPenalty(Constraint):
    name = "max_gp"
    Params = MaxGPParams

    def penalty(self, critic, real, fake):
        top = input_gradient_norms(critic, interpolates(real, fake)).max()
        if self.params.form == "hinge":
            top = (top - 1).clamp_min(0)
        return self.params.weight * top ** 2
