"""The ResNet generator and critic of WGAN-GP (Gulrajani et al. 2017) and SN-GAN
(Miyato et al. 2018) for CIFAR-10, with blocks added or removed for other resolutions.

Generator: z -> linear -> ``s0 x s0 x width`` (``s0`` = 4 at 16/32/64 px, 6 at 48 px) ->
one up-block per doubling (3 at 32 px) -> BN -> ReLU -> conv3 -> tanh. An up-block is
BN-ReLU-upsample-conv3-BN-ReLU-conv3 with a (upsample, conv1x1) shortcut.

Critic: the "optimized" first block (conv3-ReLU-conv3-avgpool, shortcut avgpool-conv1x1),
down-blocks until the map is at most 8 x 8, two plain blocks, ReLU, global sum pooling
and a linear layer. At 32 px this is the published 4-block critic. No BatchNorm.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from lipbench.models import MODELS
from lipbench.models.dcgan import ConvNetConfig, image_shape, start_size, widths, z_dim


@dataclass
class ResNetConfig(ConvNetConfig):
    """``model=resnet``: the ResNet generator and critic of WGAN-GP / SN-GAN at 32x32 (3
    up-blocks; optimized block, 1 down-block, 2 plain blocks, global sum pooling); other
    resolutions add/remove blocks. width 128 = WGAN-GP (SN-GAN's generator uses g_width=256)."""

    name: str = "resnet"
    width: int = 128


def _init(module: nn.Module) -> None:
    """Xavier-uniform weights (gain sqrt(2) in residual paths, 1 elsewhere), zero biases."""
    for name, m in module.named_modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            residual = isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3) and "residual" in name
            nn.init.xavier_uniform_(m.weight, math.sqrt(2) if residual else 1.0)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


class UpBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.residual = nn.Sequential(
            nn.BatchNorm2d(c_in),
            nn.ReLU(),
            nn.Upsample(scale_factor=2, mode="nearest"),
            nn.Conv2d(c_in, c_out, 3, 1, 1),
            nn.BatchNorm2d(c_out),
            nn.ReLU(),
            nn.Conv2d(c_out, c_out, 3, 1, 1),
        )
        self.shortcut = nn.Conv2d(c_in, c_out, 1)

    def forward(self, x):
        return self.residual(x) + self.shortcut(F.interpolate(x, scale_factor=2, mode="nearest"))


class DownBlock(nn.Module):
    """ReLU-conv3-ReLU-conv3 (+ avgpool); shortcut conv1x1 (+ avgpool) when the shape changes."""

    def __init__(self, c_in: int, c_out: int, down: bool):
        super().__init__()
        layers = [nn.ReLU(), nn.Conv2d(c_in, c_out, 3, 1, 1), nn.ReLU(), nn.Conv2d(c_out, c_out, 3, 1, 1)]
        if down:
            layers.append(nn.AvgPool2d(2))
        self.residual = nn.Sequential(*layers)
        self.down = down
        self.shortcut = nn.Conv2d(c_in, c_out, 1) if (down or c_in != c_out) else nn.Identity()

    def forward(self, x):
        s = self.shortcut(x)
        return self.residual(x) + (F.avg_pool2d(s, 2) if self.down else s)


class OptimizedBlock(nn.Module):
    """The critic's first block: conv3-ReLU-conv3-avgpool, shortcut avgpool-conv1x1."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.residual = nn.Sequential(
            nn.Conv2d(c_in, c_out, 3, 1, 1), nn.ReLU(), nn.Conv2d(c_out, c_out, 3, 1, 1), nn.AvgPool2d(2)
        )
        self.shortcut = nn.Sequential(nn.AvgPool2d(2), nn.Conv2d(c_in, c_out, 1))

    def forward(self, x):
        return self.residual(x) + self.shortcut(x)


class ResNetGenerator(nn.Module):
    def __init__(self, z_dim: int, channels: int, resolution: int, width: int = 128):
        super().__init__()
        self.z_dim = z_dim
        self.s0, n_up = start_size(resolution, "resnet")
        self.width = width
        self.fc = nn.Linear(z_dim, width * self.s0 * self.s0)
        self.blocks = nn.Sequential(*[UpBlock(width, width) for _ in range(n_up)])
        self.out = nn.Sequential(nn.BatchNorm2d(width), nn.ReLU(), nn.Conv2d(width, channels, 3, 1, 1), nn.Tanh())
        _init(self)

    def forward(self, z):
        return self.out(self.blocks(self.fc(z).view(-1, self.width, self.s0, self.s0)))


class ResNetCritic(nn.Module):
    def __init__(self, channels: int, resolution: int, width: int = 128):
        super().__init__()
        start_size(resolution, "resnet")  # same resolutions as the generator
        blocks = [OptimizedBlock(channels, width)]
        size = resolution // 2
        while size > 8 and size % 2 == 0:
            blocks.append(DownBlock(width, width, down=True))
            size //= 2
        blocks += [DownBlock(width, width, down=False), DownBlock(width, width, down=False)]
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(width, 1)
        _init(self)

    def forward(self, x):
        h = torch.relu(self.blocks(x)).sum(dim=(2, 3))
        return self.fc(h).squeeze(-1)


@MODELS.register("resnet", schema=ResNetConfig)
def build_resnet(cfg, data_shape):
    channels, res = image_shape(data_shape, "resnet")
    gw, dw = widths(cfg, 128)
    return ResNetGenerator(z_dim(cfg), channels, res, gw), ResNetCritic(channels, res, dw)
