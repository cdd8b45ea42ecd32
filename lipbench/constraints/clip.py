"""``clip``: weight clipping to [-c, c] after every critic step (WGAN, Arjovsky et al. 2017)."""

from dataclasses import dataclass

import torch

from lipbench.constraints import CONSTRAINTS
from lipbench.constraints.base import Constraint, Params
from lipbench.constraints.checks import expect, mlp_critic, seeded, train_critic
from lipbench.errors import require


@dataclass
class ClipParams(Params):
    c: float = 0.01

    def check(self, path):
        require(self.c, f"{path}.c", above=0)


@CONSTRAINTS.register("clip")
class WeightClipping(Constraint):
    name = "clip"
    Params = ClipParams

    def project(self, critic):
        c = self.params.c
        for p in critic.parameters():
            p.clamp_(-c, c)

    @classmethod
    def check_property(cls):
        """After steps with a learning rate that would leave the box, every critic parameter
        is in [-c, c], and most sit on its edge (the clipping acts; it is not vacuous)."""
        c = 0.01
        with seeded(0):
            clip = cls.build(c=c)
            critic = clip.wrap(mlp_critic())
            train_critic(clip, critic, steps=3, lr=0.5)
        values = torch.cat([p.detach().flatten() for p in critic.parameters()])
        expect(values.abs().max().item() <= c + 1e-12, f"a parameter is outside [-{c}, {c}]")
        share = (values.abs() > c * 0.999).float().mean().item()
        expect(share > 0.5, f"only {share:.0%} of the parameters are on the edge of the box")
