"""Launchers: joblib on one machine (threads split between jobs), submitit_local as the
stand-in for SLURM (a job given submitit's preemption signal is requeued and resumes from
its checkpoint), and the slurm_gpu preset's sbatch script."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from conftest import CONF, compose_spec, run_cli, untimed
from lipbench.record import read_jsonl
from lipbench.train.loop import train

LIPBENCH = Path(sys.executable).parent / "lipbench"
TINY = [
    "model.hidden=32",
    "train.batch_size=32",
    "train.iterations=20",
    "train.progress=false",
    "train.tensorboard=false",
    "eval.every=10",
    "eval.n_samples=300",
    "eval.w1_samples=100",
    "eval.grad_samples=32",
    "eval.surface_resolution=8",
]


def summaries(sweep: Path):
    return {p.parent.name: json.loads(p.read_text()) for p in sweep.glob("*/summary.json")}


def test_joblib_sweep_splits_the_cores_between_jobs(tmp_path):
    proc = run_cli(
        [
            "-m",
            "hydra/launcher=joblib",
            "hydra.launcher.n_jobs=2",
            "name=jl",
            "seed=0,1",
            *TINY,
            "~hydra.callbacks.report",
        ],
        cwd=tmp_path,
    )  # no report: not what is tested here
    assert proc.returncode == 0, proc.stderr[-3000:]
    runs = summaries(tmp_path / "multirun" / "jl")
    assert len(runs) == 2 and all(s["status"] == "completed" for s in runs.values())
    cores = os.cpu_count()
    # set inside the worker process from hydra.launcher.n_jobs (the parent's setting is not inherited)
    assert all(s["torch_threads"] == max(1, cores // 2) for s in runs.values())


def _process_writing(path: Path):
    """PID of the process that holds ``path`` open (a run's train.log: its job process)."""
    for proc_dir in Path("/proc").iterdir():
        if not proc_dir.name.isdigit():
            continue
        try:
            if any(os.readlink(fd) == str(path) for fd in (proc_dir / "fd").iterdir()):
                return int(proc_dir.name)
        except OSError:
            continue
    return None


def test_submitit_local_sweep_of_three_runs_with_a_preempted_job_resuming(tmp_path):
    run = [*TINY, "train.iterations=120", "train.checkpoint_every=5", "eval.every=60", "train.threads=1"]
    cmd = [str(LIPBENCH), "-m", "hydra/launcher=local", "name=sl", "seed=0,1,2", *run, "~hydra.callbacks.report"]
    master = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    sweep = tmp_path / "multirun" / "sl"
    deadline = time.monotonic() + 240
    while not list(sweep.glob("*seed=0*/checkpoint.pt")):  # seed 0 is training
        assert master.poll() is None, master.communicate()[0][-3000:]
        assert time.monotonic() < deadline, "no checkpoint in time"
        time.sleep(0.02)
    (run_dir,) = [p.parent for p in sweep.glob("*seed=0*/checkpoint.pt")]
    pid = _process_writing(run_dir / "train.log")
    assert pid is not None, "no job process found for seed 0"
    assert "submitit" in Path(f"/proc/{pid}/cmdline").read_text()
    os.kill(pid, signal.SIGUSR2)  # what SLURM sends before a preemption or the time limit
    out, _ = master.communicate(timeout=400)
    assert master.returncode == 0, out[-3000:]

    runs = summaries(sweep)
    assert len(runs) == 3 and all(s["status"] == "completed" for s in runs.values()), out[-3000:]
    assert all(s["torch_threads"] == 1 for s in runs.values())
    (seed0,) = [d for d in runs if "seed=0" in d]
    resumed = runs[seed0]
    assert resumed.get("resumes"), "seed 0 was requeued by submitit and resumed from its checkpoint"
    log = (sweep / seed0 / "train.log").read_text()
    assert "SIGUSR2 at step" in log and "resuming" in log
    submitit_logs = "".join(p.read_text() for p in (sweep / ".submitit").rglob("*.err"))
    assert "Requeued job" in submitit_logs

    reference = train(compose_spec(*run, "seed=0"), tmp_path / "reference")
    assert untimed(resumed["final"]) == untimed(reference["final"])
    strip = lambda rows: [untimed(r) for r in rows]  # noqa: E731
    assert strip(read_jsonl(sweep / seed0 / "metrics.jsonl")) == strip(
        read_jsonl(tmp_path / "reference" / "metrics.jsonl")
    )


def test_slurm_gpu_preset_writes_a_requeueable_gpu_job(tmp_path, monkeypatch):
    import submitit
    from hydra.core.hydra_config import HydraConfig
    from hydra.utils import instantiate
    from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf
    from omegaconf import OmegaConf

    import lipbench.cli  # noqa: F401  (resolvers)

    with initialize_config_dir(config_dir=str(CONF), version_base=None, job_name="lipbench"):
        cfg = compose(
            "config", overrides=["hydra/launcher=slurm_gpu", "hydra.launcher.partition=gpu"], return_hydra_config=True
        )
    HydraConfig.instance().set_config(cfg)
    params = dict(instantiate(cfg.hydra.launcher).params)  # what the launcher hands to submitit
    assert params["submitit_folder"] == "multirun/default/.submitit/%j"

    # as BaseSubmititLauncher.launch does, on a machine that pretends to be a SLURM login node
    monkeypatch.setattr(submitit.SlurmExecutor, "affinity", classmethod(lambda cls: 1))
    executor = submitit.AutoExecutor(cluster="slurm", folder=tmp_path, slurm_max_num_timeout=params["max_num_timeout"])
    base = set(OmegaConf.structured(BaseQueueConf).keys())
    executor.update_parameters(
        **{
            k if k in base else f"slurm_{k}": v
            for k, v in params.items()
            if k not in ("submitit_folder", "max_num_timeout")
        }
    )
    script = executor._executor._make_submission_file_text("python -m job", "uid")
    for line in (
        "#SBATCH --partition=gpu",
        "#SBATCH --gpus-per-node=1",
        "#SBATCH --cpus-per-task=8",
        "#SBATCH --mem=32GB",
        "#SBATCH --time=240",
        "#SBATCH --signal=USR2@120",
        "export OMP_NUM_THREADS=8",
    ):
        assert line in script, line
    assert executor._executor.max_num_timeout == 20


# a private test cluster: no usage reports, no auth token (the client would need the cluster's)
RAY_ENV = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}


