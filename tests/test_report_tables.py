"""lipbench.report.tables: mean ± std over seeds, status counts, significance-aware bold,
converged / floor / time-to-quality columns, and the warning when runs did not converge."""

import math

import numpy as np
import pandas as pd
import pytest

from lipbench.report.aggregate import load_runs
from lipbench.report.tables import comparison_table, default_metrics, format_table
from lipbench.report.writers import write_tables
from report_fixtures import W1_FLOOR, make_run, make_sweep

# Three test metrics, with the directions their runs record (no code declares them).
DECLARED = {"tst_lo": "lower", "tst_hi": "higher", "tst_diag": None}


def _runs(tmp_path, spec, metric_info=DECLARED):
    """spec: list of (method, seed, status, {metric: value}[, data]); each run records
    ``metric_info`` (None: a record written before runs recorded it)."""
    for i, (method, seed, status, final, *data) in enumerate(spec):
        make_run(
            tmp_path,
            method,
            seed,
            status=status,
            final=final,
            dirname=f"r{i}",
            data=data[0] if data else "eight_gaussians",
            npz=False,
            metric_info=metric_info,
        )
    runs, incomplete = load_runs(tmp_path)
    assert incomplete == []
    return runs


def test_mean_std_match_hand_computation_and_bad_runs_counted(tmp_path):
    runs = _runs(
        tmp_path,
        [
            ("gp", 0, "completed", {"tst_lo": 1.0, "tst_hi": 5.0}),
            ("gp", 1, "completed", {"tst_lo": 2.0, "tst_hi": 6.0}),
            ("gp", 2, "completed", {"tst_lo": 4.0, "tst_hi": 7.0}),
            ("gp", 3, "diverged", {"tst_lo": 1000.0, "tst_hi": 0.0}),  # counted, not averaged
            ("gp", 4, "failed", {}),
            ("sn", 0, "completed", {"tst_lo": 3.0, "tst_hi": 9.0}),
        ],
    )
    table = comparison_table(runs, metrics=["tst_lo", "tst_hi"])
    gp = table[table["method"] == "gp"].iloc[0]
    mean = 7 / 3
    std = math.sqrt(((1 - mean) ** 2 + (2 - mean) ** 2 + (4 - mean) ** 2) / (3 - 1))
    assert gp["tst_lo_mean"] == pytest.approx(mean)
    assert gp["tst_lo_std"] == pytest.approx(std)
    assert (gp["n_completed"], gp["n_diverged"], gp["n_failed"], gp["n_running"]) == (3, 1, 1, 0)
    assert gp["tst_lo_n"] == 3
    sn = table[table["method"] == "sn"].iloc[0]
    assert sn["tst_lo_mean"] == 3.0 and np.isnan(sn["tst_lo_std"])  # one run: std undefined
    # tst_lo: gp has the best mean (3 seeds); sn (1 seed) cannot be tested -> not bold.
    assert table.set_index("method")["tst_lo_tied_best"].to_dict() == {"gp": True, "sn": False}
    # tst_hi: the best mean is sn's single seed -> a winner by noise: nothing bold.
    assert not table["tst_hi_tied_best"].any()
    shown = format_table(table, "plain").set_index("method")
    assert shown.loc["sn", "tst_lo (lower)"] == "3 ± —"
    assert shown.loc["gp", "tst_lo (lower)"] == f"{mean:.3g} ± {std:.2g} *"
    assert shown.loc["sn", "tst_hi (higher)"] == "9 ± —"
    assert "converged" not in shown and "ttq" not in shown  # these runs record no convergence fields


def test_no_direction_means_no_bold_and_partial_n_shown(tmp_path):
    runs = _runs(
        tmp_path,
        [
            ("gp", 0, "completed", {"tst_diag": 1.0, "tst_lo": 1.0}),
            ("gp", 1, "completed", {"tst_diag": 2.0, "tst_lo": None}),
            ("sn", 0, "completed", {"tst_diag": 0.5, "tst_lo": 2.0}),
        ],
    )
    table = comparison_table(runs, metrics=["tst_diag", "tst_lo"])
    assert not table["tst_diag_tied_best"].any()
    md = format_table(table, "markdown").set_index("method")
    assert md.loc["gp", "tst_lo ↓"] == "1 ± — (n=1)"  # best by one seed only: not bold
    assert md.loc["sn", "tst_diag"] == "0.5 ± —"


