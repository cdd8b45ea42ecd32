"""Guaranteed per-layer bounds (lipbench.metrics.lipschitz_ops) against independent truths:
the dense matrix of each layer, built by applying it to every basis vector, and its SVD."""

import copy
import math

import pytest
import torch
from torch import nn

from lipbench.metrics.conv_gram import conv_geometry
from lipbench.metrics.lipschitz import fft_circular_conv_norm
from lipbench.metrics.lipschitz_bounds import critic_lipschitz_bound
from lipbench.metrics.lipschitz_ops import circular_conv_norm, conv_norm_bound


def _dense(module: nn.Module, shape):
    """The matrix of x -> module(x) (bias removed, float64) on inputs of ``shape``."""
    n = torch.Size(shape).numel()
    m = copy.deepcopy(module).double()
    if getattr(m, "bias", None) is not None:
        m.bias = None
    with torch.no_grad():
        return m(torch.eye(n, dtype=torch.float64).reshape(n, *shape)).reshape(n, -1).T


def _sigma(matrix) -> float:
    return float(torch.linalg.svdvals(matrix)[0])


def _bound(conv: nn.Conv2d, shape):
    return conv_norm_bound(conv.weight, shape, **conv_geometry(conv))


def test_single_linear_layer_bound_is_its_sigma():
    torch.manual_seed(0)
    layer = nn.Linear(7, 5)
    bound = critic_lipschitz_bound(layer, (7,))
    sigma = _sigma(layer.weight.detach().double())
    assert sigma <= bound["lip_upper"] <= sigma * (1 + 1e-8)
    assert bound["layers"][""]["bound_method"] == "gram certificate (exact)"
    assert bound["layers"][""]["sigma_exact"] == pytest.approx(sigma, rel=1e-9)


@pytest.mark.parametrize(
    "kw, shape",
    [
        (dict(kernel_size=4, stride=2, padding=1), (3, 8, 8)),  # circular strided: polyphase
        (dict(kernel_size=3, stride=1, padding=1), (3, 8, 6)),  # non-square grid
        (dict(kernel_size=3, stride=1, padding=2, dilation=2, groups=3), (3, 8, 8)),
        (dict(kernel_size=5, stride=1, padding=2), (3, 3, 3)),  # kernel larger than the grid
        (dict(kernel_size=(2, 3), stride=(2, 1), padding=(0, 1)), (3, 6, 5)),
    ],
)
def test_circular_conv_norm_is_exact_for_circular_padding(kw, shape):
    torch.manual_seed(1)
    conv = nn.Conv2d(3, 6, padding_mode="circular", **kw)
    bound, method = _bound(conv, shape)
    assert "exact" in method
    assert bound == pytest.approx(_sigma(_dense(conv, shape)), rel=1e-9)


def test_stride_two_zero_padded_conv_bound_is_above_and_close_to_the_dense_norm():
    torch.manual_seed(2)
    conv = nn.Conv2d(3, 6, 4, stride=2, padding=1)
    truth = _sigma(_dense(conv, (3, 16, 16)))
    bound, method = _bound(conv, (3, 16, 16))  # small enough for the exact certificate
    assert method.startswith("gram certificate")
    assert truth <= bound <= (1 + 1e-8) * truth
    circulant, method = conv_norm_bound(
        conv.weight, (3, 16, 16), stride=2, padding=1, budget=0
    )  # no budget: the circulant
    assert method.startswith("fft circulant 18x18 stride 2x2")
    assert truth <= circulant <= 1.03 * truth
    # the stride-1 norm is also a bound, but loose: the polyphase split is what makes it tight
    assert fft_circular_conv_norm(conv.weight, 18) > 1.3 * truth


@pytest.mark.parametrize(
    "kw, shape",
    [
        (dict(kernel_size=3, stride=2, padding=1), (4, 7, 7)),  # odd size: grid 10 (not 9)
        (dict(kernel_size=3, stride=1, padding=0), (4, 6, 6)),
        (dict(kernel_size=3, stride=1, padding="same", dilation=2), (4, 11, 9)),
        (dict(kernel_size=4, stride=2, padding=(2, 1), groups=2), (4, 8, 8)),
        (dict(kernel_size=3, stride=3, padding=1), (4, 9, 9)),
        (dict(kernel_size=1, stride=2, padding=0), (4, 5, 5)),
        (dict(kernel_size=3, stride=2, padding=1, padding_mode="reflect"), (4, 7, 7)),
        (dict(kernel_size=3, stride=1, padding=2, padding_mode="replicate"), (4, 6, 6)),
        (dict(kernel_size=3, stride=2, padding=2, padding_mode="circular"), (4, 5, 5)),  # outputs repeat pixels
    ],
)
def test_conv_bound_is_never_below_the_dense_norm(kw, shape):
    torch.manual_seed(3)
    for _ in range(3):
        conv = nn.Conv2d(4, 6, **kw)
        bound, _ = _bound(conv, shape)
        truth = _sigma(_dense(conv, shape))
        assert bound >= truth * (1 - 1e-9), (kw, bound, truth)
        if kw.get("padding_mode", "zeros") == "zeros":
            assert bound <= 1.25 * truth, (kw, bound, truth)  # loose only from boundary effects


