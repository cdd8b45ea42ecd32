"""Zero-centred gradient penalties: they push ‖∇D‖ towards 0 rather than 1.

* ``r1``: (γ/2)·E_real[‖∇D(x)‖²] on real samples (Mescheder, Geiger & Nowozin 2018);
* ``r2``: (γ/2)·E_fake[‖∇D(x)‖²] on generated samples (same paper);
* ``zero_gp``: λ·E[‖∇D(x̂)‖²] on random interpolates between real and fake samples
  (Thanh-Tung, Tran & Venkatesh 2019, "0-GP").

Defaults: γ = 10 (Mescheder et al.'s value for most of their experiments) and λ = 10
(Thanh-Tung et al.). The parameter is called ``weight`` for all three, as for ``gp``,
so that sweeps over ``constraint.<name>.weight`` read the same way.
"""

from lipbench.constraints import CONSTRAINTS
from lipbench.constraints.base import Constraint
from lipbench.constraints.gp import PenaltyParams
from lipbench.constraints.gradients import input_gradient_norms, interpolates


def mean_squared_grad_norm(critic, x):
    """E‖∇x D(x)‖² over the batch, differentiable in the critic's parameters."""
    return input_gradient_norms(critic, x).pow(2).mean()


@CONSTRAINTS.register("r1")
class R1(Constraint):
    name = "r1"
    Params = PenaltyParams

    def penalty(self, critic, real, fake):
        return 0.5 * self.params.weight * mean_squared_grad_norm(critic, real)


@CONSTRAINTS.register("r2")
class R2(Constraint):
    name = "r2"
    Params = PenaltyParams

    def penalty(self, critic, real, fake):
        return 0.5 * self.params.weight * mean_squared_grad_norm(critic, fake)


@CONSTRAINTS.register("zero_gp")
class ZeroCentredGP(Constraint):
    name = "zero_gp"
    Params = PenaltyParams

    def penalty(self, critic, real, fake):
        return self.params.weight * mean_squared_grad_norm(critic, interpolates(real, fake))
