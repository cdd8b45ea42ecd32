"""Certificates that cannot be read falsely: broadcasting that copies an input-dependent
value is paid for (checked against the dense Jacobian), a lower bound above the upper one
is a "bound error" and never "certified", computing the bound leaves the critic
bit-identical, a bound just above 1 never prints as 1, and a dual (critic-only) run loads."""

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from lipbench.api import load_run
from lipbench.cli import print_run_result
from lipbench.constraints import build_constraints
from lipbench.dual import task as dual
from lipbench.metrics.lipschitz import lipschitz_report
from lipbench.metrics.lipschitz_bounds import critic_lipschitz_bound
from lipbench.metrics.lipschitz_layers import layer_norms
from lipbench.models.resnet import ResNetCritic
from lipbench.record.verdict import fmt_bound, run_verdict
from lipbench.report.aggregate import load_runs
from lipbench.report.dual_table import to_markdown as dual_markdown
from lipbench.report.lipschitz_table import lipschitz_table, to_markdown
from report_fixtures import make_run


def _jacobian_sigma(f, shape, seed=0) -> float:
    """||J(x)||_2 at a random x, by autograd and an SVD (for these linear maps: the constant)."""
    x = torch.randn(shape, generator=torch.Generator().manual_seed(seed))
    jac = torch.autograd.functional.jacobian(lambda v: f(v.unsqueeze(0)).reshape(-1), x)
    return float(torch.linalg.svdvals(jac.reshape(jac.shape[0], -1).double())[0])


class Broadcast(nn.Module):
    """``fc(how(x).flatten(1))`` with every fc weight 1, on x in R^4."""

    def __init__(self, how, width):
        super().__init__()
        self.how = how
        self.register_buffer("c", torch.ones(1, 1, 100))
        self.register_buffer("z", torch.zeros(1, 1, 100))
        self.fc = nn.Linear(width, 1, bias=False)
        nn.init.ones_(self.fc.weight)

    def forward(self, x):
        return self.fc(self.how(self, x).flatten(1)).squeeze(-1)


@pytest.mark.parametrize(
    "how, width, truth",
    [
        (lambda m, x: x.unsqueeze(-1) * m.c, 400, 200.0),  # the MulBroadcast: 100 sum(x)
        (lambda m, x: x.unsqueeze(-1) + m.z, 400, 200.0),  # + zeros(1, 1, 100): the same map
        (lambda m, x: x.unsqueeze(1) + x.unsqueeze(2), 16, 16.0),  # x_i + x_j summed: 8 sum(x)
    ],
)
def test_broadcasting_copies_are_paid_for(how, width, truth):
    critic = Broadcast(how, width).eval()
    jac = _jacobian_sigma(critic, (4,))
    assert jac == pytest.approx(truth, rel=1e-6)  # the map is linear: its Jacobian norm is the constant
    bound = critic_lipschitz_bound(critic, (4,))["lip_upper"]
    assert bound >= jac * (1 - 1e-9)
    assert bound == pytest.approx(truth, rel=1e-6)  # sqrt(copies) is exact for a uniform broadcast


class Scaled(nn.Module):
    def __init__(self, divide):
        super().__init__()
        self.divide = divide
        self.register_buffer("c", 0.5 + torch.rand(1, 3, 5, generator=torch.Generator().manual_seed(1)))

    def forward(self, x):
        return (x.unsqueeze(-1) / self.c if self.divide else x.unsqueeze(-1) * self.c).flatten(1)


@pytest.mark.parametrize("divide", [False, True])
def test_a_broadcast_scaling_gets_its_exact_norm(divide):
    net = Scaled(divide).eval()
    bound = critic_lipschitz_bound(net, (3,))["lip_upper"]
    assert bound == pytest.approx(_jacobian_sigma(net, (3,)), rel=1e-6)  # float32 Jacobian, float64 bound


# ----------------------------------------------------------------------------- verdicts
def test_a_lower_bound_above_the_upper_one_is_a_bound_error_never_certified():
    assert run_verdict(10.0, 1.0) == "bound error"
    assert run_verdict(0.9, 0.5) == "bound error"  # even below 1: the two bounds contradict
    assert run_verdict(1.00001, 1.0) == "certified"  # within the float slack


