"""Faults end in one clear line and lose no data: a corrupted checkpoint, a run directory
holding another config's run, an output directory that cannot be created, a full disk."""

from __future__ import annotations

import errno
import json
import os
import signal

import pytest
import torch

import lipbench.record as record
import lipbench.train.gan as gan
from conftest import FAST_2D, compose_spec, run_cli, untimed
from lipbench.errors import RunDirError
from lipbench.record import read_jsonl
from lipbench.record.checkpoint import load_checkpoint
from lipbench.signals import Interrupted
from lipbench.train.loop import train

RUN = [*FAST_2D, "model.hidden=32", "train.checkpoint_every=5", "eval.surface_resolution=8", "constraint=sn"]


def snapshot(run_dir):
    """Every file's bytes and modification time."""
    return {p.relative_to(run_dir): (p.read_bytes(), p.stat().st_mtime_ns) for p in run_dir.rglob("*") if p.is_file()}


def interrupted_run(run_dir, monkeypatch, at_step=10):
    """A run stopped by SIGTERM at ``at_step``: a checkpoint, a summary saying running."""
    real, calls = gan.train_iteration, []

    def iteration(*args, **kwargs):
        calls.append(1)
        if len(calls) == at_step:
            os.kill(os.getpid(), signal.SIGTERM)
        return real(*args, **kwargs)

    with monkeypatch.context() as m:
        m.setattr(gan, "train_iteration", iteration)
        with pytest.raises(Interrupted):
            train(compose_spec(*RUN), run_dir)
    assert load_checkpoint(run_dir / "checkpoint.pt")["step"] == at_step


def one_line_error(proc):
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    return lines[0]


