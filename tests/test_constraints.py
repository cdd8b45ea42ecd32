"""Constraints beyond their defining properties (each constraint checks its own, see
tests/test_constraint_registry.py): penalties act, combinations compose in order, bad
parameters name the key; and the GAN losses' textbook values."""

import dataclasses
import math
import re

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf
from torch import nn

from lipbench.configstore import constraint_schema
from lipbench.constraints import CONSTRAINTS, build_constraints
from lipbench.errors import ConfigError
from lipbench.losses import build_loss
from lipbench.train.build import gan_from_parts


def _mlp(width=16):
    return nn.Sequential(nn.Linear(2, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(), nn.Linear(width, 1))


def _gan(constraint_cfg, lr=0.05, optimizer="adam"):
    torch.manual_seed(0)
    constraints = build_constraints(constraint_cfg)
    critic = constraints.wrap(_mlp())
    generator = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 2))
    generator.z_dim = 2
    optim = {"optimizer": optimizer, "lr": lr, "betas": [0.5, 0.9]}
    return gan_from_parts(generator, critic, constraints, optim, {"name": "wasserstein"}, torch.device("cpu"))


def test_gp_is_differentiable_and_pushes_gradients_toward_one():
    gan = _gan({"gp": {"weight": 10.0}}, lr=1e-3)
    real = torch.randn(128, 2)

    def interp_norm():
        x = real.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(gan.critic(x).sum(), x)
        return g.norm(dim=1).mean().item()

    before = abs(interp_norm() - 1)
    for _ in range(100):
        # fake == real: only the penalty acts (the Wasserstein terms cancel)
        gan.opt_d.zero_grad()
        gan.constraints.penalty(gan.critic, real, real).backward()
        gan.opt_d.step()
    assert abs(interp_norm() - 1) < before / 2


def _weight_parametrizations(critic):
    """The class names of the parametrizations on the hidden layer's weight, first applied first."""
    return [type(p).__name__ for p in critic[2].parametrizations.weight]


def test_combination_wraps_in_the_listed_order():
    sn_first = build_constraints({"sn": {}, "bjorck": {}})
    assert sn_first.name == "sn+bjorck"
    assert _weight_parametrizations(sn_first.wrap(_mlp())) == ["_SpectralNorm", "BjorckOrthonormal"]
    bjorck_first = build_constraints({"bjorck": {}, "sn": {}})
    assert bjorck_first.name == "bjorck+sn"
    assert _weight_parametrizations(bjorck_first.wrap(_mlp())) == ["BjorckOrthonormal", "_SpectralNorm"]


def test_combination_adds_every_penalty():
    s = build_constraints({"gp": {"weight": 2.0}, "ortho": {"weight": 0.5}})
    critic = s.wrap(_mlp())
    x = torch.randn(8, 2)
    # fake == real: every interpolate is x itself, so GP's term is computed here without randomness
    xg = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(critic(xg).sum(), xg)
    gp = 2.0 * ((g.norm(dim=1) - 1) ** 2).mean().item()
    ortho = 0.0
    for m in critic:
        if isinstance(m, nn.Linear):
            w = m.weight.detach()
            gram = w @ w.T if w.shape[0] < w.shape[1] else w.T @ w
            ortho += 0.5 * ((gram - torch.eye(len(gram))) ** 2).sum().item()
    assert gp > 0.05 and ortho > 0.05  # both terms matter, so a missing one is seen
    assert s.penalty(critic, x, x).item() == pytest.approx(gp + ortho, rel=1e-5)


