"""The study report (issue 19): the expected-best estimator against enumeration, Holm's
correction against a hand-computed case, and the report of a small synthetic study folder
(fake but well-formed run records and a study.json as the sweeper writes it)."""

import json
import math
import os
from itertools import combinations, permutations, product

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf

from lipbench.report import report
from lipbench.report.budget import budget_curve, budget_seconds, expected_best
from lipbench.report.callback import ReportCallback
from lipbench.report.cli import main
from lipbench.report.study_stats import holm, t_interval
from report_fixtures import W1_FLOOR, make_run

VALUES = [0.3, 0.1, 0.4, 0.1, 0.9]  # a tie on purpose
METHODS = ("none", "clip", "gp", "sn")
DATAS = ("eight_gaussians", "swiss_roll")
N = 6
RERUN_SEEDS = tuple(range(1000, 1006))
LAST = 2  # the rule's tail: metrics.jsonl has 3 evaluations 3v, 2v, v -> tail mean 1.5 v
# final w1 of Phase-1 trial t per method (None: diverged; gp's t=5 is the selected one)
SEARCH = {
    "none": [0.5, 0.6, None, 0.7, 0.55, 0.65],
    "clip": [0.2, 0.14, 0.3, None, 0.25, 0.12],
    "gp": [0.4, 0.13, 0.11, 0.2, None, 0.09],
    "sn": [0.15, 0.12, 0.16, 0.13, 0.3, 0.1],
}
RERUN = {  # final w1 of rerun seed j: gp and none clearly apart; clip and sn identical samples
    "none": [0.5 + 0.01 * j for j in range(6)],
    "clip": [0.12 + 0.01 * (j % 3) for j in range(6)],
    "gp": [0.09 + 0.002 * j for j in range(6)],
    "sn": [0.12 + 0.01 * (j % 3) for j in range(6)],
}


def test_expected_best_equals_enumeration():
    """Without replacement: the average over every k-subset; with replacement (Dodge et al.):
    over every k-tuple. Mean, std and (lower is better) the quartiles of the best of k."""
    n = len(VALUES)
    for k in range(1, n + 1):
        subsets = [min(c) for c in combinations(VALUES, k)]
        tuples = [min(c) for c in product(VALUES, repeat=k)]
        for replacement, brute in ((False, subsets), (True, tuples)):
            row = expected_best(VALUES, "lower", replacement=replacement).iloc[k - 1]
            assert row["mean"] == pytest.approx(np.mean(brute))
            assert row["std"] == pytest.approx(np.std(brute))
            assert row["q25"] == pytest.approx(np.quantile(brute, 0.25, method="inverted_cdf"))
            assert row["q75"] == pytest.approx(np.quantile(brute, 0.75, method="inverted_cdf"))
        highs = [max(c) for c in combinations(VALUES, k)]
        assert expected_best(VALUES, "higher").iloc[k - 1]["mean"] == pytest.approx(np.mean(highs))
        highs = [max(c) for c in product(VALUES, repeat=k)]
        assert expected_best(VALUES, "higher", True).iloc[k - 1]["mean"] == pytest.approx(np.mean(highs))
    assert budget_curve(VALUES, "lower", exact=True)["mean"].tolist() == pytest.approx(
        expected_best(VALUES, "lower")["mean"].tolist()
    )


def test_budget_seconds_against_orders():
    # equal costs: the curve at t = k is best-of-k over the same random orders as budget_curve
    curve = budget_seconds(VALUES, [1.0] * 5, [0.5, 1, 2, 3, 4, 5], n_draws=500, seed=3)
    assert math.isnan(curve["mean"].iloc[0]) and curve["frac"].iloc[0] == 0
    mc = budget_curve(VALUES, "lower", n_draws=500, seed=3)
    assert curve["mean"].iloc[1:].tolist() == pytest.approx(mc["mean"].tolist())
    # unequal costs: the exact average over all orders (enumerated) at t = 2.5
    values, secs = [0.3, 0.1, 0.5], [2.0, 2.0, 0.5]
    exact = []
    for order in permutations(range(3)):
        done = np.cumsum([secs[i] for i in order]) <= 2.5
        exact.append(min(values[i] for i, d in zip(order, done) if d) if done.any() else np.nan)
    curve = budget_seconds(values, secs, [2.5], n_draws=20000, seed=0)
    assert curve["frac"].iloc[0] == pytest.approx(np.mean(~np.isnan(exact)), abs=0.02)
    assert curve["mean"].iloc[0] == pytest.approx(np.nanmean(exact), abs=0.01)
    # an order with nothing finished counts as `before` (the study's cap): the mean over all orders
    capped = budget_seconds(values, secs, [2.5], n_draws=20000, seed=0, before=0.9)
    assert capped["mean"].iloc[0] == pytest.approx(np.mean(np.nan_to_num(exact, nan=0.9)), abs=0.01)
    grid = np.linspace(0.1, 4.5, 30)
    assert (np.diff(budget_seconds(values, secs, grid, before=0.9)["mean"]) <= 1e-12).all()  # never rises


