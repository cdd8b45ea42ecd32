"""Building a GAN from a config (lipbench.train.build): what the loop, the experiments
scripts and the tests train is what the config names, the same for the same seed."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize

from conftest import FAST_2D, compose_spec
from lipbench.constraints import build_constraints
from lipbench.data import build_data
from lipbench.train.build import build_critic, build_gan, gan_from_parts
from lipbench.train.setup import seed_everything

CPU = torch.device("cpu")


def _ids(params):
    return {id(p) for p in params}


def _optimized(opt):
    return {id(p) for group in opt.param_groups for p in group["params"]}


def test_the_gan_is_the_one_the_config_names():
    spec = compose_spec(*FAST_2D, "constraint=sn")
    data, gan = build_gan(spec, CPU)
    assert gan.constraints.name == "sn" and gan.z_dim == spec.model.z_dim
    linear = [m for m in gan.critic.modules() if isinstance(m, nn.Linear)]
    assert linear and all(parametrize.is_parametrized(m, "weight") for m in linear)  # wrapped by SN
    assert not any(parametrize.is_parametrized(m) for m in gan.generator.modules())
    hidden = [m.out_features for m in linear[:-1]]
    assert hidden == [spec.model.hidden] * len(hidden)
    # each optimizer updates exactly its own network's parameters, with the resolved setting
    assert _optimized(gan.opt_g) == _ids(gan.generator.parameters())
    assert _optimized(gan.opt_d) == _ids(gan.critic.parameters())
    assert gan.opt_d.param_groups[0]["lr"] == pytest.approx(spec.optim["lr"])
    assert type(gan.opt_d).__name__.lower() == spec.optim["optimizer"]
    z = gan.noise(5)
    assert gan.generator(z).shape == (5, *data.shape) and gan.critic(gan.generator(z)).reshape(-1).shape == (5,)


def test_same_seed_same_initial_weights_different_seed_different():
    def weights(seed):
        seed_everything(seed)
        _, gan = build_gan(compose_spec(*FAST_2D, "constraint=sn"), CPU)
        return [t.clone() for m in (gan.generator, gan.critic) for t in m.state_dict().values()]

    a, b, c = weights(1), weights(1), weights(2)
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
    assert not all(torch.equal(x, y) for x, y in zip(a, c, strict=True))


def test_given_data_is_used_and_gives_the_same_gan():
    spec = compose_spec(*FAST_2D, "constraint=gp")
    data = build_data(spec.data)
    seed_everything(0)
    shared, gan = build_gan(spec, CPU, data=data)
    seed_everything(0)
    _, own = build_gan(spec, CPU)
    assert shared is data
    for x, y in zip(gan.critic.state_dict().values(), own.critic.state_dict().values(), strict=True):
        assert torch.equal(x, y)


def test_a_generator_without_parameters_gets_no_optimizer():
    class Source(nn.Module):
        z_dim = 2

        def forward(self, z):
            return z

    constraints = build_constraints({"gp": {"weight": 10.0}})
    critic = constraints.wrap(nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 1)))
    optim = {"optimizer": "rmsprop", "lr": 5e-5}
    gan = gan_from_parts(Source(), critic, constraints, optim, {"name": "wasserstein"}, CPU)
    assert gan.opt_g is None and isinstance(gan.opt_d, torch.optim.RMSprop)
    assert _optimized(gan.opt_d) == _ids(critic.parameters())


def test_the_dual_critic_takes_points_of_the_pairs_dimension():
    spec = compose_spec(
        "task=dual", "pair=gaussian", "model=mlp", "model.hidden=16", "pair.dim=5", "constraint=sn_exact"
    )
    critic, constraints = build_critic(spec, 5, CPU)
    assert constraints.name == "sn_exact"
    assert critic(torch.randn(7, 5)).reshape(-1).shape == (7,)
    assert any(parametrize.is_parametrized(m) for m in critic.modules())
