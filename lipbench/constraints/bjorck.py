"""``bjorck``: Björck orthonormalization of every critic weight (Anil, Lucas & Grosse
2019, "Sorting out Lipschitz function approximation").

Each layer's weight becomes a parametrization (``torch.nn.utils.parametrize``) of an
unconstrained matrix V: ``iterations`` first-order Björck steps

    W_0 = V / s,   W_{k+1} = W_k (1.5 I − 0.5 W_kᵀ W_k)

(computed on the smaller Gram side), whose fixed point is the orthogonal polar factor
of V: every singular value of W goes to 1. The iteration converges for singular values
in (0, √3); the scale ``s`` is SN's power-iteration estimate of σ(V) (persistent vector,
no gradient), raised when Gershgorin's bound on σ(V/s)² (largest absolute row sum of
the Gram matrix) exceeds 2.9, so σ(W_0) < √3 always.
Gradients flow through every step, as in the paper. Anil et al. initialise the weights
orthogonally; ``ortho_init`` does the same (on by default).

Pair it with a gradient-norm-preserving activation: ``model.critic_activation=groupsort``
(see :mod:`lipbench.models.activations`). With ReLU the critic is still 1-Lipschitz but
loses expressiveness. A conv kernel is orthonormalized as an out × (in·kh·kw) matrix,
which bounds its reshaped-kernel σ by 1 but not its operator norm (see ``sn_conv``).
Iterations stop early once WᵀW (or WWᵀ) is within ``tol`` of I entrywise.

``retract`` (on by default) also uses the ``project`` hook: after every optimizer step
the raw V is replaced by its orthonormalized value. This does not change the critic
(the polar factor of an orthonormal matrix is itself), but keeps V well conditioned, so
the next forward pass converges in two or three iterations instead of ``iterations``,
and at an orthonormal V a single Björck step already has the exact derivative of the
polar factor (Q·skew(QᵀdV)), so the gradients are those of the paper's method.
Defaults: at most 20 iterations (the paper uses about 20; more at test time do
not change the constraint), Adam 1e-4 (0.5, 0.9), n_critic 5 (WGAN-GP's 2-D setting).
"""

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils import parametrize

from lipbench.constraints import CONSTRAINTS
from lipbench.constraints.base import Constraint, Params
from lipbench.constraints.checks import expect, mlp_critic, seeded, singular_values, train_critic
from lipbench.constraints.layers import constrained_layers
from lipbench.errors import require


@dataclass
class BjorckParams(Params):
    iterations: int = 20
    tol: float = 1e-4
    retract: bool = True
    n_power_iterations: int = 1
    ortho_init: bool = True

    def check(self, path):
        require(self.iterations, f"{path}.iterations", at_least=1)
        require(self.tol, f"{path}.tol", self.tol >= 0, "must be >= 0 (0 = always run every iteration)")
        require(self.n_power_iterations, f"{path}.n_power_iterations", at_least=1)


def bjorck(w: torch.Tensor, iterations: int, tol: float = 0.0) -> torch.Tensor:
    """Between 1 and ``iterations`` first-order Björck steps on a 2-D ``w`` with σ(w) < √3,
    stopping early once every entry of the (smaller) Gram matrix is within ``tol`` of I.
    At least one step always runs: at an orthonormal ``w`` one step is the identity but
    its derivative is the polar factor's (the tangent projection Q·skew(QᵀdW))."""
    wide = w.shape[0] < w.shape[1]
    eye = torch.eye(min(w.shape), device=w.device, dtype=w.dtype)
    for i in range(iterations):
        gram = w @ w.T if wide else w.T @ w
        if i > 0 and tol > 0 and float((gram.detach() - eye).abs().max()) <= tol:
            break
        w = (1.5 * eye - 0.5 * gram) @ w if wide else w @ (1.5 * eye - 0.5 * gram)
    return w


