"""experiments/gpu_check.sh on the CPU with its tiny setting, so that the script is known
to work before a GPU is lent: each step runs, records its status and time, a missing
CIFAR-10 copy is a skipped step (the others go on), and the summary is printed."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import REPO

SCRIPT = REPO / "experiments" / "gpu_check.sh"


def _check(out: Path, steps: str, tmp_path: Path, **env):
    full_env = {
        **os.environ,
        "GPU_CHECK_TINY": "1",
        "DEVICE": "cpu",
        "GPU_CHECK_STEPS": steps,
        "PYTHON": sys.executable,
        "OMP_NUM_THREADS": "1",
        "LIPBENCH_CACHE": str(tmp_path / "cache"),
        "GPU_CHECK_WORK": str(tmp_path / "work"),
        **env,
    }
    proc = subprocess.run(
        ["bash", str(SCRIPT), str(out)], cwd=REPO, capture_output=True, text=True, env=full_env, timeout=1800
    )
    rows = [line.split("\t") for line in (out / "steps.tsv").read_text().splitlines()]
    return proc, {r[0]: r for r in rows}


def _fake_cifar(path: Path) -> Path:
    """A tiny CIFAR-10-like archive: train/ and test/ class folders of 32x32 JPEGs."""
    rng = np.random.default_rng(0)
    with tarfile.open(path, "w:gz") as tar:
        for split, n in (("train", 40), ("test", 10)):
            for cls, mean in (("cat", 60), ("dog", 190)):
                for i in range(n):
                    buf = io.BytesIO()
                    Image.fromarray(np.clip(rng.normal(mean, 40, (32, 32, 3)), 0, 255).astype(np.uint8)).save(
                        buf, format="JPEG"
                    )
                    info = tarfile.TarInfo(f"{split}/{cls}/{i:04d}.jpg")
                    info.size = buf.tell()
                    buf.seek(0)
                    tar.addfile(info, buf)
    return path


def test_missing_cifar_is_skipped_with_the_reason_and_the_rest_goes_on(tmp_path):
    out = tmp_path / "gpu"
    proc, steps = _check(out, "env cifar10 toy2d", tmp_path, CIFAR10_ROOT=str(tmp_path / "absent.tar.gz"))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert list(steps) == ["env", "cifar10", "toy2d"]
    assert steps["cifar10"][1] == "skipped" and "absent.tar.gz" in steps["cifar10"][3]
    assert steps["env"][1] == steps["toy2d"][1] == "ok"
    assert "cuda available: False" in (out / "env.txt").read_text()
    assert (out / "toy2d" / "table.md").exists() and (out / "toy2d" / "runs.csv").exists()
    summary = (out / "summary.md").read_text()
    assert "| cifar10 | skipped |" in summary and summary.strip() in proc.stdout


def test_a_failing_step_is_recorded_and_makes_the_exit_status_non_zero(tmp_path):
    proc, steps = _check(tmp_path / "gpu", "bogus env", tmp_path)
    assert proc.returncode == 1
    assert steps["bogus"][1] == "failed" and "unknown step" in steps["bogus"][3]
    assert steps["env"][1] == "ok"


@pytest.mark.slow  # every step, tiny, on the CPU: a few minutes on 2 cores
def test_every_step_runs_on_the_cpu(tmp_path):
    out = tmp_path / "gpu"
    archive = _fake_cifar(tmp_path / "cifar.tar.gz")
    proc, steps = _check(out, "env toy2d digits cifar10 cost options share", tmp_path, CIFAR10_ROOT=str(archive))
    assert proc.returncode == 0, proc.stdout[-5000:]
    assert all(r[1] == "ok" for r in steps.values()), steps
    for path in (
        "toy2d/table.md",
        "digits/table.md",
        "cifar10/table.md",
        "cost/cost.md",
        "cost/scaling.png",
        "options/options.md",
        "share.md",
        "share.csv",
        "summary.md",
    ):
        assert (out / path).exists(), path
    assert "| 2 |" in (out / "share.md").read_text()
