"""Checkpoint and resume: a real ``lipbench`` process killed with SIGKILL after a
checkpoint, then run again with the same command, ends with the same numbers as an
uninterrupted run of the same seed (bitwise on CPU).

The reference run is trained in this process with :func:`lipbench.train.loop.train`
(same config, one thread), the interrupted one through the console script.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import compose_spec, untimed
from lipbench.record import read_jsonl
from lipbench.record.checkpoint import load_checkpoint
from lipbench.record.identity import RUN_KEYS
from lipbench.train.loop import train

# Checkpoints often, evaluates a few times; long enough that a kill lands mid-way.
RESUME_RUN = [
    "model.hidden=32",
    "train.batch_size=32",
    "train.iterations=60",
    "train.checkpoint_every=5",
    "train.log_every=7",
    "train.progress=false",
    "train.threads=1",
    "eval.every=30",
    "eval.n_samples=300",
    "eval.w1_samples=100",
    "eval.grad_samples=32",
    "eval.surface_resolution=8",
]
LIPBENCH = Path(sys.executable).parent / "lipbench"


def start(run_dir: Path, overrides, cwd: Path) -> subprocess.Popen:
    """Start ``lipbench`` writing into ``run_dir``; its output goes to files in ``cwd``."""
    out = open(cwd / f"{run_dir.name}.out", "ab")
    return subprocess.Popen(
        [str(LIPBENCH), *overrides, f"hydra.run.dir={run_dir}"],
        cwd=cwd,
        stdout=out,
        stderr=subprocess.STDOUT,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )


def wait_for_checkpoint(proc: subprocess.Popen, path: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, f"lipbench exited ({proc.returncode}) before its first checkpoint"
        assert time.monotonic() < deadline, "no checkpoint written in time"
        time.sleep(0.01)


def rows_without_time(run_dir: Path):
    return [untimed(r) for r in read_jsonl(run_dir / "metrics.jsonl")]


def summary(run_dir: Path) -> dict:
    return json.loads((run_dir / "summary.json").read_text())


@pytest.mark.slow  # the sweep test below kills and resumes a run the same way (sn); this adds gp, single-run mode
def test_kill_9_then_rerun_gives_the_uninterrupted_numbers(tmp_path):
    overrides = [*RESUME_RUN, "constraint=gp", "seed=5"]
    run_dir = tmp_path / "killed"
    proc = start(run_dir, overrides, tmp_path)
    reference = train(compose_spec(*overrides), tmp_path / "reference")  # while the process starts
    assert reference["status"] == "completed"
    wait_for_checkpoint(proc, run_dir / "checkpoint.pt")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    killed_at = load_checkpoint(run_dir / "checkpoint.pt")["step"]
    assert 0 < killed_at < 60, "the kill must land mid-way"
    assert summary(run_dir)["status"] == "running"

    again = start(run_dir, overrides, tmp_path)
    assert again.wait(timeout=300) == 0, (tmp_path / "killed.out").read_text()[-3000:]
    log = (run_dir / "train.log").read_text()
    assert f"resuming {run_dir} from step " in log
    resumed = summary(run_dir)
    assert resumed["status"] == "completed" and resumed["step"] == 60
    assert resumed["run_id"] == reference["run_id"]
    assert untimed(resumed["final"]) == untimed(reference["final"])
    assert resumed["diagnostics"] == json.loads(json.dumps(reference["diagnostics"]))
    assert rows_without_time(run_dir) == rows_without_time(tmp_path / "reference")
    assert [r["step"] for r in read_jsonl(run_dir / "metrics.jsonl")] == [30, 60]


def _sweep(tmp_path, *extra):
    return subprocess.Popen(
        # the report's tables are checked, not its plots (tests/test_sweep_e2e.py draws those)
        [
            str(LIPBENCH),
            "-m",
            "name=idem",
            "constraint=gp,sn",
            "seed=5",
            *RESUME_RUN,
            "hydra.callbacks.report.plots=false",
            *extra,
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _finish(proc):
    out, _ = proc.communicate(timeout=400)
    assert proc.returncode == 0, out[-3000:]
    return out


def test_sweep_killed_mid_way_resumes_then_relaunch_trains_nothing(tmp_path):
    sweep = tmp_path / "multirun" / "idem"
    proc = _sweep(tmp_path)
    deadline = time.monotonic() + 240
    while not list(sweep.glob("constraint=sn*/checkpoint.pt")):  # gp is done, sn is training
        assert proc.poll() is None, proc.communicate()[0][-3000:]
        assert time.monotonic() < deadline
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    (gp_dir,) = sweep.glob("constraint=gp*")
    (sn_dir,) = sweep.glob("constraint=sn*")
    assert summary(gp_dir)["status"] == "completed" and summary(sn_dir)["status"] == "running"
    gp_done = summary(gp_dir)

    # the same command again: the finished run is skipped, the killed one resumes
    out = _finish(_sweep(tmp_path))
    assert out.count("skipping") == 1 and f"resuming {sn_dir} from step" in out
    assert summary(gp_dir) == gp_done
    reference = train(compose_spec(*RESUME_RUN, "constraint=sn", "seed=5"), tmp_path / "reference")
    assert untimed(summary(sn_dir)["final"]) == untimed(reference["final"])  # bitwise, SN's u vectors included
    assert rows_without_time(sn_dir) == rows_without_time(tmp_path / "reference")

    # and again: nothing is trained, nothing in the runs changes, the report is rewritten
    table = sweep / "report" / "table.md"
    kept = {p: (p.stat().st_mtime_ns, p.read_bytes()) for d in (gp_dir, sn_dir) for p in d.iterdir() if p.is_file()}
    table_mtime = table.stat().st_mtime_ns
    time.sleep(0.01)
    out = _finish(_sweep(tmp_path))
    assert out.count("skipping") == 2 and "resuming" not in out
    assert {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in kept} == kept
    assert table.stat().st_mtime_ns > table_mtime

    # train.overwrite=true trains again, in the same directory (it is not part of the directory name)
    assert not RUN_KEYS["train.overwrite"].in_dirname
    ckpt_mtime = (gp_dir / "checkpoint.pt").stat().st_mtime_ns
    redo = train(compose_spec(*RESUME_RUN, "constraint=gp", "seed=5", "train.overwrite=true"), gp_dir)
    assert redo["status"] == "completed" and "resumes" not in redo
    assert (gp_dir / "checkpoint.pt").stat().st_mtime_ns != ckpt_mtime  # trained again
    assert untimed(redo["final"]) == untimed(gp_done["final"])  # same config, same numbers
