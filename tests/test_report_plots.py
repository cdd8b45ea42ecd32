"""lipbench.report.plots and budget curves: files written, graceful skips, budget-curve identities."""

import os
from itertools import combinations

import numpy as np
import pytest

from lipbench.report import plots
from lipbench.report.aggregate import load_runs
from lipbench.report.budget import budget_curve, budget_curves, setting_scores
from report_fixtures import make_run, make_sweep

VALUES = [3.0, 1.0, 4.0, 1.5, 9.0, 2.6]


def test_budget_curve_endpoints_exact():
    for better, best in (("lower", min(VALUES)), ("higher", max(VALUES))):
        curve = budget_curve(VALUES, better, exact=True)
        assert curve["k"].tolist() == list(range(1, len(VALUES) + 1))
        assert curve["mean"].iloc[-1] == pytest.approx(best)  # k = all settings: the best overall
        assert curve["mean"].iloc[0] == pytest.approx(np.mean(VALUES))  # k = 1: the mean over settings


def test_budget_curve_exact_matches_enumeration_and_resampling():
    # independent check: average best over every k-subset
    for k in range(1, len(VALUES) + 1):
        brute = np.mean([min(c) for c in combinations(VALUES, k)])
        assert budget_curve(VALUES, "lower", exact=True)["mean"].iloc[k - 1] == pytest.approx(brute)
    sampled = budget_curve(VALUES, "lower", n_draws=1000, seed=0)
    assert sampled["mean"].iloc[-1] == min(VALUES)
    se = np.std(VALUES) / np.sqrt(1000)
    assert abs(sampled["mean"].iloc[0] - np.mean(VALUES)) < 5 * se
    assert (np.diff(sampled["mean"]) <= 0).all()  # more settings never hurt
    assert (sampled["q25"] <= sampled["q75"]).all()
    again = budget_curve(VALUES, "lower", n_draws=1000, seed=0)
    assert again.equals(sampled)  # fixed seed: same curve


def test_budget_curves_from_runs(tmp_path):
    make_sweep(tmp_path, methods=("gp", "sn"), seeds=(0, 1), presets=("A", "B", "C"), npz=False)
    make_run(tmp_path, "sn", 0, status="diverged", preset="D", dirname="dz", npz=False)
    runs, _ = load_runs(tmp_path)
    scores = setting_scores(runs, "w1", "cfg.optim.preset")
    assert len(scores) == 7 and scores["score"].isna().sum() == 1  # sn/D has no completed run
    curves = budget_curves(runs, "w1", "cfg.optim.preset", "lower", n_draws=200)
    sn = curves[curves["method"] == "sn"]
    assert sn["n_settings"].iloc[0] == 3 and sn["n_excluded"].iloc[0] == 1
    done = runs[(runs["method"] == "sn") & (runs["status"] == "completed")]
    expect = done.groupby("cfg.optim.preset")["w1"].mean().min()  # best setting (mean over its seeds)
    assert sn["mean"].iloc[-1] == pytest.approx(expect)


def _stems(files):
    return {os.path.basename(f).rsplit(".", 1)[0] for f in files}


def test_all_plots_written_for_a_2d_settings_sweep(tmp_path):
    make_sweep(tmp_path / "sweep", methods=("gp", "sn"), seeds=(0, 1), presets=("A", "B"))
    make_run(tmp_path / "sweep", "gp", 5, status="diverged", dirname="div")
    runs, _ = load_runs(tmp_path / "sweep")
    errors = []
    files = plots.plot_all(runs, tmp_path / "plots", errors=errors)
    assert errors == []
    assert _stems(files) == {"history", "final", "samples_2d", "grad_norms", "layer_norms",
                             "settings_optim.preset", "budget_optim.preset", "lipschitz"}
    assert {f.rsplit(".", 1)[1] for f in files} == {"png", "pdf"}
    for f in files:
        assert os.path.getsize(f) > 1000
    figs = plots.figures_samples_2d(runs)
    fig = figs["samples_2d"]
    assert len([ax for ax in fig.axes if ax.get_visible()]) == 4  # methods x presets, one row
    assert fig._suptitle is not None and fig._suptitle.get_text()


def test_plots_grouped_per_data_set_and_skip_what_is_absent(tmp_path):
    # image runs: no final_samples.npz, no swept hyper-parameter -> no 2-D, settings or budget plots
    make_sweep(tmp_path / "img", methods=("gp", "sn"), seeds=(0,), datas=("digits",))
    img, _ = load_runs(tmp_path / "img")
    assert plots.plot_samples_2d(img, tmp_path / "p") == []
    assert plots.plot_budget(img, tmp_path / "p") == [] and plots.plot_settings(img, tmp_path / "p") == []
    assert len(plots.figures_layer_norms(img)) == 1
    # two data sets: one figure per data set
    make_sweep(tmp_path / "two", methods=("gp",), seeds=(0,), datas=("eight_gaussians", "swiss_roll"))
    two, _ = load_runs(tmp_path / "two")
    assert set(plots.figures_final(two)) == {"final_eight_gaussians", "final_swiss_roll"}
    # nothing at all: every plot is skipped, nothing raises
    empty = img.iloc[:0]
    assert plots.plot_all(empty, tmp_path / "none") == []
    assert not os.path.exists(tmp_path / "none")
