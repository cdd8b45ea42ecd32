"""DCGAN generator and critic (Radford et al. 2016), sized from the data shape.

The generator maps ``z`` to an ``s0 x s0`` feature map (``s0`` in 4..7, e.g. 4 for
16/32/64 px and 6 for 48 px) and doubles it with stride-2 transposed convolutions
(BatchNorm + ReLU) up to the resolution, ending in ``tanh``. The critic mirrors it with
stride-2 convolutions and LeakyReLU(0.2), and has no BatchNorm (WGAN-GP). ``width`` is
the channel count at the highest resolution and doubles at each halving, so
``width=32`` is the half-width model.

This module also holds the shape helpers the other image models share.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

import torch
from torch import nn

from lipbench.errors import ConfigError, require
from lipbench.models import MODELS


def image_shape(data_shape, model: str) -> Tuple[int, int]:
    """``(channels, resolution)`` of square image data, or a ConfigError."""
    if len(data_shape) != 3 or data_shape[1] != data_shape[2]:
        raise ConfigError(
            f"model.name={model}: needs square image data (C, H, H), got data of shape {tuple(data_shape)}"
        )
    return int(data_shape[0]), int(data_shape[1])


def start_size(resolution: int, model: str) -> Tuple[int, int]:
    """``(s0, n_up)`` with ``resolution = s0 * 2**n_up``, ``4 <= s0 <= 7`` and ``n_up >= 1``."""
    s, n = resolution, 0
    while s % 2 == 0 and s // 2 >= 4:
        s, n = s // 2, n + 1
    if n < 1 or s > 7:
        raise ConfigError(
            f"data.resolution={resolution}: model {model} supports s*2^k with s in 4..7, e.g. 16, 32, 48, 64"
        )
    return s, n


@dataclass
class ConvNetConfig:
    """``model=dcgan``, and the keys of every image model: DCGAN generator (stride-2
    transposed convs, BN, ReLU, tanh) and critic (stride-2 convs, LeakyReLU 0.2, no
    BatchNorm). ``width`` = channels at the highest resolution, doubling at each halving
    (64 = DCGAN paper; 32 = half width)."""

    name: str = "dcgan"
    z_dim: int = 128
    width: int = 64  # channels at the highest resolution
    g_width: Optional[int] = None  # generator only; null = width
    d_width: Optional[int] = None  # critic only; null = width

    def __post_init__(self):
        for key in ("z_dim", "width", "g_width", "d_width"):
            if key in ("z_dim", "width") or getattr(self, key) is not None:
                require(getattr(self, key), f"model.{key}", at_least=1)


def widths(cfg, default: int):
    """``(generator width, critic width)`` from ``width`` and optional ``g_width``/``d_width``."""
    w = int(getattr(cfg, "width", default) or default)
    g = int(getattr(cfg, "g_width", None) or w)
    d = int(getattr(cfg, "d_width", None) or w)
    return g, d


def z_dim(cfg, default: int = 128) -> int:
    return int(getattr(cfg, "z_dim", default) or default)


def dcgan_init(module: nn.Module) -> None:
    """DCGAN initialisation: conv/linear weights N(0, 0.02), BatchNorm scale N(1, 0.02)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


class DCGANGenerator(nn.Module):
    def __init__(self, z_dim: int, channels: int, resolution: int, width: int = 64):
        super().__init__()
        self.z_dim = z_dim
        s0, n_up = start_size(resolution, "dcgan")
        c = width * 2 ** (n_up - 1)
        self.s0, self.c0 = s0, c
        self.fc = nn.Linear(z_dim, c * s0 * s0, bias=False)
        self.bn0 = nn.BatchNorm2d(c)
        blocks = []
        for _ in range(n_up - 1):
            blocks += [nn.ConvTranspose2d(c, c // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(c // 2), nn.ReLU(True)]
            c //= 2
        blocks += [nn.ConvTranspose2d(c, channels, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*blocks)
        dcgan_init(self)

    def forward(self, z):
        h = self.fc(z).view(-1, self.c0, self.s0, self.s0)
        return self.net(torch.relu(self.bn0(h)))


class DCGANCritic(nn.Module):
    """Stride-2 4x4 convolutions with LeakyReLU(0.2), no normalisation, then linear."""

    def __init__(self, channels: int, resolution: int, width: int = 64):
        super().__init__()
        s0, n_down = start_size(resolution, "dcgan")
        layers, c_in, c = [], channels, width
        for _ in range(n_down):
            layers += [nn.Conv2d(c_in, c, 4, 2, 1), nn.LeakyReLU(0.2)]
            c_in, c = c, c * 2
        self.net = nn.Sequential(*layers)
        self.fc = nn.Linear(c_in * s0 * s0, 1)
        dcgan_init(self)

    def forward(self, x):
        return self.fc(self.net(x).flatten(1)).squeeze(-1)


@MODELS.register("dcgan", schema=ConvNetConfig)
def build_dcgan(cfg, data_shape):
    channels, res = image_shape(data_shape, "dcgan")
    gw, dw = widths(cfg, 64)
    return DCGANGenerator(z_dim(cfg), channels, res, gw), DCGANCritic(channels, res, dw)
