"""MLP generator and critic for 2-D data (WGAN-GP toy setting: 3 x 512 ReLU)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from torch import nn

from lipbench.errors import ConfigError, require
from lipbench.models import MODELS
from lipbench.models.activations import ACTIVATIONS


def mlp(in_dim: int, hidden: int, depth: int, out_dim: int, activation: str) -> nn.Sequential:
    """``depth`` hidden layers of width ``hidden``, each followed by ``activation``."""
    layers, d = [], in_dim
    for _ in range(depth):
        layers += [nn.Linear(d, hidden), ACTIVATIONS.get(activation)()]
        d = hidden
    layers.append(nn.Linear(d, out_dim))
    return nn.Sequential(*layers)


class MLPGenerator(nn.Module):
    def __init__(self, z_dim, out_dim, hidden, depth, activation):
        super().__init__()
        self.z_dim = z_dim
        self.net = mlp(z_dim, hidden, depth, out_dim, activation)

    def forward(self, z):
        return self.net(z)


class MLPCritic(nn.Module):
    def __init__(self, in_dim, hidden, depth, activation):
        super().__init__()
        self.net = mlp(in_dim, hidden, depth, 1, activation)

    def forward(self, x):
        return self.net(x).squeeze(-1)


@dataclass
class MLPConfig:
    """``model=mlp``: MLP generator and critic for 2-D data (WGAN-GP toy code: 3 hidden
    layers of 512 ReLU, noise dim 2). The critic-only keys default to the generator's."""

    name: str = "mlp"
    z_dim: int = 2
    hidden: int = 512
    depth: int = 3
    activation: str = "relu"  # relu, leaky_relu, tanh, groupsort, maxmin, fullsort
    critic_depth: Optional[int] = None  # null = depth
    critic_activation: Optional[str] = None  # null = activation

    def __post_init__(self):
        for key in ("z_dim", "hidden", "depth"):
            require(getattr(self, key), f"model.{key}", at_least=1)
        if self.critic_depth is not None:
            require(self.critic_depth, "model.critic_depth", at_least=1, why="or null: depth")


@MODELS.register("mlp", schema=MLPConfig)
def build_mlp(cfg, data_shape):
    if len(data_shape) != 1:
        raise ConfigError(f"model.name=mlp: needs vector data, got data of shape {data_shape}; use an image model")
    critic_activation = getattr(cfg, "critic_activation", None) or cfg.activation
    g = MLPGenerator(int(cfg.z_dim), data_shape[0], int(cfg.hidden), int(cfg.depth), cfg.activation)
    d = MLPCritic(data_shape[0], int(cfg.hidden), int(cfg.critic_depth or cfg.depth), critic_activation)
    return g, d
