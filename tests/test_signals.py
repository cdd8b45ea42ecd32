"""Stop signals: SIGTERM / SIGUSR1 write a checkpoint and end the process cleanly; a
launcher's own handler (submitit's, for its preemption signal SIGUSR2) gets the signal
after the checkpoint is written; a resumed run completes with the uninterrupted numbers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import lipbench.train.gan as gan
from conftest import FAST_2D, compose_spec, untimed
from lipbench.record import read_jsonl
from lipbench.record.checkpoint import load_checkpoint
from lipbench.signals import Interrupted
from lipbench.train.loop import train

LIPBENCH = Path(sys.executable).parent / "lipbench"
RUN = [
    *FAST_2D,
    "model.hidden=32",
    "train.iterations=200",
    "train.checkpoint_every=0",
    "eval.every=100",
    "eval.surface_resolution=8",
    "constraint=sn",
    "seed=2",
]


def _summary(run_dir):
    return json.loads((run_dir / "summary.json").read_text())


def _rows(run_dir):
    return [untimed(r) for r in read_jsonl(run_dir / "metrics.jsonl")]


def _start(run_dir, cwd):
    return subprocess.Popen(
        [str(LIPBENCH), *RUN, f"hydra.run.dir={run_dir}"],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )


def test_sigterm_checkpoints_and_exits_cleanly_then_the_run_resumes(tmp_path):
    signame = "SIGTERM"
    run_dir = tmp_path / "run"
    proc = _start(run_dir, tmp_path)
    deadline = time.monotonic() + 120
    while not (run_dir / "summary.json").exists():  # written once the signal handlers are in place
        assert proc.poll() is None, proc.communicate()[1][-2000:]
        assert time.monotonic() < deadline
        time.sleep(0.01)
    proc.send_signal(getattr(signal, signame))
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err[-2000:]
    s = _summary(run_dir)
    step = load_checkpoint(run_dir / "checkpoint.pt")["step"]  # weights_only
    assert 1 <= step < 200, "the signal must stop the run mid-way"
    assert s["status"] == "running" and s["interrupted"]["signal"] == signame and s["interrupted"]["step"] == step
    assert "run the same command again to resume" in err
    assert f"interrupted by {signame} at step {step}" in (run_dir / "train.log").read_text()

    # the same run again resumes it (in this process: what the command calls; tests/test_resume.py
    # resumes a killed run through the command)
    resumed = train(compose_spec(*RUN), run_dir)
    s = _summary(run_dir)
    assert resumed["status"] == s["status"] == "completed" and s["step"] == 200 and s["resumes"][0]["step"] == step
    reference = train(compose_spec(*RUN), tmp_path / "reference")  # the resumed run has its numbers
    assert untimed(s["final"]) == untimed(reference["final"])
    assert _rows(run_dir) == _rows(tmp_path / "reference")


def test_sigusr1_checkpoints_and_stops_the_same_way(tmp_path, monkeypatch):
    """SLURM's --signal=USR1@...: same answer as SIGTERM (the subprocess test covers the exit code)."""
    _signal_at(monkeypatch, signal.SIGUSR1, at_call=7)
    with pytest.raises(Interrupted) as info:
        train(compose_spec(*FAST_2D), tmp_path)
    assert info.value.code == 0
    assert load_checkpoint(tmp_path / "checkpoint.pt")["step"] == 7
    s = _summary(tmp_path)
    assert s["status"] == "running" and s["interrupted"]["signal"] == "SIGUSR1" and s["interrupted"]["step"] == 7
    assert "run the same command again to resume" in (tmp_path / "train.log").read_text()
    assert signal.getsignal(signal.SIGUSR1) is signal.SIG_DFL  # handlers put back


