"""The SN-GAN "standard CNN" (Miyato et al. 2018, Table 3) critic and its DCGAN generator.

Critic (``w = width``, 64 in the paper): conv3-w, conv4s2-w, conv3-2w, conv4s2-2w,
conv3-4w, conv4s2-4w, conv3-8w, each followed by LeakyReLU(0.1), then a linear layer on
the flattened ``R/8 x R/8 x 8w`` map. No BatchNorm.

Generator: z (128) -> linear -> ``R/8 x R/8 x 8w`` (BN, ReLU) -> three 4x4 stride-2
deconvolutions to 4w, 2w, w (BN, ReLU) -> conv3 to the image channels -> tanh.
``R/8`` is 4 at 32 px (CIFAR-10) and 6 at 48 px (STL-10), as in the paper.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from lipbench.errors import ConfigError
from lipbench.models import MODELS
from lipbench.models.dcgan import ConvNetConfig, image_shape, widths, z_dim


@dataclass
class SNGANCNNConfig(ConvNetConfig):
    """``model=sngan_cnn``: SN-GAN's "standard CNN" (Table 3): critic conv3-64, conv4s2-64,
    conv3-128, conv4s2-128, conv3-256, conv4s2-256, conv3-512 (LeakyReLU 0.1), linear;
    generator z(128) -> 4x4x512 (at 32 px) -> deconv 256, 128, 64 (BN, ReLU) -> conv3 -> tanh.
    All channel counts scale with width (64 = paper)."""

    name: str = "sngan_cnn"


def _base(resolution: int) -> int:
    if resolution % 8 or resolution < 8:
        raise ConfigError(f"data.resolution={resolution}: model sngan_cnn needs a multiple of 8 (16, 32, 48, 64)")
    return resolution // 8


class SNGANGenerator(nn.Module):
    def __init__(self, z_dim: int, channels: int, resolution: int, width: int = 64):
        super().__init__()
        self.z_dim = z_dim
        self.s0 = _base(resolution)
        self.c0 = 8 * width
        self.fc = nn.Linear(z_dim, self.c0 * self.s0 * self.s0)
        self.bn0 = nn.BatchNorm2d(self.c0)
        layers, c = [], self.c0
        for _ in range(3):
            layers += [nn.ConvTranspose2d(c, c // 2, 4, 2, 1), nn.BatchNorm2d(c // 2), nn.ReLU(True)]
            c //= 2
        layers += [nn.Conv2d(c, channels, 3, 1, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z):
        h = self.fc(z).view(-1, self.c0, self.s0, self.s0)
        return self.net(torch.relu(self.bn0(h)))


class SNGANCritic(nn.Module):
    """The standard CNN critic; ``M = R/8`` is the spatial size before the linear layer."""

    def __init__(self, channels: int, resolution: int, width: int = 64):
        super().__init__()
        s = _base(resolution)
        w = width
        spec = [  # (in, out, kernel, stride, padding)
            (channels, w, 3, 1, 1),
            (w, w, 4, 2, 1),
            (w, 2 * w, 3, 1, 1),
            (2 * w, 2 * w, 4, 2, 1),
            (2 * w, 4 * w, 3, 1, 1),
            (4 * w, 4 * w, 4, 2, 1),
            (4 * w, 8 * w, 3, 1, 1),
        ]
        layers = []
        for c_in, c_out, k, st, p in spec:
            layers += [nn.Conv2d(c_in, c_out, k, st, p), nn.LeakyReLU(0.1)]
        self.net = nn.Sequential(*layers)
        self.fc = nn.Linear(8 * w * s * s, 1)

    def forward(self, x):
        return self.fc(self.net(x).flatten(1)).squeeze(-1)


@MODELS.register("sngan_cnn", schema=SNGANCNNConfig)
def build_sngan_cnn(cfg, data_shape):
    channels, res = image_shape(data_shape, "sngan_cnn")
    gw, dw = widths(cfg, 64)
    return SNGANGenerator(z_dim(cfg), channels, res, gw), SNGANCritic(channels, res, dw)
