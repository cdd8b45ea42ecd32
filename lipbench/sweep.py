"""A run inside a Hydra sweep or under a launcher: the torch threads a launcher gives a job
(:func:`threads_for_launcher`), the objective a run returns to the sweeper
(:func:`sweep_objective`) and the ``failed`` record of a trial whose config is invalid
(:func:`record_rejected`). Used by the ``lipbench`` command's Hydra app (lipbench/cli.py).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Optional

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from lipbench.errors import ConfigError

# the objective when a summary names no primary metric (older runs): the first one present
OBJECTIVE_FALLBACK = ("w1", "fid_inception", "fid_domain")


def threads_for_launcher(threads: Optional[int]) -> Optional[int]:
    """A run's torch threads: ``threads`` (``train.threads``) when set; else, under the joblib
    launcher, the machine's cores split between parallel jobs; under submitit, the job's
    ``cpus_per_task``; under Ray, the CPUs its task reserves; else None (all cores)."""
    if threads is not None:
        return threads
    try:
        launcher = HydraConfig.get().launcher
    except ValueError:
        return None
    if "submitit" in str(launcher.get("_target_", "")).lower() and launcher.get("cpus_per_task"):
        return int(launcher.cpus_per_task)  # the CPUs the job was given
    if "hydra_ray_launcher" in str(launcher.get("_target_", "")):  # a Ray task holds remote.num_cpus (Ray's default: 1)
        return int(OmegaConf.select(launcher, "ray.remote.num_cpus", default=None) or 1)
    if "joblib" in str(launcher.get("_target_", "")).lower():
        n_jobs = launcher.get("n_jobs", -1)
        cores = os.cpu_count() or 1
        n_jobs = cores if n_jobs is None or n_jobs < 1 else min(n_jobs, cores)
        return max(1, cores // n_jobs)
    return None


def sweep_objective(summary: dict) -> float:
    """What a run returns to the sweeper (Optuna minimises it): the run's primary metric at
    the end (the one its convergence record names: w1 on 2-D data, FID on images), or +inf,
    the worst value, for a run that diverged or failed, so that a study records the
    setting as bad and goes on."""
    from lipbench.record import COMPLETED

    final = summary.get("final") or {}
    metric = (summary.get("convergence") or {}).get("metric")
    candidates = [metric] if metric else list(OBJECTIVE_FALLBACK)
    for key in candidates:
        value = final.get(key)
        if summary.get("status") == COMPLETED and isinstance(value, (int, float)) and math.isfinite(value):
            return float(value)
    return math.inf


def record_rejected(cfg: DictConfig, run_dir: Path, overrides: list, error: ConfigError) -> None:
    """A sweep's trial whose config is invalid: a ``failed`` summary.json (unless the
    directory already holds a run), so that the report lists it beside the others."""
    from lipbench import record

    if (run_dir / record.SUMMARY).exists():
        return
    run_dir.mkdir(parents=True, exist_ok=True)
    config = OmegaConf.to_container(cfg, resolve=False)
    record.write_summary(run_dir, record.Summary.rejected(f"ConfigError: {error}", overrides, config))
