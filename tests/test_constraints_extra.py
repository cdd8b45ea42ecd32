"""The constraints beyond clip/gp/sn: each one's defining property, computed by hand
(numpy on a tiny ReLU net, dense matrices, Python sorting), not by the code under test."""

import numpy as np
import pytest
import torch
from torch import nn

from lipbench.constraints import build_constraints
from lipbench.constraints.base import Constraint, ConstraintSet
from lipbench.errors import ConfigError
from lipbench.losses import build_loss
from lipbench.metrics.lipschitz import conv_operator_norm, layer_norms, lipschitz_report, lipschitz_summary
from lipbench.models.activations import GroupSort, MaxMin
from lipbench.train.setup import build_optimizer
from lipbench.train.steps import GAN, critic_step

NEW = ["lp", "dragan", "r1", "r2", "zero_gp", "max_gp", "ortho", "bjorck", "sn_exact", "sn_conv"]


def _one(name, **params):
    (c,) = build_constraints({name: params}).constraints
    return c


def _tiny(seed=1, scale=1.0):
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    with torch.no_grad():
        net[0].weight.mul_(scale)
    return net


def _hand_norms(net, x):
    """‖∇x D‖ of D(x) = w2 · relu(W1 x + b1) + b2, by the chain rule in numpy."""
    W1, b1 = net[0].weight.detach().double().numpy(), net[0].bias.detach().double().numpy()
    w2 = net[2].weight.detach().double().numpy()[0]
    xs = x.detach().double().numpy()
    grads = (((xs @ W1.T + b1) > 0) * w2) @ W1
    return np.linalg.norm(grads, axis=1)


def _mlp(width=16, act=nn.ReLU):
    return nn.Sequential(nn.Linear(2, width), act(), nn.Linear(width, width), act(), nn.Linear(width, 1))


def _gan(constraints, critic, lr=1e-3):
    torch.manual_seed(0)
    critic = constraints.wrap(critic)
    gen = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 2))
    gen.z_dim = 2
    opt = {"optimizer": "adam", "lr": lr, "betas": [0.5, 0.9]}
    return GAN(gen, critic, build_optimizer(gen.parameters(), opt), build_optimizer(critic.parameters(), opt),
               build_loss({"name": "wasserstein"}), constraints, 2, torch.device("cpu"))


# ----------------------------------------------------------------------------- penalties
def test_lp_is_zero_below_one_and_the_squared_hinge_above():
    x = torch.randn(9, 2)
    small = _tiny(scale=0.1)
    assert _hand_norms(small, x).max() < 1  # precondition: every norm below 1
    assert _one("lp", weight=10.0).penalty(small, x, x.clone()).item() == 0.0
    big = _tiny(scale=3.0)
    with torch.no_grad():  # put the median gradient norm at 1
        big[2].weight.div_(float(np.median(_hand_norms(big, x))) * 1.01)
    norms = _hand_norms(big, x)
    assert (norms > 1).any() and (norms < 1).any()  # both sides of the hinge occur
    expected = 10.0 * np.mean(np.maximum(norms - 1, 0) ** 2)
    assert _one("lp", weight=10.0).penalty(big, x, x.clone()).item() == pytest.approx(expected, rel=1e-5)


def test_dragan_uses_only_perturbed_real_points():
    net, real = _tiny(scale=3.0), torch.randn(16, 2)
    dragan = _one("dragan", weight=10.0, c=0.5)
    values = []
    for fake in (torch.randn(16, 2), torch.randn(16, 2) * 100):
        torch.manual_seed(7)
        values.append(dragan.penalty(net, real, fake).item())
    assert values[0] == values[1]
    # by hand: x + alpha * c * std(x) * u, with u drawn first (per entry) and alpha second (per sample)
    torch.manual_seed(7)
    u, alpha = torch.rand(16, 2), torch.rand(16, 1)
    points = real + alpha * 0.5 * float(np.std(real.numpy(), ddof=1)) * u
    assert not torch.allclose(points, real)
    expected = 10.0 * np.mean((_hand_norms(net, points) - 1) ** 2)
    assert values[0] == pytest.approx(expected, rel=1e-5)


def test_r1_and_r2_are_half_gamma_mean_squared_norms_on_real_and_fake():
    net, real, fake = _tiny(scale=3.0), torch.randn(8, 2), torch.randn(8, 2) + 1
    r1, r2 = _one("r1", weight=10.0), _one("r2", weight=10.0)
    assert r1.penalty(net, real, fake).item() == pytest.approx(5.0 * np.mean(_hand_norms(net, real) ** 2), rel=1e-5)
    assert r2.penalty(net, real, fake).item() == pytest.approx(5.0 * np.mean(_hand_norms(net, fake) ** 2), rel=1e-5)
    assert r1.penalty(net, real, fake * 50).item() == r1.penalty(net, real, fake).item()
    assert r2.penalty(net, real * 50, fake).item() == r2.penalty(net, real, fake).item()


