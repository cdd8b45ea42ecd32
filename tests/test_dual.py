"""The dual task's pieces: pairs with a known W1, the held-out estimator, the OT truth,
the bound a Lipschitz critic cannot exceed, and the bad-input lines."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from conftest import compose_cfg
from lipbench.cli import preflight
from lipbench.dual.evaluation import DualEvaluator
from lipbench.dual.pairs import build_pair, stream_seed
from lipbench.errors import ConfigError
from lipbench.metrics.dual import dual_estimate, exceeds_bound, ot_w1, time_to_fraction
from lipbench.metrics.toy2d import exact_w1


def _linear_critic(direction: torch.Tensor, scale: float = 1.0) -> nn.Module:
    """f(x) = scale * <x, direction / ||direction||>."""
    f = nn.Linear(len(direction), 1, bias=False)
    with torch.no_grad():
        f.weight.copy_(scale * direction / direction.norm())
    return f


def _gaussian(dim=16, shift=1.0, cov="identity"):
    return build_pair({"name": "gaussian", "dim": dim, "shift": shift, "cov": cov, "pair_seed": 0, "n_heldout": 1000})


@pytest.mark.parametrize("cov", ["identity", "random"])
def test_the_linear_critic_along_delta_gives_exactly_the_shift(cov):
    pair = _gaussian(dim=16, shift=1.7, cov=cov)
    delta = torch.tensor(pair.info["delta"])
    assert math.isclose(float(delta.norm()), 1.7, rel_tol=1e-6) and pair.w1_closed_form == pytest.approx(1.7)
    f = _linear_critic(delta)
    with torch.no_grad():
        # coupled draws: every term f(p_i) - f(q_i) is <delta, u> = ||delta||, whatever Σ is
        p, q = pair.sample("heldout", 500, torch.Generator().manual_seed(1), coupled=True)
        est, se = dual_estimate(f(p).squeeze(1), f(q).squeeze(1))
        assert est == pytest.approx(1.7, abs=1e-5) and se < 1e-5
        # independent draws: unbiased, within a few standard errors of ||delta|| on a large sample
        p, q = pair.sample("train", 200_000, torch.Generator().manual_seed(2), coupled=False)
        est, se = dual_estimate(f(p).squeeze(1), f(q).squeeze(1))
    assert abs(est - 1.7) < 4 * se and se < 0.02
    # analytically, E_P f - E_Q f = <delta, u> for the means delta and 0 of P and Q
    assert float(delta @ (delta / delta.norm())) == pytest.approx(1.7, rel=1e-6)


def test_the_estimator_is_the_mean_difference_with_its_standard_error():
    f_p, f_q = torch.tensor([3.0, 1.0, 2.0, 6.0]), torch.tensor([1.0, 1.0, 0.0, 2.0])
    est, se = dual_estimate(f_p, f_q)
    terms = np.array([2.0, 0.0, 2.0, 4.0])
    assert est == pytest.approx(terms.mean())
    assert se == pytest.approx(terms.std(ddof=1) / 2)


def test_ot_w1_is_pots_exact_w1_and_a_translation_costs_its_length():
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(60, 2, generator=gen), torch.randn(80, 2, generator=gen) + 0.5
    assert ot_w1(x, y) == pytest.approx(exact_w1(x.numpy(), y.numpy()), rel=1e-9)
    shift = torch.tensor([3.0, 4.0] + [0.0] * 14)
    z = torch.randn(50, 16, generator=gen) * 0.01  # a tight cloud moved by 5: W1 = 5
    assert ot_w1(z, z + shift) == pytest.approx(5.0, rel=1e-6)  # float32 points


def test_held_out_samples_come_from_their_own_stream_and_the_test_split(cfg_factory, tmp_path):
    cfg = cfg_factory("task=dual", "pair=digits", "pair.n_ot=100", "pair.ot_repeats=2", "pair.n_heldout=300")
    pair = build_pair(cfg.pair)
    ev = DualEvaluator(cfg, pair, tmp_path, torch.device("cpu"))
    from lipbench.data import build_data

    base = build_data(cfg.pair.base)
    train = {r.tobytes() for r in (base.train_images.reshape(len(base.train_images), -1).float() / 127.5 - 1).numpy()}
    test = {r.tobytes() for r in (base.test_images.reshape(len(base.test_images), -1).float() / 127.5 - 1).numpy()}
    assert {r.tobytes() for r in ev.p.numpy()} <= test  # held-out P: test images only
    batch_p, _ = pair.sample("train", 2000, torch.Generator().manual_seed(int(cfg.seed)))
    assert {r.tobytes() for r in batch_p.numpy()} <= train
    assert len(train & test) < len(test)  # the two splits are different images
    assert stream_seed(int(cfg.seed), "dual-heldout") != int(cfg.seed)


def test_a_critic_steeper_than_its_bound_is_flagged_and_a_1_lipschitz_one_is_not(cfg_factory, tmp_path):
    cfg = cfg_factory("task=dual", "pair=gaussian", "pair.dim=8", "pair.n_heldout=2000")
    pair = build_pair(cfg.pair)
    ev = DualEvaluator(cfg, pair, tmp_path, torch.device("cpu"))
    delta = torch.tensor(pair.info["delta"])
    honest, _ = ev.evaluate(_linear_critic(delta), 0, final=True)
    assert honest["dual_tightness"] == pytest.approx(1.0, abs=1e-4) and honest["lip_upper"] == pytest.approx(1.0)
    assert not exceeds_bound(honest["dual_estimate"], honest["dual_estimate_se"], 1.0, 0.0)
    steep, _ = ev.evaluate(_linear_critic(delta, scale=2.0), 0, final=True)
    assert steep["dual_tightness"] == pytest.approx(2.0, abs=1e-4)
    assert exceeds_bound(steep["dual_estimate"], steep["dual_estimate_se"], 1.0, 0.0)  # not 1-Lipschitz
    assert steep["dual_tightness_normalized"] == pytest.approx(1.0, abs=1e-4)  # f / lip_upper is


def test_time_to_95_percent_is_the_first_evaluation_past_it():
    rows = [
        {"step": s, "train_time_s": s / 10, "dual_estimate": v}
        for s, v in [(0, 0.0), (10, 0.5), (20, 0.96), (30, 0.98), (40, 1.0)]
    ]
    out = time_to_fraction(rows)
    assert out["steps_to_95"] == 20 and out["seconds_to_95"] == 2.0
    assert out["dual_late_gain"] == pytest.approx(0.02)  # gained from step 30 (the first >= 0.7 * 40) to the end
    assert time_to_fraction(rows[:1])["steps_to_95"] is None  # final 0: no scale


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["task=dual", "pair.dim=0"], "pair.dim=0: must be an integer >= 1"),
        (["task=dual", "pair.shift=0"], "pair.shift=0: must be > 0"),
        (["task=dual", "pair.shift=0.0"], "pair.shift=0.0: must be > 0"),
        (["task=dual", "pair=nosuch"], "pair=nosuch: unknown option; allowed: digits, eight_gaussians, gaussian"),
        (["task=dual", "pair.name=nosuch"], "pair.name=nosuch: unknown; allowed: gaussian, noisy"),
        (["task=dual", "pair=eight_gaussians", "pair.n_ot=10"], "pair.n_ot=10: must be an integer >= 100"),
        (["task=dual", "pair=swiss_roll", "pair.noise=0"], "pair.noise=0: must be > 0"),
        (["task=dual", "pair=digits", "pair.ot_repeats=1"], "pair.ot_repeats=1: must be an integer >= 2"),
        (["task=dual", "pair.cov=diag"], "pair.cov=diag: allowed: identity, random"),
        (["task=dual", "loss=hinge"], "loss.name=hinge: task=dual maximises"),
        (["task=nosuch"], "task=nosuch: unknown option; allowed: dual, gan"),
    ],
)
def test_each_bad_dual_input_is_one_line_naming_the_key(argv, expected):
    with pytest.raises(ConfigError) as err:
        preflight(argv)
    assert expected in str(err.value) and "\n" not in str(err.value)


def test_a_bad_dimension_anywhere_in_a_sweep_stops_it_before_any_run(tmp_path, monkeypatch, capsys):
    from lipbench.cli import main

    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_:
        main(["-m", "experiment=dual_gauss", "pair.dim=2,-1", "constraint=sn", "seed=0"])
    assert exit_.value.code == 2
    assert "pair.dim=-1: must be an integer >= 1" in capsys.readouterr().err
    assert not (tmp_path / "multirun").exists()


def test_gan_configs_are_unchanged_by_the_task_group():
    cfg = compose_cfg()
    assert "task" not in cfg and "pair" not in cfg  # so GAN run identities stay what they were


def test_a_report_of_gan_runs_has_no_dual_part(tmp_path):
    from lipbench.report import load_runs
    from lipbench.report.dual_table import dual_report, dual_table
    from report_fixtures import make_sweep

    make_sweep(tmp_path / "sweep", methods=("gp", "sn"), seeds=(0,))
    runs, _ = load_runs(tmp_path / "sweep")
    assert len(runs) == 2 and dual_table(runs).empty
    assert dual_report(runs, tmp_path / "out", quiet=True) == [] and not (tmp_path / "out" / "dual.md").exists()
