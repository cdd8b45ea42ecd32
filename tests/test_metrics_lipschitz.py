"""Lipschitz diagnostics against independent truths: linear critics (every gradient norm and
the Lipschitz constant are ||w||) and dense matrices built by applying a conv to basis vectors."""

import copy

import pytest
import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from lipbench.metrics import catalog
from lipbench.metrics.lipschitz import (
    fft_circular_conv_norm,
    gradient_norm_summary,
    gradient_norms,
    lipschitz_lower_bound,
    lipschitz_report,
)
from lipbench.metrics.lipschitz_bounds import critic_lipschitz_bound
from lipbench.metrics.lipschitz_layers import conv_operator_norm, layer_norms, lipschitz_summary


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


class Flat(nn.Module):
    """D(x) = w . flatten(x) + b for any input shape."""

    def __init__(self, n):
        super().__init__()
        self.lin = nn.Linear(n, 1)

    def forward(self, x):
        return self.lin(x.flatten(1))


def _dense(conv: nn.Conv2d, shape):
    """The matrix of x -> conv(x) (bias removed), by applying the module to every basis vector."""
    n = torch.Size(shape).numel()
    basis = torch.eye(n, dtype=torch.float64).reshape(n, *shape)
    c = copy.deepcopy(conv).double()
    c.bias = None
    with torch.no_grad():
        return c(basis).reshape(n, -1).T


def _sigma_dense(conv, shape):
    return float(torch.linalg.svdvals(_dense(conv, shape))[0])


# ----------------------------------------------------------------------------- gradient norms
def test_gradient_norms_of_a_linear_critic_equal_norm_w_on_points():
    torch.manual_seed(0)
    critic = nn.Linear(2, 1)
    w = float(critic.weight.detach().norm())
    norms = gradient_norms(critic, torch.randn(300, 2), torch.randn(300, 2), generator=_gen())
    for key in ("real", "fake", "interp"):
        assert norms[key].shape == (300,) and norms[key].device.type == "cpu"
        assert torch.allclose(norms[key], torch.full((300,), w), rtol=1e-6)
    summary = gradient_norm_summary(norms)
    assert set(summary) == {f"grad_{a}_{b}" for a in ("real", "fake", "interp") for b in ("mean", "max")}
    assert summary["grad_interp_max"] == pytest.approx(w, rel=1e-6)


def test_gradient_norms_on_images():
    torch.manual_seed(1)
    critic = Flat(3 * 8 * 8)
    w = float(critic.lin.weight.detach().norm())
    norms = gradient_norms(critic, torch.randn(10, 3, 8, 8), torch.randn(10, 3, 8, 8), generator=_gen())
    for key in ("real", "fake", "interp"):
        assert torch.allclose(norms[key], torch.full((10,), w), rtol=1e-5)


def test_gradient_norms_match_autograd_and_use_only_the_given_generator():
    torch.manual_seed(2)
    critic = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 1))
    real, fake = torch.randn(5, 2), torch.randn(5, 2)
    state = torch.get_rng_state()
    norms = gradient_norms(critic, real, fake, generator=_gen(3))
    assert torch.equal(torch.get_rng_state(), state)
    eps = torch.rand(5, generator=_gen(3)).view(5, 1)
    interp = eps * real + (1 - eps) * fake
    for i in range(5):
        jac = torch.autograd.functional.jacobian(lambda x: critic(x).sum(), interp[i])
        assert float(norms["interp"][i]) == pytest.approx(float(jac.norm()), rel=1e-5)


# ----------------------------------------------------------------------------- convolutions
def test_power_iteration_matches_fft_for_circular_stride_one():
    torch.manual_seed(3)
    conv = nn.Conv2d(3, 5, 3, padding=1, padding_mode="circular", bias=False)
    sigma, u = conv_operator_norm(conv.weight, (3, 8, 8), padding=1, padding_mode="circular", n_iter=100)
    fft = fft_circular_conv_norm(conv.weight, 8)
    assert sigma == pytest.approx(fft, rel=1e-3)
    assert u.shape == (3, 8, 8)
    # the FFT formula itself, against the dense matrix of the circular convolution
    assert fft == pytest.approx(_sigma_dense(conv, (3, 8, 8)), rel=1e-6)


def test_fft_handles_kernels_larger_than_the_input():
    torch.manual_seed(4)
    conv = nn.Conv2d(2, 2, 5, padding=2, padding_mode="circular", bias=False)
    assert fft_circular_conv_norm(conv.weight, 3) == pytest.approx(_sigma_dense(conv, (2, 3, 3)), rel=1e-6)


