"""Zero-centred gradient penalties: they push ‖∇D‖ towards 0 rather than 1.

* ``r1``: (γ/2)·E_real[‖∇D(x)‖²] on real samples (Mescheder, Geiger & Nowozin 2018);
* ``r2``: (γ/2)·E_fake[‖∇D(x)‖²] on generated samples (same paper);
* ``zero_gp``: λ·E[‖∇D(x̂)‖²] on random interpolates between real and fake samples
  (Thanh-Tung, Tran & Venkatesh 2019, "0-GP").

Defaults: γ = 10 (Mescheder et al.'s value for most of their experiments) and λ = 10
(Thanh-Tung et al.). The parameter is called ``weight`` for all three, as for ``gp``,
so that sweeps over ``constraint.<name>.weight`` read the same way.
"""

import numpy as np
import torch

from lipbench.constraints import CONSTRAINTS
from lipbench.constraints.base import Constraint
from lipbench.constraints.checks import close, expect, hand_gradient_norms, seeded, tiny_relu_net
from lipbench.constraints.gp import PenaltyParams
from lipbench.constraints.gradients import input_gradient_norms, interpolates


def mean_squared_grad_norm(critic, x):
    """E‖∇x D(x)‖² over the batch, differentiable in the critic's parameters."""
    return input_gradient_norms(critic, x).pow(2).mean()


def _check_on_one_side(cls, side: int) -> None:
    """r1 (side 0) / r2 (side 1): (γ/2)·E‖∇D‖² by the chain rule on the real / fake batch
    only; scaling the other batch changes nothing."""
    with seeded(1):
        net, real, fake = tiny_relu_net(scale=3.0), torch.randn(8, 2), torch.randn(8, 2) + 1
    c = cls.build(weight=10.0)
    expected = 5.0 * np.mean(hand_gradient_norms(net, (real, fake)[side]) ** 2)
    value = c.penalty(net, real, fake).item()
    expect(close(value, expected), f"{cls.name} penalty {value} != {expected} by hand")
    other = c.penalty(net, real * 50, fake) if side else c.penalty(net, real, fake * 50)
    expect(other.item() == value, f"{cls.name} depends on the {'real' if side else 'fake'} batch")


@CONSTRAINTS.register("r1")
class R1(Constraint):
    name = "r1"
    Params = PenaltyParams

    def penalty(self, critic, real, fake):
        return 0.5 * self.params.weight * mean_squared_grad_norm(critic, real)

    @classmethod
    def check_property(cls):
        """(γ/2)·E_real‖∇D‖² by the chain rule, whatever the fake batch."""
        _check_on_one_side(cls, 0)


@CONSTRAINTS.register("r2")
class R2(Constraint):
    name = "r2"
    Params = PenaltyParams

    def penalty(self, critic, real, fake):
        return 0.5 * self.params.weight * mean_squared_grad_norm(critic, fake)

    @classmethod
    def check_property(cls):
        """(γ/2)·E_fake‖∇D‖² by the chain rule, whatever the real batch."""
        _check_on_one_side(cls, 1)


@CONSTRAINTS.register("zero_gp")
class ZeroCentredGP(Constraint):
    name = "zero_gp"
    Params = PenaltyParams

    def penalty(self, critic, real, fake):
        return self.params.weight * mean_squared_grad_norm(critic, interpolates(real, fake))

    @classmethod
    def check_property(cls):
        """λ·E‖∇D(x̂)‖² by the chain rule (real = fake: every interpolate is the point itself)."""
        with seeded(1):
            net, x = tiny_relu_net(scale=3.0), torch.randn(8, 2)
        expected = 10.0 * np.mean(hand_gradient_norms(net, x) ** 2)
        value = cls.build(weight=10.0).penalty(net, x, x.clone()).item()
        expect(close(value, expected), f"zero_gp penalty {value} != {expected} by hand")