def _signal_at(monkeypatch, signum, at_call):
    """Make the loop's ``at_call``-th training iteration deliver ``signum`` to this process."""
    real, calls = gan.train_iteration, []

    def iteration(*args, **kwargs):
        calls.append(1)
        if len(calls) == at_call:
            os.kill(os.getpid(), signum)
        return real(*args, **kwargs)

    monkeypatch.setattr(gan, "train_iteration", iteration)


class _FakeLauncherHandler:
    """Stands in for submitit's handler: records the checkpoint step it sees, then acts."""

    def __init__(self, run_dir, action):
        self.run_dir, self.action, self.seen = run_dir, action, []

    def __call__(self, signum, frame):
        self.seen.append(load_checkpoint(self.run_dir / "checkpoint.pt")["step"])
        if self.action == "exit":  # submitit: requeue, then sys.exit
            sys.exit(3)
        if self.action == "raise":  # submitit: "not requeued because timed-out too many times"
            raise RuntimeError("not requeued")
        # "bypass": log and return


@pytest.fixture
def handler_slot():
    """Restore this process's handlers for the signals a test installs."""
    saved = {s: signal.getsignal(s) for s in (signal.SIGUSR2, signal.SIGTERM)}
    yield
    for s, h in saved.items():
        signal.signal(s, h)


@pytest.mark.parametrize("action", ["exit", "raise"])
def test_the_launchers_preemption_handler_runs_after_the_checkpoint(tmp_path, monkeypatch, handler_slot, action):
    handler = _FakeLauncherHandler(tmp_path, action)
    signal.signal(signal.SIGUSR2, handler)
    _signal_at(monkeypatch, signal.SIGUSR2, at_call=7)
    expected = SystemExit if action == "exit" else RuntimeError
    with pytest.raises(expected) as info:
        train(compose_spec(*FAST_2D), tmp_path)
    assert not isinstance(info.value, Interrupted)
    assert handler.seen == [7]  # called once, after the checkpoint of step 7 was written
    assert signal.getsignal(signal.SIGUSR2) is handler  # the loop put the launcher's handler back
    s = _summary(tmp_path)  # not "failed": a resubmitted job resumes
    assert s["status"] == "running" and s["interrupted"] == {**s["interrupted"], "signal": "SIGUSR2", "step": 7}


def test_a_handler_that_returns_lets_the_run_go_on(tmp_path, monkeypatch, handler_slot):
    handler = _FakeLauncherHandler(tmp_path, "bypass")  # submitit's answer to SIGTERM
    signal.signal(signal.SIGTERM, handler)
    _signal_at(monkeypatch, signal.SIGTERM, at_call=7)
    s = train(compose_spec(*FAST_2D), tmp_path)
    assert handler.seen == [7] and s["status"] == "completed" and s["step"] == 20


def test_a_signal_at_the_last_step_resumes_into_the_final_evaluation_only(tmp_path, monkeypatch):
    _signal_at(monkeypatch, signal.SIGTERM, at_call=20)  # FAST_2D has 20 iterations
    with pytest.raises(Interrupted):
        train(compose_spec(*FAST_2D), tmp_path / "run")
    assert load_checkpoint(tmp_path / "run" / "checkpoint.pt")["step"] == 20
    monkeypatch.undo()
    s = train(compose_spec(*FAST_2D), tmp_path / "run")
    reference = train(compose_spec(*FAST_2D), tmp_path / "reference")
    assert s["status"] == "completed" and untimed(s["final"]) == untimed(reference["final"])
    assert _rows(tmp_path / "run") == _rows(tmp_path / "reference")  # no duplicated final row


def test_the_flag_records_a_stop_signal_and_puts_the_handlers_back(handler_slot):
    from lipbench.signals import SignalFlag

    before = signal.getsignal(signal.SIGTERM)
    with SignalFlag() as stop:
        assert stop.signum is None
        os.kill(os.getpid(), signal.SIGTERM)  # caught: the process goes on
        assert stop.signum == signal.SIGTERM and stop.name == "SIGTERM" and not stop.chained()
        with pytest.raises(Interrupted) as info:
            stop.hand_over()
        assert info.value.code == 0 and stop.signum is None
    assert signal.getsignal(signal.SIGTERM) is before