@pytest.mark.parametrize(
    "kw",
    [
        dict(stride=2, padding=1),
        dict(stride=2, padding=0, kernel_size=4),
        dict(stride=1, padding=2, dilation=2),
        dict(stride=1, padding=1, groups=2),
        dict(stride=2, padding=1, padding_mode="reflect"),
    ],
)
def test_power_iteration_matches_dense_matrix(kw):
    torch.manual_seed(5)
    kw = {"kernel_size": 3, **kw}
    conv = nn.Conv2d(4, 6, bias=False, **kw)
    shape = (4, 7, 7)
    truth = _sigma_dense(conv, shape)
    opts = {k: v for k, v in kw.items() if k != "kernel_size"}
    sigma, u = conv_operator_norm(conv.weight, shape, n_iter=200, **opts)
    assert sigma == pytest.approx(truth, rel=1e-3)
    assert sigma <= truth * (1 + 1e-5)  # power iteration approaches from below
    warm, _ = conv_operator_norm(conv.weight, shape, n_iter=1, u=u, **opts)
    assert warm == pytest.approx(sigma, rel=1e-4)


# ----------------------------------------------------------------------------- layer norms
def test_layer_norms_of_linear_layers_are_svdvals():
    torch.manual_seed(6)
    critic = nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 16), nn.ReLU(), nn.Linear(16, 1))
    layers = layer_norms(critic, (2,))
    assert [l["name"] for l in layers] == ["0", "2", "4"]
    for entry, idx in zip(layers, (0, 2, 4)):
        truth = float(torch.linalg.svdvals(critic[idx].weight.detach().double())[0])
        assert entry["kind"] == "linear"
        assert entry["sigma"] == pytest.approx(truth, rel=1e-5)
        assert entry["sigma_op"] == entry["sigma"]


def test_layer_norms_see_spectral_norm_and_do_not_touch_its_state():
    torch.manual_seed(7)
    critic = nn.Sequential(
        spectral_norm(nn.Linear(2, 64)),
        nn.ReLU(),
        spectral_norm(nn.Linear(64, 64)),
        nn.ReLU(),
        spectral_norm(nn.Linear(64, 1)),
    )
    critic.train()
    for _ in range(10):
        critic(torch.randn(8, 2))
    u_before = [m.parametrizations.weight[0]._u.clone() for m in critic if hasattr(m, "parametrizations")]
    layers = layer_norms(critic, (2,))
    assert [l["name"] for l in layers] == ["0", "2", "4"]
    for l in layers:
        assert l["sigma"] == pytest.approx(1.0, rel=0.05)
    u_after = [m.parametrizations.weight[0]._u for m in critic if hasattr(m, "parametrizations")]
    assert all(torch.equal(a, b) for a, b in zip(u_before, u_after))
    assert critic.training and all(m.training for m in critic.modules())


class TinyConvCritic(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 3, 3, stride=2, padding=1)
        self.act = nn.LeakyReLU(0.1)
        self.head = nn.Linear(3 * 3 * 3, 1)

    def forward(self, x):
        return self.head(self.act(self.conv(x)).flatten(1))


def test_layer_norms_of_a_conv_critic_against_dense_truth():
    torch.manual_seed(8)
    critic = TinyConvCritic()
    layers = layer_norms(critic, (2, 6, 6), n_iter=200)
    assert [(l["name"], l["kind"]) for l in layers] == [("conv", "conv"), ("head", "linear")]
    conv = layers[0]
    kernel = critic.conv.weight.detach().double().reshape(3, -1)
    assert conv["sigma"] == pytest.approx(float(torch.linalg.svdvals(kernel)[0]), rel=1e-5)
    assert conv["sigma_op"] == pytest.approx(_sigma_dense(critic.conv, (2, 6, 6)), rel=1e-3)
    summary = lipschitz_summary(layers)
    assert summary["sigma_max"] == max(l["sigma"] for l in layers)
    assert summary["lip_upper_est"] == pytest.approx(conv["sigma_op"] * layers[1]["sigma_op"])
    doubled = lipschitz_summary(layers, activation_lip=2.0)["lip_upper_est"]
    assert doubled == pytest.approx(2 * summary["lip_upper_est"])


