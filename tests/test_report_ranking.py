"""lipbench.report.ranking: ranks within each data set, mean rank and spread across them."""

import math

import numpy as np
import pandas as pd
import pytest

from lipbench.report import report
from lipbench.report.ranking import format_ranking, ranking_markdown, ranking_table
from report_fixtures import make_sweep

# w1 (lower is better) and modes (higher is better) means per data set and method.
MEANS = {
    "eight_gaussians": {"none": (3.0, 2), "gp": (1.0, 8), "sn": (2.0, 6)},
    "swiss_roll": {"none": (3.0, 1), "gp": (2.0, 5), "sn": (1.0, 7)},
    "twentyfive_gaussians": {"none": (3.0, 10), "gp": (1.0, 20), "sn": (1.0, np.nan)},  # w1 tie, sn no modes
}


def _table():
    rows = [
        {"method": m, "cfg.data.name": d, "w1_mean": w1, "modes_mean": modes}
        for d, per in MEANS.items()
        for m, (w1, modes) in per.items()
    ]
    table = pd.DataFrame(rows)
    table.attrs.update(metrics=["w1", "modes"], factors=["cfg.data.name"])
    return table


def test_ranks_within_data_sets_and_spread_across():
    ranking = ranking_table(_table())
    w1 = ranking[ranking["metric"] == "w1"].set_index("method")
    # gp: ranks 1, 2, 1.5 (tied with sn on twentyfive_gaussians); sn: 2, 1, 1.5; none: 3, 3, 3
    assert w1.loc["gp", ["rank[eight_gaussians]", "rank[swiss_roll]", "rank[twentyfive_gaussians]"]].tolist() == [
        1.0,
        2.0,
        1.5,
    ]
    assert w1.loc["gp", "mean_rank"] == pytest.approx(1.5)
    assert w1.loc["gp", "std_rank"] == pytest.approx(np.std([1, 2, 1.5], ddof=1))
    assert (w1.loc["gp", "min_rank"], w1.loc["gp", "max_rank"]) == (1.0, 2.0)
    assert w1.loc["none", "mean_rank"] == 3.0 and w1.loc["none", "std_rank"] == 0.0
    assert w1["n_datasets"].tolist() == [3, 3, 3]
    modes = ranking[ranking["metric"] == "modes"].set_index("method")
    # higher is better; sn has no value on twentyfive_gaussians: ranked on 2 data sets
    assert modes.loc["gp", "mean_rank"] == pytest.approx((1 + 2 + 1) / 3)
    assert modes.loc["sn", "n_datasets"] == 2 and modes.loc["sn", "mean_rank"] == pytest.approx(1.5)
    assert math.isnan(modes.loc["sn", "rank[twentyfive_gaussians]"])
    assert modes.loc["none", "rank[twentyfive_gaussians]"] == 2.0  # ranked among the two with a value


def test_display_sorted_by_the_primary_metric():
    ranking = ranking_table(_table())
    shown = format_ranking(ranking)
    assert shown["method"].tolist() == ["gp", "sn", "none"]  # w1 mean ranks 1.5, 1.5 (table order), 3
    gp = shown.set_index("method").loc["gp"]
    assert gp["w1 rank"] == "1.5 ± 0.5 (1–2)"
    assert shown.set_index("method").loc["sn", "modes rank"] == "1.5 ± 0.71 (1–2) (n=2)"
    assert gp["w1 @ swiss_roll"] == "2"
    md = ranking_markdown(ranking)
    assert "mean rank over the data sets (of 3)" in md and "| gp" in md


def test_one_data_set_and_nothing_to_rank():
    table = _table()
    one = table[table["cfg.data.name"] == "swiss_roll"].copy()
    one.attrs.update(metrics=["w1"], factors=[])
    shown = format_ranking(ranking_table(one)).set_index("method")
    assert shown["w1 rank"].to_dict() == {"sn": "1", "gp": "2", "none": "3"}
    none_directed = table.copy()
    none_directed.attrs.update(metrics=["critic_gap"], factors=["cfg.data.name"])
    assert ranking_table(none_directed.assign(critic_gap_mean=1.0)).empty


def test_report_writes_and_prints_the_ranking(tmp_path, capsys):
    make_sweep(
        tmp_path / "sweep",
        methods=("none", "gp", "sn"),
        seeds=(0, 1),
        datas=("eight_gaussians", "swiss_roll"),
        npz=False,
    )
    res = report(tmp_path / "sweep", tmp_path / "out", plots=False)
    printed = capsys.readouterr().out
    assert f"Ranking over 2 data set(s): {tmp_path / 'out' / 'ranking.md'}" in printed  # one file away
    assert "w1 rank" in (tmp_path / "out" / "ranking.md").read_text()
    csv = pd.read_csv(tmp_path / "out" / "ranking.csv")
    w1 = csv[csv["metric"] == "w1"].set_index("method")["mean_rank"].to_dict()
    assert w1 == {"gp": 1.0, "sn": 2.0, "none": 3.0}  # the fixture's w1: gp 0.1 < sn 0.2 < none 0.5
    assert not res["ranking"].empty
