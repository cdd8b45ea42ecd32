"""Input gradients of the critic, shared by the gradient-penalty family."""

from __future__ import annotations

import torch


def input_gradients(critic, x: torch.Tensor, create_graph: bool = True) -> torch.Tensor:
    """d(sum_i D(x_i))/dx: per-sample gradients of the critic w.r.t. its input, shape of ``x``."""
    x = x.detach().requires_grad_(True)
    out = critic(x)
    (grad,) = torch.autograd.grad(out.sum(), x, create_graph=create_graph)
    return grad


def input_gradient_norms(critic, x: torch.Tensor, create_graph: bool = True) -> torch.Tensor:
    """Per-sample Euclidean norms ‖∇x D(x)‖, shape (B,)."""
    return input_gradients(critic, x, create_graph).flatten(1).norm(2, dim=1)


def interpolates(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """Uniform random points on the segments between paired real and fake samples."""
    eps = torch.rand((real.shape[0],) + (1,) * (real.dim() - 1), device=real.device, dtype=real.dtype)
    return eps * real.detach() + (1 - eps) * fake.detach()