def test_corrupted_checkpoint_is_a_clear_error_and_no_silent_restart(tmp_path, monkeypatch):
    run_dir = tmp_path / "run"
    interrupted_run(run_dir, monkeypatch)
    ckpt = run_dir / "checkpoint.pt"
    ckpt.write_bytes(ckpt.read_bytes()[: ckpt.stat().st_size // 2])  # torn file
    before = snapshot(run_dir)
    with pytest.raises(RunDirError, match="corrupted") as err:
        train(compose_spec(*RUN), run_dir)
    assert str(ckpt) in str(err.value) and "train.overwrite=true" in str(err.value)

    line = one_line_error(run_cli([*RUN, f"hydra.run.dir={run_dir}"], cwd=tmp_path))
    assert str(ckpt) in line and "corrupted" in line
    assert snapshot(run_dir) == before  # nothing was touched

    s = train(compose_spec(*RUN, "train.overwrite=true"), run_dir)
    assert s["status"] == "completed" and "resumes" not in s  # trained from scratch, as asked


def test_run_dir_of_another_config_is_refused_untouched(tmp_path, monkeypatch):
    run_dir = tmp_path / "run"
    interrupted_run(run_dir, monkeypatch)
    before = snapshot(run_dir)
    line = one_line_error(run_cli([*RUN, "seed=9", f"hydra.run.dir={run_dir}"], cwd=tmp_path))
    assert "another config" in line and str(run_dir) in line
    assert snapshot(run_dir) == before
    assert train(compose_spec(*RUN), run_dir)["status"] == "completed"  # its own config resumes it
    with pytest.raises(RunDirError, match="another config"):  # a completed run is refused the same way
        train(compose_spec(*RUN, "optim.lr=0.001"), run_dir)


@pytest.mark.parametrize("mode", ["run", "sweep"])
def test_output_dir_that_cannot_be_created(tmp_path, capsys, mode):
    from lipbench.cli import main

    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    with pytest.raises(RunDirError, match="cannot be created"):
        train(compose_spec(*RUN), blocker / "run")
    # the command stops before Hydra would create the directory (the check runs in-process here)
    argv = (
        [*RUN, f"hydra.run.dir={blocker}/run"]
        if mode == "run"
        else ["-m", "seed=0,1", *RUN, f"hydra.sweep.dir={blocker}/sweep"]
    )
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    lines = capsys.readouterr().err.strip().splitlines()
    assert exit_.value.code == 2 and len(lines) == 1
    assert lines[0].startswith(f"lipbench: error: hydra.{mode}.dir=") and f"{blocker} is a file" in lines[0]
    assert blocker.read_text() == "not a directory"


def test_unwritable_output_dir(tmp_path):
    parent = tmp_path / "read_only"
    parent.mkdir()
    parent.chmod(0o500)
    try:
        if os.access(parent, os.W_OK):
            pytest.skip("running as root: a read-only directory is still writable (covered by the file case)")
        with pytest.raises(RunDirError, match="cannot be created"):
            train(compose_spec(*RUN), parent / "run")
    finally:
        parent.chmod(0o700)


def test_disk_full_marks_the_run_failed_and_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    run_dir = tmp_path / "run"
    real_save, calls, before = torch.save, [], {}

    def save(obj, f, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:  # the checkpoint of step 10: half written, then the disk is full
            before["bytes"] = (run_dir / "checkpoint.pt").read_bytes()
            f.write(b"\0" * 1000)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", save)
    s = train(compose_spec(*RUN), run_dir)
    monkeypatch.undo()
    assert s["status"] == "failed" and "No space left on device" in s["error"] and "checkpoint.pt" in s["error"]
    on_disk = json.loads((run_dir / "summary.json").read_text())
    assert on_disk["status"] == "failed" and on_disk["error"] == s["error"]
    assert (run_dir / "checkpoint.pt").read_bytes() == before["bytes"]  # unchanged
    assert load_checkpoint(run_dir / "checkpoint.pt")["step"] == 5  # loadable with weights_only
    assert not list(run_dir.glob(".*.tmp"))  # the half-written temporary file is gone

    resumed = train(compose_spec(*RUN), run_dir)  # room again: the same call resumes from step 5
    reference = train(compose_spec(*RUN), tmp_path / "reference")
    assert resumed["status"] == "completed" and resumed["resumes"][0]["step"] == 5
    assert untimed(resumed["final"]) == untimed(reference["final"])


def test_a_failed_atomic_write_leaves_the_previous_file(tmp_path):
    path = tmp_path / "summary.json"
    record.write_json(path, {"status": "running"})

    def fail(f):
        f.write('{"status": "compl')
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError):
        record.atomic_write(path, fail)
    assert json.loads(path.read_text()) == {"status": "running"}
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]


def test_a_torn_metrics_line_is_dropped_on_resume(tmp_path, monkeypatch):
    run_dir = tmp_path / "run"
    interrupted_run(run_dir, monkeypatch, at_step=15)  # metrics row of step 10 on disk
    with open(run_dir / "metrics.jsonl", "a") as f:
        f.write('{"step": 20, "w1": 0.')  # a crash mid-append
    s = train(compose_spec(*RUN), run_dir)
    assert s["status"] == "completed"
    assert [r["step"] for r in read_jsonl(run_dir / "metrics.jsonl")] == [10, 20]
    assert all(line.endswith("}") for line in (run_dir / "metrics.jsonl").read_text().splitlines())


def test_a_run_dir_being_trained_is_refused(tmp_path):
    from lipbench.train.rundir import RunLock

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    with RunLock(run_dir):  # as another lipbench process would hold it
        with pytest.raises(RunDirError, match="being trained by another process") as err:
            train(compose_spec(*RUN), run_dir)
        assert f"pid {os.getpid()}" in str(err.value)
        assert not (run_dir / "summary.json").exists()
    assert train(compose_spec(*RUN), run_dir)["status"] == "completed"  # free again


def test_a_resume_loads_its_checkpoint_once_and_reads_again_what_changed(tmp_path, monkeypatch):
    """The plan read before the run takes the lock is the one used under it when the record
    files are unchanged (the checkpoint loaded once); a file changed in between is read again."""
    import lipbench.train.rundir as rundir

    run_dir = tmp_path / "run"
    interrupted_run(run_dir, monkeypatch)
    loads = []

    def counting(path, *args, **kwargs):
        loads.append(path)
        return load_checkpoint(path, *args, **kwargs)

    monkeypatch.setattr(rundir, "load_checkpoint", counting)
    spec = compose_spec(*RUN)
    first = rundir.plan(run_dir, spec.run_id, False)
    assert first.action == "resume" and rundir.plan(run_dir, spec.run_id, False, earlier=first) is first
    assert len(loads) == 1
    ckpt = run_dir / "checkpoint.pt"
    ckpt.write_bytes(ckpt.read_bytes())  # rewritten (by another process, say): a new modification time
    os.utime(ckpt, ns=(first.seen[1][1] + 10**9, first.seen[1][1] + 10**9))
    again = rundir.plan(run_dir, spec.run_id, False, earlier=first)
    assert again is not first and again.action == "resume" and len(loads) == 2
    loads.clear()
    resumed = train(spec, run_dir)
    assert resumed["status"] == "completed" and resumed["resumes"][0]["step"] == 10
    assert loads == [ckpt]  # once, for the resume itself