class BjorckOrthonormal(nn.Module):
    """Parametrization V -> Björck(V / s), for any weight reshaped to out × rest."""

    def __init__(self, weight: torch.Tensor, iterations: int, n_power_iterations: int, tol: float):
        super().__init__()
        self.iterations, self.n_power, self.tol = iterations, n_power_iterations, tol
        gen = torch.Generator().manual_seed(0)
        v = torch.randn(weight.reshape(weight.shape[0], -1).shape[1], generator=gen)
        self.register_buffer("v", (v / v.norm()).to(weight.device, weight.dtype))
        self._update(weight.reshape(weight.shape[0], -1).detach(), 15)

    @torch.no_grad()
    def _update(self, w2: torch.Tensor, n: int) -> None:
        v = self.v
        for _ in range(n):
            v = w2.T @ (w2 @ v)
            v = v / v.norm().clamp_min(1e-12)
        self.v.copy_(v)

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        w2 = weight.reshape(weight.shape[0], -1)
        if self.training:
            self._update(w2.detach(), self.n_power)
        with torch.no_grad():
            scale = (w2 @ self.v).norm().clamp_min(1e-12)  # sigma estimate (from below)
            w0 = w2 / scale
            gram = w0 @ w0.T if w0.shape[0] < w0.shape[1] else w0.T @ w0
            bound = float(gram.abs().sum(1).max())  # Gershgorin: >= sigma(w0)^2
            if bound > 2.9:  # the estimate was poor: rescale so that sigma(w0) <= 1 for sure
                scale = scale * bound**0.5
        return bjorck(w2 / scale, self.iterations, self.tol).reshape(weight.shape)


def raw_weight(module: nn.Module) -> torch.Tensor:
    """The unconstrained parameter behind ``module.weight``."""
    if parametrize.is_parametrized(module, "weight"):
        return module.parametrizations.weight.original
    return module.weight


@CONSTRAINTS.register("bjorck")
class Bjorck(Constraint):
    name = "bjorck"
    Params = BjorckParams

    def wrap(self, critic):
        for module in list(constrained_layers(critic)):
            if self.params.ortho_init:
                with torch.no_grad():  # the raw weight, below any earlier parametrization
                    nn.init.orthogonal_(raw_weight(module))
            p = BjorckOrthonormal(
                module.weight.detach(), self.params.iterations, self.params.n_power_iterations, self.params.tol
            )
            parametrize.register_parametrization(module, "weight", p)
        return critic

    @torch.no_grad()
    def project(self, critic):
        """Retraction: replace each raw weight V by its orthonormalized value (see module doc)."""
        if not self.params.retract:
            return
        for module in constrained_layers(critic):
            plist = getattr(getattr(module, "parametrizations", None), "weight", None)
            if plist is None or not isinstance(plist[0], BjorckOrthonormal):
                continue  # retract only where Björck is the first parametrization (V is its input)
            raw = plist.original
            raw.copy_(plist[0](raw))

    @classmethod
    def check_property(cls):
        """After training steps, every singular value of every effective weight is 1 (within
        1e-2); with ``retract`` the raw weights are orthonormal too, without it (and without
        the orthogonal init) they are far from it: the parametrization does the work."""
        for ortho_init, retract in ((True, True), (False, False)):
            with seeded(3):
                bj = cls.build(ortho_init=ortho_init, retract=retract)
                critic = bj.wrap(mlp_critic(32))
                train_critic(bj, critic, steps=10, lr=1e-2)
            layers = [m for m in critic if isinstance(m, nn.Linear)]
            worst = max(float((singular_values(m.weight) - 1).abs().max()) for m in layers)
            expect(worst < 1e-2, f"bjorck: an effective singular value is {worst:.3g} away from 1")
            raw = max(float((singular_values(m.parametrizations.weight.original) - 1).abs().max()) for m in layers)
            expect(raw < 1e-2 if retract else raw > 0.1, f"bjorck (retract={retract}): raw weights {raw:.3g} from 1")
