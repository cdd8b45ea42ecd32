"""The study (lipbench/study/): seeded draws from the declared spaces, fresh rerun seeds,
bad search spaces refused before anything runs, and a study that resumes."""

from __future__ import annotations

import json

import numpy as np
import pytest
from omegaconf import OmegaConf
from scipy import stats

from conftest import CONF, FAST_2D, run_cli
from lipbench.cli import preflight
from lipbench.errors import ConfigError
from lipbench.study.plan import StudyOptions, parse_grid, rerun_trials, search_trials
from lipbench.study.space import draw, method_seed, parse_space


def _options(**changes) -> StudyOptions:
    """The options of experiment=study_toy2d, as Hydra merges them, with ``changes``."""
    base = OmegaConf.load(CONF / "hydra" / "sweeper" / "study.yaml")
    preset = OmegaConf.load(CONF / "experiment" / "study_toy2d.yaml").hydra.sweeper
    merged = OmegaConf.merge(base, preset, changes)
    return StudyOptions.from_config(merged)


def test_two_launches_draw_identical_settings_and_methods_do_not_disturb_each_other():
    opts = _options()
    first = search_trials(opts, parse_grid(opts, []))
    again = search_trials(_options(), parse_grid(opts, []))
    assert [t.params for t in first] == [t.params for t in again]
    assert [t.dir for t in first] == [t.dir for t in again]
    assert len(first) == 4 * 24 and len({json.dumps(t.params, sort_keys=True) for t in first}) == 4 * 24
    # gp's draws are its own: the same when it is the only method of the grid
    gp_alone = [t.params for t in search_trials(opts, parse_grid(opts, ["constraint=gp"]))]
    assert gp_alone == [t.params for t in first if t.method == "gp"]
    # every trial sets every key of its method's space, and its seed is its index
    gp = [t for t in first if t.method == "gp"]
    assert [t.seed for t in gp] == list(range(24))
    assert set(gp[0].params) == {"optim.lr", "optim.betas", "optim.n_critic", "constraint.gp.weight"}


def test_the_draws_follow_the_declared_distributions():
    """Kolmogorov-Smirnov against the declared laws (the draws are seeded: no flakiness)."""
    opts = _options()
    settings = draw(opts.dimensions("clip"), 500, method_seed(0, "clip"))
    log_lr = np.log10([s["optim.lr"] for s in settings])
    assert stats.kstest(log_lr, stats.uniform(loc=-5, scale=3).cdf).pvalue > 0.05
    log_c = np.log10([s["constraint.clip.c"] for s in settings])
    assert stats.kstest(log_c, stats.uniform(loc=-3, scale=3).cdf).pvalue > 0.05
    beta1 = [s["optim.betas"][0] for s in settings]
    assert stats.kstest(beta1, stats.uniform(loc=0, scale=0.99).cdf).pvalue > 0.05
    # the choices: each value equally likely (chi-square), and nothing else
    for key, values in (("optim.n_critic", (1, 5)),):
        counts = [sum(s[key] == v for s in settings) for v in values]
        assert sum(counts) == 500 and stats.chisquare(counts).pvalue > 0.05
    assert {s["optim.betas"][1] for s in settings} == {0.9, 0.999}
    # and a law the draws do not follow is rejected: log-lr is not uniform on [-5, -3]
    assert stats.kstest(log_lr, stats.uniform(loc=-5, scale=2).cdf).pvalue < 1e-6


def test_the_rerun_seeds_are_fresh():
    opts = _options()
    grid = parse_grid(opts, [])
    search = search_trials(opts, grid)
    reruns = rerun_trials(opts, grid, [t for t in search if t.trial == 0])
    assert {t.seed for t in search}.isdisjoint({t.seed for t in reruns})
    assert sorted({t.seed for t in reruns}) == list(range(1000, 1010))
    assert len(reruns) == 4 * 10
    chosen = {t.method: t.params for t in search if t.trial == 0}
    assert all(r.params == chosen[r.method] and r.trial == 0 for r in reruns)
    with pytest.raises(ConfigError, match=r"hydra.sweeper.rerun_seeds: 3 is also a search seed"):
        _options(rerun_seeds=[1000, 3])


@pytest.mark.parametrize(
    "space, message",
    [
        ({"gp": {"constraint.gp.weight": "interval(10, 1)"}}, "hydra.sweeper.space.gp.constraint.gp.weight="),
        ({"gp": {"optim.lr": "tag(log, interval(-1e-3, 1e-2))"}}, "a log-uniform range needs a lower end > 0"),
        ({"gp": {"optim.betas[1]": "choice(0.9)"}}, None),  # fine: the merged space declares betas[0] too
    ],
)
def test_bad_space_entries_are_one_line_naming_the_key(space, message):
    opts = _options()
    merged = {**opts.space, **space}
    if message is None:
        StudyOptions.from_config({**_raw(), "space": merged}).dimensions("gp")
        return
    with pytest.raises(ConfigError) as info:
        StudyOptions.from_config({**_raw(), "space": merged})
    assert message in str(info.value) and "\n" not in str(info.value)


