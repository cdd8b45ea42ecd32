"""lipbench.report.lipschitz_table: a run is certified 1-Lipschitz by its upper bound,
shown not to be by its lower bound, and undecided otherwise."""

import pandas as pd
import pytest

from lipbench.report import report
from lipbench.report.aggregate import load_runs
from lipbench.report.lipschitz_table import lipschitz_table, run_verdict
from report_fixtures import make_run


@pytest.mark.parametrize("lower, upper, verdict", [
    (0.2, 0.9, "certified"),
    (0.2, 1.05, "certified"),      # the tolerance is inclusive
    (0.2, 1.06, "undecided"),      # bound too loose, no witness above 1
    (1.2, 30.0, "exceeded"),       # a gradient norm of 1.2 proves K > 1
    (1.05, 30.0, "undecided"),
    (float("nan"), 0.5, "certified"),
    (float("nan"), float("nan"), None),
])
def test_run_verdict(lower, upper, verdict):
    assert run_verdict(lower, upper, tol=0.05) == verdict


def test_table_counts_verdicts_over_completed_runs_and_report_writes_it(tmp_path):
    runs = tmp_path / "runs"
    spec = [("sn", 0, "completed", 0.3, 1.01), ("sn", 1, "completed", 0.2, 1.2),
            ("sn", 2, "diverged", 5.0, 50.0),  # not a completed run: not counted
            ("gp", 0, "completed", 1.4, 20.0), ("gp", 1, "completed", 1.6, 25.0)]
    for i, (method, seed, status, lo, up) in enumerate(spec):
        make_run(runs, method, seed, status=status, dirname=f"r{i}", npz=False,
                 final={"lip_lower": lo, "lip_upper": up, "lip_ratio": up / lo, "w1": 0.1, "critic_gap": 0.05,
                        "dual_ratio": 0.5})
    df, incomplete = load_runs(runs)
    assert incomplete == []
    table = lipschitz_table(df).set_index("method")
    assert table.loc["sn", ["n_certified", "n_exceeded", "n_undecided"]].tolist() == [1, 0, 1]
    assert table.loc["gp", ["n_certified", "n_exceeded", "n_undecided"]].tolist() == [0, 2, 0]
    assert table.loc["gp", "verdict"] == "not 1-Lipschitz (2/2)"
    assert table.loc["sn", "verdict"] == "1 certified, 1 undecided"
    assert table.loc["gp", "lip_lower_mean"] == pytest.approx(1.5)
    assert table.loc["sn", "lip_upper_mean"] == pytest.approx((1.01 + 1.2) / 2)
    assert table.loc["sn", "lip_lower_max"] == pytest.approx(0.3)

    out = report([runs], tmp_path / "out", quiet=True, plots=False)
    md = (tmp_path / "out" / "lipschitz.md").read_text()
    assert "not 1-Lipschitz (2/2)" in md and "1 certified, 1 undecided" in md
    csv = pd.read_csv(tmp_path / "out" / "lipschitz.csv")
    assert set(csv["method"]) == {"sn", "gp"}
    assert str(tmp_path / "out" / "lipschitz.md") in out["files"]


def test_no_bounds_means_no_lipschitz_table(tmp_path):
    make_run(tmp_path, "gp", 0, final={"w1": 0.1}, npz=False)
    df, _ = load_runs(tmp_path)
    assert lipschitz_table(df).empty