def test_holm_against_a_hand_computed_case():
    # sorted 0.005, 0.01, 0.03, 0.04 (m = 4): 4·0.005 = 0.02, 3·0.01 = 0.03, 2·0.03 = 0.06,
    # 1·0.04 = 0.04 -> raised to the running maximum 0.06; the NaN is not tested, not counted
    adjusted = holm([0.01, np.nan, 0.04, 0.03, 0.005])
    assert np.isnan(adjusted[1])
    assert adjusted[[0, 2, 3, 4]] == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, 0.9]).tolist() == pytest.approx([1.0, 1.0])  # capped at 1


def test_t_interval_by_hand():
    mean, lo, hi, n = t_interval([1.0, 2.0, 3.0, 4.0, np.nan])
    half = 3.182446305 * np.sqrt(5 / 3) / 2  # t_{0.975, 3} from a table, s = sqrt(5/3)
    assert (mean, n) == (2.5, 4) and (lo, hi) == pytest.approx((2.5 - half, 2.5 + half))
    assert math.isnan(t_interval([1.0])[1])


def _final(w1):
    return {
        "w1": w1,
        "w1_floor": W1_FLOOR,
        "modes": 0 if w1 > 0.6 else 8,
        "hq_pct": 100 * (1 - w1),
        "converged": float(w1 < 0.3),
    }


def _run(root, rel, method, seed, data, w1, seconds):
    status = "completed" if w1 is not None else "diverged"
    path = make_run(
        root, method, seed, status=status, data=data, final={} if w1 is None else _final(w1), dirname=rel, npz=False
    )
    with open(os.path.join(path, "summary.json")) as f:
        summary = json.load(f)
    summary["train_time_s"] = seconds
    with open(os.path.join(path, "summary.json"), "w") as f:
        json.dump(summary, f)


def _trial(phase, data, method, trial, seed, rel, score):
    group = {"constraint": method, "data": data}
    params = {"optim.lr": 1e-4 * (trial + 1), "optim.n_critic": 5}
    return {"phase": phase, "group": group, "method": method, "trial": trial, "seed": seed, "params": params} | {
        "overrides": [],
        "dir": rel,
        "status": "completed",
        "score": score,
    }


def make_study(root, with_reruns=True, methods=METHODS, datas=DATAS):
    """A study folder: N settings per method and data set (the second data set's w1 doubled;
    train_time_s 10, 20, 30, 40 s per setting by method) and the reruns of each method's best
    setting, selected in study.json as the sweeper would."""
    root = str(root)
    trials, selected = [], []
    for d, data in enumerate(datas):
        for method in methods:
            group = f"constraint={method},data={data}"
            for t, w1 in enumerate(SEARCH[method]):
                rel = f"search/{group}/t{t:02d}"
                _run(
                    root, rel, method, t, data, None if w1 is None else w1 * (1 + d), 10.0 * (1 + METHODS.index(method))
                )
                trials.append(_trial("search", data, method, t, t, rel, None if w1 is None else 1.5 * w1 * (1 + d)))
            best = int(np.nanargmin([np.nan if w is None else w for w in SEARCH[method]]))
            selected.append({"group": {"constraint": method, "data": data}, "method": method, "trial": best})
            for j, seed in enumerate(RERUN_SEEDS if with_reruns else ()):
                rel = f"rerun/{group}/seed={seed}"
                _run(root, rel, method, seed, data, RERUN[method][j] * (1 + d), 30.0)
                trials.append(_trial("rerun", data, method, best, seed, rel, None))
    meta = {"kind": "lipbench-study", "version": 1, "name": "study_test", "command": "lipbench -m experiment=x"}
    meta |= {"metric": "w1", "better": "lower", "n_settings": N, "method_key": "constraint"}
    meta |= {"rule": {"name": "tail_mean", "last": LAST, "text": f"mean of w1 over the last {LAST} evaluations"}}
    meta |= {"sampler": {"name": "optuna.samplers.RandomSampler", "seed": 0, "optuna": "2.10.1"}}
    meta |= {"grid": {"constraint": list(methods), "data": list(datas)}, "rerun_seeds": list(RERUN_SEEDS)}
    meta |= {"space": {"gp": {"optim.lr": "tag(log, interval(1e-5, 1e-2))"}}, "trials": trials, "selected": selected}
    meta |= {"wall_s": {"search": 100.0, "rerun": 50.0}}
    with open(os.path.join(root, "study.json"), "w") as f:
        json.dump(meta, f)
    return root


