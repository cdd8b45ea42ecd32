"""Generated 2-D benchmark distributions, as in the WGAN-GP reference toy code.

Each builder keeps the exact mixture parameters (mode centres and standard deviation),
so that metrics can be computed against the true distribution. Samples are drawn with a
caller-owned ``torch.Generator``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from lipbench.data import DATASETS
from lipbench.data.base import Toy2DSource
from lipbench.errors import require


def positive(schema, *keys) -> None:
    """Each of ``keys`` of a data schema is > 0 (for its ``__post_init__``)."""
    for key in keys:
        require(getattr(schema, key), f"data.{key}", above=0)


def _mixture_sampler(centers: np.ndarray, std: float):
    c = torch.as_tensor(centers, dtype=torch.float32)

    def sample(n, generator):
        idx = torch.randint(len(c), (n,), generator=generator)
        return c[idx] + std * torch.randn(n, 2, generator=generator)

    return sample


@dataclass
class EightGaussiansConfig:
    """``data=eight_gaussians``: 8 Gaussians at radius 2 (axis + diagonal directions), std
    0.02, all divided by 1.414 (WGAN-GP toy code)."""

    name: str = "eight_gaussians"
    radius: float = 2.0
    std: float = 0.02
    divide_by: float = 1.414

    def __post_init__(self):
        positive(self, "radius", "std", "divide_by")


@dataclass
class TwentyFiveGaussiansConfig:
    """``data=twentyfive_gaussians``: 25 Gaussians on the grid {-4,-2,0,2,4}^2, std 0.05,
    all divided by 2.828 (WGAN-GP toy code)."""

    name: str = "twentyfive_gaussians"
    grid: int = 5
    spacing: float = 2.0
    std: float = 0.05
    divide_by: float = 2.828

    def __post_init__(self):
        positive(self, "spacing", "std", "divide_by")
        require(self.grid, "data.grid", at_least=1)


@dataclass
class SwissRollConfig:
    """``data=swiss_roll``: the Swiss roll with noise 0.25, divided by 7.5 (WGAN-GP toy code)."""

    name: str = "swiss_roll"
    noise: float = 0.25
    divide_by: float = 7.5

    def __post_init__(self):
        positive(self, "divide_by")
        require(self.noise, "data.noise", at_least=0)


@DATASETS.register("eight_gaussians", schema=EightGaussiansConfig)
def eight_gaussians(cfg) -> Toy2DSource:
    """8 Gaussians on a circle of ``radius`` (4 axis + 4 diagonal directions), all divided by ``divide_by``."""
    radius, std, div = float(cfg.radius), float(cfg.std), float(cfg.divide_by)
    angles = np.arange(8) * (math.pi / 4)
    centers = radius * np.stack([np.cos(angles), np.sin(angles)], axis=1) / div
    return Toy2DSource(
        name="eight_gaussians", sampler=_mixture_sampler(centers, std / div), centers=centers, std=std / div
    )


@DATASETS.register("twentyfive_gaussians", schema=TwentyFiveGaussiansConfig)
def twentyfive_gaussians(cfg) -> Toy2DSource:
    """A ``grid`` x ``grid`` lattice of Gaussians with ``spacing``, centred on 0, divided by ``divide_by``."""
    spacing, std, div, grid = float(cfg.spacing), float(cfg.std), float(cfg.divide_by), int(cfg.grid)
    ticks = (np.arange(grid) - (grid - 1) / 2) * spacing
    centers = np.array([(x, y) for x in ticks for y in ticks]) / div
    return Toy2DSource(
        name="twentyfive_gaussians", sampler=_mixture_sampler(centers, std / div), centers=centers, std=std / div
    )


@DATASETS.register("swiss_roll", schema=SwissRollConfig)
def swiss_roll(cfg) -> Toy2DSource:
    """The 2-D Swiss roll (x, z of scikit-learn's make_swiss_roll) with Gaussian ``noise``, divided by ``divide_by``."""
    noise, div = float(cfg.noise), float(cfg.divide_by)

    def sample(n, generator):
        t = 1.5 * math.pi * (1 + 2 * torch.rand(n, generator=generator))
        pts = torch.stack([t * torch.cos(t), t * torch.sin(t)], dim=1)
        return (pts + noise * torch.randn(n, 2, generator=generator)) / div

    return Toy2DSource(name="swiss_roll", sampler=sample)
