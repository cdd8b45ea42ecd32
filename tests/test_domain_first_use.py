"""The domain classifier's first training is a long step that behaves like one: it shows its
progress and logs what it trains and where it caches it; SIGTERM / SIGINT stop it within a
step with exit status 128 + the signal and no cache file; of several processes started
together one trains and the others wait. Synthetic data and a tiny step budget throughout."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from lipbench.data.base import ImageSource
from lipbench.metrics import domain
from lipbench.metrics.first_use import LongStep, atomic_save
from lipbench.signals import Interrupted

REPO = Path(__file__).resolve().parent.parent


def _data(key="syn-8px-1ch", n=64):
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(n) % 4
    images = (labels.view(-1, 1, 1, 1) * 60 + torch.randint(0, 20, (n, 1, 8, 8), generator=g)).to(torch.uint8)
    return ImageSource(
        name="syn",
        key=key,
        train_images=images,
        train_labels=labels,
        test_images=images[:16],
        test_labels=labels[:16],
        num_classes=4,
    )


@pytest.fixture
def few_steps(monkeypatch):
    monkeypatch.setattr(domain, "MIN_STEPS", 20)
    monkeypatch.setattr(domain, "MAX_STEPS", 20)


def _left(cache: Path):
    return sorted(p.name for p in (cache / "classifiers").glob("*") if not p.name.endswith(".lock"))


def test_progress_bar_and_log_lines(tmp_path, few_steps, capsys, caplog):
    caplog.set_level(logging.INFO, logger="lipbench")
    info = domain.load_or_train(_data(), cache_root=str(tmp_path), verbose=True)
    err = capsys.readouterr().err
    assert "training the domain classifier for syn-8px-1ch:" in err and "/20 [" in err  # the tqdm bar
    text = caplog.text
    assert "training the domain classifier for syn-8px-1ch on its 64 training images (20 steps" in text
    assert f"then cached at {info.path}" in text and f"cached at {info.path}" in text
    assert f"held-out accuracy {100 * info.accuracy:.2f}% on 16 images, trained in" in text
    assert "10 / 20 steps" in text  # a line every tenth of the way, whatever the bar does
    caplog.clear()
    again = domain.load_or_train(_data(), cache_root=str(tmp_path), verbose=True)  # cached: no training
    assert again.fingerprint == info.fingerprint and "training the domain" not in caplog.text
    assert "training the domain" not in capsys.readouterr().err
    quiet = domain.load_or_train(_data("syn2-8px-1ch"), cache_root=str(tmp_path), verbose=False)
    assert "training the domain classifier for syn2" not in capsys.readouterr().err  # no bar
    assert f"cached at {quiet.path}" in caplog.text  # the log lines all the same


def _stop_at(monkeypatch, at: int, action):
    """``action()`` during the classifier's training step number ``at`` (after the stop check
    before it, so the check before the next one is the first to see a stop signal)."""
    steps = LongStep.steps
    calls = []

    def stepping(self):
        for i in steps(self):
            calls.append(1)
            if len(calls) == at:
                action()
            yield i

    monkeypatch.setattr(LongStep, "steps", stepping)
    return calls


def test_sigterm_outside_a_run_stops_within_a_step_and_caches_nothing(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(domain, "MIN_STEPS", 10_000)
    monkeypatch.setattr(domain, "MAX_STEPS", 10_000)
    before = signal.getsignal(signal.SIGTERM)
    calls = _stop_at(monkeypatch, 5, lambda: os.kill(os.getpid(), signal.SIGTERM))
    with pytest.raises(Interrupted) as e:
        domain.load_or_train(_data(), cache_root=str(tmp_path))
    assert e.value.code == 128 + signal.SIGTERM and len(calls) == 5
    assert "interrupted by SIGTERM while training the domain classifier for syn-8px-1ch at step 5 of 10000" in (
        caplog.text
    )
    assert _left(tmp_path) == [] and signal.getsignal(signal.SIGTERM) is before


def test_ctrl_c_exits_130_and_caches_nothing(tmp_path, few_steps, monkeypatch, caplog):
    def ctrl_c():
        raise KeyboardInterrupt

    _stop_at(monkeypatch, 3, ctrl_c)
    with pytest.raises(Interrupted) as e:
        domain.load_or_train(_data(), cache_root=str(tmp_path))
    assert e.value.code == 130 and "interrupted by SIGINT while training the domain classifier" in caplog.text
    assert _left(tmp_path) == []


def test_atomic_save_leaves_nothing_half_written(tmp_path):
    path = str(tmp_path / "x.pt")

    def partial(tmp):
        Path(tmp).write_bytes(b"half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_save(partial, path)
    assert list(tmp_path.iterdir()) == []
    atomic_save(lambda tmp: Path(tmp).write_bytes(b"whole"), path)
    assert [p.name for p in tmp_path.iterdir()] == ["x.pt"] and Path(path).read_bytes() == b"whole"


def _idx(a: np.ndarray) -> bytes:
    return bytes([0, 0, 8, a.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in a.shape) + a.tobytes()


def _mnist_archive(path: Path, n=256):
    rng = np.random.RandomState(0)
    raw = path.parent / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for split, m in (("train", n), ("t10k", n // 4)):
        (raw / f"{split}-images-idx3-ubyte").write_bytes(_idx(rng.randint(0, 256, (m, 28, 28)).astype(np.uint8)))
        (raw / f"{split}-labels-idx1-ubyte").write_bytes(_idx((np.arange(m) % 10).astype(np.uint8)))
    with tarfile.open(path, "w:gz") as tar:
        tar.add(raw.parent, arcname="MNIST")
    return path


def test_sigterm_during_a_runs_classifier_training_exits_in_seconds(tmp_path):
    """The real path: `lipbench data=mnist data.root=<archive>` trains the classifier inside the
    run (whose stop flag catches SIGTERM); the classifier's step budget is made endless."""
    archive = _mnist_archive(tmp_path / "mnist.tar.gz")
    run_dir, cache = tmp_path / "run", tmp_path / "cache"
    args = [
        "data=mnist",
        f"data.root={archive}",
        "model=dcgan",
        "model.width=8",
        "train.iterations=5",
        "train.progress=false",
        "train.tensorboard=false",
        "eval.extractors=[domain]",
        f"hydra.run.dir={run_dir}",
    ]
    code = (
        "import sys; import lipbench.metrics.domain as d; d.MIN_STEPS = d.MAX_STEPS = 10**6; "
        "from lipbench.cli import main; sys.argv = ['lipbench'] + sys.argv[1:]; main()"
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1", "LIPBENCH_CACHE": str(cache), "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *args],
        cwd=tmp_path,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    log, deadline = run_dir / "train.log", time.monotonic() + 120
    while not (log.exists() and "training the domain classifier for mnist-32px-1ch" in log.read_text()):
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        assert time.monotonic() < deadline, "the classifier's training never started"
        time.sleep(0.05)
    time.sleep(0.5)  # a few steps in
    sent = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert time.monotonic() - sent < 10, (
        "the classifier must stop within seconds (one step; slack for a loaded machine)"
    )
    assert proc.returncode == 128 + signal.SIGTERM, err[-3000:]
    assert "interrupted by SIGTERM while training the domain classifier for mnist-32px-1ch at step" in err
    assert "nothing was cached" in err and "exit status 143" in log.read_text()
    assert _left(cache) == []
    assert not (run_dir / "summary.json").exists() or '"completed"' not in (run_dir / "summary.json").read_text()


