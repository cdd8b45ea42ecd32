"""report() and lipbench-report: files written, bad runs listed, self-contained results folder."""

import json
import os

import pandas as pd

from lipbench.report import report
from lipbench.report.cli import main
from report_fixtures import make_run, make_sweep


def test_report_writes_everything_and_lists_incomplete(tmp_path, capsys):
    sweep = make_sweep(tmp_path / "sweep", methods=("gp", "sn"), seeds=(0, 1))
    make_run(sweep, "gp", 2, status="diverged", dirname="div")
    os.makedirs(os.path.join(sweep, "broken"))
    with open(os.path.join(sweep, "broken", "summary.json"), "w") as f:
        f.write("{not json")
    out = tmp_path / "results" / "demo"
    res = report(sweep, out, plots=False)
    printed = capsys.readouterr().out
    assert f"Table: {out / 'table.md'}" in printed and f"Plots: {out / 'plots'}" in printed
    assert any(line.startswith("gp ") for line in printed.splitlines()) and "broken" in printed  # the headline
    for name in ("runs.csv", "table.md", "table.csv", "table.tex", "incomplete.csv", "README.md"):
        assert (out / name).is_file(), name
    runs = pd.read_csv(out / "runs.csv")
    assert len(runs) == 5 and (runs["status"] == "diverged").sum() == 1
    assert res["incomplete"][0][0].endswith("broken")
    assert pd.read_csv(out / "incomplete.csv")["path"].tolist() == [os.path.join(sweep, "broken")]
    # compact copies: every record, npz only for the run each 2-D panel shows (first seed per method)
    copies = sorted(os.listdir(out / "runs"))
    assert len(copies) == 5
    with_npz = [c for c in copies if (out / "runs" / c / "final_samples.npz").exists()]
    assert len(with_npz) == 2
    seeds = {json.load(open(out / "runs" / c / "summary.json"))["seed"] for c in with_npz}
    assert seeds == {0}


def test_report_from_its_own_output_is_self_contained(tmp_path):
    sweep = make_sweep(tmp_path / "sweep", methods=("gp", "sn"), seeds=(0, 1))
    out = tmp_path / "results" / "demo"
    first = report(sweep, out, quiet=True, plots=False)
    # a second report over the sweep dir that now contains a report folder counts runs once
    inner = report(sweep, os.path.join(sweep, "report"), quiet=True, plots=False)
    again = report(sweep, tmp_path / "again", quiet=True, plots=False)
    assert len(again["runs"]) == len(first["runs"]) == len(inner["runs"]) == 4
    # the results folder alone reproduces the table
    regen = report(out, tmp_path / "regen", quiet=True, plots=False)
    cols = [c for c in first["table"].columns if c != "run_dir"]
    pd.testing.assert_frame_equal(first["table"][cols], regen["table"][cols])


def test_report_with_no_readable_runs(tmp_path, capsys):
    os.makedirs(tmp_path / "empty" / "x")
    (tmp_path / "empty" / "x" / "summary.json").write_text("")
    res = report(tmp_path / "empty", tmp_path / "out")
    assert res["table"].empty and len(res["incomplete"]) == 1
    assert "No readable runs" in capsys.readouterr().out
    assert "No readable runs" in (tmp_path / "out" / "table.md").read_text()


def test_cli_merges_sweeps_and_exit_codes(tmp_path, capsys):
    make_sweep(tmp_path / "s1", methods=("gp",), seeds=(0, 1))
    make_sweep(tmp_path / "s2", methods=("sn",), seeds=(0,))
    os.makedirs(tmp_path / "s2" / "halfway")
    (tmp_path / "s2" / "halfway" / "metrics.jsonl").write_text('{"step": 0}\n')
    out = tmp_path / "merged"
    code = main([str(tmp_path / "s1"), str(tmp_path / "s2"), "--out", str(out), "--metrics", "w1,modes", "--no-plots"])
    printed = capsys.readouterr().out
    assert code == 0 and "halfway" in printed
    table = pd.read_csv(out / "table.csv")
    assert sorted(table["method"]) == ["gp", "sn"]
    assert [c for c in table.columns if c.endswith("_mean")] == ["w1_mean", "modes_mean"]
    code = main([str(tmp_path / "missing"), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and "missing does not exist" in err and len(err.strip().splitlines()) == 1


def test_cli_alpha_sets_the_test_level_and_bad_values_exit_2(tmp_path, capsys):
    make_sweep(tmp_path / "s", methods=("gp", "sn"), seeds=(0, 1), npz=False)
    out = tmp_path / "out"
    assert main([str(tmp_path / "s"), "--out", str(out), "--alpha", "0.2", "--no-plots", "--quiet"]) == 0
    md = (out / "table.md").read_text()
    assert "α = 0.2" in md and "Welch" in md
    printed = capsys.readouterr().out
    assert not any(line.startswith("gp ") for line in printed.splitlines())  # --quiet: no table
    for bad in ("0", "1.5", "abc"):
        assert main([str(tmp_path / "s"), "--out", str(out), "--alpha", bad]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "--alpha must be a number in (0, 1)" in err[0] and bad in err[0]


def test_quiet_report_still_warns_about_runs_that_did_not_converge(tmp_path, capsys):
    make_sweep(tmp_path / "s", methods=("none", "gp"), seeds=(0, 1), npz=False)  # 'none' does not converge
    res = report(tmp_path / "s", tmp_path / "out", quiet=True, plots=False)
    printed = capsys.readouterr().out.strip().splitlines()
    assert " ".join(printed) == res["warnings"][0] and all(len(line) <= 120 for line in printed)  # wrapped
    assert printed[0].startswith("WARNING: 1 of 2 rows have runs that did not converge (none: 0/2 converged)")
    assert "read these rows as a budget study" in res["warnings"][0]


def test_a_report_loads_no_torch_no_torch_fidelity_and_no_training_code(tmp_path):
    """The whole report, plots included, on fixture records of 2-D and image runs (one of them
    recording its metric infos), run in a fresh process."""
    import subprocess
    import sys

    sweep = make_sweep(tmp_path / "sweep", methods=("gp", "sn"), seeds=(0, 1), datas=("eight_gaussians", "digits"))
    make_run(sweep, "clip", 0, dirname="recorded", metric_info={"w1": "lower", "modes": "higher"})
    code = (
        "import sys; from lipbench.report.cli import main; main(sys.argv[1:]); "
        "print('loaded:', sorted(m for m in ('torch', 'torch_fidelity', 'lipbench.train') if m in sys.modules))"
    )
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    proc = subprocess.run(
        [sys.executable, "-c", code, str(sweep), "--out", str(tmp_path / "out"), "--quiet"],
        capture_output=True,
        text=True,
        cwd=repo,
        timeout=600,
        env={**os.environ, "PYTHONPATH": repo, "MPLBACKEND": "Agg"},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().splitlines()[-1] == "loaded: []"
    assert any(name.endswith(".png") for name in os.listdir(tmp_path / "out" / "plots"))
