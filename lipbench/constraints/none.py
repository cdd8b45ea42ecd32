"""``none``: the unconstrained baseline (every hook is a no-op)."""

from lipbench.constraints import CONSTRAINTS
from lipbench.constraints.base import Constraint


@CONSTRAINTS.register("none")
class NoConstraint(Constraint):
    name = "none"
