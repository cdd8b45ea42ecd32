"""Shared fixtures: composed configs, a private cache, a fast 2-D setup."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

os.environ.setdefault("MPLBACKEND", "Agg")
REPO = Path(__file__).resolve().parent.parent
CONF = REPO / "conf"

# A small, fast 2-D run: the same code paths as the default, with less work.
FAST_2D = [
    "model.hidden=64",
    "train.batch_size=64",
    "train.iterations=20",
    "train.progress=false",
    "train.threads=1",
    "train.tensorboard=false",
    "eval.every=10",
    "eval.n_samples=500",
    "eval.w1_samples=200",
    "eval.grad_samples=64",
    "eval.surface_resolution=20",
]


# Tiny models run fastest on one thread, and tests must not fight each other for cores.
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seeded():
    """Every test starts from the same global RNG state, whatever ran before it."""
    torch.manual_seed(0)
    yield


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory):
    """Keep caches (domain classifiers, reference statistics) out of the user's home."""
    if "LIPBENCH_CACHE" not in os.environ:
        os.environ["LIPBENCH_CACHE"] = str(tmp_path_factory.mktemp("lipbench-cache"))
    yield


# Wall-clock readings in a run record: everything else must repeat bitwise for one seed.
TIMING_KEYS = ("time_s", "train_time_s", "ttq_s")


def untimed(row: dict) -> dict:
    """``row`` (a metrics.jsonl row or a summary's ``final``) as it is stored on disk (non-finite
    floats as strings), without its wall-clock readings."""
    from lipbench.record import jsonable

    return {k: v for k, v in jsonable(row).items() if k not in TIMING_KEYS}


def compose_cfg(*overrides):
    """The validated config for ``overrides``, composed from conf/ as the CLI does (a bad
    value, Hydra's composition errors included, is one ConfigError line)."""
    import lipbench.cli  # noqa: F401  (registers the resolvers)
    from lipbench.job_config import job_config

    return job_config(str(CONF), overrides)


def compose_spec(*overrides):
    """The run spec for ``overrides`` (:func:`lipbench.spec.load`), what training takes."""
    import lipbench.cli  # noqa: F401  (registers the resolvers)
    from lipbench.spec import load

    return load(str(CONF), overrides)


@pytest.fixture
def cfg_factory():
    return compose_cfg


@pytest.fixture
def spec_factory():
    return compose_spec


def run_cli(args, cwd, timeout=600, env=None):
    """Run the ``lipbench`` console script in ``cwd``; return the CompletedProcess.

    A new process imports torch and lipbench (seconds): a command that must stop at the
    pre-run check can use :func:`rejected_in_process` instead."""
    exe = Path(sys.executable).parent / "lipbench"
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([str(exe), *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=full_env)


def rejected_in_process(argv, capsys):
    """The ``lipbench`` command's ``main(argv)``, run in this process, for an ``argv`` that the
    pre-run check rejects before Hydra starts; returns (exit status, non-blank stderr lines).
    The console script is this same ``main`` (pyproject.toml); tests/test_config.py launches it
    once in a new process, for the one-line message on its real stderr."""
    from lipbench.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(list(argv))
    return exit_.value.code, [line for line in capsys.readouterr().err.splitlines() if line.strip()]