def _tail(run_dir):
    rows = [json.loads(line) for line in open(os.path.join(run_dir, "metrics.jsonl"))]
    return float(np.mean([r["w1"] for r in rows][-LAST:]))


def test_study_report_writes_every_section(tmp_path):
    methods, datas = ("none", "gp", "sn"), ("eight_gaussians",)  # small: the reruns' own plots take most of the time
    study = make_study(tmp_path / "study", methods=methods, datas=datas)
    out = tmp_path / "results" / "study_test"
    res = report(study, out, quiet=True)
    text = (out / "study.md").read_text()
    for heading in (
        "# study_test: study",
        "## Search space",
        "## 1. The distribution over settings",
        "## 2. The expected best after k settings",
        "## 3. The chosen setting and its reruns",
        "## 4. Pairwise comparisons on the reruns",
        "## Answer",
    ):
        assert heading in text, heading
    assert "without replacement" in text and "Holm" in text and "α = 0.05" in text
    for stem in ("study_distribution", "study_expected_best", "study_expected_best_seconds"):
        for ext in ("png", "pdf"):
            assert (out / "plots" / f"{stem}.{ext}").is_file(), stem
    settings = pd.read_csv(out / "study_settings.csv")
    assert len(settings) == len(datas) * len(methods) * N
    for col in ("group", "method", "trial", "seed", "params", "status", "score", "w1", "converged", "train_time_s"):
        assert col in settings, col
    assert len(pd.read_csv(out / "study_reruns.csv")) == len(datas) * len(methods) * len(RERUN_SEEDS)
    assert len(pd.read_csv(out / "study_pairwise.csv")) == len(datas) * 3
    # the standard table and runs.csv hold the reruns only
    runs = pd.read_csv(out / "runs.csv")
    assert len(runs) == len(res["runs"]) == len(datas) * len(methods) * len(RERUN_SEEDS)
    assert all(os.sep + "rerun" + os.sep in d for d in runs["run_dir"])
    table = pd.read_csv(out / "table.csv")
    assert table[["n_completed", "n_diverged", "n_failed", "n_running"]].to_numpy().sum() == len(runs)
    assert (table["w1_n"] == len(RERUN_SEEDS)).all()
    assert "study.md" in (out / "README.md").read_text()


