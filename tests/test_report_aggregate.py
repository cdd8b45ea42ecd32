"""lipbench.report.aggregate: run dirs -> one DataFrame; bad run dirs are reported, never fatal."""

import json
import os

import pandas as pd
import pytest

from lipbench.report.aggregate import REPORT_MARKER, find_run_dirs, load_histories, load_runs
from lipbench.report.factors import swept_factors
from lipbench.report.metric_book import MetricBook
from report_fixtures import make_run, make_sweep


def _bad_dirs(root):
    """A missing summary (metrics.jsonl only), a corrupted summary, a non-object summary."""
    nosum = os.path.join(root, "nosum")
    os.makedirs(nosum)
    with open(os.path.join(nosum, "metrics.jsonl"), "w") as f:
        f.write('{"step": 0, "w1": 1.0}\n')
    corrupt = os.path.join(root, "corrupt")
    os.makedirs(corrupt)
    with open(os.path.join(corrupt, "summary.json"), "w") as f:
        f.write('{"status": "completed", "final": {')  # truncated
    listy = os.path.join(root, "listy")
    os.makedirs(listy)
    with open(os.path.join(listy, "summary.json"), "w") as f:
        f.write("[1, 2]")
    return nosum, corrupt, listy


def test_rows_statuses_and_incomplete(tmp_path):
    make_sweep(tmp_path, methods=("gp", "sn"), seeds=(0, 1))
    make_run(tmp_path, "gp", 2, status="diverged", dirname="div")
    make_run(tmp_path, "sn", 2, status="failed", dirname="fail")
    make_run(tmp_path, "sn", 3, status="running", dirname="run")
    nosum, corrupt, listy = _bad_dirs(tmp_path)

    runs, incomplete = load_runs(tmp_path)

    assert len(runs) == 7
    assert runs["status"].value_counts().to_dict() == {"completed": 4, "diverged": 1, "failed": 1, "running": 1}
    reasons = dict(incomplete)
    assert set(reasons) == {nosum, corrupt, listy}
    assert "no summary.json" in reasons[nosum] and "metrics.jsonl" in reasons[nosum]
    assert reasons[corrupt].startswith("summary.json is not valid JSON: ")
    assert reasons[listy].startswith("summary.json is not valid JSON: ")
    div = runs[runs["status"] == "diverged"].iloc[0]
    assert div["diverged_step"] == 100 and div["diverged_quantity"] == "loss_d"
    assert runs[runs["status"] == "failed"].iloc[0]["error"].startswith("RuntimeError")


def test_columns_final_metrics_and_flat_config(tmp_path):
    d = make_run(tmp_path, "sn+gp", 1, final={"w1": 0.25, "modes": 8, "fid_domain": None})
    runs, incomplete = load_runs(d)  # a run dir itself is accepted
    assert incomplete == []
    row = runs.iloc[0]
    assert row["run_dir"] == d and row["method"] == "sn+gp" and row["seed"] == 1
    assert row["w1"] == 0.25 and row["modes"] == 8 and pd.isna(row["fid_domain"])
    assert row["cfg.optim.lr"] == 1e-4 and row["cfg.data.name"] == "eight_gaussians"
    assert row["cfg.constraint.gp.weight"] == 10.0
    assert json.loads(row["cfg.optim.betas"]) == [0.5, 0.9]
    assert row["it_per_s"] == 19.0 and row["wall_time_s"] == 11.0


def test_unknown_status_and_missing_input_are_incomplete(tmp_path):
    d = make_run(tmp_path, "gp", 0)
    with open(os.path.join(d, "summary.json")) as f:
        s = json.load(f)
    s["status"] = "exploded"
    with open(os.path.join(d, "summary.json"), "w") as f:
        json.dump(s, f)
    runs, incomplete = load_runs([tmp_path, tmp_path / "nope"])
    assert runs.empty and list(runs.columns)[:4] == ["run_dir", "run_id", "method", "status"]
    assert [p for p, _ in incomplete] == [d, str(tmp_path / "nope")]
    assert "exploded" in incomplete[0][1]


def test_swept_factors_are_the_varied_keys_only(tmp_path):
    # data sets x optimizer presets x methods x seeds: lr/betas/n_critic follow from the preset,
    # data.std/noise from the data set, constraint params from the method; seed is not a factor.
    make_sweep(
        tmp_path, methods=("gp", "sn"), seeds=(0, 1), datas=("eight_gaussians", "swiss_roll"), presets=("A", "D")
    )
    runs, _ = load_runs(tmp_path)
    assert swept_factors(runs) == ["cfg.data.name", "cfg.optim.preset"]


def test_swept_factor_without_preset_and_bookkeeping_ignored(tmp_path):
    for lr in (1e-4, 1e-3):
        for seed in (0, 1):
            d = make_run(tmp_path, "gp", seed, dirname=f"lr{lr}_s{seed}")
            path = os.path.join(d, "summary.json")
            with open(path) as f:
                s = json.load(f)
            s["config"]["optim"]["lr"] = lr
            s["config"]["train"]["progress"] = bool(seed)  # bookkeeping differs: not a factor
            s["config"]["eval"]["every"] = 10 + seed
            s["run_id"] = f"lr{lr}_s{seed}"
            with open(path, "w") as f:
                json.dump(s, f)
    runs, _ = load_runs(tmp_path)
    assert swept_factors(runs) == ["cfg.optim.lr"]
    assert swept_factors(runs.iloc[:0]) == []