def test_power_iteration_is_an_estimate_from_below_and_the_fft_bound_a_bound_from_above():
    """lip_upper_est (power iteration) can be below the true conv norm; lip_upper never is."""
    torch.manual_seed(12)
    conv = nn.Conv2d(3, 4, 4, stride=2, padding=1, bias=False)
    truth = _sigma_dense(conv, (3, 8, 8))
    estimate = layer_norms(conv, (3, 8, 8), n_iter=1)[0]["sigma_op"]
    bound = critic_lipschitz_bound(conv, (3, 8, 8))["lip_upper"]
    assert estimate < truth * (1 - 1e-3) and truth <= bound


# ----------------------------------------------------------------------------- bounds
def test_lower_bound_of_a_linear_critic_is_norm_w():
    torch.manual_seed(9)
    critic = nn.Linear(2, 1)
    w = float(critic.weight.detach().double().norm())
    lower = lipschitz_lower_bound(critic, torch.randn(100, 2), generator=_gen())
    assert 0.99 * w <= lower <= w * (1 + 1e-4)  # float32 round-off only


def _true_lip_one_hidden_layer(critic, n=20000):
    """Lipschitz constant of a 1-hidden-layer ReLU net in 2-D, lower-bounded densely: the max
    gradient norm over a fine grid (every activation region of that size is hit)."""
    g = torch.linspace(-4, 4, int(n**0.5))
    pts = torch.cartesian_prod(g, g).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(pts).sum(), pts)
    return float(grad.norm(dim=1).max())


def test_lower_bound_of_a_relu_net_is_below_the_layerwise_upper_bound():
    torch.manual_seed(10)
    critic = nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 1))
    pts = torch.randn(256, 2)
    lower = lipschitz_lower_bound(critic, pts, generator=_gen())
    upper = lipschitz_summary(layer_norms(critic, (2,)))["lip_upper_est"]
    assert lower <= upper
    # the ascent never reports less than the plain max gradient norm over the points
    grads = gradient_norms(critic, pts, pts, generator=_gen())
    assert lower >= float(grads["real"].max())
    assert lower <= _true_lip_one_hidden_layer(critic) * (1 + 1e-4) <= upper * (1 + 1e-4)


def test_report_keys_and_that_it_leaves_the_critic_untouched():
    torch.manual_seed(11)
    critic = nn.Sequential(spectral_norm(nn.Linear(2, 64)), nn.ReLU(), nn.Dropout(0.5), nn.Linear(64, 1))
    critic.train()
    critic[2].eval()  # a mixed-mode critic: every flag must come back as it was
    params_before = {k: v.detach().clone() for k, v in critic.state_dict().items()}
    req = [p.requires_grad for p in critic.parameters()]
    real, fake = torch.randn(64, 2), torch.randn(64, 2)
    metrics, diag = lipschitz_report(critic, real, fake, input_shape=(2,), generator=_gen())
    assert set(metrics) == {f"grad_{a}_{b}" for a in ("real", "fake", "interp") for b in ("mean", "max")} | {
        "sigma_max",
        "lip_lower",
        "lip_upper",
        "lip_upper_est",
        "lip_ratio",
    }
    # the float64 certificate against the product of float32 SVDs: equal up to float32 rounding
    assert metrics["lip_upper"] == pytest.approx(metrics["lip_upper_est"], rel=1e-6)
    assert metrics["lip_ratio"] == pytest.approx(metrics["lip_upper"] / metrics["lip_lower"])
    assert metrics["lip_lower"] <= metrics["lip_upper"]
    assert metrics["lip_lower"] >= metrics["grad_interp_max"]
    assert [l["name"] for l in diag["layers"]] == ["0", "3"]
    assert all(len(diag["grad_norms"][k]) == 64 for k in ("real", "fake", "interp"))
    assert all(p.grad is None for p in critic.parameters())
    assert [p.requires_grad for p in critic.parameters()] == req
    assert critic.training and critic[0].training and not critic[2].training
    for k, v in critic.state_dict().items():
        assert torch.equal(v, params_before[k]), k


def test_lipschitz_metrics_are_declared():
    assert catalog.info("grad_interp_mean").target == 1.0
    assert catalog.info("grad_real_max") is not None
    assert catalog.direction("lip_ratio") == "lower"
    for name in ("sigma_max", "lip_lower", "lip_upper", "lip_upper_est"):
        assert catalog.info(name) is not None and catalog.direction(name) is None
    assert catalog.info("sigma_prod") is None  # one name for the estimate: lip_upper_est
