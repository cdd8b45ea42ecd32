"""Independent references for the constraints' defining-property checks.

Every constraint declares the property that defines it as a classmethod,
``Constraint.check_property()``, next to its code; the test suite runs it for every
registered constraint and fails for one that declares none. The checks compare the
constraint with a computation that does not use its code: input-gradient norms of a
tiny ReLU net by the chain rule in numpy, singular values of dense matrices, a conv's
operator norm from its dense matrix. They raise :class:`AssertionError` naming what
failed, and leave the global random state as they found it.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import numpy as np
import torch
from torch import nn


def expect(condition: bool, message: str) -> None:
    """Raise AssertionError(message) unless ``condition`` (kept under ``python -O``)."""
    if not condition:
        raise AssertionError(message)


def close(value: float, reference: float, rel: float = 1e-5, abs_tol: float = 0.0) -> bool:
    return abs(float(value) - float(reference)) <= max(rel * abs(float(reference)), abs_tol)


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Run the body from ``torch.manual_seed(seed)``, then put the global random state back."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def tiny_relu_net(scale: float = 1.0) -> nn.Sequential:
    """D(x) = w2 · relu(W1 x + b1) + b2 on R², 3 hidden units; W1 multiplied by ``scale``."""
    net = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    with torch.no_grad():
        net[0].weight.mul_(scale)
    return net


def hand_gradient_norms(net: nn.Sequential, x: torch.Tensor) -> np.ndarray:
    """‖∇x D(x)‖ per row of ``x`` for a :func:`tiny_relu_net`, by the chain rule in numpy."""
    w1, b1 = net[0].weight.detach().double().numpy(), net[0].bias.detach().double().numpy()
    w2 = net[2].weight.detach().double().numpy()[0]
    xs = x.detach().double().numpy()
    grads = (((xs @ w1.T + b1) > 0) * w2) @ w1
    return np.linalg.norm(grads, axis=1)


def mlp_critic(width: int = 16, activation=nn.ReLU) -> nn.Sequential:
    return nn.Sequential(nn.Linear(2, width), activation(), nn.Linear(width, width), activation(), nn.Linear(width, 1))


def train_critic(constraint, critic: nn.Module, steps: int, lr: float, real_shape=(64, 2)) -> None:
    """``steps`` Wasserstein critic steps with Adam (fresh Gaussian batches), the penalty
    added and the projection applied after each, written here without lipbench.train."""
    opt = torch.optim.Adam(critic.parameters(), lr=lr, betas=(0.5, 0.9))
    for _ in range(steps):
        real, fake = torch.randn(*real_shape) + 1, torch.randn(*real_shape)
        opt.zero_grad()
        loss = critic(fake).mean() - critic(real).mean()
        penalty = constraint.penalty(critic, real, fake)
        (loss if penalty is None else loss + penalty).backward()
        opt.step()
        with torch.no_grad():
            constraint.project(critic)


def singular_values(weight: torch.Tensor) -> torch.Tensor:
    """σ of ``weight`` reshaped to out × rest, in float64."""
    return torch.linalg.svdvals(weight.detach().double().reshape(weight.shape[0], -1))


def dense_conv_norm(conv: nn.Conv2d, shape) -> float:
    """Operator norm of ``conv`` (no bias) on inputs of ``shape`` (C, H, W), from its dense matrix."""
    n = int(np.prod(shape))
    basis = torch.eye(n, dtype=torch.float64).reshape(n, *shape)
    cols = torch.nn.functional.conv2d(
        basis,
        conv.weight.detach().double(),
        stride=conv.stride,
        padding=conv.padding,
        dilation=conv.dilation,
        groups=conv.groups,
    )
    return torch.linalg.svdvals(cols.reshape(n, -1).T)[0].item()
