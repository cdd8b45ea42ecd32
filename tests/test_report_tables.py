"""lipbench.report.tables: mean ± std over seeds, status counts, best marked by declared direction."""

import math

import numpy as np
import pandas as pd
import pytest

from lipbench.metrics import catalog
from lipbench.report.aggregate import load_runs
from lipbench.report.tables import comparison_table, default_metrics, format_table, write_tables
from report_fixtures import make_run


@pytest.fixture
def declared(monkeypatch):
    """Two test metrics declared in the real catalog (removed again after the test)."""
    catalog._load_all()
    monkeypatch.setitem(catalog._CATALOG, "tst_lo", catalog.MetricInfo("tst_lo", "lower", "test"))
    monkeypatch.setitem(catalog._CATALOG, "tst_hi", catalog.MetricInfo("tst_hi", "higher", "test"))
    monkeypatch.setitem(catalog._CATALOG, "tst_diag", catalog.MetricInfo("tst_diag", None, "test"))


def _runs(tmp_path, spec):
    """spec: list of (method, seed, status, {metric: value}[, data])."""
    for i, (method, seed, status, final, *data) in enumerate(spec):
        make_run(tmp_path, method, seed, status=status, final=final, dirname=f"r{i}",
                 data=data[0] if data else "eight_gaussians", npz=False)
    runs, incomplete = load_runs(tmp_path)
    assert incomplete == []
    return runs


def test_mean_std_match_hand_computation_and_bad_runs_counted(tmp_path, declared):
    runs = _runs(tmp_path, [
        ("gp", 0, "completed", {"tst_lo": 1.0, "tst_hi": 5.0}),
        ("gp", 1, "completed", {"tst_lo": 2.0, "tst_hi": 6.0}),
        ("gp", 2, "completed", {"tst_lo": 4.0, "tst_hi": 7.0}),
        ("gp", 3, "diverged", {"tst_lo": 1000.0, "tst_hi": 0.0}),  # counted, not averaged
        ("gp", 4, "failed", {}),
        ("sn", 0, "completed", {"tst_lo": 3.0, "tst_hi": 9.0}),
    ])
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
    # best: lower tst_lo -> gp (7/3 < 3); higher tst_hi -> sn (9 > 6)
    assert table.set_index("method")["tst_lo_best"].to_dict() == {"gp": True, "sn": False}
    assert table.set_index("method")["tst_hi_best"].to_dict() == {"gp": False, "sn": True}
    shown = format_table(table, "plain").set_index("method")
    assert shown.loc["sn", "tst_lo (lower)"] == "3 ± —"
    assert shown.loc["gp", "tst_lo (lower)"] == f"{mean:.3g} ± {std:.2g} *"


def test_no_direction_means_no_best_and_partial_n_shown(tmp_path, declared):
    runs = _runs(tmp_path, [
        ("gp", 0, "completed", {"tst_diag": 1.0, "tst_lo": 1.0}),
        ("gp", 1, "completed", {"tst_diag": 2.0, "tst_lo": None}),
        ("sn", 0, "completed", {"tst_diag": 0.5, "tst_lo": 2.0}),
    ])
    table = comparison_table(runs, metrics=["tst_diag", "tst_lo"])
    assert not table["tst_diag_best"].any()
    md = format_table(table, "markdown").set_index("method")
    assert md.loc["gp", "tst_lo ↓"] == "**1 ± — (n=1)**"
    assert md.loc["sn", "tst_diag"] == "0.5 ± —"


def test_rows_are_method_by_factor_and_best_is_per_data_set(tmp_path, declared):
    runs = _runs(tmp_path, [
        ("gp", 0, "completed", {"tst_lo": 1.0}, "eight_gaussians"),
        ("sn", 0, "completed", {"tst_lo": 2.0}, "eight_gaussians"),
        ("gp", 0, "completed", {"tst_lo": 5.0}, "swiss_roll"),
        ("sn", 0, "completed", {"tst_lo": 4.0}, "swiss_roll"),
        ("sn", 1, "diverged", {"tst_lo": 4.0}, "swiss_roll"),
    ])
    table = comparison_table(runs, metrics=["tst_lo"])
    assert table.attrs["factors"] == ["cfg.data.name"]
    best = {(r["method"], r["cfg.data.name"]): r["tst_lo_best"] for _, r in table.iterrows()}
    assert best == {("gp", "eight_gaussians"): True, ("sn", "eight_gaussians"): False,
                    ("gp", "swiss_roll"): False, ("sn", "swiss_roll"): True}
    assert table.set_index(["method", "cfg.data.name"]).loc[("sn", "swiss_roll"), "n_diverged"] == 1


def test_write_tables_md_csv_tex(tmp_path, declared):
    runs = _runs(tmp_path / "runs", [
        ("none", 0, "completed", {"tst_lo": 3.0}),
        ("sn+gp", 0, "completed", {"tst_lo": 1.0}),
        ("sn+gp", 1, "completed", {"tst_lo": 2.0}),
        ("clip", 0, "failed", {}),
    ])
    table = comparison_table(runs, metrics=["tst_lo"])
    paths = write_tables(table, tmp_path / "out", caption="demo_sweep")
    md = open(paths["md"]).read()
    best_line = next(line for line in md.splitlines() if line.startswith("| sn+gp"))
    assert "**1.5 ± 0.71**" in best_line
    assert "**" not in next(line for line in md.splitlines() if line.startswith("| none"))
    assert "| clip" in md
    csv = pd.read_csv(paths["csv"])
    assert csv.set_index("method")["tst_lo_best"].to_dict() == {"none": False, "clip": False, "sn+gp": True}
    assert csv.set_index("method").loc["clip", "n_failed"] == 1
    tex = open(paths["tex"]).read()
    assert "\\begin{tabular}" in tex and "\\caption{demo\\_sweep}" in tex
    tex_best = next(line for line in tex.splitlines() if line.startswith("sn+gp"))
    assert "\\textbf{1.5 $\\pm$ 0.71}" in tex_best
    assert "tst\\_lo $\\downarrow$" in tex


def test_default_metric_order_and_empty_table(tmp_path):
    runs = _runs(tmp_path, [("gp", 0, "completed", {"lip_upper": 2.0, "hq_pct": 80.0, "w1": 0.1,
                                                   "loss_d": 0.3, "kid_domain_std": 0.1})])
    metrics = default_metrics(runs)
    assert metrics[:2] == ["w1", "hq_pct"]
    assert metrics.index("lip_upper") < metrics.index("it_per_s")
    assert "loss_d" not in metrics and "kid_domain_std" not in metrics
    empty = comparison_table(runs.iloc[:0])
    assert empty.empty
    paths = write_tables(empty, tmp_path / "out")
    assert "No readable runs" in open(paths["md"]).read()
