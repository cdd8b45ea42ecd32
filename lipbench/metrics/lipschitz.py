"""Lipschitz diagnostics of a critic: gradient norms, per-layer spectral norms and bounds.

* :func:`gradient_norms` -- per-sample ||grad_x D(x)||_2 at real, fake and interpolated points.
* :func:`conv_operator_norm` -- a conv's operator norm estimated by power iteration (from below).
* :func:`layer_norms` / :func:`lipschitz_summary` -- per-layer norms and their product
  (``sigma_prod`` = ``lip_upper_est``): an *estimate*, and no bound for residual networks.
* :func:`lipschitz_lower_bound` -- a certified lower bound (largest gradient norm or
  difference quotient found by a short gradient ascent over point pairs).
* :func:`lipschitz_report` -- all of the above as (metrics, diagnostics) for evaluators,
  with ``lip_upper``, the guaranteed bound of :mod:`lipbench.metrics.lipschitz_bounds`
  (the ``lipschitz`` metric plug-in of :mod:`lipbench.metrics.lipschitz_metric`).

Every function here leaves the critic as it found it: no ``.grad`` on parameters, the same
``train()``/``eval()`` flags, and (because forward passes run in eval mode) no update of
spectral-norm power-iteration vectors.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from lipbench.errors import DataError
from lipbench.metrics.lipschitz_bounds import critic_lipschitz_bound, frozen as _frozen
from lipbench.metrics.lipschitz_ops import fft_circular_conv_norm, matrix_sigma, pad_amounts as _pad_amounts  # noqa: F401 (re-export)

CHUNK = 256


# ----------------------------------------------------------------------------- helpers
def _device_of(module: nn.Module, fallback: torch.device) -> torch.device:
    for p in module.parameters():
        return p.device
    return fallback


def _input_grad_norms(critic: nn.Module, x: torch.Tensor, chunk: int = CHUNK) -> torch.Tensor:
    """Per-sample ||grad_x D(x)||_2 (critic already in eval mode), as a CPU float tensor."""
    out = []
    with torch.enable_grad():
        for start in range(0, x.shape[0], chunk):
            xb = x[start:start + chunk].detach().clone().requires_grad_(True)
            d = critic(xb)
            if d.numel() != xb.shape[0]:
                raise DataError(f"critic output has shape {tuple(d.shape)}; "
                                f"expected (B,) or (B, 1) for B={xb.shape[0]}")
            (g,) = torch.autograd.grad(d.sum(), xb)
            out.append(g.reshape(g.shape[0], -1).norm(dim=1).detach().float().cpu())
    return torch.cat(out) if out else torch.zeros(0)


def _uniform(n: int, generator, device) -> torch.Tensor:
    gdev = generator.device if generator is not None else device
    return torch.rand(n, generator=generator, device=gdev).to(device)


def _interpolates(real: torch.Tensor, fake: torch.Tensor, generator) -> torch.Tensor:
    n = min(real.shape[0], fake.shape[0])
    real, fake = real[:n].detach(), fake[:n].detach().to(real.device, real.dtype)
    eps = _uniform(n, generator, real.device).to(real.dtype).view(n, *([1] * (real.dim() - 1)))
    return eps * real + (1 - eps) * fake


# ----------------------------------------------------------------------------- gradient norms
def _gradient_norms(critic, real, fake, generator):
    device = _device_of(critic, real.device)
    real, fake = real.detach().to(device), fake.detach().to(device)
    interp = _interpolates(real, fake, generator)
    with _frozen(critic):
        norms = {"real": _input_grad_norms(critic, real), "fake": _input_grad_norms(critic, fake),
                 "interp": _input_grad_norms(critic, interp)}
    return norms, interp


def gradient_norms(critic: nn.Module, real: torch.Tensor, fake: torch.Tensor, generator=None) -> dict:
    """Per-sample input-gradient norms of ``critic`` at real, fake and interpolated points.

    Interpolates are ``eps*real + (1-eps)*fake`` with ``eps ~ U[0, 1]`` per sample, drawn
    from ``generator`` (the global stream only when it is None), over the first
    ``min(len(real), len(fake))`` pairs. Works for (B, 2) points and (B, C, H, W) images.
    The critic runs in eval mode (restored after); parameters get no ``.grad``.

    Returns ``{"real", "fake", "interp"}`` -> 1-D CPU float tensors.
    """
    return _gradient_norms(critic, real, fake, generator)[0]


def gradient_norm_summary(norms: dict) -> dict:
    """Flat ``grad_{real,fake,interp}_{mean,max}`` from :func:`gradient_norms` output (NaN if empty)."""
    out = {}
    for where in ("real", "fake", "interp"):
        v = torch.as_tensor(norms[where], dtype=torch.float64)
        out[f"grad_{where}_mean"] = float(v.mean()) if v.numel() else math.nan
        out[f"grad_{where}_max"] = float(v.max()) if v.numel() else math.nan
    return out


# ----------------------------------------------------------------------------- convolutions
def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def conv_operator_norm(weight, input_shape, stride=1, padding=0, dilation=1, groups=1,
                       padding_mode="zeros", n_iter=50, u=None):
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
        with _frozen(critic), torch.no_grad():
            p = next(critic.parameters(), None)
            dummy = torch.zeros((1, *tuple(input_shape)), device=p.device if p is not None else None,
                                dtype=p.dtype if p is not None and p.is_floating_point() else None)
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
                    sigma_op, _ = conv_operator_norm(w, shape, stride=m.stride, padding=m.padding,
                                                     dilation=m.dilation, groups=m.groups,
                                                     padding_mode=m.padding_mode, n_iter=n_iter)
                out.append({"name": name, "kind": "conv", "sigma": sigma, "sigma_op": sigma_op})
    finally:
        for h in handles:
            h.remove()
    return out


def lipschitz_summary(layers: list, activation_lip: float = 1.0) -> dict:
    """``sigma_max`` (max per-layer sigma) and ``sigma_prod`` (product of sigma_op times
    ``activation_lip ** (n_layers - 1)``): an estimate for a feed-forward chain, a bound
    only where every sigma_op is exact, none for skip connections. None-s are skipped."""
    used = [l for l in layers if l.get("sigma_op") is not None]
    if not used:
        return {"sigma_max": math.nan, "sigma_prod": math.nan}
    prod = math.prod(float(l["sigma_op"]) for l in used) * activation_lip ** (len(used) - 1)
    return {"sigma_max": max(float(l["sigma"]) for l in layers), "sigma_prod": prod}


# ----------------------------------------------------------------------------- lower bound
def _unit_rows(v: torch.Tensor) -> torch.Tensor:
    flat = v.reshape(v.shape[0], -1)
    return (flat / flat.norm(dim=1, keepdim=True).clamp_min(1e-30)).reshape(v.shape)


def lipschitz_lower_bound(critic: nn.Module, points: torch.Tensor, steps: int = 20, lr: float = 0.01,
                          generator=None, n_pairs: int = 32) -> float:
    """A certified lower bound on the Lipschitz constant of ``critic``.

    Starts from the largest ||grad_x D|| over ``points``. Then, from the ``n_pairs`` points
    with the largest gradients, runs ``steps`` of normalized gradient ascent on pairs
    (x, y = x + delta) maximising |D(x) - D(y)| / ||x - y||, and returns the largest value
    seen. ``delta`` keeps length ``r = lr * scale`` (scale = mean ||point||, so the bound is
    not ruined by float round-off on nearly equal points); it starts along the gradient
    plus a little noise from ``generator``. x moves by ``lr * scale`` per step.
    Both the gradient norm and every difference quotient are valid lower bounds.
    Cost: one gradient pass over ``points`` plus ``steps + 1`` forward/backward passes of
    ``2 * n_pairs`` inputs.
    """
    device = _device_of(critic, points.device)
    pts = points.detach().to(device)
    if pts.shape[0] == 0:
        raise DataError("lipschitz_lower_bound: points is empty")
    with _frozen(critic):
        norms = _input_grad_norms(critic, pts)
        best = float(norms.max())
        if steps <= 0:
            return best
        flat = pts.reshape(pts.shape[0], -1)
        scale = float(flat.norm(dim=1).mean()) or 1.0
        r = step = lr * scale
        x = pts[norms.topk(min(n_pairs, len(norms))).indices.to(device)].clone()
        with torch.enable_grad():
            xg = x.clone().requires_grad_(True)
            (g,) = torch.autograd.grad(critic(xg).sum(), xg)
        noise = torch.randn(x.shape, generator=generator,
                            device=generator.device if generator is not None else device).to(device, x.dtype)
        delta = r * _unit_rows(_unit_rows(g) + 0.1 * _unit_rows(noise))
        with torch.enable_grad():
            for i in range(steps + 1):
                x.requires_grad_(True)
                delta.requires_grad_(True)
                y = x + delta
                sep = (y - x).reshape(x.shape[0], -1).norm(dim=1)
                dx, dy = critic(torch.cat([x, y])).reshape(-1).chunk(2)
                ratio = (dx - dy).abs() / sep
                best = max(best, float(ratio.detach().max()))
                if i == steps:
                    break
                gx, gd = torch.autograd.grad(ratio.sum(), (x, delta))
                x = (x + step * _unit_rows(gx)).detach()
                delta = (r * _unit_rows(delta + step * _unit_rows(gd))).detach()
    return best


# ----------------------------------------------------------------------------- report
def lipschitz_report(critic: nn.Module, real: torch.Tensor, fake: torch.Tensor, input_shape, generator=None,
                     n_iter: int = 50, steps: int = 20, lr: float = 0.01, n_pairs: int = 32,
                     activation_lip: float = 1.0):
    """All Lipschitz diagnostics of ``critic`` as ``(metrics, diagnostics)``.

    metrics: the six ``grad_*`` keys, ``sigma_max``, ``sigma_prod``, ``lip_lower``,
    ``lip_upper`` (a guaranteed bound; NaN when none is implemented for the critic),
    ``lip_upper_est`` (= sigma_prod, an estimate) and ``lip_ratio`` (= lip_upper / lip_lower,
    NaN if undefined). ``activation_lip`` enters the estimate only.
    diagnostics: ``{"layers": layer_norms(...) with "bound" and "bound_method" per layer,
    "grad_norms": {"real", "fake", "interp": lists}, "lip_upper": {"certified",
    "unsupported", "ops"}}`` (ops: every module / function's bound and its method).
    The lower bound searches over real, fake and interpolated points. ``n_iter`` (conv power
    iterations), ``steps``, ``lr`` and ``n_pairs`` (pair ascent) trade time for tightness.
    """
    norms, interp = _gradient_norms(critic, real, fake, generator)
    layers = layer_norms(critic, input_shape, n_iter=n_iter)
    summary = lipschitz_summary(layers, activation_lip)
    device = interp.device
    pts = torch.cat([real.detach().to(device), fake.detach().to(device, real.dtype), interp])
    lower = lipschitz_lower_bound(critic, pts, steps=steps, lr=lr, generator=generator, n_pairs=n_pairs)
    bound = critic_lipschitz_bound(critic, input_shape)
    for entry in layers:
        entry.update(bound["layers"].get(entry["name"], {"bound": None, "bound_method": None}))
    upper = bound["lip_upper"]
    ratio = upper / lower if lower > 0 and math.isfinite(upper) else math.nan
    metrics = {**gradient_norm_summary(norms), **summary, "lip_lower": lower, "lip_upper": upper,
               "lip_upper_est": summary["sigma_prod"], "lip_ratio": ratio}
    diagnostics = {"layers": layers, "grad_norms": {k: v.tolist() for k, v in norms.items()},
                   "lip_upper": {"certified": not bound["unsupported"], "unsupported": bound["unsupported"],
                                 "ops": bound["layers"]}}
    return metrics, diagnostics