@pytest.fixture
def ray_cluster(tmp_path):
    """A local Ray cluster (``ray start --head --block``, 2 CPUs) for the test; stopped after it.

    Its processes come down with the ``ray start`` process. Startup is retried: a busy
    machine can miss Ray's startup deadline."""
    pytest.importorskip("hydra_plugins.hydra_ray_launcher")  # pip install 'lipbench[ray]'
    import socket

    ray = Path(sys.executable).parent / "ray"
    (tmp_path / "cluster").mkdir()  # where the workers run: not where the test writes
    for _ in range(3):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        head = subprocess.Popen(
            [
                str(ray),
                "start",
                "--head",
                "--block",
                f"--port={port}",
                "--num-cpus=2",
                "--include-dashboard=false",
                "--disable-usage-stats",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, **RAY_ENV},
            cwd=tmp_path / "cluster",
        )
        output = []
        for line in head.stdout:  # until Ray says it started, or the process ends
            output.append(line)
            if "Ray runtime started" in line:
                break
        if head.poll() is None:
            break
    else:
        pytest.fail("no local Ray cluster: " + "".join(output)[-2000:])
    try:
        yield f"127.0.0.1:{port}"
    finally:
        head.send_signal(signal.SIGTERM)  # `ray start --block` stops the processes it started
        head.wait(timeout=120)
        # ...but leaves its address behind, where a later ray.init() would look for a cluster
        current = Path(tempfile.gettempdir()) / "ray" / "ray_current_cluster"
        if current.is_file() and current.read_text().strip().endswith(f":{port}"):
            current.unlink()


@pytest.mark.slow
def test_ray_launcher_runs_a_sweep_on_a_local_ray_cluster(tmp_path, ray_cluster):
    """The `ray` extra: hydra/launcher=ray runs each job as a task on the cluster; a task holds
    one CPU (Ray's default), so each run trains on one torch thread."""
    # the launcher sets init.object_store_memory unless given, which Ray refuses for an existing cluster;
    # the cluster's workers run in the folder `ray start` ran in, so the sweep dir is absolute
    sweep = tmp_path / "multirun" / "ray"
    proc = run_cli(
        [
            "-m",
            "hydra/launcher=ray",
            f"hydra.launcher.ray.init.address={ray_cluster}",
            "+hydra.launcher.ray.init.object_store_memory=null",
            f"hydra.sweep.dir={sweep}",
            "seed=0,1",
            *TINY,
            "~hydra.callbacks.report",
        ],
        cwd=tmp_path,
        env=RAY_ENV,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Ray Launcher is launching 2 jobs" in proc.stdout + proc.stderr
    runs = summaries(sweep)
    assert len(runs) == 2 and all(s["status"] == "completed" for s in runs.values())
    assert sorted(s["seed"] for s in runs.values()) == [0, 1]
    assert all(s["torch_threads"] == 1 for s in runs.values())