def test_study_numbers_from_the_runs(tmp_path):
    study = make_study(tmp_path / "study")
    s = report(study, tmp_path / "out", quiet=True, plots=False)["study"]
    trials = s["trials"]
    search = trials[trials["phase"] == "search"]
    # scores: the tail mean of each run's metrics.jsonl, +inf when it diverged
    for r in search.itertuples():
        expect = _tail(os.path.join(study, r.dir)) if r.status == "completed" else math.inf
        assert r.score == pytest.approx(expect)
    # the cap: the worst finite score of the data set; k = 1 is the mean over capped scores
    cap = max(1.5 * w for m in METHODS for w in SEARCH[m] if w is not None)
    assert s["caps"]["eight_gaussians"] == pytest.approx(cap)
    eb = s["expected_best"].set_index(["data", "method", "k"])
    none = [1.5 * w if w is not None else cap for w in SEARCH["none"]]
    assert eb.loc[("eight_gaussians", "none", 1), "mean"] == pytest.approx(np.mean(none))
    assert eb.loc[("eight_gaussians", "gp", N), "mean"] == pytest.approx(1.5 * 0.09)
    # seconds: the curve ends at the method's total time with its best score
    sec = s["expected_best_seconds"]
    gp = sec[(sec["data"] == "eight_gaussians") & (sec["method"] == "gp")]
    assert gp["t"].iloc[-1] == pytest.approx(N * 30.0) and gp["mean"].iloc[-1] == pytest.approx(1.5 * 0.09)
    # forgivingness of clip on eight_gaussians, over the 6 settings that ran (one diverged): converged
    # (the fixture's flag: w1 < 0.3) 4; within 3 x floor (w1 <= 0.15) 2; none: 0 modes (w1 > 0.6) 2
    fg = s["forgiving"].set_index(["data", "method"])
    clip, none_ = fg.loc[("eight_gaussians", "clip")], fg.loc[("eight_gaussians", "none")]
    assert (clip["n_run"], clip["n_completed"]) == (6, 5)
    assert [clip[c] for c in ("frac_converged", "frac_within_floor", "frac_diverged_failed")] == pytest.approx(
        [4 / 6, 2 / 6, 1 / 6]
    )
    assert none_["frac_collapsed"] == pytest.approx(2 / 6)
    # forgiving rank on swiss_roll (nothing within 3 x floor): by the median final w1 over the settings that
    # ran, diverged = inf: sn 0.28, gp 0.33, clip 0.45, none 1.25
    ranks = fg.loc["swiss_roll", "rank"]
    assert ranks.sort_values().index.tolist() == ["sn", "gp", "clip", "none"]
    assert fg.loc[("swiss_roll", "gp"), "median"] == pytest.approx(0.33)
    # the chosen setting and its reruns' t-interval
    ch = s["chosen"].set_index(["data", "method"]).loc[("eight_gaussians", "gp")]
    assert ch["trial"] == 5 and ch["score"] == pytest.approx(1.5 * 0.09)
    mean, lo, hi, n = t_interval(RERUN["gp"])
    assert (ch["mean"], ch["ci_lo"], ch["ci_hi"], ch["n_completed"]) == pytest.approx((mean, lo, hi, n))
    # pairwise: gp vs none survives, clip vs sn (identical samples) does not
    pw = s["pairwise"].set_index(["data", "method_a", "method_b"])
    assert (
        pw.loc[("eight_gaussians", "none", "gp"), "survives"]
        and pw.loc[("eight_gaussians", "none", "gp"), "better"] == "gp"
    )
    assert not pw.loc[("eight_gaussians", "clip", "sn"), "survives"]
    assert pw.loc[("eight_gaussians", "clip", "sn"), "p"] == pytest.approx(1.0)


def test_answer_is_generated_from_the_numbers(tmp_path):
    study = make_study(tmp_path / "study")
    report(study, tmp_path / "out", quiet=True, plots=False)
    answer = (tmp_path / "out" / "study.md").read_text().split("## Answer", 1)[1]
    assert "gp beats none" in answer and "**eight_gaussians**" in answer and "**swiss_roll**" in answer
    pw = pd.read_csv(tmp_path / "out" / "study_pairwise.csv")
    n_tested = int((pw["data"] == "eight_gaussians").sum())
    n_won = int(pw.loc[pw["data"] == "eight_gaussians", "survives"].sum())
    assert f"{n_won} of {n_tested} pairwise differences survive" in answer
    assert "Order of the tuned methods" in answer and "Forgivingness" in answer
    order = answer.split("Order of the tuned methods", 1)[1].split("\n", 1)[0]
    assert order.index("gp ") < order.index("none ")


def test_cli_and_callback_report_a_study(tmp_path, capsys):
    study = make_study(tmp_path / "study", with_reruns=False)
    assert main([study, "--out", str(tmp_path / "cli"), "--no-plots", "--quiet"]) == 0
    assert "Study:" in capsys.readouterr().out
    text = (tmp_path / "cli" / "study.md").read_text()
    assert "not rerun" in text and "No pair of methods could be tested" in text
    assert pd.read_csv(tmp_path / "cli" / "runs.csv").empty
    assert not (tmp_path / "cli" / "plots" / "study_distribution.png").exists()
    cfg = OmegaConf.create({"hydra": {"sweep": {"dir": study}}, "name": "study_test"})
    ReportCallback(quiet=True, plots=False).on_multirun_end(cfg)
    assert (tmp_path / "study" / "report" / "study.md").is_file()


def test_not_a_study_is_an_ordinary_report(tmp_path):
    study = make_study(tmp_path / "study", with_reruns=False)
    meta = json.load(open(os.path.join(study, "study.json")))
    with open(os.path.join(study, "study.json"), "w") as f:
        json.dump(meta | {"kind": "something-else"}, f)
    res = report(study, tmp_path / "out", quiet=True, plots=False)
    assert "study" not in res and not (tmp_path / "out" / "study.md").exists()
    assert len(res["runs"]) == len(DATAS) * len(METHODS) * N  # every run below the folder, as before
