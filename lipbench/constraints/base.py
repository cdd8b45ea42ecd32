"""The constraint plug-in interface.

A Lipschitz constraint acts on the critic in at most three places:

* ``wrap(critic)``: once, when the run is built (spectral normalization, ...);
* ``penalty(critic, real, fake)``: every critic step, added to the critic loss (GP, ...);
* ``project(critic)``: after every critic optimizer step (weight clipping, ...).

A constraint overrides only the hooks it needs. Its parameters are a dataclass
(``Params``: the keys of ``constraint.<name>``, their types and defaults; it is the
constraint's Hydra structured config, see :mod:`lipbench.configstore`); ranges are
checked in ``Params.check``. ``conf/constraint/<name>.yaml``, when there is one, holds
only its published optimizer setting (``paper``). Every constraint declares the property
that defines it, :meth:`Constraint.check_property`, which the test suite runs for every
registered constraint. The training loop calls the hooks of a :class:`ConstraintSet`
and never looks at a constraint's name.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import List, Optional

import torch
from torch import nn

from lipbench.errors import ConfigError


@dataclass
class Params:
    """Base parameters; subclasses add fields with defaults and override :meth:`check`."""

    def check(self, path: str) -> None:
        """Raise ConfigError for values out of range (:func:`lipbench.errors.require`, one call
        per key); ``path`` is e.g. ``constraint.gp``."""


class Constraint:
    """Base class: every hook is a no-op."""

    name: str = ""
    Params = Params

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
        params = cls.Params(**OmegaConf.to_container(typed))
        params.check(path)
        return cls(params)


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
