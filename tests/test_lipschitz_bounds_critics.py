"""lip_upper of every critic architecture against its dense Jacobian.

The critics are piecewise linear (ReLU / LeakyReLU / GroupSort) or smooth (tanh), so at
any point the local Jacobian's spectral norm is at most the Lipschitz constant: a true
upper bound can never be below it. This is checked for the whole critic and for its
vector-valued feature maps (conv stacks, residual blocks), with and without the weight
constraints that wrap it, and the bound composes residual blocks as L_skip + L_branch."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lipbench.constraints import build_constraints
from lipbench.metrics.lipschitz import lipschitz_report
from lipbench.metrics.lipschitz_bounds import critic_lipschitz_bound
from lipbench.models.dcgan import DCGANCritic
from lipbench.models.mlp import MLPCritic
from lipbench.models.resnet import DownBlock, OptimizedBlock, ResNetCritic
from lipbench.models.sngan_cnn import SNGANCritic


def _jacobian_sigma(f, x) -> float:
    jac = torch.autograd.functional.jacobian(lambda v: f(v.unsqueeze(0)).reshape(-1), x, vectorize=True)
    return float(torch.linalg.svdvals(jac.reshape(jac.shape[0], -1).double())[0])


def _check(module, shape, points=3, seed=0):
    """lip_upper(module) >= ||J(x)|| at ``points`` random inputs; returns (bound, max ||J||)."""
    module.eval()
    bound = critic_lipschitz_bound(module, shape)
    assert bound["unsupported"] == [], bound["unsupported"]
    gen = torch.Generator().manual_seed(seed)
    worst = max(_jacobian_sigma(module, torch.randn(shape, generator=gen)) for _ in range(points))
    assert worst <= bound["lip_upper"] * (1 + 1e-5), (type(module).__name__, worst, bound["lip_upper"])
    return bound["lip_upper"], worst


def _image_critics():
    torch.manual_seed(0)
    return {
        "dcgan": (DCGANCritic(3, 16, 8), (3, 16, 16), ["net"]),
        "sngan_cnn": (SNGANCritic(3, 16, 4), (3, 16, 16), ["net"]),
        "resnet": (ResNetCritic(3, 16, 4), (3, 16, 16), ["blocks", "blocks.0", "blocks.1"]),
    }


@pytest.mark.parametrize("arch", ["dcgan", "sngan_cnn", "resnet"])
@pytest.mark.parametrize("constraint", [None, "sn", "sn_exact", "sn_conv", "bjorck"])
def test_image_critic_bound_is_above_its_jacobian_and_its_feature_maps(arch, constraint):
    critic, shape, parts = _image_critics()[arch]
    if constraint is not None:
        critic = build_constraints({constraint: {}}).wrap(critic)
        critic.train()
        critic(torch.randn(4, *shape))  # one training forward: SN / sn_conv vectors move
    _check(critic, shape)
    for name in parts:
        _check(critic.get_submodule(name), _input_shape(critic, name, shape), points=2)


def _input_shape(critic, name, shape):
    seen = {}
    handle = critic.get_submodule(name).register_forward_pre_hook(lambda m, a: seen.update(s=a[0].shape[1:]))
    with torch.no_grad():
        critic(torch.zeros(1, *shape))
    handle.remove()
    return tuple(seen["s"])


@pytest.mark.parametrize("block", [DownBlock(4, 6, down=True), DownBlock(4, 4, down=False), OptimizedBlock(3, 4)])
def test_residual_block_bound_is_above_its_jacobian(block):
    torch.manual_seed(1)
    c_in = block.residual[1].in_channels if isinstance(block, DownBlock) else 3
    _check(block, (c_in, 8, 8), points=4)


class Residual(nn.Module):
    """x + eps * conv(x): its norm is about 1, the product of its layer norms about eps."""

    def __init__(self, eps):
        super().__init__()
        self.conv = nn.Conv2d(2, 2, 3, padding=1, bias=False)
        with torch.no_grad():
            self.conv.weight.mul_(eps)

    def forward(self, x):
        return x + self.conv(x)


def test_residual_sum_rule_is_needed_and_tight_for_a_scaled_identity():
    torch.manual_seed(2)
    block = Residual(0.01)
    bound, jac = _check(block, (2, 6, 6))
    conv_bound = critic_lipschitz_bound(block.conv, (2, 6, 6))["lip_upper"]
    assert conv_bound < 0.5 < jac  # a product over the layers (= the conv alone) is no bound
    assert bound == pytest.approx(1 + conv_bound)
    delta = Residual(1.0)
    with torch.no_grad():  # conv = 0.5 * identity: x + conv(x) = 1.5 x exactly
        delta.conv.weight.zero_()
        delta.conv.weight[[0, 1], [0, 1], 1, 1] = 0.5
    assert critic_lipschitz_bound(delta, (2, 6, 6))["lip_upper"] == pytest.approx(1.5, rel=1e-9)


@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "tanh", "groupsort"])
def test_mlp_bound_is_exactly_the_product_of_its_sigmas(activation):
    torch.manual_seed(3)
    critic = MLPCritic(2, 16, 3, activation)
    bound, _ = _check(critic, (2,), points=5)
    exact = math.prod(
        float(torch.linalg.svdvals(m.weight.detach().double())[0]) for m in critic.modules() if isinstance(m, nn.Linear)
    )
    assert exact <= bound <= exact * (1 + 1e-8)  # the float64 certificates, a hair above the exact σ's
    metrics, _ = lipschitz_report(critic, torch.randn(32, 2), torch.randn(32, 2), input_shape=(2,), steps=2)
    assert metrics["lip_upper"] == bound
    # the estimate multiplies float32 SVDs: equal up to their rounding
    assert metrics["lip_upper_est"] == pytest.approx(bound, rel=1e-6)


def test_report_on_a_conv_critic_records_the_bound_and_the_method_per_layer():
    torch.manual_seed(4)
    critic = build_constraints({"sn": {}}).wrap(SNGANCritic(1, 8, 2))
    metrics, diag = lipschitz_report(
        critic,
        torch.randn(8, 1, 8, 8),
        torch.randn(8, 1, 8, 8),
        input_shape=(1, 8, 8),
        generator=torch.Generator().manual_seed(0),
        steps=2,
        n_iter=5,
    )
    assert 0 < metrics["lip_lower"] <= metrics["lip_upper"]
    assert metrics["lip_ratio"] == pytest.approx(metrics["lip_upper"] / metrics["lip_lower"])
    assert diag["lip_upper"]["certified"] and diag["lip_upper"]["unsupported"] == []
    methods = {l["name"]: l["bound_method"] for l in diag["layers"]}
    assert methods["fc"] == "gram certificate (exact)"
    assert methods["net.2"].startswith("gram certificate")  # small maps: the exact norm, certified
    assert all(l["bound"] >= l["sigma_op"] * (1 - 1e-5) for l in diag["layers"])  # bound >= power estimate
    # every layer's exact norm is recorded, and its bound sits within 1e-8 above it
    assert all(l["sigma_exact"] <= l["bound"] <= l["sigma_exact"] * (1 + 1e-8) for l in diag["layers"])


class LayerNormCritic(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin, self.norm, self.out = nn.Linear(2, 4), nn.LayerNorm(4), nn.Linear(4, 1)

    def forward(self, x):
        return self.out(self.norm(self.lin(x)))


class Quadratic(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(2, 3)

    def forward(self, x):
        h = self.lin(x)
        return (h * h).sum(1)


class Branchy(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(2, 1)

    def forward(self, x):
        return self.lin(x) if x.sum() > 0 else -self.lin(x)


class FunctionalConv(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(2, 1, 3, 3))

    def forward(self, x):
        return F.conv2d(x, self.weight).sum((1, 2, 3))


@pytest.mark.parametrize(
    "critic, shape, why",
    [
        (LayerNormCritic(), (2,), "LayerNorm"),
        (Quadratic(), (2,), "product"),
        (Branchy(), (2,), "not traceable"),
        (FunctionalConv(), (1, 5, 5), "conv2d"),
    ],
)
def test_no_rule_means_no_bound_and_the_report_says_why(critic, shape, why):
    bound = critic_lipschitz_bound(critic, shape)
    assert math.isnan(bound["lip_upper"])
    assert any(why in u for u in bound["unsupported"]), bound["unsupported"]
    metrics, diag = lipschitz_report(critic, torch.randn(8, *shape), torch.randn(8, *shape), input_shape=shape, steps=1)
    assert math.isnan(metrics["lip_upper"]) and math.isnan(metrics["lip_ratio"])
    assert not diag["lip_upper"]["certified"]
    assert math.isfinite(metrics["lip_lower"])
