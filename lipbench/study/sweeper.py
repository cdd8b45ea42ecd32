"""The study's two phases, launched through Hydra's configured launcher.

Called by ``hydra_plugins.lipbench_study.study_sweeper.StudySweeper.sweep``: draw the
search trials, launch them all (the launcher runs them in parallel: joblib one per core,
SLURM or Ray as configured), score each run by the rule, choose each group's setting,
launch the reruns, and write ``study.json`` after each phase. Runs that a previous launch
finished are skipped by the run itself (:mod:`lipbench.train.rundir`): their directories
and identities are the same, because the draws are.
"""

from __future__ import annotations

import logging
import math
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Sequence

from omegaconf import OmegaConf

from lipbench.study import manifest
from lipbench.study.plan import Grid, StudyOptions, Trial, parse_grid, rerun_trials, search_trials
from lipbench.study.rule import run_score

log = logging.getLogger("lipbench")


def choose(trials: Sequence[Trial], scores: Dict[str, tuple]) -> List[Trial]:
    """Per group, the search trial with the lowest finite score (ties: the lower index);
    a group whose every trial scored +inf has no choice and no reruns."""
    best: Dict[str, Trial] = {}
    for t in trials:
        key = repr(sorted(t.group.items())) + t.method
        score = scores[t.dir][1]
        if math.isfinite(score) and (key not in best or score < scores[best[key].dir][1]):
            best[key] = t
    return list(best.values())


def _launch(sweeper, phase: str, trials: Sequence[Trial], first_idx: int) -> Dict[str, Any]:
    batch = [t.job() for t in trials]
    log.info("study: %s phase, %d runs (finished ones are skipped)", phase, len(batch))
    sweeper.validate_batch_is_legal(batch)
    tic = time.time()
    returns = sweeper.launcher.launch(batch, initial_job_idx=first_idx) if batch else []
    return {"phase": phase, "jobs": len(batch), "wall_s": round(time.time() - tic, 1), "returns": returns}


def _score_all(sweep_dir: Path, trials: Sequence[Trial], opts: StudyOptions) -> Dict[str, tuple]:
    return {t.dir: run_score(sweep_dir / t.dir, int(opts.rule["last"]), opts.metric) for t in trials}


def _grid_dict(grid: Grid) -> Dict[str, List[str]]:
    out: Dict[str, List[str]] = {}
    for axis in grid.axes:
        for o in axis:
            k, _, v = o.partition("=")
            out.setdefault(k, []).append(v)
    return out


def run_study(sweeper, arguments: List[str]) -> Any:
    config = sweeper.config
    opts = StudyOptions.from_config(sweeper.options)
    grid = parse_grid(opts, arguments, sweeper.hydra_context.config_loader)
    default_method = OmegaConf.select(config, f"hydra.runtime.choices.{opts.method_key}", default=None)
    search = search_trials(opts, grid, default_method)
    sweep_dir = Path(str(config.hydra.sweep.dir))
    sweep_dir.mkdir(parents=True, exist_ok=True)
    OmegaConf.save(config, sweep_dir / "multirun.yaml")
    command = "lipbench -m " + " ".join(a for a in sys.argv[1:] if a not in ("-m", "--multirun"))
    name = str(config.get("name", "study"))

    def save(trials, scores, chosen, launches):
        doc = manifest.manifest(name, command, opts, _grid_dict(grid), trials, scores, chosen, launches)
        manifest.write(sweep_dir, doc)

    launches: List[Dict[str, Any]] = []
    save(search, _score_all(sweep_dir, search, opts), [], launches)  # the draws, before anything runs
    first = _launch(sweeper, "search", search, 0)
    launches.append({k: v for k, v in first.items() if k != "returns"})
    scores = _score_all(sweep_dir, search, opts)
    chosen = choose(search, scores)
    save(search, scores, chosen, launches)
    reruns = rerun_trials(opts, grid, chosen)
    second = _launch(sweeper, "rerun", reruns, len(search))
    launches.append({k: v for k, v in second.items() if k != "returns"})
    scores.update(_score_all(sweep_dir, reruns, opts))
    save([*search, *reruns], scores, chosen, launches)
    log.info("study: %d search runs, %d reruns; study.json in %s", len(search), len(reruns), sweep_dir)
    return [first["returns"], second["returns"]]