def test_merged_sweeps_are_deduplicated_keeping_the_finished_run(tmp_path):
    make_run(tmp_path / "sweep1", "gp", 0, status="running", dirname="0")
    make_run(tmp_path / "sweep2", "gp", 0, status="completed", dirname="0")
    make_run(tmp_path / "sweep2", "sn", 0, dirname="1")
    runs, _ = load_runs([tmp_path / "sweep1", tmp_path / "sweep2"])
    assert len(runs) == 2
    gp = runs[runs["method"] == "gp"].iloc[0]
    assert gp["status"] == "completed" and gp["run_dir"].startswith(str(tmp_path / "sweep2"))


def test_find_run_dirs_skips_hidden_and_report_dirs(tmp_path):
    job = make_run(tmp_path, "gp", 0, dirname="0")
    os.makedirs(tmp_path / "1" / ".hydra")
    (tmp_path / "1" / ".hydra" / "config.yaml").write_text("seed: 0\n")
    rep = tmp_path / "report"
    make_run(rep / "runs", "gp", 0, dirname="copy")
    (rep / REPORT_MARKER).write_text("")
    assert find_run_dirs(tmp_path) == [job]
    assert find_run_dirs(rep) == [str(rep / "runs" / "copy")]  # a report dir given explicitly is read


def test_load_histories_long_format(tmp_path):
    make_run(tmp_path, "gp", 0, dirname="a", steps=(0, 50, 100))
    b = make_run(tmp_path, "sn", 1, dirname="b", steps=(0, 100))
    with open(os.path.join(b, "metrics.jsonl"), "a") as f:
        f.write('{"step": 150, "w1": \n')  # half-written line of a killed run: skipped
    runs, _ = load_runs(tmp_path)
    hist = load_histories(runs)
    assert {"run_dir", "method", "seed", "step", "metric", "value"} <= set(hist.columns)
    # per record: loss_d, loss_g, penalty, w1, critic_gap, hq_pct, lip_lower, w1_excess, w1_floor
    # (time_s is not a metric)
    assert len(hist) == 9 * 3 + 9 * 2
    w1 = hist[(hist["method"] == "gp") & (hist["metric"] == "w1")].sort_values("step")
    assert w1["step"].tolist() == [0, 50, 100]
    assert w1["value"].iloc[-1] == pytest.approx(runs[runs["method"] == "gp"]["w1"].iloc[0])
    assert load_histories(runs.iloc[:0]).empty


def test_old_metric_names_are_read_under_their_current_names(tmp_path):
    """sigma_prod (the old name of the estimate lip_upper_est): alone in a record it is read
    as lip_upper_est; beside it (the same number, written twice) it is dropped; the histories
    use the current name too."""
    bounds = {"lip_lower": 0.8, "lip_upper": 2.0}
    make_run(tmp_path, "gp", 0, dirname="old", final={**bounds, "sigma_prod": 1.5})
    make_run(tmp_path, "gp", 1, dirname="both", final={**bounds, "sigma_prod": 1.25, "lip_upper_est": 1.25})
    with open(os.path.join(tmp_path, "old", "metrics.jsonl"), "a") as f:
        f.write(json.dumps({"step": 300, "sigma_prod": 1.5}) + "\n")

    runs, _ = load_runs(tmp_path)

    assert "sigma_prod" not in runs.columns
    by_dir = runs.set_index("run_dir")["lip_upper_est"]
    assert by_dir.to_dict() == {os.path.join(tmp_path, "old"): 1.5, os.path.join(tmp_path, "both"): 1.25}
    hist = load_histories(runs[runs["run_dir"].str.endswith("old")])
    assert set(hist.loc[hist["step"] == 300, "metric"]) == {"lip_upper_est"}


def test_an_old_name_s_table_column_moves_to_the_current_name_in_its_place(tmp_path):
    info = {"better": None, "target": None, "table": True}
    infos = {"sigma_max": info, "sigma_prod": info, "lip_lower": info}
    infos["lip_upper_est"] = {"better": None, "target": 1.0, "table": False}  # its own declaration is kept
    final = {"sigma_max": 1.0, "sigma_prod": 1.0, "lip_lower": 0.5, "lip_upper_est": 1.0}
    make_run(tmp_path, "sn", 0, final=final, metric_info=infos)
    for book in (MetricBook.of(load_runs(tmp_path)[0]), MetricBook()):  # a record's infos; the legacy default
        assert "sigma_prod" not in book.infos and book.info("lip_upper_est").table
        order = book.table_order()
        assert order.index("sigma_max") + 1 == order.index("lip_upper_est") < order.index("lip_lower")
    assert MetricBook.of(load_runs(tmp_path)[0]).info("lip_upper_est").target == 1.0
