"""``study.json``: what a study drew, ran and chose, written beside its runs.

The report reads it for each run's phase, group, trial index and setting, and for the
choice of each group's setting (lipbench/report/study*.py). It is written atomically
before the search starts (the draws) and after each phase, so a study stopped at any
point leaves a readable one."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any, Dict, List, Sequence

from lipbench import record
from lipbench.study.plan import StudyOptions, Trial
from lipbench.study.rule import rule_text

FILE = "study.json"
KIND = "lipbench-study"


def _optuna_version() -> str:
    import optuna

    return optuna.__version__


def manifest(
    name: str,
    command: str,
    opts: StudyOptions,
    grid: Dict[str, List[str]],
    trials: Sequence[Trial],
    scores: Dict[str, tuple],
    chosen: Sequence[Trial],
    launches: List[Dict[str, Any]],
) -> Dict[str, Any]:
    """The study.json document; ``scores``: ``{dir: (status, score, metric)}``."""
    metric = next((m for _, _, m in scores.values() if m), opts.metric or "w1")
    last = int(opts.rule["last"])
    rows = []
    for t in trials:
        status, score, _ = scores.get(t.dir, ("missing", math.inf, None))
        row = dataclasses.asdict(t)
        row.update(status=status, score=score if math.isfinite(score) else None)
        rows.append(row)
    return {
        "kind": KIND,
        "version": 1,
        "name": name,
        "command": command,
        "metric": metric,
        "better": "lower",
        "rule": {"name": "tail_mean", "last": last, "text": rule_text(last, metric)},
        "n_settings": opts.n_settings,
        "sampler": {"name": "optuna.samplers.RandomSampler", "seed": opts.seed, "optuna": _optuna_version()},
        "grid": grid,
        "method_key": opts.method_key,
        "space": {m: {**(opts.common or {}), **(opts.space[m] or {})} for m in sorted({t.method for t in trials})},
        "search_seeds": sorted({t.seed for t in trials if t.phase == "search"}),
        "rerun_seeds": list(opts.rerun_seeds),
        "trials": rows,
        "selected": [
            {
                "group": c.group,
                "method": c.method,
                "trial": c.trial,
                "dir": c.dir,
                "score": scores[c.dir][1],
                "params": c.params,
            }
            for c in chosen
        ],
        "launches": launches,
    }


def write(sweep_dir: Path, document: Dict[str, Any]) -> None:
    record.write_json(Path(sweep_dir) / FILE, document)