def test_a_signal_during_the_final_evaluation_completes_the_run_then_stops(tmp_path, monkeypatch):
    real = gan.build_evaluator

    def build(*args, **kwargs):
        evaluator = real(*args, **kwargs)
        evaluate = evaluator.evaluate

        def signalling(generator, critic, step, final=False):
            if final:
                os.kill(os.getpid(), signal.SIGTERM)
            return evaluate(generator, critic, step, final=final)

        evaluator.evaluate = signalling
        return evaluator

    monkeypatch.setattr(gan, "build_evaluator", build)
    with pytest.raises(Interrupted) as info:
        train(compose_spec(*FAST_2D), tmp_path)
    assert info.value.code == 0
    s = _summary(tmp_path)
    assert s["status"] == "completed" and s["step"] == 20 and "interrupted" not in s
    assert "SIGTERM received; the run completed, stopping" in (tmp_path / "train.log").read_text()


def _long_step_in_evaluation(monkeypatch, at_step, signum=signal.SIGTERM):
    """Make the evaluation at ``at_step`` run a long step (as the domain classifier's first
    training does) during which ``signum`` arrives: the step hands it over at once."""
    from lipbench.metrics.first_use import LongStep

    real = gan.build_evaluator

    def build(*args, **kwargs):
        evaluator = real(*args, **kwargs)
        evaluate = evaluator.evaluate

        def slow(generator, critic, step, final=False):
            if step == at_step:
                with LongStep("training a stand-in classifier", total=3) as long_step:
                    for i in long_step.steps():
                        if i == 1:
                            os.kill(os.getpid(), signum)
            return evaluate(generator, critic, step, final=final)

        evaluator.evaluate = slow
        return evaluator

    monkeypatch.setattr(gan, "build_evaluator", build)


@pytest.mark.parametrize("at_step", [10, 20])  # FAST_2D: an evaluation at step 10, the final one at 20
def test_a_signal_during_an_evaluation_ends_in_the_interrupted_record_then_resumes(tmp_path, monkeypatch, at_step):
    run = [*FAST_2D, "eval.every=10"]
    _long_step_in_evaluation(monkeypatch, at_step)
    with pytest.raises(Interrupted) as info:
        train(compose_spec(*run), tmp_path / "run")
    assert info.value.code == 128 + signal.SIGTERM
    s = _summary(tmp_path / "run")
    assert s["status"] == "running" and s["step"] == at_step
    assert s["interrupted"] == {**s["interrupted"], "signal": "SIGTERM", "step": at_step}
    assert load_checkpoint(tmp_path / "run" / "checkpoint.pt")["step"] == at_step
    monkeypatch.undo()
    resumed = train(compose_spec(*run), tmp_path / "run")
    reference = train(compose_spec(*run), tmp_path / "reference")
    assert resumed["status"] == "completed" and untimed(resumed["final"]) == untimed(reference["final"])
    assert _rows(tmp_path / "run") == _rows(tmp_path / "reference")  # the cut evaluation evaluated again


def test_every_evaluation_logs_its_progress_to_train_log(tmp_path, caplog):
    import logging
    import re

    with caplog.at_level(logging.INFO, logger="lipbench"):
        train(compose_spec(*FAST_2D, "eval.every=10"), tmp_path)
    lines = [line for line in (tmp_path / "train.log").read_text().splitlines() if re.search(r"step \d+/20", line)]
    assert len(lines) == 2, lines  # steps 10 and 20 (the final one)
    assert re.search(r"step 10/20: w1 = [0-9.e+-]+, [0-9.]+ s, [0-9.]+ it/s", lines[0])
    assert "step 20/20 (final): w1 = " in lines[1]
