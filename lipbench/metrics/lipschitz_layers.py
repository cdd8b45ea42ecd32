"""Per-layer norms of a critic: the estimate ``lip_upper_est`` of
:func:`lipbench.metrics.lipschitz.lipschitz_report`.

* :func:`conv_operator_norm` -- a conv's operator norm estimated by power iteration (from below).
* :func:`layer_norms` / :func:`lipschitz_summary` -- per-layer norms and their product: an
  *estimate*, and no bound for residual networks.

Like the rest of the diagnostics, these leave the critic as they found it (eval-mode
forward passes: no update of spectral-norm power-iteration vectors).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from lipbench.metrics.conv_gram import conv_geometry, pad_amounts as _pad_amounts
from lipbench.metrics.lipschitz_bounds import preserved
from lipbench.metrics.lipschitz_ops import matrix_sigma
from lipbench.models.modes import eval_mode


# ----------------------------------------------------------------------------- convolutions
def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def conv_operator_norm(
    weight, input_shape, *, stride=1, padding=0, dilation=1, groups=1, padding_mode="zeros", n_iter=50, u=None
):
    """Largest singular value of ``x -> conv2d(pad(x), weight)`` on inputs of shape (C, H, W).

    Power iteration on A^T A, where A is the padded convolution (any ``padding_mode`` of
    nn.Conv2d: zeros, circular, reflect, replicate) and A^T is obtained by autograd.
    Stride, dilation and groups are honoured. ``u`` (shape (C, H, W)) warm-starts the
    iteration; otherwise it starts from a fixed-seed random vector (no global RNG).

    Returns ``(sigma, u)`` with ``u`` the final unit-norm right singular vector estimate.
    """
    w = weight.detach()
    dtype = torch.promote_types(w.dtype, torch.float32)
    w = w.to(dtype)
    pads = _pad_amounts(w, padding, dilation)
    mode = "constant" if padding_mode == "zeros" else padding_mode

    def apply(x):
        return F.conv2d(F.pad(x, pads, mode=mode), w, stride=stride, dilation=dilation, groups=groups)

    shape = (1, *tuple(input_shape))
    if u is None:
        gen = torch.Generator(device=w.device).manual_seed(0)
        x = torch.randn(shape, generator=gen, device=w.device, dtype=dtype)
    else:
        x = u.detach().to(w.device, dtype).reshape(shape).clone()
    x = x / x.norm().clamp_min(1e-30)
    with torch.enable_grad():
        for _ in range(int(n_iter)):
            x.requires_grad_(True)
            y = apply(x)
            (ata,) = torch.autograd.grad(y, x, grad_outputs=y.detach())
            x = (ata / ata.norm().clamp_min(1e-30)).detach()
    with torch.no_grad():
        sigma = float(apply(x).norm())
    return sigma, x[0]


# ----------------------------------------------------------------------------- per layer
def layer_norms(critic: nn.Module, input_shape, n_iter: int = 50) -> list:
    """Spectral norms of every nn.Linear / nn.Conv2d of ``critic``, in module order.

    Each entry is ``{"name", "kind": "linear"|"conv", "sigma", "sigma_op"}``. ``sigma`` is
    the largest singular value of the effective weight (``module.weight``, so spectral norm
    and other parametrizations are applied; a conv kernel is reshaped to
    out x (in*kh*kw), which is what SN normalizes). ``sigma_op`` is the true operator norm
    (linear: ``sigma``; conv: :func:`conv_operator_norm` at the spatial size the layer sees
    in a dummy forward pass of one zero input of shape ``input_shape``; None for a layer
    the forward pass never calls). Runs in eval mode, so SN's ``u`` is not updated.
    """
    layers = [(name, m) for name, m in critic.named_modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    seen = {}

    def hook(module, args):
        seen.setdefault(id(module), tuple(args[0].shape[1:]))

    handles = [m.register_forward_pre_hook(hook) for _, m in layers if isinstance(m, nn.Conv2d)]
    out = []
    try:
        with preserved(critic), eval_mode(critic), torch.no_grad():
            p = next(critic.parameters(), None)
            dummy = torch.zeros(
                (1, *tuple(input_shape)),
                device=p.device if p is not None else None,
                dtype=p.dtype if p is not None and p.is_floating_point() else None,
            )
            critic(dummy)
            for name, m in layers:
                w = m.weight.detach()
                sigma = matrix_sigma(w)
                if isinstance(m, nn.Linear):
                    out.append({"name": name, "kind": "linear", "sigma": sigma, "sigma_op": sigma})
                    continue
                shape = seen.get(id(m))
                sigma_op = None
                if shape is not None:
                    sigma_op, _ = conv_operator_norm(w, shape, **conv_geometry(m), n_iter=n_iter)
                out.append({"name": name, "kind": "conv", "sigma": sigma, "sigma_op": sigma_op})
    finally:
        for h in handles:
            h.remove()
    return out


def lipschitz_summary(layers: list, activation_lip: float = 1.0) -> dict:
    """``sigma_max`` (max per-layer sigma) and ``lip_upper_est`` (product of sigma_op times
    ``activation_lip ** (n_layers - 1)``): an estimate for a feed-forward chain, a bound
    only where every sigma_op is exact, none for skip connections. None-s are skipped.
    (Records written before this name existed hold the product as ``sigma_prod``.)"""
    used = [l for l in layers if l.get("sigma_op") is not None]
    if not used:
        return {"sigma_max": math.nan, "lip_upper_est": math.nan}
    prod = math.prod(float(l["sigma_op"]) for l in used) * activation_lip ** (len(used) - 1)
    return {"sigma_max": max(float(l["sigma"]) for l in layers), "lip_upper_est": prod}
