"""``clip``: weight clipping to [-c, c] after every critic step (WGAN, Arjovsky et al. 2017)."""

from dataclasses import dataclass

from lipbench.constraints import CONSTRAINTS
from lipbench.constraints.base import Constraint, Params, require


@dataclass
class ClipParams(Params):
    c: float = 0.01

    def check(self, path):
        require(self.c > 0, path, "c", self.c, "must be > 0")


@CONSTRAINTS.register("clip")
class WeightClipping(Constraint):
    name = "clip"
    Params = ClipParams

    def project(self, critic):
        c = self.params.c
        for p in critic.parameters():
            p.clamp_(-c, c)