def test_the_lipschitz_table_and_the_printout_say_bound_error(tmp_path, capsys):
    for i, (lo, up) in enumerate([(10.0, 1.0), (0.5, 0.9)]):
        make_run(tmp_path, "sn", i, dirname=f"r{i}", npz=False, final={"w1": 0.1, "lip_lower": lo, "lip_upper": up})
    df, _ = load_runs(tmp_path)
    table = lipschitz_table(df).set_index("method")
    assert table.loc["sn", "n_bound_error"] == 1 and table.loc["sn", "n_certified"] == 1
    assert "1 certified" in table.loc["sn", "verdict"] and "1 bound error" in table.loc["sn", "verdict"]
    md = to_markdown(lipschitz_table(df))
    assert "bound error" in md
    print_run_result(
        {"method": "sn", "status": "completed", "step": 5, "final": {"lip_lower": 10.0, "lip_upper": 1.0}}, "d"
    )
    out = capsys.readouterr().out
    assert "BOUND ERROR" in out and "certified" not in out


def test_a_bound_just_above_one_never_prints_as_one():
    assert fmt_bound(1.001) == "1.001" and fmt_bound(1.0004, 3) == "1.0004"
    assert fmt_bound(0.5) == "0.5" and fmt_bound(2.71828) == "2.72" and fmt_bound(math.nan) == "—"
    row = {
        "pair": "gaussian",
        "dim": 2,
        "critic": "sn · relu",
        "n_runs": 3,
        "n_completed": 3,
        "n_certified": 0,
        "n_bound_error": 0,
        "n_violations": 0,
        "lip_upper_mean": 1.001,
        "w1_true": 1.0,
        "w1_true_se": 0.0,
        "dual_estimate_se": 0.01,
    }
    for m in ("dual_tightness", "dual_tightness_normalized", "steps_to_95", "seconds_to_95", "dual_late_gain"):
        row.update({f"{m}_mean": 0.5, f"{m}_std": 0.1, f"{m}_n": 3})
    md = dual_markdown(pd.DataFrame([row]))
    assert "| 1.001 | 0/3 |" in md


# ----------------------------------------------------------------------------- no side effects
def _state(critic):
    return {k: v.clone() for k, v in critic.state_dict(keep_vars=False).items()}


def test_computing_the_bounds_leaves_an_sn_conv_critic_bit_identical():
    torch.manual_seed(0)
    critic = build_constraints({"sn_conv": {}}).wrap(ResNetCritic(1, 16, 4))
    critic.train()
    for _ in range(3):
        critic(torch.randn(4, 1, 16, 16))  # training forwards at 16 px: the vectors move
    critic.eval()
    x = torch.randn(5, 1, 16, 16, generator=torch.Generator().manual_seed(1))
    before, out = _state(critic), critic(x).detach().clone()
    buffers = {id(b) for b in critic.buffers()}
    # at another input shape: sn_conv's pre-hook restarts its vectors there
    critic_lipschitz_bound(critic, (1, 32, 32))
    layer_norms(critic, (1, 32, 32), n_iter=3)
    big = torch.randn(4, 1, 32, 32)
    lipschitz_report(critic, big, big.flip(0), input_shape=(1, 32, 32), steps=1, n_iter=3)
    after = _state(critic)
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before), [
        k for k in before if not torch.equal(before[k], after[k])
    ]
    assert {id(b) for b in critic.buffers()} == buffers
    assert torch.equal(critic(x), out)
    assert not critic.training