def test_fft_circular_norm_on_a_padded_grid_bounds_the_zero_padded_strided_conv():
    torch.manual_seed(4)
    for stride in (1, 2):
        conv = nn.Conv2d(3, 5, 3, stride=stride, padding=1)
        truth = _sigma(_dense(conv, (3, 9, 9)))
        assert fft_circular_conv_norm(conv.weight, 9 + 2) >= truth * (1 - 1e-9)
    # stride 1, against a circular module on the same grid: exact
    circ = nn.Conv2d(3, 5, 3, padding=1, padding_mode="circular")
    assert fft_circular_conv_norm(circ.weight, 7) == pytest.approx(_sigma(_dense(circ, (3, 7, 7))), rel=1e-9)
    with pytest.raises(ValueError, match="divisible"):
        circular_conv_norm(conv.weight, (9, 9), stride=2)


@pytest.mark.parametrize(
    "module, shape",
    [
        (nn.AvgPool2d(2), (3, 8, 8)),
        (nn.AvgPool2d(3, stride=2, padding=1), (2, 7, 7)),
        (nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False), (2, 6, 6)),
        (nn.AdaptiveAvgPool2d(3), (2, 7, 7)),
        (nn.Upsample(scale_factor=2, mode="nearest"), (2, 4, 4)),
        (nn.Upsample(scale_factor=2, mode="bilinear"), (2, 4, 4)),
    ],
)
def test_pooling_bound_is_at_least_the_dense_norm(module, shape):
    bound = critic_lipschitz_bound(module, shape)["lip_upper"]
    truth = _sigma(_dense(module, shape))
    assert bound >= truth * (1 - 1e-9)
    if isinstance(module, nn.AvgPool2d) and module.kernel_size == module.stride:
        assert bound == pytest.approx(0.5, rel=1e-12) and truth == pytest.approx(0.5)  # disjoint: exactly 1/k
    if isinstance(module, nn.Upsample) and module.mode == "nearest":
        assert bound == pytest.approx(2.0) and truth == pytest.approx(2.0)


class SumPool(nn.Module):
    def forward(self, x):
        return x.sum(dim=(2, 3))


def test_global_sum_pooling_bound_is_sqrt_hw():
    assert critic_lipschitz_bound(SumPool(), (3, 4, 5))["lip_upper"] == pytest.approx(math.sqrt(20), rel=1e-12)


@pytest.mark.parametrize("pool, expected", [(nn.MaxPool2d(2), 1.0), (nn.MaxPool2d(3, stride=1, padding=1), 3.0)])
def test_max_pool_bound_holds_on_random_pairs(pool, expected):
    gen = torch.Generator().manual_seed(5)
    bound = critic_lipschitz_bound(pool, (2, 6, 6))["lip_upper"]
    assert bound == pytest.approx(expected)
    x, y = torch.randn(200, 2, 6, 6, generator=gen), torch.randn(200, 2, 6, 6, generator=gen)
    ratio = (pool(x) - pool(y)).flatten(1).norm(dim=1) / (x - y).flatten(1).norm(dim=1)
    assert float(ratio.max()) <= bound


def test_batchnorm_in_eval_mode_is_bounded_exactly_and_in_train_mode_not_at_all():
    torch.manual_seed(6)
    bn = nn.BatchNorm2d(3)
    bn.running_var.uniform_(0.5, 2.0)
    bn.weight.data.uniform_(-2.0, 2.0)
    bound = critic_lipschitz_bound(bn, (3, 4, 4))
    bn.eval()
    assert bound["lip_upper"] == pytest.approx(_sigma(_dense(bn, (3, 4, 4))), rel=1e-6)
    stats_free = nn.BatchNorm2d(3, track_running_stats=False)
    out = critic_lipschitz_bound(stats_free, (3, 4, 4))
    assert math.isnan(out["lip_upper"]) and "batch statistics" in out["unsupported"][0]


class Combine(nn.Module):
    """A linear layer h = lin(x) and one way of combining h with x, constants or shapes."""

    def __init__(self, how):
        super().__init__()
        self.lin, self.how = nn.Linear(4, 4, bias=False), how

    def forward(self, x):
        return self.how(self.lin(x), x)


@pytest.mark.parametrize(
    "how, expected",
    [
        (lambda h, x: h + h, lambda s: 2 * s),
        (lambda h, x: h - x, lambda s: s + 1),
        (lambda h, x: torch.add(h, x, alpha=-3.0), lambda s: s + 3),
        (lambda h, x: 2.5 * h, lambda s: 2.5 * s),
        (lambda h, x: h / -4.0, lambda s: s / 4),
        (lambda h, x: torch.cat([h, x], 1), lambda s: math.hypot(s, 1)),
        (lambda h, x: h.view(x.size(0), -1)[:, :2], lambda s: s),  # shapes are constants; a slice projects
        (lambda h, x: h.reshape(x.shape[0], 2, 2).mean((1, 2)), lambda s: s / 2),
    ],
)
def test_combination_rules_on_a_linear_layer(how, expected):
    torch.manual_seed(7)
    net = Combine(how)
    sigma = _sigma(net.lin.weight.detach().double())
    assert critic_lipschitz_bound(net, (4,))["lip_upper"] == pytest.approx(expected(sigma), rel=1e-6)


@pytest.mark.parametrize(
    "how, why",
    [
        (lambda h, x: h * h, "product"),
        (lambda h, x: 1.0 / h, "quotient"),
        (lambda h, x: h * torch.randn(x.shape), "random"),
        (lambda h, x: h[:, [0, 0]], "getitem"),
        (lambda h, x: h.expand(3, 4), "expand"),
        (lambda h, x: h * h.norm().item(), "norm"),
    ],
)
def test_combinations_without_a_rule_give_no_bound(how, why):
    bound = critic_lipschitz_bound(Combine(how), (4,))
    assert math.isnan(bound["lip_upper"]) and why in " ".join(bound["unsupported"]), bound["unsupported"]
