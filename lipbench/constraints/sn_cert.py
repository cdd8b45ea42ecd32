"""``sn_cert``: spectral normalization by a *guaranteed* upper bound, so that the critic is
1-Lipschitz by construction and its report says "certified".

Every linear and conv layer's weight is divided by an upper bound ``B(W)`` on the operator
norm of the map the layer computes, times ``1 + MARGIN`` (``MARGIN`` = 1e-5 absorbs the
float32 rounding of the division itself). ``B`` comes from
:mod:`lipbench.metrics.certify` and :mod:`lipbench.metrics.lipschitz_ops`: for a linear
layer, and for a conv (any stride and padding, on the input size it sees) whose Gram's
Cholesky costs at most ``budget`` flops, the exact norm with a float64 Cholesky
certificate (within ~1e-9 above it); for a larger conv, the circulant bound (guaranteed,
but above the exact norm on small maps, so that layer ends up below 1). Each layer is then
at most 1-Lipschitz, and with 1-Lipschitz activations the critic is too (composition).

Power iteration, which SN and sn_conv use, approaches the norm from below: it can leave a
layer above 1 (sn_conv's layers sit at 1.000-1.02) and certifies nothing. Here the value
divided by is the certificate; its gradient is that of ``sigma = ||W v||`` with ``v`` the
top right singular vector the certificate computed (``u^T W v``, as in SN), through
``sigma + (B - sigma).detach()``. The certificate is recomputed whenever the weight changes
(the parameter's version counter), so once per optimizer step, and cached otherwise. A
conv's input size is captured by a forward pre-hook, as in sn_conv; ``v`` is a buffer
(checkpointed). Cost: measured by experiments/cost.py (its cases include every constraint).
SN-GAN's optimizer setting (C of Table 1) is the ``paper`` block, as for sn.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn.utils import parametrize

from lipbench.constraints import CONSTRAINTS
from lipbench.constraints.base import Constraint, Params
from lipbench.constraints.checks import close, dense_conv_norm, expect, seeded, singular_values
from lipbench.constraints.layers import constrained_layers
from lipbench.constraints.sn_variants import capture_input_shape
from lipbench.errors import require
from lipbench.metrics.certify import certified_matrix_norm
from lipbench.metrics.conv_gram import conv_geometry, gram_plan
from lipbench.metrics.lipschitz_layers import conv_operator_norm
from lipbench.metrics.lipschitz_ops import EXACT_FLOPS, conv_norm_certificate

MARGIN = 1e-5


@dataclass
class SNCertParams(Params):
    budget: float = EXACT_FLOPS  # flops a conv's exact certificate may cost; above it, the circulant bound

    def check(self, path):
        require(self.budget, f"{path}.budget", at_least=0)


class CertifiedNorm(nn.Module):
    """Parametrization W -> W / (B(W) (1 + MARGIN)), ``B`` a guaranteed bound on the layer's
    operator norm; ``v`` (a buffer) is the top right singular vector, input-shaped."""

    def __init__(self, layer: nn.Module, budget: float):
        super().__init__()
        self.layer, self.budget = [layer], budget  # a list: the layer is not our submodule
        self.is_conv = isinstance(layer, nn.Conv2d)
        self.register_buffer("v", torch.empty(0))
        self._cache = None  # (key, bound): the weight version it was computed for

    def set_input_shape(self, shape) -> None:
        if tuple(self.v.shape) != tuple(shape):
            self.v = torch.zeros(shape, device=self.v.device, dtype=self.v.dtype)

    def _map(self, x, weight):
        if self.is_conv:
            return self.layer[0]._conv_forward(x, weight, None)
        return nn.functional.linear(x, weight)

    @torch.no_grad()
    def _certify(self, weight) -> float:
        """The bound for ``weight``; stores its top right singular vector in ``v``."""
        warm = self.v.numel() > 0 and bool(self.v.abs().sum() > 0)  # the last vector: a warm start
        if not self.is_conv:
            bound, _, v = certified_matrix_norm(weight, v0=self.v.double().cpu().numpy() if warm else None)
            self.v = torch.as_tensor(v, dtype=self.v.dtype, device=self.v.device)
            return bound
        conv, shape = self.layer[0], tuple(self.v.shape)
        geometry = conv_geometry(conv)
        v0 = None
        if warm:  # on the Gram's side: v itself, or the left vector A v
            left = gram_plan(weight, shape, **geometry)[0] == "output"
            v0 = (self._map(self.v.unsqueeze(0).to(weight.dtype), weight)[0] if left else self.v).double().cpu()
        cert = conv_norm_certificate(
            weight, shape, **geometry, budget=self.budget, v0=None if v0 is None else v0.numpy()
        )
        if cert["vector"] is None:  # the circulant bound: v from power iteration, warm-started
            start = self.v if float(self.v.abs().sum()) > 0 else None
            _, v = conv_operator_norm(weight, shape, **geometry, n_iter=10, u=start)
        else:
            v = torch.as_tensor(np.ascontiguousarray(cert["vector"]), dtype=weight.dtype, device=weight.device)
            if cert["side"] == "output":  # a left singular vector u: v = A^T u / ||A^T u||
                with torch.enable_grad():
                    x = torch.zeros((1, *shape), dtype=weight.dtype, device=weight.device, requires_grad=True)
                    (v,) = torch.autograd.grad(self._map(x, weight), x, grad_outputs=v.unsqueeze(0))
                v = v[0] / v.norm().clamp_min(1e-30)
        self.v.copy_(v.reshape(shape).to(self.v.dtype))
        return cert["bound"]

    def forward(self, weight):
        if self.is_conv and self.v.numel() == 0:  # input size not known yet (registration)
            return weight
        key = (weight._version, weight.data_ptr(), tuple(weight.shape), tuple(self.v.shape))
        if self._cache is None or self._cache[0] != key:
            self._cache = (key, self._certify(weight.detach()))
        v = self.v.detach().to(weight.dtype).unsqueeze(0)
        with torch.autocast(weight.device.type, enabled=False):  # bf16 rounding would move the value
            sigma = self._map(v, weight.float()).norm()
            bound = self._cache[1] * (1 + MARGIN)
            return (weight.float() / (sigma + (bound - sigma).detach()).clamp_min(1e-12)).to(weight.dtype)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        saved = state_dict.get(prefix + "v")
        if saved is not None and tuple(saved.shape) != tuple(self.v.shape):
            self.v = torch.empty_like(saved, device=self.v.device)
        self._cache = None
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)


@CONSTRAINTS.register("sn_cert")
class SpectralNormCertified(Constraint):
    name = "sn_cert"
    Params = SNCertParams

    def wrap(self, critic):
        for module in list(constrained_layers(critic)):
            if not isinstance(module, (nn.Linear, nn.Conv2d)):
                continue  # no certificate for other weights: the report shows none for them
            parametrize.register_parametrization(module, "weight", CertifiedNorm(module, self.params.budget))
            if isinstance(module, nn.Conv2d):
                module.register_forward_pre_hook(capture_input_shape)
        return critic

    @classmethod
    def check_property(cls):
        """After Adam steps on a conv critic whose raw weights are far from norm 1, every
        layer's operator norm (dense matrix of the conv with its stride and padding, SVD of
        the linear weight) is at most 1 and within 1e-4 of it, and the critic's Jacobian
        norm at random inputs is at most 1 (composition)."""
        shape = (2, 6, 6)
        with seeded(0):
            net = cls.build().wrap(
                nn.Sequential(
                    nn.Conv2d(2, 4, 3, 1, 1),
                    nn.LeakyReLU(0.2),
                    nn.Conv2d(4, 4, 4, 2, 1),
                    nn.Flatten(),
                    nn.Linear(4 * 3 * 3, 1),
                )
            )
            opt = torch.optim.Adam(net.parameters(), lr=0.05)
            for _ in range(5):
                opt.zero_grad()
                (-net(torch.randn(8, *shape) + 1).mean() + net(torch.randn(8, *shape)).mean()).backward()
                opt.step()
            net.eval()
            x = torch.randn(4, *shape)
        raw = [singular_values(m.parametrizations.weight.original)[0].item() for m in (net[0], net[2], net[4])]
        norms = [dense_conv_norm(net[0], shape), dense_conv_norm(net[2], (4, 6, 6)), singular_values(net[4].weight)[0]]
        expect(all(n <= 1 + 1e-6 for n in norms), f"sn_cert: operator norms {norms}, some above 1")
        expect(all(close(n, 1.0, rel=1e-4) for n in norms), f"sn_cert: operator norms {norms}, not tight")
        expect(any(abs(r - 1) > 0.1 for r in raw), f"sn_cert: raw norms {raw} already 1 (vacuous)")
        jac = torch.autograd.functional.jacobian(lambda v: net(v).sum(), x)
        worst = float(jac.flatten(1).norm(dim=1).max())
        expect(worst <= 1 + 1e-5, f"sn_cert: a gradient norm {worst:.6f} > 1")