# ----------------------------------------------------------------------------- dual runs load
def test_load_run_reads_a_dual_critic_only_run(spec_factory, tmp_path, monkeypatch):
    monkeypatch.setenv("LIPBENCH_CACHE", str(tmp_path / "cache"))
    spec = spec_factory(
        "task=dual",
        "pair=gaussian",
        "pair.dim=3",
        "pair.n_heldout=200",
        "model.hidden=8",
        "constraint=sn",
        "train.iterations=5",
        "train.batch_size=16",
        "train.progress=false",
        "train.threads=1",
        "train.tensorboard=false",
        "eval.every=5",
        "eval.grad_samples=16",
        "eval.surface_resolution=8",
    )
    summary = dual.train(spec, tmp_path / "run", raise_errors=True)
    assert summary["status"] == "completed"
    run = load_run(tmp_path / "run")
    assert run.kind == "dual" and run.generator is None and run.data_shape == (3,)
    points = torch.randn(7, 3)
    assert run.critic(points).shape == (7,)
    saved = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)["critic"]
    assert all(torch.equal(saved[k], v) for k, v in run.critic.state_dict().items())
    with pytest.raises(ValueError, match="no generator"):
        run.sample(4)
    # the final evaluation scored the gradient's direction (a cosine, and an RMS distance to a unit vector)
    final = summary["final"]
    assert -1 <= final["dual_grad_cos"] <= 1 and 0 <= final["dual_grad_l2"] <= 1 + final["lip_upper"]


# ----------------------------------------------------------------------------- sn_cert
def _train_sn_cert(budget, steps=4):
    from lipbench.models.dcgan import DCGANCritic

    torch.manual_seed(3)
    critic = build_constraints({"sn_cert": {"budget": budget}}).wrap(DCGANCritic(1, 16, 4))
    opt = torch.optim.Adam(critic.parameters(), lr=0.01)
    for _ in range(steps):
        opt.zero_grad()
        (critic(torch.randn(8, 1, 16, 16)).mean() - critic(torch.randn(8, 1, 16, 16) + 1).mean()).backward()
        opt.step()
    return critic.eval()


@pytest.mark.parametrize("budget", [1e11, 0.0])
def test_an_sn_cert_critic_is_certified_1_lipschitz(budget):
    """Exact certificates (default budget) put every layer at 1 - 1e-5; the circulant
    fallback (budget 0) at or below it. Either way the whole critic is certified."""
    critic = _train_sn_cert(budget)
    bound = critic_lipschitz_bound(critic, (1, 16, 16))
    assert bound["unsupported"] == [] and bound["lip_upper"] <= 1.0
    assert run_verdict(0.5, bound["lip_upper"]) == "certified"
    exact = [e["sigma_exact"] for e in bound["layers"].values() if "sigma_exact" in e]
    assert len(exact) == 3  # two convs and the linear layer
    assert all(e <= 1.0 for e in exact)
    if budget:
        assert all(e >= 1 - 2e-5 for e in exact)  # tight: divided by the exact norm (+1e-5)
    assert _jacobian_sigma(critic, (1, 16, 16)) <= bound["lip_upper"]


def test_an_sn_cert_critic_reloads_bit_identical():
    from lipbench.models.dcgan import DCGANCritic

    critic = _train_sn_cert(1e11)
    x = torch.randn(3, 1, 16, 16)
    twin = build_constraints({"sn_cert": {}}).wrap(DCGANCritic(1, 16, 4)).eval()
    twin.load_state_dict(critic.state_dict())
    assert torch.equal(twin(x), critic(x))


# ----------------------------------------------------------------------------- dual direction
def _linear(direction, scale=1.0):
    layer = nn.Linear(len(direction), 1, bias=False)
    with torch.no_grad():
        layer.weight.copy_(scale * torch.as_tensor(direction, dtype=torch.float32).view(1, -1))
    return layer