def test_zero_gp_is_lambda_mean_squared_norm_at_interpolates():
    net, x = _tiny(scale=3.0), torch.randn(8, 2)  # real == fake: every interpolate is x
    expected = 10.0 * np.mean(_hand_norms(net, x) ** 2)
    assert _one("zero_gp", weight=10.0).penalty(net, x, x.clone()).item() == pytest.approx(expected, rel=1e-5)


def test_max_gp_penalises_the_largest_norm_only():
    net, x = _tiny(scale=3.0), torch.randn(8, 2)
    norms = _hand_norms(net, x)
    sq = _one("max_gp", weight=10.0).penalty(net, x, x.clone())
    assert sq.item() == pytest.approx(10.0 * norms.max() ** 2, rel=1e-5)
    hinge = _one("max_gp", weight=10.0, form="hinge").penalty(net, x, x.clone()).item()
    assert hinge == pytest.approx(10.0 * max(norms.max() - 1, 0) ** 2, rel=1e-5)
    # only the arg-max sample matters: it alone gives the same penalty
    keep = int(np.argmax(norms))
    alone = _one("max_gp", weight=10.0).penalty(net, x[keep:keep + 1], x[keep:keep + 1].clone())
    assert alone.item() == pytest.approx(sq.item(), rel=1e-6)
    sq.backward()
    assert net[0].weight.grad is not None


def test_ortho_sums_gram_deviations_on_the_smaller_side():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 2, 2), nn.Flatten(), nn.Linear(8, 5), nn.ReLU(), nn.Linear(5, 1))
    expected = 0.0
    for w in (net[0].weight, net[2].weight, net[4].weight):
        m = w.detach().double().numpy().reshape(w.shape[0], -1)
        g = m @ m.T if m.shape[0] < m.shape[1] else m.T @ m  # conv 2x12 -> 2x2, linear 5x8 -> 5x5, 1x5 -> 1x1
        expected += ((g - np.eye(len(g))) ** 2).sum()
    value = _one("ortho", weight=1e-4).penalty(net, torch.zeros(1, 3, 3, 3), torch.zeros(1, 3, 3, 3))
    assert value.item() == pytest.approx(1e-4 * expected, rel=1e-5)
    with torch.no_grad():  # orthonormal rows/columns pay nothing
        for m in (net[0], net[2], net[4]):
            nn.init.orthogonal_(m.weight)
    assert _one("ortho").penalty(net, None, None).item() == pytest.approx(0.0, abs=1e-9)


# ----------------------------------------------------------------------------- parametrizations
@pytest.mark.parametrize("ortho_init, retract", [(True, True), (False, False)])
def test_bjorck_makes_every_singular_value_one(ortho_init, retract):
    s = build_constraints({"bjorck": {"ortho_init": ortho_init, "retract": retract}})
    torch.manual_seed(3)
    critic = nn.Sequential(nn.Linear(2, 32), MaxMin(), nn.Linear(32, 32), MaxMin(), nn.Linear(32, 1))
    gan = _gan(s, critic, lr=1e-2)

    def singular_values(w):
        return torch.linalg.svdvals(w.detach().double())

    for step in range(11):  # the raw weights move; the effective ones stay orthonormal
        for m in gan.critic.modules():
            if isinstance(m, nn.Linear):
                sv = singular_values(m.weight)
                assert torch.allclose(sv, torch.ones_like(sv), atol=1e-2), (step, sv)
        critic_step(gan, torch.randn(64, 2))
    linears = [m for m in gan.critic.modules() if isinstance(m, nn.Linear)]
    raw = [singular_values(m.parametrizations.weight.original) for m in linears]
    deviation = max(float((sv - 1).abs().max()) for sv in raw)
    if retract:  # the project hook keeps the raw weights orthonormal too
        assert deviation < 1e-2
    else:  # the raw weights are far from orthonormal: the parametrization does the work
        assert deviation > 0.1


def test_groupsort_sorts_each_group_and_preserves_gradient_norms():
    torch.manual_seed(0)
    x = torch.randn(5, 8)
    for act, g in ((MaxMin(), 2), (GroupSort(4), 4), (GroupSort(None), 8)):
        y = act(x)
        expected = [[v for grp in range(0, 8, g) for v in sorted(row[grp:grp + g])] for row in x.tolist()]
        assert y.tolist() == expected
        jac = torch.autograd.functional.jacobian(act, x[:1])[0, :, 0, :]
        assert torch.equal(jac.sum(0), torch.ones(8)) and torch.equal(jac.sum(1), torch.ones(8))  # a permutation
        v = torch.randn(8)
        assert (jac.T @ v).norm().item() == pytest.approx(v.norm().item())
    a, b = torch.randn(100, 6), torch.randn(100, 6)
    assert ((GroupSort(3)(a) - GroupSort(3)(b)).norm(dim=1) <= (a - b).norm(dim=1) + 1e-6).all()
    img = torch.randn(2, 4, 3, 3)  # groups along channels for conv features
    assert torch.equal(MaxMin()(img)[:, 0], torch.minimum(img[:, 0], img[:, 1]))
    with pytest.raises(ConfigError, match="group_size"):
        MaxMin()(torch.randn(2, 5))


