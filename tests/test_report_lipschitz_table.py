"""lipbench.report.lipschitz_table: a run is certified 1-Lipschitz only by its guaranteed
upper bound (within a float-rounding slack), shown not to be by its witness lower bound,
undecided when the certificate is above 1, and has no certificate when lip_upper is NaN;
an estimate (lip_upper_est, or a legacy conv record's lip_upper) never certifies."""

import math

import pandas as pd
import pytest

from lipbench.record.verdict import SLACK, run_verdict
from lipbench.report import report
from lipbench.report.aggregate import load_runs
from lipbench.report.lipschitz_table import lipschitz_table, to_markdown
from report_fixtures import make_run

NAN = float("nan")


@pytest.mark.parametrize(
    "lower, upper, verdict",
    [
        (0.2, 0.9, "certified"),
        (0.2, 1 + SLACK, "certified"),  # the slack is inclusive
        (0.2, 1.001, "undecided"),  # a certificate above 1: K <= 1.001, not 1-Lipschitz for sure
        (0.2, 1.05, "undecided"),  # (the old 5% tolerance called this certified)
        (1.2, 30.0, "exceeded"),  # a gradient norm of 1.2 proves K > 1
        (1.0 + 2 * SLACK, NAN, "exceeded"),  # a witness needs no certificate
        (1.0 + SLACK / 2, 30.0, "undecided"),
        (NAN, 0.5, "certified"),
        (0.3, NAN, "no certificate"),  # no guaranteed bound: never certified
        (0.3, None, "no certificate"),
        (NAN, NAN, None),
    ],
)
def test_run_verdict(lower, upper, verdict):
    assert run_verdict(lower, upper) == verdict


def _runs(root, spec, model="mlp"):
    for i, (method, seed, status, final) in enumerate(spec):
        make_run(
            root,
            method,
            seed,
            status=status,
            dirname=f"r{i}",
            npz=False,
            final={"w1": 0.1, "critic_gap": 0.05, "dual_ratio": 0.5, **final},
        )
        if model != "mlp":  # rewrite the recorded model name
            path = root / f"r{i}" / "summary.json"
            path.write_text(path.read_text().replace('"name": "mlp"', f'"name": "{model}"'))
    df, incomplete = load_runs(root)
    assert incomplete == []
    return df


def _bounds(lo, up, est):
    return {"lip_lower": lo, "lip_upper": up, "lip_upper_est": est, "sigma_prod": est, "lip_ratio": up / lo}


def test_table_counts_verdicts_over_completed_runs_and_report_writes_it(tmp_path):
    runs = tmp_path / "runs"
    _runs(
        runs,
        [
            ("sn", 0, "completed", _bounds(0.3, 1.00001, 0.99)),
            ("sn", 1, "completed", _bounds(0.2, 1.2, 1.1)),
            ("sn", 2, "diverged", _bounds(5.0, 50.0, 40.0)),  # not a completed run: not counted
            ("gp", 0, "completed", _bounds(1.4, 20.0, 15.0)),
            ("gp", 1, "completed", _bounds(1.6, 25.0, 18.0)),
            ("bjorck", 0, "completed", _bounds(0.5, NAN, 0.99)),
        ],
    )
    df, _ = load_runs(runs)
    table = lipschitz_table(df).set_index("method")
    cols = ["n_certified", "n_exceeded", "n_undecided", "n_no_certificate"]
    assert table.loc["sn", cols].tolist() == [1, 0, 1, 0]
    assert table.loc["gp", cols].tolist() == [0, 2, 0, 0]
    assert table.loc["bjorck", cols].tolist() == [0, 0, 0, 1]
    assert table.loc["gp", "verdict"] == "not 1-Lipschitz (2/2)"
    assert table.loc["sn", "verdict"] == "1 certified, 1 undecided"
    assert table.loc["bjorck", "verdict"] == "no certificate (1/1)"
    assert table.loc["sn", "certified_k"] == pytest.approx(1.2)  # holds for both runs
    assert math.isnan(table.loc["bjorck", "certified_k"])
    assert table.loc["gp", "lip_lower_mean"] == pytest.approx(1.5)
    assert table.loc["sn", "lip_upper_mean"] == pytest.approx((1.00001 + 1.2) / 2)
    assert table.loc["sn", "lip_upper_est_mean"] == pytest.approx((0.99 + 1.1) / 2)
    assert table.loc["sn", "lip_lower_max"] == pytest.approx(0.3)

    out = report([runs], tmp_path / "out", quiet=True, plots=False)
    md = (tmp_path / "out" / "lipschitz.md").read_text()
    assert "not 1-Lipschitz (2/2)" in md and "1 certified, 1 undecided" in md and "no certificate (1/1)" in md
    assert "certified K ≤" in md and f"slack of {SLACK:g}" in md and "is not a bound" in md
    csv = pd.read_csv(tmp_path / "out" / "lipschitz.csv")
    assert set(csv["method"]) == {"sn", "gp", "bjorck"}
    assert str(tmp_path / "out" / "lipschitz.md") in out["files"]


@pytest.mark.parametrize("model, verdict", [("mlp", "1-Lipschitz (1/1)"), ("dcgan", "no certificate (1/1)")])
def test_legacy_records_certify_only_where_the_old_product_was_a_bound(tmp_path, model, verdict):
    """Before lip_upper_est, lip_upper was the product of per-layer norms (power iteration
    for convs): an exact bound for the MLP, an estimate for conv critics."""
    legacy = {"lip_lower": 0.8, "lip_upper": 0.99, "sigma_prod": 0.99, "lip_ratio": 0.99 / 0.8}
    df = _runs(tmp_path, [("sn", 0, "completed", legacy)], model=model)
    table = lipschitz_table(df).set_index("method")
    assert table.loc["sn", "verdict"] == verdict
    assert table.loc["sn", "lip_upper_est_mean"] == pytest.approx(0.99)
    assert "estimate (lip_upper_est)" in to_markdown(lipschitz_table(df))


@pytest.mark.parametrize("model", ["mlp", "dcgan"])
def test_a_current_record_keeps_its_certificate(tmp_path, model):
    """A record written now holds the estimate as lip_upper_est only (no sigma_prod): its
    lip_upper is a certificate whatever the critic."""
    current = {"lip_lower": 0.8, "lip_upper": 0.999, "lip_upper_est": 0.97, "lip_ratio": 0.999 / 0.8}
    df = _runs(tmp_path, [("sn", 0, "completed", current)], model=model)
    table = lipschitz_table(df).set_index("method")
    assert table.loc["sn", "verdict"] == "1-Lipschitz (1/1)"
    assert table.loc["sn", "lip_upper_est_mean"] == pytest.approx(0.97)


def test_no_bounds_means_no_lipschitz_table(tmp_path):
    make_run(tmp_path, "gp", 0, final={"w1": 0.1}, npz=False)
    df, _ = load_runs(tmp_path)
    assert lipschitz_table(df).empty
