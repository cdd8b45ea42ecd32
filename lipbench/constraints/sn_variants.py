"""Spectral-normalization variants (``sn`` itself lives in :mod:`lipbench.constraints.sn`).

* ``sn_exact``: every weight (conv kernels reshaped to out × in·kh·kw) is divided by its
  exact largest singular value, ``torch.linalg.matrix_norm(W, ord=2)`` (an SVD) at
  every forward pass, with the gradient through σ. No power-iteration lag.
* ``sn_conv``: every convolution is divided by the *true operator norm* of the
  convolution it computes (with its stride, padding, padding mode, dilation and groups)
  on the input size it sees, estimated by power iteration on the convolution and its
  adjoint with a persistent vector (``n_power_iterations`` per training forward, like
  SN; :func:`lipbench.metrics.lipschitz_layers.conv_operator_norm`). Linear layers get plain SN.
  This makes each conv layer 1-Lipschitz as an operator, which normalizing the reshaped
  kernel does not: a 3×3 conv whose reshaped kernel has σ = 1 can have operator norm up
  to 3 (√(kh·kw)). The input size is captured by a forward pre-hook on the first forward
  pass (the vector is then warmed up with 15 iterations, like torch's SN at registration)
  and re-captured if it changes; the vector is a buffer, so it is checkpointed.

Both use SN-GAN's optimizer setting (C of Table 1) in their ``paper`` block.
"""

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import spectral_norm

from lipbench.constraints import CONSTRAINTS
from lipbench.constraints.base import Constraint, Params
from lipbench.constraints.checks import close, dense_conv_norm, expect, seeded, singular_values
from lipbench.constraints.layers import constrained_layers
from lipbench.constraints.sn import SNParams
from lipbench.metrics.lipschitz_layers import conv_operator_norm

WARMUP_ITERATIONS = 15


class ExactSpectralNorm(nn.Module):
    """Parametrization W -> W / σ_max(W reshaped to out × rest), exact (SVD)."""

    def forward(self, weight):
        w2 = weight.reshape(weight.shape[0], -1)
        return weight / torch.linalg.matrix_norm(w2, ord=2).clamp_min(1e-12)


@dataclass
class ExactParams(Params):
    pass


@CONSTRAINTS.register("sn_exact")
class SpectralNormExact(Constraint):
    name = "sn_exact"
    Params = ExactParams

    def wrap(self, critic):
        for module in list(constrained_layers(critic)):
            parametrize.register_parametrization(module, "weight", ExactSpectralNorm())
        return critic

    @classmethod
    def check_property(cls):
        """After SGD steps, the largest singular value of a linear weight and of a reshaped
        conv kernel is 1 (to 1e-5), by an SVD of the effective weights."""
        with seeded(0):
            net = cls.build().wrap(
                nn.Sequential(nn.Conv2d(1, 4, 3, 1, 1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 5 * 5, 1))
            )
            opt = torch.optim.SGD(net.parameters(), lr=0.5)
            for _ in range(3):
                opt.zero_grad()
                net(torch.randn(8, 1, 5, 5)).pow(2).mean().backward()
                opt.step()
        for m in (net[0], net[3]):
            sigma = singular_values(m.weight)[0].item()
            expect(close(sigma, 1.0, abs_tol=1e-5), f"sn_exact: sigma {sigma}, not 1")


class ConvOperatorNorm(nn.Module):
    """Parametrization K -> K / ‖conv_K‖ (operator norm of the layer's convolution).

    ``u`` (a buffer) holds the current right singular vector estimate, of the layer's
    input shape (C, H, W); it is empty until the first forward pass tells the shape.
    In training mode each forward runs ``n_power_iterations`` power iterations (no
    gradient); σ = ‖conv_K(u)‖ is then differentiable in K, as σ = uᵀWv is in SN.
    """

    def __init__(self, conv: nn.Conv2d, n_power_iterations: int, eps: float):
        super().__init__()
        self.n_power, self.eps = n_power_iterations, eps
        self.geometry = dict(
            stride=conv.stride,
            padding=conv.padding,
            dilation=conv.dilation,
            groups=conv.groups,
            padding_mode=conv.padding_mode,
        )
        self.conv = [conv]  # a list, so that the layer is not registered as our submodule
        self.register_buffer("u", torch.empty(0))
        self._pending_warmup = False

    def set_input_shape(self, shape) -> None:
        """Called by the pre-hook: (re)start the vector if the input shape is new."""
        if tuple(self.u.shape) != tuple(shape):
            self.u = torch.empty(shape, device=self.u.device, dtype=self.u.dtype)
            self._pending_warmup = True

    def _apply_conv(self, x, weight):
        return self.conv[0]._conv_forward(x, weight, None)

    def forward(self, weight):
        if self.u.numel() == 0:  # shape not known yet (e.g. registration check)
            return weight
        if self._pending_warmup or self.training:
            n = WARMUP_ITERATIONS if self._pending_warmup else self.n_power
            _, u = conv_operator_norm(
                weight.detach(),
                tuple(self.u.shape),
                n_iter=n,
                u=None if self._pending_warmup else self.u,
                **self.geometry,
            )
            with torch.no_grad():
                self.u.copy_(u.to(self.u.dtype))
            self._pending_warmup = False
        u = self.u.clone()  # the buffer is updated in place by the next training forward
        sigma = self._apply_conv(u.unsqueeze(0).to(weight.dtype), weight).norm()
        return weight / sigma.clamp_min(self.eps)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        saved = state_dict.get(prefix + "u")
        if saved is not None and tuple(saved.shape) != tuple(self.u.shape):
            self.u = torch.empty_like(saved, device=self.u.device)
            self._pending_warmup = False
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)


def capture_input_shape(module, args):
    """Forward pre-hook: tell the layer's weight parametrization the input size it sees."""
    module.parametrizations.weight[0].set_input_shape(tuple(args[0].shape[1:]))


@CONSTRAINTS.register("sn_conv")
class SpectralNormConv(Constraint):
    name = "sn_conv"
    Params = SNParams

    def wrap(self, critic):
        for module in list(constrained_layers(critic)):
            if isinstance(module, nn.Conv2d):
                p = ConvOperatorNorm(module, self.params.n_power_iterations, self.params.eps)
                parametrize.register_parametrization(module, "weight", p)
                module.register_forward_pre_hook(capture_input_shape)
            else:
                spectral_norm(module, n_power_iterations=self.params.n_power_iterations, eps=self.params.eps)
        return critic

    @classmethod
    def check_property(cls):
        """After training-mode forward passes, each conv's operator norm on the input size it
        sees (from the dense matrix of the convolution, stride and padding included) is 1,
        and so is the linear layer's largest singular value (within 2%)."""
        shape = (2, 6, 6)
        with seeded(0):
            net = cls.build().wrap(
                nn.Sequential(
                    nn.Conv2d(2, 4, 3, 1, 1),
                    nn.LeakyReLU(0.1),
                    nn.Conv2d(4, 4, 4, 2, 1),
                    nn.Flatten(),
                    nn.Linear(4 * 3 * 3, 1),
                )
            )
            for _ in range(10):
                net(torch.randn(4, *shape))
        net.eval()
        norms = [dense_conv_norm(net[0], shape), dense_conv_norm(net[2], (4, 6, 6)), singular_values(net[4].weight)[0]]
        expect(all(close(n, 1.0, rel=0.02) for n in norms), f"sn_conv: operator norms {norms}, not 1")