def test_groupsort_is_a_model_option(cfg_factory):
    from lipbench.models import build_models

    cfg = cfg_factory("model.hidden=16", "model.critic_activation=groupsort")
    _, critic = build_models(cfg.model, (2,))
    assert sum(isinstance(m, MaxMin) for m in critic.modules()) == cfg.model.depth


def test_sn_exact_gives_sigma_one_for_linear_and_reshaped_conv():
    s = build_constraints({"sn_exact": {}})
    torch.manual_seed(0)
    net = s.wrap(nn.Sequential(nn.Conv2d(1, 4, 3, 1, 1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 5 * 5, 1)))
    opt = torch.optim.SGD(net.parameters(), lr=0.5)
    for _ in range(3):
        opt.zero_grad()
        net(torch.randn(8, 1, 5, 5)).pow(2).mean().backward()
        opt.step()
    for m in (net[0], net[3]):
        w = m.weight.detach().double().reshape(m.weight.shape[0], -1)
        assert torch.linalg.svdvals(w)[0].item() == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("name", ["sn", "sn_conv"])
def test_more_power_iterations_track_sigma_more_closely_after_a_weight_change(name):
    """One forward pass after the weight jumps: k power iterations leave σ(W/σ̂) further
    from 1 for k = 1 than for k = 30 (which is within 1e-3)."""
    errors = {}
    for k in (1, 30):
        torch.manual_seed(0)
        layer = nn.Linear(64, 64)
        build_constraints({name: {"n_power_iterations": k}}).wrap(nn.Sequential(layer))
        u, _ = torch.linalg.qr(torch.randn(64, 64))
        v, _ = torch.linalg.qr(torch.randn(64, 64))
        spectrum = torch.cat([torch.tensor([3.0]), torch.linspace(2.0, 0.1, 63)])  # σ2/σ1 = 2/3
        with torch.no_grad():
            layer.parametrizations.weight.original.copy_(u @ torch.diag(spectrum) @ v.T)
        layer.train()
        layer(torch.randn(2, 64))  # one training-mode forward: k iterations on the new weight
        layer.eval()
        errors[k] = abs(torch.linalg.svdvals(layer.weight.detach().double())[0].item() - 1.0)
    assert errors[30] < 1e-3
    assert errors[1] > 10 * errors[30], errors


def _dense_conv_norm(conv, shape):
    """Operator norm of the conv (no bias) from its dense matrix, built column by column."""
    n = int(np.prod(shape))
    basis = torch.eye(n, dtype=torch.float64).reshape(n, *shape)
    w = conv.weight.detach().double()
    cols = torch.nn.functional.conv2d(basis, w, stride=conv.stride, padding=conv.padding).reshape(n, -1)
    return torch.linalg.svdvals(cols.T)[0].item()


def test_sn_conv_normalizes_the_true_operator_norm_where_sn_does_not():
    shape = (2, 6, 6)
    results = {}
    for name in ("sn_conv", "sn"):
        torch.manual_seed(0)
        net = nn.Sequential(nn.Conv2d(2, 4, 3, 1, 1), nn.LeakyReLU(0.1), nn.Conv2d(4, 4, 4, 2, 1), nn.Flatten(),
                            nn.Linear(4 * 3 * 3, 1))
        net = build_constraints({name: {}}).wrap(net)
        for _ in range(10):
            net(torch.randn(4, *shape))
        net.eval()
        results[name] = [_dense_conv_norm(net[0], shape), _dense_conv_norm(net[2], (4, 6, 6))]
        assert torch.linalg.svdvals(net[4].weight.detach())[0].item() == pytest.approx(1.0, rel=0.02)
    assert results["sn_conv"] == pytest.approx([1.0, 1.0], rel=0.02)
    # SN normalizes the reshaped kernel, not the operator: the 3x3 stride-1 conv ends far above 1
    assert results["sn"][0] > 1.2 and abs(results["sn"][1] - 1) > 0.05, results