def test_the_direction_scores_of_linear_critics_on_the_gaussian_translation():
    from lipbench.dual.pairs import build_pair
    from lipbench.metrics.context import RunContext
    from lipbench.metrics.dual_direction import direction_scores, true_directions

    pair = build_pair({"name": "gaussian", "dim": 5, "shift": 2.0, "cov": "random", "n_heldout": 200})
    p, q = pair.sample("heldout", 200, torch.Generator().manual_seed(0), coupled=True)
    run = RunContext("dual", pair, (5,), 0, "cpu", None, None, None)
    points, target = true_directions(run, p, q)
    u = torch.tensor(pair.info["delta"]) / torch.tensor(pair.info["delta"]).norm()
    assert torch.allclose(torch.as_tensor(target[0], dtype=torch.float32), u)  # P = Q + delta: up the shift
    for scale, cos, l2 in [(1.0, 1.0, 0.0), (-1.0, -1.0, 2.0), (0.5, 1.0, 0.5)]:
        critic = _linear(u, scale)
        # the optimal critic attains W1 = ||delta||, in the estimate's sign convention
        with torch.no_grad():
            assert float(critic(p).mean() - critic(q).mean()) == pytest.approx(scale * 2.0, rel=1e-5)
        x = torch.as_tensor(points, dtype=torch.float32).requires_grad_(True)
        (grads,) = torch.autograd.grad(critic(x).sum(), x)
        scores = direction_scores(grads.double().numpy(), target)
        assert scores["dual_grad_cos"] == pytest.approx(cos, abs=1e-6)
        assert scores["dual_grad_l2"] == pytest.approx(l2, abs=1e-6)


def test_the_exact_plan_is_an_optimal_assignment_and_a_small_translation_keeps_its_points():
    from scipy.optimize import linear_sum_assignment
    from scipy.spatial.distance import cdist

    from lipbench.metrics.dual_direction import exact_plan

    rng = np.random.default_rng(0)
    p, q = rng.normal(size=(60, 2)), rng.normal(size=(60, 2))
    sigma = exact_plan(p, q)
    assert sorted(sigma) == list(range(60))  # a permutation
    cost = cdist(p, q)
    rows, cols = linear_sum_assignment(cost)
    assert cost[np.arange(60), sigma].sum() == pytest.approx(cost[rows, cols].sum(), rel=1e-9)
    shifted = p - np.array([1e-3, 0.0])  # a translation is optimal: every point moves along e1
    assert list(exact_plan(p, shifted)) == list(range(60))


def test_lipschitz_md_has_the_per_layer_table_from_the_runs_diagnostics(tmp_path):
    import json

    from lipbench.report.lipschitz_table import write_lipschitz_table

    layers = [
        {"name": "net.0", "bound": 1.0000000005, "sigma_exact": 1.0, "bound_method": "gram certificate (input side)"},
        {"name": "fc", "bound": 0.6, "sigma_exact": None, "bound_method": "fft circulant 18x18"},
    ]
    for seed in (0, 1):
        final = {"w1": 0.1, "lip_lower": 0.4, "lip_upper": 0.6}
        path = Path(make_run(tmp_path / "runs", "sn_cert", seed, npz=False, final=final)) / "summary.json"
        summary = json.loads(path.read_text())
        summary["diagnostics"]["layers"] = layers
        path.write_text(json.dumps(summary))
    df, _ = load_runs(tmp_path / "runs")
    table = lipschitz_table(df)
    assert table["tightness_mean"].iloc[0] == pytest.approx(1.5) and table["tightness_max"].iloc[0] == pytest.approx(
        1.5
    )
    (tmp_path / "out").mkdir()
    md = Path(write_lipschitz_table(table, tmp_path / "out")["md"]).read_text()
    assert "Per layer" in md and "tightness: upper / lower" in md
    cells = {
        line.split("|")[2].strip(): [c.strip() for c in line.split("|")[1:-1]]
        for line in md.splitlines()
        if line.startswith("| sn_cert")
    }
    # method, layer, exact σ, bound, bound / exact (max), bound method, runs
    assert cells["net.0"] == ["sn_cert", "net.0", "1", "1", "1", "gram certificate (input side)", "2"]
    assert cells["fc"][2] == "—" and cells["fc"][3] == "0.6"  # no exact norm recorded


def test_sn_cert_under_bf16_autocast_still_divides_by_the_certificate():
    critic = _train_sn_cert(1e11, steps=1)
    critic.train()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        critic(torch.randn(2, 1, 16, 16))  # a training forward under autocast
        weight = critic.net[2].weight
    assert weight.dtype == torch.float32
    critic.eval()
    assert critic_lipschitz_bound(critic, (1, 16, 16))["lip_upper"] <= 1.0
