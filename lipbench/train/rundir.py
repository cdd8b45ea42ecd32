"""What a run directory already holds, and whether a run may use it.

A run's identity is the hash of its resolved config (:func:`lipbench.record.identity.run_identity`).
A directory holding a completed run of the same identity is skipped; one holding a
checkpoint of the same identity is resumed; one holding another identity's run, or a
checkpoint that cannot be read, is an error unless ``train.overwrite=true``.
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from lipbench import record
from lipbench.errors import RunDirError
from lipbench.record.checkpoint import load_checkpoint


@dataclass
class Plan:
    action: str  # "fresh", "resume" or "skip"
    summary: Optional[dict] = None
    checkpoint: Optional[dict] = None
    seen: Optional[tuple] = None  # the record files as the plan read them (:func:`_files_seen`)


def _files_seen(run_dir: Path) -> tuple:
    """The summary's and the checkpoint's (size, modification time), None for one that is absent:
    what tells whether a plan read earlier still describes the directory."""
    seen = []
    for name in (record.SUMMARY, record.CHECKPOINT):
        try:
            st = (run_dir / name).stat()
            seen.append((st.st_size, st.st_mtime_ns))
        except FileNotFoundError:
            seen.append(None)
    return tuple(seen)


def check_writable(run_dir: Path) -> None:
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise RunDirError(f"run directory {run_dir} cannot be created: {e.strerror}") from None
    if not os.access(run_dir, os.W_OK | os.X_OK):
        raise RunDirError(f"run directory {run_dir} is not writable; choose another hydra.run.dir / hydra.sweep.dir")


def plan(run_dir: Path, run_id: str, overwrite: bool, earlier: Optional[Plan] = None) -> Plan:
    """Decide what to do with ``run_dir`` without changing anything in it. ``earlier``, a plan of
    the same run read before the run took the directory's lock, is returned as it is when the
    summary and checkpoint are the files it read (so a resume loads its checkpoint once), and
    read again when another process changed them in between."""
    run_dir = Path(run_dir)
    summary_path, ckpt_path = run_dir / record.SUMMARY, run_dir / record.CHECKPOINT
    if overwrite:
        return Plan("fresh")
    seen = _files_seen(run_dir)
    if earlier is not None and earlier.seen == seen:
        return earlier
    summary = None
    if summary_path.exists():
        try:
            summary = record.read_json(summary_path)
        except (OSError, ValueError) as e:
            raise RunDirError(f"{summary_path} is unreadable ({e}); delete it or pass train.overwrite=true") from None
        other = summary.get("run_id")
        if other and other != run_id:
            raise RunDirError(
                f"{run_dir} holds another config's run (run_id {other}, this config is {run_id}); "
                "use another output directory or train.overwrite=true"
            )
        if summary.get("status") in record.DONE:
            return Plan("skip", summary=summary, seen=seen)
    if ckpt_path.exists():
        try:
            ckpt = load_checkpoint(ckpt_path)
        except Exception as e:  # torch raises many kinds on a corrupt file
            raise RunDirError(
                f"checkpoint {ckpt_path} is corrupted ({type(e).__name__}); "
                "delete it or pass train.overwrite=true to start this run again"
            ) from None
        if ckpt.get("run_id") != run_id:
            raise RunDirError(
                f"checkpoint {ckpt_path} belongs to another config (run_id {ckpt.get('run_id')}, "
                f"this config is {run_id}); use another output directory or train.overwrite=true"
            )
        return Plan("resume", summary=summary, checkpoint=ckpt, seen=seen)
    return Plan("fresh", summary=summary, seen=seen)


def clear(run_dir: Path) -> None:
    """Remove a previous run's record files (for overwrite and fresh starts)."""
    for name in record.RECORD_FILES:
        p = Path(run_dir) / name
        if p.exists():
            p.unlink()
    for pattern in record.PICTURES:
        for p in Path(run_dir).glob(pattern):
            p.unlink()
    tb = Path(run_dir) / record.TENSORBOARD
    if tb.is_dir():
        for f in tb.iterdir():
            f.unlink()


def remove_stale_temporaries(run_dir: Path) -> None:
    """Remove temporary files left by a write that a crash or a full disk interrupted."""
    for name in record.RECORD_FILES:
        for p in Path(run_dir).glob(f".{name}.*.tmp"):
            try:
                p.unlink()
            except OSError:
                pass


def check_output_root(template: str, key: str) -> None:
    """Before Hydra creates the output directory ``key`` (``hydra.run.dir`` or ``hydra.sweep.dir``),
    check that the part of its path that needs no interpolation can be created and written.

    Raises :class:`RunDirError` naming the key when a parent is a file or is not writable.
    """
    static = str(template).split("${", 1)[0]
    path = Path(static or ".").absolute()
    if "${" in str(template) and not static.endswith("/"):
        path = path.parent  # the last segment is only partly known
    while not path.exists() and path != path.parent:
        path = path.parent
    if not path.is_dir():
        raise RunDirError(f"{key}={template}: {path} is a file, not a directory; choose another {key}")
    if not os.access(path, os.W_OK | os.X_OK):
        raise RunDirError(f"{key}={template}: {path} is not writable; choose another {key}")


class RunLock:
    """An exclusive lock on a run directory (``.lock``, flock) held while a run trains in it.

    A second process that would train the same directory (a sweep launched again while its
    jobs still run) gets a :class:`RunDirError` instead of writing over the first. The kernel
    releases the lock when the process dies, so a killed run never leaves a stale lock.
    File systems without locks (``ENOLCK``) are trained in unlocked.
    """

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / record.LOCK
        self._fd = None

    def __enter__(self):
        import fcntl
        import socket

        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip()
            os.close(fd)
            if e.errno == errno.ENOLCK:
                return self
            raise RunDirError(
                f"{self.path.parent} is being trained by another process ({holder or 'unknown'}); "
                "wait for it to end or stop it, then run again"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}".encode(), 0)
        self._fd = fd
        return self

    def __exit__(self, *exc):
        if self._fd is not None:
            os.close(self._fd)  # releases the lock; the file stays (removing it would race)
            self._fd = None
