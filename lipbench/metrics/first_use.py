"""A slow step that runs on first use and is cached (the domain classifier's training).

It behaves like one:

- :class:`LongStep` shows a tqdm bar when asked (``train.progress``: true, or auto on a
  terminal) and, in any case, log lines: what it does, every tenth of the way, and its end;
- it answers SIGTERM / SIGUSR1 within one step, through the run's stop flag
  (:mod:`lipbench.signals`), and Ctrl-C: one warning line, then exit status 128 + the
  signal's number (143 for SIGTERM, 130 for SIGINT);
- :func:`build_once` lets one process of a sweep build the cache file while the others wait
  for it (a ``fcntl`` lock next to the file: the kernel releases it when its holder dies, so
  no lock goes stale), and writes the file through a temporary one and an atomic rename.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from typing import Callable, Optional

from lipbench.signals import Interrupted, watching

log = logging.getLogger("lipbench")
WAIT_POLL_S = 0.5  # how often a waiting process checks the lock and its stop flag


def progress_enabled(setting) -> bool:
    """``train.progress``: auto (a bar only on a terminal), true or false."""
    flag = str(setting).lower()
    return sys.stderr.isatty() if flag == "auto" else flag == "true"


def _exit_status(signum: int) -> int:
    return 128 + int(signum)


class LongStep:
    """``with LongStep(what, total, progress) as step: for i in step.steps(): ...``

    ``what`` completes "interrupted by SIGTERM while ..." (e.g. "training the domain
    classifier for mnist-32px-1ch"); ``cleanup`` names what was left behind (nothing)."""

    def __init__(self, what: str, total: int = 0, progress: bool = False, unit: str = "step", cleanup: str = ""):
        self.what, self.total, self.progress, self.unit, self.cleanup = what, int(total), progress, unit, cleanup
        self.done, self.bar, self._watch, self.flag = 0, None, None, None
        self.t0 = time.perf_counter()

    def __enter__(self) -> "LongStep":
        self._watch = watching()
        self.flag = self._watch.__enter__()
        if self.total:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=self.total, desc=self.what, unit=self.unit, disable=not self.progress, leave=False)
        return self

    def steps(self):
        """``0 .. total - 1``, checking the stop flag before each and logging every tenth."""
        tenth = max(1, self.total // 10)
        for i in range(self.total):
            self.check()
            yield i
            self.done = i + 1
            if self.bar is not None:
                self.bar.update(1)
            if self.done % tenth == 0 and self.done < self.total:
                elapsed = time.perf_counter() - self.t0
                left = elapsed / self.done * (self.total - self.done)
                log.info(
                    "%s: %d / %d %ss, %.0f s so far, about %.0f s left",
                    self.what,
                    self.done,
                    self.total,
                    self.unit,
                    elapsed,
                    left,
                )

    def set_postfix(self, **values) -> None:
        if self.bar is not None:
            self.bar.set_postfix(**values)

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    def check(self) -> None:
        """Stop now when a stop signal came (see the module docstring)."""
        if self.flag is None or self.flag.signum is None:
            return
        self._stopped(self.flag.name, self.flag.signum)
        self.flag.hand_over(_exit_status(self.flag.signum))  # returns when a launcher lets it go on
        log.warning("%s: the launcher's handler let it go on", self.what)

    def _stopped(self, name: str, signum: int) -> None:
        where = f" at {self.unit} {self.done} of {self.total}" if self.total else ""
        log.warning(
            "interrupted by %s while %s%s, after %.0f s%s; exit status %d",
            name,
            self.what,
            where,
            self.elapsed(),
            f"; {self.cleanup}" if self.cleanup else "",
            _exit_status(signum),
        )

    def __exit__(self, exc_type, exc, tb):
        if self.bar is not None:
            self.bar.close()
        self._watch.__exit__(None, None, None)
        if exc_type is KeyboardInterrupt:
            self._stopped("SIGINT", signal.SIGINT)
            raise Interrupted(_exit_status(signal.SIGINT)) from None
        return False


def atomic_save(save: Callable[[str], None], path: str) -> None:
    """``save(tmp)`` then an atomic rename to ``path``; the temporary file is removed whatever
    happens (a signal, a full disk), so no half-written ``path`` is ever seen."""
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        save(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def build_once(path: str, load: Callable[[], Optional[object]], build: Callable[[], object], *, what: str):
    """``load()`` the cache at ``path``, or ``build()`` it (which writes ``path``) while holding
    ``path + '.lock'``: of several processes started together one builds, the others log that
    they wait, then load what it wrote. Waiting answers stop signals like :class:`LongStep`."""
    from filelock import FileLock, Timeout

    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    lock = FileLock(path + ".lock")
    try:
        lock.acquire(timeout=0)
    except Timeout:
        log.info("waiting for another process that is %s (lock %s)", what, lock.lock_file)
        with LongStep(f"waiting for another process {what}", cleanup="nothing was written") as waiting:
            while True:
                waiting.check()
                try:
                    lock.acquire(timeout=WAIT_POLL_S)
                    break
                except Timeout:
                    continue
        log.info("the other process finished after %.0f s of waiting; loading %s", waiting.elapsed(), path)
    try:
        blob = load()
        return blob if blob is not None else build()
    finally:
        lock.release()
