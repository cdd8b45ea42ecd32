"""The constraints beyond their defining properties (each constraint checks its own, see
tests/test_constraint_registry.py): GroupSort, power iterations, the sn_conv buffer in a
checkpoint, combinations, bad parameters and the Lipschitz report; references computed
by hand (numpy, dense matrices, Python sorting), not by the code under test."""

import pytest
import torch
from torch import nn

from lipbench.constraints import build_constraints
from lipbench.constraints.base import Constraint, ConstraintSet
from lipbench.constraints.checks import dense_conv_norm
from lipbench.errors import ConfigError
from lipbench.metrics.lipschitz import lipschitz_report
from lipbench.metrics.lipschitz_layers import conv_operator_norm, layer_norms, lipschitz_summary
from lipbench.models.activations import GroupSort, MaxMin
from lipbench.train.build import gan_from_parts
from lipbench.train.steps import critic_step


def _one(name, **params):
    (c,) = build_constraints({name: params}).constraints
    return c


def _mlp(width=16, act=nn.ReLU):
    return nn.Sequential(nn.Linear(2, width), act(), nn.Linear(width, width), act(), nn.Linear(width, 1))


def _gan(constraints, critic, lr=1e-3):
    torch.manual_seed(0)
    critic = constraints.wrap(critic)
    gen = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 2))
    gen.z_dim = 2
    opt = {"optimizer": "adam", "lr": lr, "betas": [0.5, 0.9]}
    return gan_from_parts(gen, critic, constraints, opt, {"name": "wasserstein"}, torch.device("cpu"))


# ----------------------------------------------------------------------------- parametrizations
def test_sn_normalizes_the_reshaped_kernel_not_the_conv_operator():
    """What sn_conv adds (its own check: operator norm 1): under plain sn a 3x3 stride-1
    conv's true operator norm ends far above 1, while the linear layer's sigma is 1."""
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(2, 4, 3, 1, 1), nn.LeakyReLU(0.1), nn.Conv2d(4, 4, 4, 2, 1), nn.Flatten(), nn.Linear(4 * 3 * 3, 1)
    )
    net = build_constraints({"sn": {}}).wrap(net)
    for _ in range(10):
        net(torch.randn(4, 2, 6, 6))
    net.eval()
    assert torch.linalg.svdvals(net[4].weight.detach())[0].item() == pytest.approx(1.0, rel=0.02)
    assert dense_conv_norm(net[0], (2, 6, 6)) > 1.2 and abs(dense_conv_norm(net[2], (4, 6, 6)) - 1) > 0.05


def test_groupsort_sorts_each_group_and_preserves_gradient_norms():
    torch.manual_seed(0)
    x = torch.randn(5, 8)
    for act, g in ((MaxMin(), 2), (GroupSort(4), 4), (GroupSort(None), 8)):
        y = act(x)
        expected = [[v for grp in range(0, 8, g) for v in sorted(row[grp : grp + g])] for row in x.tolist()]
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


@pytest.mark.parametrize(
    "cfg, key",
    [
        ({"dragan": {"c": -1}}, "constraint.dragan.c"),
        ({"max_gp": {"form": "abs"}}, "constraint.max_gp.form"),
        ({"bjorck": {"iterations": 0}}, "constraint.bjorck.iterations"),
        ({"r1": {"weight": -1}}, "constraint.r1.weight"),
        ({"ortho": {"beta": 1}}, "constraint.ortho.beta"),
        ({"sn_conv": {"n_power_iterations": 0}}, "constraint.sn_conv"),
    ],
)
def test_bad_parameters_name_the_key(cfg, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        build_constraints(cfg)


# ----------------------------------------------------------------------------- Lipschitz report
def test_bjorck_groupsort_and_sn_critics_have_upper_bound_one_and_bounds_are_ordered():
    real, fake = torch.randn(64, 2), torch.randn(64, 2) + 2
    for name, act in [
        ("bjorck", MaxMin),
        ("sn", nn.ReLU),
        ("sn_exact", nn.ReLU),
        ("gp", nn.ReLU),
        ("lp", nn.ReLU),
        ("r1", nn.ReLU),
        ("ortho", nn.ReLU),
        ("clip", nn.ReLU),
    ]:
        gan = _gan(build_constraints({name: {}}), _mlp(32, act), lr=1e-3)
        for _ in range(5):
            critic_step(gan, real)
        metrics, _ = lipschitz_report(
            gan.critic, real, fake, input_shape=(2,), generator=torch.Generator().manual_seed(0), steps=10
        )
        assert metrics["lip_lower"] <= metrics["lip_upper"] * (1 + 1e-4), (name, metrics)
        if name in ("bjorck", "sn_exact"):
            assert metrics["lip_upper"] == pytest.approx(1.0, abs=1e-3), name
        if name == "sn":
            assert metrics["lip_upper"] == pytest.approx(1.0, rel=0.05)
    assert lipschitz_summary(layer_norms(gan.critic, (2,)))["lip_upper_est"] > 0