_WORKER = """
import logging, os, sys, time
from pathlib import Path
sys.path.insert(0, {tests!r})
logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
import test_domain_first_use as t
from lipbench.metrics import domain
domain.MIN_STEPS = domain.MAX_STEPS = 10
train, here = domain.train_classifier, Path({here!r})

def gated(*args, **kwargs):  # the one that trains says so, then waits until the test lets it go on
    with open(here / "trained", "a") as f:
        f.write(str(os.getpid()) + "\\n")
    while not (here / "go").exists():
        time.sleep(0.05)
    return train(*args, **kwargs)

domain.train_classifier = gated
print(domain.load_or_train(t._data(), cache_root=str(here / "cache")).fingerprint)
"""


def test_two_processes_started_together_train_once(tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(_WORKER.format(tests=str(REPO / "tests"), here=str(tmp_path)))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    procs = []
    for out in logs:
        procs.append(
            subprocess.Popen(
                [sys.executable, str(script)], env=env, stdout=subprocess.PIPE, stderr=out.open("w"), text=True
            )
        )
    deadline = time.monotonic() + 120
    while not any("waiting for another process" in p.read_text() for p in logs):
        assert all(p.poll() is None for p in procs) and time.monotonic() < deadline
        time.sleep(0.05)
    (tmp_path / "go").touch()
    prints = [p.communicate(timeout=120)[0].strip() for p in procs]
    assert all(p.returncode == 0 for p in procs), [p.read_text()[-2000:] for p in logs]
    assert len((tmp_path / "trained").read_text().split()) == 1  # one training, not two
    assert prints[0] == prints[1] and len(prints[0]) == 12  # both use the one classifier
    texts = sorted(p.read_text() for p in logs)
    assert sum("training the domain classifier for syn-8px-1ch on its" in t for t in texts) == 1
    assert sum("waiting for another process that is training the domain classifier" in t for t in texts) == 1
    assert _left(tmp_path / "cache") == ["syn-8px-1ch.pt"]
