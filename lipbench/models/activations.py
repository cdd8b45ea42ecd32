"""Gradient-norm-preserving activations for Lipschitz critics (Anil, Lucas & Grosse 2019).

:class:`GroupSort` splits the channel dimension (dim 1) into groups of ``group_size``
consecutive units and sorts each group in ascending order. On any input the output is
a permutation of the input, so the activation is 1-Lipschitz and its Jacobian is a
permutation matrix almost everywhere: it preserves gradient norms, which ReLU (a
projection that zeroes units) does not. ``group_size=2`` is MaxMin; a group as wide as
the layer is FullSort.

This module holds the MLP's activation registry :data:`ACTIVATIONS` (``model.activation``
/ ``model.critic_activation``): ``relu``, ``leaky_relu`` (slope 0.2), ``tanh``, and

* ``groupsort``: GroupSort with groups of 2 (= MaxMin, Anil et al.'s default);
* ``maxmin``: the same operation under its own name;
* ``fullsort``: one group spanning every unit of the layer.
"""

from __future__ import annotations

import torch
from torch import nn

from lipbench.errors import ConfigError
from lipbench.registry import Registry

ACTIVATIONS = Registry("model.activation")
ACTIVATIONS.register("relu")(lambda: nn.ReLU())
ACTIVATIONS.register("leaky_relu")(lambda: nn.LeakyReLU(0.2))
ACTIVATIONS.register("tanh")(lambda: nn.Tanh())


class GroupSort(nn.Module):
    """Sort each group of ``group_size`` consecutive channels (dim 1); ``None`` = one group."""

    def __init__(self, group_size=2):
        super().__init__()
        if group_size is not None and int(group_size) < 1:
            raise ConfigError(f"GroupSort group_size={group_size}: must be >= 1")
        self.group_size = None if group_size is None else int(group_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = x.shape[1]
        g = c if self.group_size is None else self.group_size
        if c % g:
            raise ConfigError(
                f"GroupSort: {c} channels are not divisible by group_size={g}; use an even model.hidden / width"
            )
        grouped = x.reshape(x.shape[0], c // g, g, *x.shape[2:])
        return grouped.sort(dim=2).values.reshape(x.shape)

    def extra_repr(self) -> str:
        return f"group_size={self.group_size or 'all'}"

    def lipschitz_bound(self, x: torch.Tensor):
        """(1, why): sorting is 1-Lipschitz in l2 (||sort a - sort b|| <= ||a - b||), so is
        sorting each group. Read by :mod:`lipbench.metrics.lipschitz_bounds`."""
        return 1.0, "1-Lipschitz (sorting)"


class MaxMin(GroupSort):
    """GroupSort with groups of two: (min(a, b), max(a, b)) for each pair of channels."""

    def __init__(self):
        super().__init__(2)


ACTIVATIONS.register("groupsort")(MaxMin)
ACTIVATIONS.register("maxmin")(MaxMin)
ACTIVATIONS.register("fullsort")(lambda: GroupSort(None))