def test_bold_is_tested_within_each_data_set(tmp_path):
    # eight_gaussians: gp far better than sn; swiss_roll: gp's mean is lower, but the seeds overlap.
    spec = []
    for seed, (g8, s8, gr, sr) in enumerate([(1.0, 5.0, 4.0, 4.3), (1.1, 5.1, 4.4, 4.1), (0.9, 4.9, 4.2, 4.5)]):
        spec += [
            ("gp", seed, "completed", {"tst_lo": g8}, "eight_gaussians"),
            ("sn", seed, "completed", {"tst_lo": s8}, "eight_gaussians"),
            ("gp", seed, "completed", {"tst_lo": gr}, "swiss_roll"),
            ("sn", seed, "completed", {"tst_lo": sr}, "swiss_roll"),
        ]
    spec.append(("sn", 9, "diverged", {"tst_lo": 4.0}, "swiss_roll"))
    table = comparison_table(_runs(tmp_path, spec), metrics=["tst_lo"])
    assert table.attrs["factors"] == ["cfg.data.name"]
    bold = {(r["method"], r["cfg.data.name"]): r["tst_lo_tied_best"] for _, r in table.iterrows()}
    assert bold == {
        ("gp", "eight_gaussians"): True,
        ("sn", "eight_gaussians"): False,
        ("gp", "swiss_roll"): True,
        ("sn", "swiss_roll"): True,
    }
    p = table.set_index(["method", "cfg.data.name"])["tst_lo_p"]
    assert p[("sn", "eight_gaussians")] < 1e-4 and p[("sn", "swiss_roll")] > 0.05
    assert np.isnan(p[("gp", "eight_gaussians")])  # the best row is the reference, not tested
    assert table.set_index(["method", "cfg.data.name"]).loc[("sn", "swiss_roll"), "n_diverged"] == 1


def test_alpha_from_the_runs_or_given(tmp_path):
    # p of the one-sided Welch test here is about 0.03: significant at 0.05, not at 0.01.
    spec = [("gp", s, "completed", {"tst_lo": v}) for s, v in enumerate((1.0, 1.2, 1.4))]
    spec += [("sn", s, "completed", {"tst_lo": v}) for s, v in enumerate((1.4, 1.6, 1.8))]
    runs = _runs(tmp_path, spec)
    at_default = comparison_table(runs, metrics=["tst_lo"])
    p = at_default.set_index("method").loc["sn", "tst_lo_p"]
    assert 0.01 < p < 0.05
    assert at_default.attrs["alpha"] == 0.05 and not at_default.set_index("method").loc["sn", "tst_lo_tied_best"]
    strict = comparison_table(runs.assign(**{"cfg.eval.alpha": 0.01}), metrics=["tst_lo"])
    assert strict.attrs["alpha"] == 0.01 and strict["tst_lo_tied_best"].all()
    assert comparison_table(runs, metrics=["tst_lo"], alpha=0.01)["tst_lo_tied_best"].all()
    with pytest.raises(ValueError, match="alpha"):
        comparison_table(runs, metrics=["tst_lo"], alpha=1.5)


def test_write_tables_md_csv_tex(tmp_path):
    runs = _runs(
        tmp_path / "runs",
        [
            ("none", 0, "completed", {"tst_lo": 3.0}),
            ("sn+gp", 0, "completed", {"tst_lo": 1.0}),
            ("sn+gp", 1, "completed", {"tst_lo": 2.0}),
            ("clip", 0, "failed", {}),
        ],
    )
    table = comparison_table(runs, metrics=["tst_lo"])
    paths = write_tables(table, tmp_path / "out", caption="demo_sweep")
    md = open(paths["md"]).read()
    best_line = next(line for line in md.splitlines() if line.startswith("| sn+gp"))
    assert "**1.5 ± 0.71**" in best_line
    assert "**" not in next(line for line in md.splitlines() if line.startswith("| none"))
    assert "| clip" in md
    assert "one-sided Welch t-test" in md and "α = 0.05" in md and "n = 1–2 seeds per row" in md
    assert "do not record whether they converged" in md  # these runs have no `converged` field
    csv = pd.read_csv(paths["csv"])
    assert csv.set_index("method")["tst_lo_tied_best"].to_dict() == {"none": False, "clip": False, "sn+gp": True}
    assert csv.set_index("method").loc["clip", "n_failed"] == 1
    tex = open(paths["tex"]).read()
    assert "\\begin{tabular}" in tex and "\\caption{demo\\_sweep}" in tex
    tex_best = next(line for line in tex.splitlines() if line.startswith("sn+gp"))
    assert "\\textbf{1.5 $\\pm$ 0.71}" in tex_best
    assert "tst\\_lo $\\downarrow$" in tex
    assert "Welch" in tex and "$\\alpha$ = 0.05" in tex and "α" not in tex


