"""lipbench.report.plots and budget curves: files written, graceful skips, budget-curve identities."""

import os
from itertools import combinations

import numpy as np
import pytest

from lipbench.report import plots
from lipbench.report.aggregate import load_runs
from lipbench.report.budget import budget_curve, budget_curves, setting_scores
from lipbench.report.plot_common import MAX_WIDTH
from report_fixtures import W1_FLOOR, make_run, make_sweep

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
    curves = budget_curves(runs, "w1", "cfg.optim.preset", better="lower", n_draws=200)
    sn = curves[curves["method"] == "sn"]
    assert sn["n_settings"].iloc[0] == 3 and sn["n_excluded"].iloc[0] == 1
    done = runs[(runs["method"] == "sn") & (runs["status"] == "completed")]
    expect = done.groupby("cfg.optim.preset")["w1"].mean().min()  # best setting (mean over its seeds)
    assert sn["mean"].iloc[-1] == pytest.approx(expect)


def test_settings_plot_of_a_factor_some_runs_lack(tmp_path):
    # a key only some runs have (a dual pair's base, absent on the Gaussian pair) is NaN in the
    # frame: it is a setting of its own, "—", not a crash in sorting str against float
    make_sweep(tmp_path, methods=("gp", "sn"), seeds=(0, 1), presets=("A", "B"), npz=False)
    runs, _ = load_runs(tmp_path)
    runs.loc[runs["cfg.optim.preset"] == "B", "cfg.optim.preset"] = np.nan
    figs = plots.figures_settings(runs, ["w1"])
    (fig,) = figs.values()
    ticks = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert ticks == ["A", "—"]
    lines = [ln for ln in fig.axes[0].get_lines() if len(ln.get_ydata()) == 2]
    assert lines and all(np.isfinite(np.asarray(ln.get_ydata(), dtype=float)).all() for ln in lines)  # both have means


def _stems(files):
    return {os.path.basename(f).rsplit(".", 1)[0] for f in files}


def test_all_plots_written_for_a_2d_settings_sweep(tmp_path):
    make_sweep(tmp_path / "sweep", methods=("gp", "sn"), seeds=(0, 1), presets=("A", "B"))
    make_run(tmp_path / "sweep", "gp", 5, status="diverged", dirname="div")
    runs, _ = load_runs(tmp_path / "sweep")
    errors = []
    files = plots.plot_all(runs, tmp_path / "plots", errors=errors)
    assert errors == []
    assert _stems(files) == {
        "history",
        "final",
        "samples_2d",
        "grad_norms",
        "layer_norms",
        "settings_optim.preset",
        "budget_optim.preset",
        "lipschitz",
    }
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


METHODS7 = ("none", "clip", "gp", "sn", "sn+gp", "m6", "m7")


def _visible(fig):
    return [ax for ax in fig.axes if ax.get_visible()]


def test_wide_figures_wrap_into_rows(tmp_path):
    make_sweep(tmp_path, methods=METHODS7, seeds=(0,), datas=("eight_gaussians", "swiss_roll"))
    runs, _ = load_runs(tmp_path)
    fig = plots.figures_samples_2d(runs)["samples_2d"]
    assert fig.get_size_inches()[0] <= MAX_WIDTH
    assert len(_visible(fig)) == 2 * len(METHODS7)  # every method on every data set
    assert [sf._suptitle.get_text() for sf in fig.subfigs] == ["eight_gaussians", "swiss_roll"]
    rows = {round(ax.get_position().y0, 3) for ax in fig.subfigs[0].axes if ax.get_visible()}
    assert len(rows) == 2  # 7 methods at most 5 per row: two rows per data set
    for figs in (plots.figures_grad_norms(runs), plots.figures_lipschitz(runs), plots.figures_final(runs)):
        for f in figs.values():
            assert f.get_size_inches()[0] <= MAX_WIDTH


def test_quantities_spanning_decades_get_log_axes(tmp_path):
    # W1 and the critic gap from 0.001 to 3: on linear axes all but one method sit at the origin
    for i, (method, w1, gap) in enumerate(
        [("none", 3.0, 2.5), ("clip", 0.004, 0.001), ("gp", 0.05, 0.04), ("sn", 0.02, -0.01)]
    ):
        for seed in (0, 1):
            make_run(
                tmp_path,
                method,
                seed,
                dirname=f"r{i}{seed}",
                npz=False,
                final={
                    "w1": w1 * (1 + seed / 10),
                    "critic_gap": gap,
                    "lip_lower": 0.5 + i,
                    "lip_upper": 10.0**i,
                    "modes": 8,
                },
            )
    runs, _ = load_runs(tmp_path)
    fig = plots.figures_lipschitz(runs)["lipschitz"]
    bounds, gap_ax = _visible(fig)
    assert bounds.get_yscale() == "log"
    # sn's gap is negative: the gap axis is symlog so every run stays on the panel
    assert gap_ax.get_xscale() == "log" and gap_ax.get_yscale() == "symlog"
    assert sum(len(c.get_offsets()) for c in gap_ax.collections) == 8  # 4 methods x 2 seeds
    runs_pos = runs[runs["method"] != "sn"]
    gap_ax = _visible(plots.figures_lipschitz(runs_pos)["lipschitz"])[1]
    assert gap_ax.get_xscale() == gap_ax.get_yscale() == "log"
    final = plots.figures_final(runs, metrics=["w1", "modes", "lip_upper"])["final"]
    scales = {ax.get_title().split(" ")[0]: ax.get_yscale() for ax in _visible(final)}
    assert scales == {"w1": "log", "modes": "linear", "lip_upper": "log"}


def test_w1_history_shows_the_sampling_floor(tmp_path):
    make_sweep(tmp_path / "new", methods=("gp", "sn"), seeds=(0, 1), npz=False)
    make_sweep(tmp_path / "old", methods=("gp", "sn"), seeds=(0, 1), npz=False, legacy=True)
    for name, has_floor in (("new", True), ("old", False)):
        runs, _ = load_runs(tmp_path / name)
        fig = plots.figures_histories(runs)["history"]
        w1_ax = next(ax for ax in fig.axes if ax.get_title().startswith("w1 "))
        floors = [line for line in w1_ax.get_lines() if line.get_label().startswith("sampling floor")]
        assert len(floors) == int(has_floor)
        if has_floor:
            assert floors[0].get_ydata()[0] == pytest.approx(W1_FLOOR)
        assert not any(ax.get_title().startswith(("w1_floor", "w1_excess")) for ax in fig.axes)