def test_sn_conv_checkpoint_round_trip_keeps_the_vector():
    def make():
        torch.manual_seed(0)
        return build_constraints({"sn_conv": {}}).wrap(nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.Flatten()))

    a = make()
    a(torch.randn(2, 1, 5, 5))
    b = make()
    b.load_state_dict(a.state_dict())
    a.eval(), b.eval()
    assert torch.equal(a[0].weight, b[0].weight)
    assert conv_operator_norm(b[0].weight, (1, 5, 5), padding=1, n_iter=300)[0] == pytest.approx(1.0, rel=0.02)


# ----------------------------------------------------------------------------- combinations, config
def test_combinations_wrap_in_order_sum_penalties_and_project_in_order():
    s = build_constraints({"bjorck": {}, "sn_exact": {}, "lp": {"weight": 10.0}, "r1": {"weight": 1.0}})
    assert s.name == "bjorck+sn_exact+lp+r1"
    critic = s.wrap(_mlp())
    kinds = [type(p).__name__ for p in critic[0].parametrizations.weight]
    assert kinds == ["BjorckOrthonormal", "ExactSpectralNorm"]
    # ortho regularizes the effective (parametrized) weights too
    assert _one("ortho").penalty(critic, None, None).item() == pytest.approx(0.0, abs=1e-6)
    real, fake = torch.randn(16, 2), torch.randn(16, 2)
    torch.manual_seed(5)
    total = s.penalty(critic, real, fake).item()
    torch.manual_seed(5)
    parts = sum(c.penalty(critic, real, fake).item() for c in s.constraints if c.name in ("lp", "r1"))
    assert total == pytest.approx(parts, rel=1e-6)

    calls = []

    class Spy(Constraint):
        def __init__(self, tag):
            super().__init__(None)
            self.name = tag

        def project(self, critic):
            calls.append(self.name)

    ConstraintSet([Spy("a"), *build_constraints({"bjorck": {}, "lp": {}}).constraints, Spy("b")]).project(critic)
    assert calls == ["a", "b"]


@pytest.mark.parametrize("name", NEW)
def test_every_new_constraint_composes_from_conf_and_trains(cfg_factory, name):
    cfg = cfg_factory(f"constraint={name}", "model.hidden=16")
    s = build_constraints(cfg.constraint)
    assert s.name == name and cfg.optim.optimizer == "adam" and cfg.optim.n_critic >= 1
    critic = nn.Sequential(nn.Conv2d(1, 4, 3, 2, 1), MaxMin(), nn.Flatten(), nn.Linear(4 * 4 * 4, 1))
    gan = _gan(s, critic)
    gan.generator = gan.run_generator = nn.Sequential(nn.Linear(2, 64), nn.Unflatten(1, (1, 8, 8)))
    loss, penalty = critic_step(gan, torch.randn(8, 1, 8, 8))
    assert torch.isfinite(loss) and torch.isfinite(penalty)
    assert all(torch.isfinite(p).all() for p in gan.critic.parameters())


@pytest.mark.parametrize("cfg, key", [
    ({"dragan": {"c": -1}}, "constraint.dragan.c"), ({"max_gp": {"form": "abs"}}, "constraint.max_gp.form"),
    ({"bjorck": {"iterations": 0}}, "constraint.bjorck.iterations"), ({"r1": {"weight": -1}}, "constraint.r1.weight"),
    ({"ortho": {"beta": 1}}, "constraint.ortho.beta"), ({"sn_conv": {"n_power_iterations": 0}}, "constraint.sn_conv"),
])
def test_bad_parameters_name_the_key(cfg, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        build_constraints(cfg)


# ----------------------------------------------------------------------------- Lipschitz report
def test_bjorck_groupsort_and_sn_critics_have_upper_bound_one_and_bounds_are_ordered():
    real, fake = torch.randn(64, 2), torch.randn(64, 2) + 2
    for name, act in [("bjorck", MaxMin), ("sn", nn.ReLU), ("sn_exact", nn.ReLU), ("gp", nn.ReLU),
                      ("lp", nn.ReLU), ("r1", nn.ReLU), ("ortho", nn.ReLU), ("clip", nn.ReLU)]:
        gan = _gan(build_constraints({name: {}}), _mlp(32, act), lr=1e-3)
        for _ in range(5):
            critic_step(gan, real)
        metrics, _ = lipschitz_report(gan.critic, real, fake, (2,), generator=torch.Generator().manual_seed(0),
                                      steps=10)
        assert metrics["lip_lower"] <= metrics["lip_upper"] * (1 + 1e-4), (name, metrics)
        if name in ("bjorck", "sn_exact"):
            assert metrics["lip_upper"] == pytest.approx(1.0, abs=1e-3), name
        if name == "sn":
            assert metrics["lip_upper"] == pytest.approx(1.0, rel=0.05)
    assert lipschitz_summary(layer_norms(gan.critic, (2,)))["sigma_prod"] > 0
