"""The Lipschitz rules of single operations, for the bound composed over a critic's graph
(:func:`lipbench.metrics.lipschitz_bounds.critic_lipschitz_bound`).

:func:`module_bound` gives ``(K, method)`` for one call of a layer (linear layers: the exact
σ with a float64 certificate, :mod:`lipbench.metrics.certify`; conv layers:
:mod:`lipbench.metrics.lipschitz_ops`; activations, pooling, upsampling, BatchNorm in eval
mode), :func:`function_factor` the same for a unary function or tensor method, and
:func:`has_rule` says which layers have a rule (the tracer keeps them as leaves). K is
NaN, with the reason as ``method``, where there is no rule.
"""

from __future__ import annotations

import math
import operator

import torch
import torch.nn.functional as F
from torch import nn

from lipbench.metrics.certify import certified_matrix_norm
from lipbench.metrics.lipschitz_ops import conv_norm_certificate, max_pool_bound, nonneg_linear_norm

ONE_LIPSCHITZ = (
    nn.ReLU,
    nn.ReLU6,
    nn.Tanh,
    nn.Hardtanh,
    nn.Identity,
    nn.Flatten,
    nn.Unflatten,
    nn.Dropout,
    nn.Dropout2d,
)  # Dropout: the identity in eval mode
NONNEG_LINEAR = (nn.AvgPool1d, nn.AvgPool2d, nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d)
NONNEG_MODES = ("nearest", "linear", "bilinear", "area")
BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d)

UNARY_ONE = {
    operator.neg,
    torch.neg,
    torch.abs,
    torch.relu,
    F.relu,
    torch.tanh,
    F.hardtanh,
    torch.flatten,
    torch.reshape,
    torch.squeeze,
    torch.unsqueeze,
    torch.transpose,
    torch.permute,
    torch.clamp,
}
METHODS_ONE = {
    "view",
    "reshape",
    "flatten",
    "squeeze",
    "unsqueeze",
    "contiguous",
    "permute",
    "transpose",
    "clone",
    "float",
    "double",
    "to",
    "relu",
    "tanh",
    "neg",
    "abs",
    "clamp",
}
NONNEG_FUNCS = {F.avg_pool1d, F.avg_pool2d, F.adaptive_avg_pool1d, F.adaptive_avg_pool2d, torch.sum, torch.mean}


# ----------------------------------------------------------------------------- modules
def _batch_norm(m, x):
    if m.training or not m.track_running_stats or m.running_var is None:
        return math.nan, f"{type(m).__name__} using batch statistics: no bound implemented"
    scale = (m.running_var.double() + m.eps).rsqrt()
    if m.weight is not None:
        scale = scale * m.weight.detach().double().abs()
    return float(scale.max()), "max |gamma| / sqrt(running_var + eps)"


def module_bound(m: nn.Module, x: torch.Tensor):
    """(K, method) for one call of module ``m`` on input ``x``; K is NaN without a rule.
    Linear and conv layers add a third item, ``{"sigma_exact": exact norm or None}``."""
    if hasattr(m, "lipschitz_bound"):
        return m.lipschitz_bound(x)
    if isinstance(m, nn.Linear):
        bound, exact, _ = certified_matrix_norm(m.weight)
        return bound, "gram certificate (exact)", {"sigma_exact": exact}
    if isinstance(m, nn.Conv2d):
        cert = conv_norm_certificate(
            m.weight,
            x.shape[1:],
            stride=m.stride,
            padding=m.padding,
            dilation=m.dilation,
            groups=m.groups,
            padding_mode=m.padding_mode,
        )
        return cert["bound"], cert["method"], {"sigma_exact": cert["sigma_exact"]}
    if isinstance(m, ONE_LIPSCHITZ):
        return 1.0, "1-Lipschitz"
    if isinstance(m, (nn.LeakyReLU, nn.ELU)):
        a = m.negative_slope if isinstance(m, nn.LeakyReLU) else m.alpha
        return max(1.0, abs(float(a))), "max(1, |slope|)"
    if isinstance(m, nn.Sigmoid):
        return 0.25, "sigmoid' <= 1/4"
    if isinstance(m, NONNEG_LINEAR) or (isinstance(m, nn.Upsample) and m.mode in NONNEG_MODES):
        return nonneg_linear_norm(m, x.shape, x.device), "Schur test (nonnegative linear map)"
    if isinstance(m, nn.MaxPool2d) and not m.ceil_mode and not m.return_indices:
        return max_pool_bound(
            x.shape, kernel_size=m.kernel_size, stride=m.stride, padding=m.padding, dilation=m.dilation
        ), "sqrt(max window cover)"
    if isinstance(m, BATCH_NORMS):
        return _batch_norm(m, x)
    return math.nan, f"no bound implemented for {type(m).__name__}"


def has_rule(m: nn.Module) -> bool:
    return hasattr(m, "lipschitz_bound") or isinstance(
        m,
        (nn.Linear, nn.Conv2d, nn.LeakyReLU, nn.ELU, nn.Sigmoid, nn.Upsample, nn.MaxPool2d)
        + ONE_LIPSCHITZ
        + NONNEG_LINEAR
        + BATCH_NORMS,
    )


# ----------------------------------------------------------------------------- functions
def function_factor(target, args, kwargs):
    """(K, method) for a unary function / method whose first argument is the only input."""
    if target in UNARY_ONE or target in METHODS_ONE:
        return 1.0, "1-Lipschitz"
    if target in (F.leaky_relu, "leaky_relu"):
        slope = args[1] if len(args) > 1 else kwargs.get("negative_slope", 0.01)
        return max(1.0, abs(float(slope))), "max(1, |slope|)"
    if target in (torch.sigmoid, F.sigmoid, "sigmoid"):
        return 0.25, "sigmoid' <= 1/4"
    interp = target is F.interpolate and kwargs.get("mode", args[3] if len(args) > 3 else "nearest") in NONNEG_MODES
    if target in NONNEG_FUNCS or target in ("sum", "mean") or interp:
        rest, x = args[1:], args[0]
        fn = (
            (lambda t: getattr(t, target)(*rest, **kwargs))
            if isinstance(target, str)
            else (lambda t: target(t, *rest, **kwargs))
        )
        return nonneg_linear_norm(fn, x.shape, x.device), "Schur test (nonnegative linear map)"
    if target is operator.getitem and _basic_index(args[1]):
        return 1.0, "slice (coordinate projection)"
    return math.nan, f"no bound implemented for {getattr(target, '__name__', target)}"


def _basic_index(idx) -> bool:
    items = idx if isinstance(idx, tuple) else (idx,)
    return all(i is None or i is Ellipsis or isinstance(i, (int, slice)) for i in items)
