"""experiments/same_numbers.py: two reports' runs.csv compared column for column on the runs
they share, wall-clock columns set apart."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "experiments"))
import same_numbers  # noqa: E402


def _report(path, rows):
    base = {"cfg.data.name": "eight_gaussians", "cfg.model.hidden": 128, "cfg.name": "toy2d", "wall_time_s": 1.0}
    pd.DataFrame([{**base, **r} for r in rows]).to_csv(path, index=False)
    return str(path)


def test_the_same_runs_are_equal_and_timings_are_set_apart(tmp_path, capsys):
    runs = [{"method": "gp", "seed": 0, "w1": 0.2, "modes": 8.0, "ttq_steps": float("nan")}]
    ref = _report(tmp_path / "a.csv", runs + [{"method": "none", "seed": 0, "w1": 2.0}])  # a run the other lacks
    other = _report(tmp_path / "b.csv", [{**runs[0], "wall_time_s": 9.0, "cfg.name": "quick"}])
    assert same_numbers.main([ref, other]) == 0
    out = capsys.readouterr().out
    assert "1 matched runs: gp/0/eight_gaussians/128" in out and "w1" in out and "DIFFERS" not in out
    assert "not compared (wall clock, location): cfg.name, wall_time_s" in out


def test_a_last_digit_and_a_missing_column_are_reported(tmp_path, capsys):
    ref = _report(tmp_path / "a.csv", [{"method": "sn", "seed": 1, "w1": 0.3, "lip_upper": 1.0, "sigma_prod": 1.0}])
    other = _report(tmp_path / "b.csv", [{"method": "sn", "seed": 1, "w1": 0.3, "lip_upper": 1.0 + 3e-7}])
    assert same_numbers.main([ref, other]) == 1
    out = capsys.readouterr().out
    assert "DIFFERS lip_upper: 1 of 1 rows; max relative difference 3e-07" in out
    assert "DIFFERS sigma_prod: only in the reference" in out and "equal in every matched run (1 columns): w1" in out


def test_no_shared_run_is_exit_2(tmp_path):
    ref = _report(tmp_path / "a.csv", [{"method": "sn", "seed": 1, "w1": 0.3}])
    other = _report(tmp_path / "b.csv", [{"method": "sn", "seed": 2, "w1": 0.3}])
    assert same_numbers.main([ref, other]) == 2
