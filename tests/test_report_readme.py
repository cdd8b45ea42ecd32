"""A results folder's README.md is a one-page report: how it was made (the hand-written
COMMAND.md, the runs' merged overrides, the report command, the runs' time), the headline table,
the key figures inline, the Lipschitz verdicts in words, NOTES.md and links."""

import os

import pandas as pd

from lipbench.report import report
from lipbench.report.overrides import merged_commands
from report_fixtures import make_sweep

COMMAND = "Made with\n\n    lipbench -m constraint=gp,sn seed=0,1\n\nin 3 min on a laptop.\n"
NOTES = "gp looks better here; a hand-written discussion.\n"


def _readme(tmp_path, **kw):
    make_sweep(tmp_path / "sweep", methods=("gp", "sn"), seeds=(0, 1), npz=False, **kw)
    out = tmp_path / "results" / "demo"
    (out / "plots").mkdir(parents=True)
    for name in ("history.png", "final.png", "layer_norms.png", "samples_2d.png"):
        (out / "plots" / name).write_bytes(b"png")
    (out / "COMMAND.md").write_text(COMMAND)
    (out / "NOTES.md").write_text(NOTES)
    res = report(str(tmp_path / "sweep"), str(out), quiet=True, plots=False, alpha=0.1)
    return out, res, (out / "README.md").read_text()


def test_readme_is_a_one_page_report(tmp_path):
    out, res, md = _readme(tmp_path)
    sections = [line for line in md.splitlines() if line.startswith("## ")]
    assert md.startswith("# demo\n") and sections == [
        "## How this folder was made",
        "## Headline",
        "## Figures",
        "## Lipschitz verdicts",
        "## Notes",
        "## Files",
    ]
    assert COMMAND.strip() in md and NOTES.strip() in md  # the hand-written files, verbatim
    assert "  lipbench -m constraint=gp,sn seed=0,1\n" in md  # the runs' own overrides, merged
    assert f"`lipbench-report {tmp_path / 'sweep'} --out {out} --alpha 0.1 --no-plots`" in md
    wall = pd.read_csv(out / "runs.csv")["wall_time_s"].sum()
    assert f"4 run(s), {wall:.0f} s of run wall time in all" in md
    # the headline is table.md's, row for row
    table_rows = [x for x in (out / "table.md").read_text().splitlines() if x.startswith("|")]
    assert "\n".join(table_rows) in md and len(table_rows) == 2 + len(res["table"])
    # the key figures inline, in the declared order, only those that exist; the others one link away
    figures = [line for line in md.splitlines() if line.startswith("![")]
    assert figures == [
        "![samples_2d](plots/samples_2d.png)",
        "![history](plots/history.png)",
        "![final](plots/final.png)",
    ]
    lip = pd.read_csv(out / "lipschitz.csv")
    for _, r in lip.iterrows():
        assert f"- **{r['method']}**: {r['verdict']}; K ≥ " in md
    for f in ("table_full.md", "table.csv", "lipschitz.md", "runs.csv", "runs/"):
        assert f"[`{f}`]({f})" in md and os.path.exists(out / f)
    assert "notebooks/comparison.ipynb" in md


def test_readme_is_rewritten_and_the_hand_written_files_are_left_alone(tmp_path):
    out, _, first = _readme(tmp_path)
    (out / "README.md").write_text("stale")
    report(str(out / "runs"), str(out), quiet=True, plots=False)
    again = (out / "README.md").read_text()
    assert (out / "COMMAND.md").read_text() == COMMAND and (out / "NOTES.md").read_text() == NOTES
    assert again != "stale" and f"`lipbench-report {out / 'runs'} --out {out} --no-plots`" in again
    (out / "COMMAND.md").unlink()
    report(str(out / "runs"), str(out), quiet=True, plots=False)
    assert "No `COMMAND.md` here" in (out / "README.md").read_text()


def test_merged_commands_are_exact_cross_products():
    runs = [(("constraint", c), ("seed", s)) for c in ("gp", "sn") for s in ("0", "1", "2")]
    assert merged_commands(runs) == ["lipbench -m constraint=gp,sn seed=0,1,2"]
    runs = runs[:-1] + [(("experiment", "x"), ("lr", "0.01"))]  # sn lacks seed 2; another sweep
    lines = merged_commands(runs)
    assert sorted(lines) == [
        "lipbench -m constraint=gp seed=0,1,2",
        "lipbench -m constraint=sn seed=0,1",
        "lipbench experiment=x lr=0.01",
    ]


def test_absolute_paths_in_the_overrides_are_not_shown():
    runs = [(("experiment", "cifar10_smoke"), ("data.root", "/home/me/data/cifar10-jpeg.tar.gz"))]
    assert merged_commands(runs) == ["lipbench experiment=cifar10_smoke data.root=…/cifar10-jpeg.tar.gz"]


def test_a_dual_folder_leads_with_the_estimate_over_w1_tables(tmp_path):
    from lipbench.report.readme import dual_headline

    dual_md = [
        "# dual", "", "Cells: ...", "", "## gaussian", "", "d=2: W1 = 1", "",
        "| critic | d=2 |", "|---|---:|", "| sn · relu | 0.98 ± 0.00 |", "",
        "| critic | d | seeds |", "|---|---:|---:|", "| sn · relu | 2 | 3 |", "",
        "## swiss_roll", "", "| critic | all |", "|---|---:|", "| gp · relu | 1.0 ± 0.1 |",
    ]  # fmt: skip
    (tmp_path / "dual.md").write_text("\n".join(dual_md) + "\n")
    assert dual_headline(str(tmp_path)) == [
        "### gaussian",
        "",
        "| critic | d=2 |",
        "|---|---:|",
        "| sn · relu | 0.98 ± 0.00 |",
        "",
        "### swiss_roll",
        "",
        "| critic | all |",
        "|---|---:|",
        "| gp · relu | 1.0 ± 0.1 |",
    ]


def test_a_study_folders_readme_names_the_study_folder_in_its_command(tmp_path):
    from test_report_study import make_study

    study = make_study(tmp_path / "study", methods=("gp", "sn"), datas=("eight_gaussians",))
    report(study, str(tmp_path / "out"), quiet=True, plots=False)
    md = (tmp_path / "out" / "README.md").read_text()
    assert f"`lipbench-report {study} --out {tmp_path / 'out'} --no-plots`" in md and "## Study" in md
