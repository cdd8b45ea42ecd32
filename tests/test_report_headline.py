"""The headline table: the printout and the top of table.md show at most 8 columns (method,
swept factors, converged, the primary metrics with their floors, the Lipschitz verdict) and
fit a 120-column terminal; the full table is table_full.md, table.csv and table.tex."""

import pandas as pd
import pytest

from lipbench.report import report
from lipbench.report.headline import MAX_COLUMNS, WIDTH
from report_fixtures import make_run, make_sweep

SETS = {
    "toy2d": dict(datas=("eight_gaussians", "swiss_roll", "twentyfive_gaussians")),
    "digits": dict(datas=("digits",)),
}


def _header(md: str):
    line = next(x for x in md.splitlines() if x.startswith("| method"))
    return [c.strip() for c in line.strip("|").split("|")]


@pytest.mark.parametrize("kind", sorted(SETS))
def test_the_printout_fits_120_columns_and_table_md_leads_with_the_headline(tmp_path, monkeypatch, capsys, kind):
    monkeypatch.chdir(tmp_path)  # as in the quick start: lipbench-report ... --out results/<name>
    make_sweep(tmp_path / "multirun", methods=("none", "clip", "gp", "sn"), seeds=(0, 1, 2), **SETS[kind])
    res = report("multirun", f"results/{kind}", plots=False)
    printed = capsys.readouterr().out.splitlines()
    too_wide = [line for line in printed if len(line) > WIDTH]
    assert not too_wide, "\n".join(too_wide)
    head = _header((tmp_path / "results" / kind / "table.md").read_text())
    full = _header((tmp_path / "results" / kind / "table_full.md").read_text())
    assert len(head) <= MAX_COLUMNS < len(full) and set(head) - {"1-Lipschitz?"} <= set(full)
    primary, floor = ("fid_domain", "fid_floor_domain") if kind == "digits" else ("w1", "w1_floor")
    factors = ["data.name"] if kind == "toy2d" else []
    assert head[: 4 + len(factors)] == ["method", *factors, "converged", f"{primary} ↓", floor]
    assert head[-1] == "1-Lipschitz?" and "lip_ratio ↓" in full and "n_diverged" in full
    # the printout is that headline (plain columns), one row per table row, and says where the rest is
    assert printed[1].split() == [w for c in head for w in c.split()]
    assert f"Every column ({len(full)}): results/{kind}/table_full.md" in printed
    # the verdicts are the Lipschitz table's, row for row
    lip = pd.read_csv(tmp_path / "results" / kind / "lipschitz.csv")
    rows = [x for x in (tmp_path / "results" / kind / "table.md").read_text().splitlines() if x.startswith("| ")][1:]
    assert [r.strip("|").split("|")[-1].strip() for r in rows] == lip["verdict"].tolist()
    assert len(pd.read_csv(tmp_path / "results" / kind / "table.csv")) == len(res["table"]) == len(rows)


def test_a_row_with_runs_that_did_not_complete_says_so(tmp_path, capsys):
    make_sweep(tmp_path / "s", methods=("gp", "sn"), seeds=(0, 1), npz=False)
    make_run(tmp_path / "s", "gp", 2, status="diverged", dirname="div")
    report(tmp_path / "s", tmp_path / "out", plots=False)
    md = (tmp_path / "out" / "table.md").read_text()
    assert _header(md)[1] == "completed" and "| 2/3 " in md and "| 2/2 " in md
