"""Lipschitz diagnostics of a critic: gradient norms, per-layer spectral norms and bounds.

* :func:`gradient_norms` -- per-sample ||grad_x D(x)||_2 at real, fake and interpolated points.
* :func:`~lipbench.metrics.lipschitz_layers.layer_norms` /
  :func:`~lipbench.metrics.lipschitz_layers.lipschitz_summary` -- per-layer norms and their
  product (``lip_upper_est``): an *estimate*, and no bound for residual
  networks (:mod:`lipbench.metrics.lipschitz_layers`, with ``conv_operator_norm``).
* :func:`lipschitz_lower_bound` -- a certified lower bound (largest gradient norm or
  difference quotient found by a short gradient ascent over point pairs).
* :func:`lipschitz_report` -- all of the above as (metrics, diagnostics) for evaluators,
  with ``lip_upper``, the guaranteed bound of :mod:`lipbench.metrics.lipschitz_bounds`
  (the ``lipschitz`` metric plug-in of :mod:`lipbench.metrics.lipschitz_metric`).

Every function here leaves the critic as it found it: no ``.grad`` on parameters, the same
``train()``/``eval()`` flags, and (because forward passes run in eval mode) no update of
spectral-norm power-iteration vectors; :func:`lipschitz_report` also puts back every buffer
(:func:`lipbench.metrics.lipschitz_bounds.preserved`), so a critic whose forward pass at a
new input shape restarts a vector (sn_conv) is bit-identical afterwards.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from lipbench.errors import DataError
from lipbench.metrics.lipschitz_bounds import critic_lipschitz_bound, preserved
from lipbench.metrics.lipschitz_layers import layer_norms, lipschitz_summary
from lipbench.metrics.lipschitz_ops import fft_circular_conv_norm  # noqa: F401 (re-export)
from lipbench.models.modes import eval_mode

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
            xb = x[start : start + chunk].detach().clone().requires_grad_(True)
            d = critic(xb)
            if d.numel() != xb.shape[0]:
                raise DataError(
                    f"critic output has shape {tuple(d.shape)}; expected (B,) or (B, 1) for B={xb.shape[0]}"
                )
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
    with eval_mode(critic):
        norms = {
            "real": _input_grad_norms(critic, real),
            "fake": _input_grad_norms(critic, fake),
            "interp": _input_grad_norms(critic, interp),
        }
    return norms, interp


def gradient_norms(critic: nn.Module, real: torch.Tensor, fake: torch.Tensor, *, generator=None) -> dict:
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


# ----------------------------------------------------------------------------- lower bound
def _unit_rows(v: torch.Tensor) -> torch.Tensor:
    flat = v.reshape(v.shape[0], -1)
    return (flat / flat.norm(dim=1, keepdim=True).clamp_min(1e-30)).reshape(v.shape)


def lipschitz_lower_bound(
    critic: nn.Module, points: torch.Tensor, *, steps: int = 20, lr: float = 0.01, generator=None, n_pairs: int = 32
) -> float:
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
    with eval_mode(critic):
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
        noise = torch.randn(
            x.shape, generator=generator, device=generator.device if generator is not None else device
        ).to(device, x.dtype)
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
def lipschitz_report(
    critic: nn.Module,
    real: torch.Tensor,
    fake: torch.Tensor,
    *,
    input_shape,
    generator=None,
    n_iter: int = 50,
    steps: int = 20,
    lr: float = 0.01,
    n_pairs: int = 32,
    activation_lip: float = 1.0,
):
    """All Lipschitz diagnostics of ``critic`` as ``(metrics, diagnostics)``.

    metrics: the six ``grad_*`` keys, ``sigma_max``, ``lip_upper_est`` (the product of the
    layers' estimated norms: an estimate), ``lip_lower``, ``lip_upper`` (a guaranteed bound;
    NaN when none is implemented for the critic) and ``lip_ratio`` (= lip_upper / lip_lower,
    NaN if undefined). ``activation_lip`` enters the estimate only.
    diagnostics: ``{"layers": layer_norms(...) with "bound" and "bound_method" per layer,
    "grad_norms": {"real", "fake", "interp": lists}, "lip_upper": {"certified",
    "unsupported", "ops"}}`` (ops: every module / function's bound and its method).
    The lower bound searches over real, fake and interpolated points. ``n_iter`` (conv power
    iterations), ``steps``, ``lr`` and ``n_pairs`` (pair ascent) trade time for tightness.
    Per layer, ``sigma_exact`` is the layer's exact operator norm where it was computed (SVD;
    for a conv, the Lanczos value its certified bound sits 1e-9 above), else None.
    """
    with preserved(critic):
        return _report(critic, real, fake, input_shape, generator, n_iter, steps, lr, n_pairs, activation_lip)


def _report(critic, real, fake, input_shape, generator, n_iter, steps, lr, n_pairs, activation_lip):
    norms, interp = _gradient_norms(critic, real, fake, generator)
    layers = layer_norms(critic, input_shape, n_iter=n_iter)
    summary = lipschitz_summary(layers, activation_lip)
    device = interp.device
    pts = torch.cat([real.detach().to(device), fake.detach().to(device, real.dtype), interp])
    lower = lipschitz_lower_bound(critic, pts, steps=steps, lr=lr, generator=generator, n_pairs=n_pairs)
    bound = critic_lipschitz_bound(critic, input_shape)
    for entry in layers:
        entry.update({"bound": None, "bound_method": None, "sigma_exact": None})
        entry.update(bound["layers"].get(entry["name"], {}))
    upper = bound["lip_upper"]
    ratio = upper / lower if lower > 0 and math.isfinite(upper) else math.nan
    metrics = {
        **gradient_norm_summary(norms),
        **summary,
        "lip_lower": lower,
        "lip_upper": upper,
        "lip_ratio": ratio,
    }
    diagnostics = {
        "layers": layers,
        "grad_norms": {k: v.tolist() for k, v in norms.items()},
        "lip_upper": {
            "certified": not bound["unsupported"],
            "unsupported": bound["unsupported"],
            "ops": bound["layers"],
        },
    }
    return metrics, diagnostics
