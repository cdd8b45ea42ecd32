"""``none``: the unconstrained baseline (every hook is a no-op)."""

import torch

from lipbench.constraints import CONSTRAINTS
from lipbench.constraints.base import Constraint
from lipbench.constraints.checks import expect, mlp_critic, seeded


@CONSTRAINTS.register("none")
class NoConstraint(Constraint):
    name = "none"

    @classmethod
    def check_property(cls):
        """The critic is returned as it is, gets no penalty, and projection leaves it unchanged."""
        with seeded(0):
            none, critic = cls.build(), mlp_critic()
            before = [p.clone() for p in critic.parameters()]
            expect(none.wrap(critic) is critic, "none.wrap returned another module")
            expect(none.penalty(critic, torch.randn(4, 2), torch.randn(4, 2)) is None, "none has a penalty")
            none.project(critic)
        expect(all(torch.equal(a, b) for a, b in zip(before, critic.parameters())), "none.project changed a weight")