def _raw():
    base = OmegaConf.load(CONF / "hydra" / "sweeper" / "study.yaml")
    preset = OmegaConf.load(CONF / "experiment" / "study_toy2d.yaml").hydra.sweeper
    return OmegaConf.to_container(OmegaConf.merge(base, preset))


def test_a_list_must_declare_every_element():
    with pytest.raises(ConfigError, match=r"optim.betas\[...\]: declare every element 0..1"):
        parse_space("hydra.sweeper.common", {"optim.betas[1]": "choice(0.9, 0.999)"})


@pytest.mark.parametrize(
    "override, message",
    [
        ("hydra.sweeper.space.gp={constraint.gp.weight:'interval(10,1)'}", "empty range"),
        ("hydra.sweeper.common={optim.lr:'interval(-0.001,0.01)'}", "optim.lr=-0.001: must be > 0"),
        ("hydra.sweeper.space.gp={constraint.gp.wieght:'interval(1,10)'}", "constraint.gp.wieght"),
        ("constraint=none,clip,gp,sn,lp", "hydra.sweeper.space.lp: missing"),
        ("hydra.sweeper.rerun_seeds=[0,1000]", "0 is also a search seed"),
    ],
)
def test_the_preflight_refuses_a_bad_search_space(override, message):
    with pytest.raises(ConfigError) as info:
        preflight(["-m", "experiment=study_quick", override])
    assert message in str(info.value) and "\n" not in str(info.value)


def test_the_cli_refuses_a_bad_search_space_in_one_line_before_anything_runs(tmp_path):
    proc = run_cli(
        ["-m", "experiment=study_quick", "hydra.sweeper.common={optim.lr:'interval(-0.001,0.01)'}"], tmp_path
    )
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert proc.stderr.strip().splitlines() == ["lipbench: config error: optim.lr=-0.001: must be > 0"]
    assert not (tmp_path / "multirun").exists()


TINY_STUDY = [
    "-m",
    "experiment=study_quick",
    "name=tiny",
    "constraint=clip,sn",
    "hydra.sweeper.n_settings=2",
    "hydra.sweeper.rerun_seeds=[100]",
    "hydra.sweeper.rule.last=2",
    "hydra.launcher.n_jobs=1",
    *FAST_2D,
    "train.checkpoint_every=10",
    "eval.floor_pairs=1",
]


def _finished(sweep):
    return {
        str(p.parent.relative_to(sweep)): json.loads(p.read_text())["finished_at"]
        for p in sweep.glob("*/*/*/*/summary.json")
    }


def test_a_killed_study_resumes_without_redoing_finished_trials(tmp_path):
    proc = run_cli(TINY_STUDY, cwd=tmp_path, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    sweep = tmp_path / "multirun" / "tiny"
    study = json.loads((sweep / "study.json").read_text())
    before = _finished(sweep)
    assert sorted(before) == [
        "rerun/eight_gaussians/clip/s100",
        "rerun/eight_gaussians/sn/s100",
        "search/eight_gaussians/clip/t00",
        "search/eight_gaussians/clip/t01",
        "search/eight_gaussians/sn/t00",
        "search/eight_gaussians/sn/t01",
    ]
    # the rule: each group's choice has the lowest tail mean of its search trials
    for chosen in study["selected"]:
        scores = [t["score"] for t in study["trials"] if t["phase"] == "search" and t["method"] == chosen["method"]]
        assert chosen["score"] == min(s for s in scores if s is not None)
    # the sweep ends with its report: the study's, with the reruns' table beside it
    report = sweep / "report"
    study_md = (report / "study.md").read_text()
    for section in ("## 1. The distribution", "## 2. The expected best", "## 3. The chosen setting", "## 4. Pairwise"):
        assert section in study_md
    assert sorted(p.name for p in report.glob("plots/study_*.png"))
    reported = [line for line in (report / "runs.csv").read_text().splitlines()[1:] if line]
    assert len(reported) == 2  # the reruns only: one seed of clip's and sn's chosen settings
    # "kill" it: one search run lost its record (as a run stopped before its first checkpoint),
    # and the study its study.json
    lost = sweep / "search/eight_gaussians/sn/t01"
    for name in ("summary.json", "checkpoint.pt", "metrics.jsonl"):
        (lost / name).unlink(missing_ok=True)
    (sweep / "study.json").unlink()
    proc = run_cli(TINY_STUDY, cwd=tmp_path, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    after = _finished(sweep)
    redone = {k for k in after if after[k] != before.get(k)}
    assert redone == {"search/eight_gaussians/sn/t01"}
    again = json.loads((sweep / "study.json").read_text())
    assert [t["params"] for t in again["trials"]] == [t["params"] for t in study["trials"]]
    # the same seed on the same machine gives the same numbers: the same choices and scores
    assert again["selected"] == study["selected"]