def test_converged_floor_and_time_to_quality_columns(tmp_path):
    # none: 0/3 converged and never reaches quality; gp: 3/3, ttq 100/200/100 steps.
    make_sweep(tmp_path / "runs", methods=("none", "gp"), seeds=(0, 1, 2), npz=False)
    make_run(tmp_path / "runs", "gp", 7, status="diverged", dirname="div", npz=False)
    runs, _ = load_runs(tmp_path / "runs")
    table = comparison_table(runs).set_index("method")
    assert table.loc["gp", ["n_checked", "n_converged", "n_reached"]].tolist() == [3, 3, 3]
    assert table.loc["none", ["n_checked", "n_converged", "n_reached"]].tolist() == [3, 0, 0]
    gp_done = runs[(runs["method"] == "gp") & (runs["status"] == "completed")]
    assert table.loc["gp", "ttq_steps_median"] == np.median(gp_done["ttq_steps"]) == 100
    assert np.isnan(table.loc["none", "ttq_steps_median"])
    assert table.loc["gp", "w1_floor_mean"] == pytest.approx(W1_FLOOR)
    assert table.loc["gp", "w1_excess_mean"] == pytest.approx((gp_done["w1"] / W1_FLOOR).mean())
    assert not table["w1_floor_tied_best"].any()  # a floor describes the data: never bold
    assert "converged_mean" not in table and "ttq_steps_mean" not in table
    shown = format_table(table.reset_index(), "markdown").set_index("method")
    assert shown.loc["gp", "converged"] == "3/3" and shown.loc["none", "converged"] == "0/3"
    assert shown.loc["gp", "ttq"] == "100 it, 0.5 s (3/3)" and shown.loc["none", "ttq"] == "never (0/3)"
    assert shown.columns.get_loc("converged") < shown.columns.get_loc("w1 ↓")
    paths = write_tables(table.reset_index(), tmp_path / "out")
    md = open(paths["md"]).read()
    assert (
        "WARNING: 1 of 2 rows have runs that did not converge (none: 0/3 converged); their final numbers "
        "describe the training budget, not the method."
    ) in md
    assert "within 1.5 × its sampling floor" in open(paths["full_md"]).read()  # ttq is a column there only
    assert "| ttq" not in md and "within 1.5 × its sampling floor" not in md
    assert "plateau rule (" in md and "over the last 3 evaluations" in md  # with the runs' settings
    csv = pd.read_csv(paths["csv"]).set_index("method")
    assert csv.loc["none", "n_converged"] == 0 and csv.loc["gp", "n_reached"] == 3
    assert "w1\\_excess $\\downarrow$" in open(paths["tex"]).read()


def test_runs_without_the_convergence_fields_still_render(tmp_path):
    make_sweep(tmp_path / "runs", methods=("none", "gp"), seeds=(0, 1), npz=False, legacy=True)
    runs, _ = load_runs(tmp_path / "runs")
    assert not {"converged", "w1_floor", "ttq_steps"} & set(runs.columns)
    table = comparison_table(runs)
    assert not {"n_checked", "n_reached", "w1_floor_mean"} & set(table.columns)
    assert table.attrs["alpha"] == 0.05  # no eval.alpha recorded: the default
    paths = write_tables(table, tmp_path / "out")
    md = open(paths["md"]).read()
    assert "| converged" not in md and "WARNING" not in md and "do not record whether they converged" in md


def test_default_metric_order_and_empty_table(tmp_path):
    runs = _runs(
        tmp_path,
        [
            (
                "gp",
                0,
                "completed",
                {
                    "lip_upper": 2.0,
                    "hq_pct": 80.0,
                    "w1": 0.1,
                    "loss_d": 0.3,
                    "kid_domain_std": 0.1,
                    "w1_floor": 0.05,
                    "converged": 1.0,
                    "ttq_steps": 10.0,
                },
            )
        ],
        metric_info=None,
    )
    metrics = default_metrics(runs)
    assert metrics[:3] == ["w1", "w1_floor", "hq_pct"]
    assert metrics.index("lip_upper") < metrics.index("it_per_s")
    assert not {"loss_d", "kid_domain_std", "converged", "ttq_steps"} & set(metrics)
    empty = comparison_table(runs.iloc[:0])
    assert empty.empty
    paths = write_tables(empty, tmp_path / "out")
    assert "No readable runs" in open(paths["md"]).read()


def test_directions_and_columns_come_from_the_records(tmp_path):
    """A run that records its metrics is reported by what it records (a diagnostic it marks
    for the table is shown, in its order); a run of before is reported by the declarations of
    that time; merged, each keeps its order."""
    recorded = {
        "tst_b": {"better": None, "target": None, "table": True},
        "tst_a": {"better": "higher", "target": None, "table": True},
    }
    make_run(tmp_path, "gp", 0, final={"tst_b": 1.0, "tst_a": 2.0}, dirname="new", npz=False, metric_info=recorded)
    make_run(tmp_path, "sn", 0, final={"w1": 0.3, "modes": 7.0}, dirname="old", npz=False)
    runs, _ = load_runs(tmp_path)
    assert default_metrics(runs) == ["tst_b", "tst_a", "w1", "modes", "it_per_s"]
    shown = format_table(comparison_table(runs), "markdown")
    assert [c for c in shown.columns if c.startswith(("tst", "w1", "modes"))] == ["tst_b", "tst_a ↑", "w1 ↓", "modes ↑"]


def test_a_metric_its_records_do_not_describe_has_no_direction(tmp_path):
    make_run(
        tmp_path, "gp", 0, final={"tst_lo": 1.0, "w1": 0.2}, dirname="a", npz=False, metric_info={"tst_lo": "lower"}
    )
    runs, _ = load_runs(tmp_path)
    shown = format_table(comparison_table(runs, metrics=["tst_lo", "w1"]), "markdown")
    assert list(shown.columns[-2:]) == ["tst_lo ↓", "w1"]
