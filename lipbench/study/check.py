"""The study's configs, checked before anything runs (``lipbench``'s preflight).

Besides the sweeper's own options (:class:`lipbench.study.plan.StudyOptions`), every
method's search space is tried on the config it searches: its first drawn setting, and
each dimension at both ends of its range (every value of a choice), so that an unknown
key or a value the config refuses (a negative lr) is one line naming the key, with exit
status 2, before any run directory exists."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence

from lipbench.study.plan import StudyOptions, group_of, parse_grid
from lipbench.study.space import ELEMENT, as_override, draw, method_seed

TARGET_SUFFIX = "lipbench_study.study_sweeper.StudySweeper"


def is_study(sweeper_cfg) -> bool:
    return str((sweeper_cfg or {}).get("_target_", "")).endswith(TARGET_SUFFIX)


def _with(params: Dict[str, Any], key: str, value) -> Dict[str, Any]:
    out = {k: list(v) if isinstance(v, list) else v for k, v in params.items()}
    m = ELEMENT.match(key)
    if m:
        out[m["key"]][int(m["index"])] = value
    else:
        out[key] = value
    return out


def preflight_jobs(sweeper_cfg, overrides: Sequence[str], default_method: Optional[str]) -> List[List[str]]:
    """Override lists to compose and validate: per group, the first draw and each
    dimension's extremes."""
    opts = StudyOptions.from_config(sweeper_cfg)
    grid = parse_grid(opts, overrides)
    jobs, seen = [], set()
    for combo in grid.groups():
        _, method, _ = group_of(opts, grid, combo, default_method)
        dims = opts.dimensions(method)
        first = draw(dims, 1, method_seed(opts.seed, method))[0]
        variants = [first]
        for d in dims:
            ends = d.choices if d.kind in ("choice", "fixed") else (d.low, d.high)
            variants += [_with(first, d.key, v) for v in ends]
        for params in variants:
            job = [*grid.fixed, *combo, *(as_override(k, v) for k, v in params.items())]
            if tuple(job) not in seen:
                seen.add(tuple(job))
                jobs.append(job)
    return jobs
