"""The constraint plug-in interface.

A Lipschitz constraint acts on the critic in at most three places:

* ``wrap(critic)``: once, when the run is built (spectral normalization, ...);
* ``penalty(critic, real, fake)``: every critic step, added to the critic loss (GP, ...);
* ``project(critic)``: after every critic optimizer step (weight clipping, ...).

A constraint overrides only the hooks it needs. Its parameters are a dataclass
(``Params``: the keys of ``constraint.<name>``, their types and defaults; it is the
constraint's Hydra structured config, see :mod:`lipbench.configstore`). As with every other
schema, its ranges are checked when an instance is made (``__post_init__`` calls the class's
``check`` hook), naming the keys ``constraint.<name>.<key>``: each constraint class gets its
own ``Params`` subclass that knows its name (:meth:`Constraint.__init_subclass__`), also where
several constraints share one parameter class. ``conf/constraint/<name>.yaml``, when there
is one, holds only its published optimizer setting (``paper``). Every constraint declares
the property that defines it, :meth:`Constraint.check_property`, which the test suite runs
for every registered constraint. The training loop calls the hooks of a
:class:`ConstraintSet` and never looks at a constraint's name.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar, List, Optional

import torch
from torch import nn

from lipbench.errors import ConfigError

UNBOUND = "constraint.<name>"  # the path of a Params class no constraint class has bound yet


@dataclass
class Params:
    """Base parameters; subclasses add fields with defaults and override :meth:`check`.

    ``path`` (a class variable, not a key) is ``constraint.<name>`` of the constraint the class
    belongs to; :meth:`Constraint.__init_subclass__` sets it on the subclass it makes for each
    constraint. Making an instance checks the ranges (``__post_init__``): a bad value raises
    :class:`~lipbench.errors.ConfigError`, ``constraint.gp.weight=-1: must be >= 0``.
    """

    path: ClassVar[str] = UNBOUND

    def __post_init__(self):
        self.check(type(self).path)

    def check(self, path: str) -> None:
        """The range hook :meth:`__post_init__` calls: raise ConfigError for values out of range
        (:func:`lipbench.errors.require`, one call per key, named ``f"{path}.<key>"``); ``path``
        is e.g. ``constraint.gp``."""


def bound_params(params: type, constraint: type) -> type:
    """``params`` bound to the constraint class ``constraint``: a subclass whose ``path`` is
    ``constraint.<name>``, reachable (and picklable) as ``<constraint class>.Params``."""
    namespace = {
        "path": f"constraint.{constraint.name}",
        "__module__": constraint.__module__,
        "__qualname__": f"{constraint.__qualname__}.Params",
        "__doc__": f"The parameters of constraint ``{constraint.name}`` ({params.__name__}).",
    }
    return type("Params", (params,), namespace)


class Constraint:
    """Base class: every hook is a no-op."""

    name: str = ""
    Params = Params

    def __init_subclass__(cls, **kwargs):
        """A constraint class with a name gets its own subclass of the ``Params`` it declares (or
        inherits), bound to its name, so that a parameter class shared by several constraints
        (``gp``, ``lp``, ``r1``, ... share ``PenaltyParams``) names the right one in its errors."""
        super().__init_subclass__(**kwargs)
        if cls.name:
            cls.Params = bound_params(cls.Params, cls)

    def __init__(self, params: Params):
        self.params = params

    def wrap(self, critic: nn.Module) -> nn.Module:
        return critic

    def penalty(self, critic: nn.Module, real: torch.Tensor, fake: torch.Tensor) -> Optional[torch.Tensor]:
        return None

    def project(self, critic: nn.Module) -> None:
        return None

    @classmethod
    def check_property(cls) -> None:
        """Check the property that defines this constraint against a computation that does
        not use its code (helpers: :mod:`lipbench.constraints.checks`); raise
        AssertionError when it does not hold. Each constraint class declares its own: the
        test suite fails for a registered constraint that does not."""
        raise NotImplementedError(f"constraint {cls.name!r} declares no check_property()")

    @classmethod
    def build(cls, **params) -> "Constraint":
        """This constraint with ``params`` (checked as config values are)."""
        return cls.from_config(params, f"constraint.{cls.name}")

    @classmethod
    def from_config(cls, node: dict, path: str) -> "Constraint":
        """Build from a config mapping; unknown keys, wrong types and bad values raise ConfigError."""
        from omegaconf import OmegaConf

        from lipbench.typecheck import check_node

        node = dict(node or {})
        node.pop("paper", None)  # the method's published optimizer setting, read by the optim preset
        if not dataclasses.fields(cls.Params) and node:
            raise ConfigError(f"{path}.{sorted(node)[0]}: unknown key; allowed: (no parameters)")
        typed = check_node(node, cls.Params, path)  # types checked, ints converted to floats where declared
        return cls(OmegaConf.to_object(typed))  # the Params instance checks the ranges


class ConstraintSet:
    """An ordered list of constraints acting as one: wraps in order, sums penalties,
    projects in order. An empty set is the unconstrained baseline."""

    def __init__(self, constraints: List[Constraint]):
        self.constraints = list(constraints)

    @property
    def name(self) -> str:
        names = [c.name for c in self.constraints if c.name != "none"]
        return "+".join(names) or "none"

    def wrap(self, critic: nn.Module) -> nn.Module:
        for c in self.constraints:
            critic = c.wrap(critic)
        return critic

    def penalty(self, critic, real, fake) -> Optional[torch.Tensor]:
        total = None
        for c in self.constraints:
            p = c.penalty(critic, real, fake)
            if p is not None:
                total = p if total is None else total + p
        return total

    @torch.no_grad()
    def project(self, critic) -> None:
        for c in self.constraints:
            c.project(critic)