def test_combination_projects_in_the_listed_order():
    """The last projection wins: Björck's retraction then clipping leaves weights in [-c, c];
    clipping then the retraction leaves orthonormal raw weights, which leave that box."""
    c = 0.05
    for order in (("bjorck", "clip"), ("clip", "bjorck")):
        s = build_constraints({name: {"c": c} if name == "clip" else {} for name in order})
        critic = s.wrap(_mlp())
        with torch.no_grad():
            for p in critic.parameters():
                p.mul_(3.0)  # raw weights neither orthonormal nor inside [-c, c]
        s.project(critic)
        raw = critic[2].parametrizations.weight.original.detach()
        if order[-1] == "clip":
            assert raw.abs().max().item() <= c + 1e-6  # (c in float32)
        else:
            np.testing.assert_allclose(torch.linalg.svdvals(raw).numpy(), 1.0, atol=1e-2)
            assert raw.abs().max().item() > 2 * c


@pytest.mark.parametrize(
    "cfg, key",
    [
        ({"clip": {"c": 0.0}}, "constraint.clip.c"),
        ({"clip": {"c": -1}}, "constraint.clip.c"),
        ({"gp": {"weight": -1}}, "constraint.gp.weight"),
        ({"sn": {"n_power_iterations": 0}}, "constraint.sn.n_power"),
        ({"gp": {"lambda": 1}}, "constraint.gp.lambda"),
        ({"nope": {}}, "constraint=nope"),
    ],
)
def test_bad_constraint_parameters_name_the_key(cfg, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        build_constraints(cfg)


# a value out of range for one key of each registered constraint that has parameters (None: no key has a range)
BAD_VALUE = {
    "bjorck": ("iterations", 0),
    "clip": ("c", 0.0),
    "dragan": ("c", -1.0),
    "gp": ("weight", -1.0),
    "lp": ("weight", -1.0),
    "max_gp": ("form", "abs"),
    "ortho": ("weight", -1.0),
    "r1": ("weight", -1.0),
    "r2": ("weight", -1.0),
    "sn": ("n_power_iterations", 0),
    "sn_cert": ("budget", -1.0),
    "sn_conv": ("n_power_iterations", 0),
    "zero_gp": ("weight", -1.0),
}


@pytest.mark.parametrize("name", CONSTRAINTS.names())
def test_each_constraints_params_check_their_ranges_when_made_naming_that_constraint(name):
    """As every other schema: making the Params instance (directly, or from the structured config)
    checks the ranges, naming ``constraint.<name>.<key>`` even where constraints share one class."""
    cls = CONSTRAINTS.get(name)
    assert dataclasses.asdict(cls.Params()) == dataclasses.asdict(cls.build().params)  # the defaults are in range
    if not dataclasses.fields(cls.Params):
        return
    assert name in BAD_VALUE, f"add an out-of-range value of constraint {name!r} to BAD_VALUE"
    if BAD_VALUE[name] is None:
        return
    key, value = BAD_VALUE[name]
    pattern = rf"^constraint\.{name}\.{key}={re.escape(str(value))}: "
    with pytest.raises(ConfigError, match=pattern):
        cls.Params(**{key: value})
    node = OmegaConf.merge(OmegaConf.structured(constraint_schema(cls)), {key: value})
    with pytest.raises(ConfigError, match=pattern):
        OmegaConf.to_object(node)
    with pytest.raises(ConfigError, match=pattern):
        build_constraints({name: {key: value}})


def test_losses_have_their_textbook_values():
    d_real, d_fake = torch.tensor([2.0, 0.0]), torch.tensor([-1.0, 3.0])
    w, h, ns = (build_loss({"name": n}) for n in ("wasserstein", "hinge", "ns"))
    assert w.critic_loss(d_real, d_fake).item() == pytest.approx(1.0 - 1.0)
    assert h.critic_loss(d_real, d_fake).item() == pytest.approx((0 + 1) / 2 + (0 + 4) / 2)
    sp = lambda v: math.log1p(math.exp(v))  # noqa: E731
    assert ns.critic_loss(d_real, d_fake).item() == pytest.approx((sp(-2) + sp(0)) / 2 + (sp(-1) + sp(3)) / 2)
    assert ns.generator_loss(d_fake).item() == pytest.approx((sp(1) + sp(-3)) / 2)
    assert w.generator_loss(d_fake).item() == pytest.approx(-1.0)
