"""Stop signals: SIGTERM / SIGUSR1 (and a launcher's preemption signal) become a flag the
training loop checks between iterations, and are handed on once a checkpoint is written.

A cluster launcher (submitit) requeues a preempted or timed-out job from its own Python
handler; :class:`SignalFlag` defers that handler until the loop has checkpointed, so the
requeued job resumes from the step it stopped at.

A long step below the training loop (the domain classifier's first training, in
lipbench.metrics) checks the same flag: :func:`active` is the flag of the run in progress,
and :func:`watching` gives that flag, or one of its own outside a run. Such a step stops
with :meth:`SignalFlag.hand_over` and an exit status of 128 + the signal's number.

This module is at the bottom of the package's layers (it imports nothing of lipbench), so
that every layer can answer the one mechanism.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
from typing import Iterator, List, Optional

log = logging.getLogger("lipbench")
STOP_SIGNALS = ("SIGTERM", "SIGUSR1")
_ENTERED: List["SignalFlag"] = []  # the flags in force, innermost last


class Interrupted(SystemExit):
    """Raised after a checkpoint was written in answer to SIGTERM / SIGUSR1."""


class HandlerRaised(BaseException):
    """Carries what a chained (launcher's) signal handler raised past the loop's failure handling."""


def preemption_signal():
    """The signal a cluster launcher (submitit) uses for preemption and time-outs, if any."""
    name = os.environ.get("SUBMITIT_PREEMPT_SIGNAL", "USR2")
    return getattr(signal, "SIG" + name.upper().removeprefix("SIG"), None)


class SignalFlag:
    """Turns stop signals into a flag the loop checks between iterations.

    SIGTERM and SIGUSR1 are always caught; the launcher's preemption signal (submitit's
    SIGUSR2) only when a Python handler is already installed for it. Once the loop has
    written a checkpoint, :meth:`hand_over` gives the signal to the handler installed
    before (submitit: requeue the job and exit, or log and carry on), or, when there was
    none, raises :class:`Interrupted`.
    """

    def __init__(self):
        self.signum = None
        self.handed = None  # the last signal handed over (a step below the loop may have done it)
        self._previous = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            signals = [getattr(signal, name, None) for name in STOP_SIGNALS]
            extra = preemption_signal()
            if extra is not None and callable(signal.getsignal(extra)):
                signals.append(extra)
            for sig in dict.fromkeys(s for s in signals if s is not None):
                self._previous[sig] = signal.signal(sig, self._handle)
        _ENTERED.append(self)
        return self

    def _handle(self, signum, frame):
        self.signum = signum

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name

    def chained(self) -> bool:
        """Whether the pending signal goes on to a launcher's Python handler."""
        return callable(self._previous.get(self.signum))

    def hand_over(self, code: int = 0) -> None:
        """Pass the pending signal on (see the class docstring); returns only if that handler
        does. Without one, raise :class:`Interrupted` with exit status ``code``."""
        signum, self.signum = self.signum, None
        self.handed = signum
        previous = self._previous.get(signum)
        if not callable(previous):
            raise Interrupted(code)
        log.info("passing %s on to the launcher's handler", signal.Signals(signum).name)
        try:
            previous(signum, None)
        except SystemExit:
            raise
        except BaseException as e:
            raise HandlerRaised() from e

    def stop_after_final(self) -> None:
        """A stop signal that came during the final evaluation still stops a sweep: raise
        :class:`Interrupted` unless it goes on to a launcher's handler (or none came)."""
        if self.signum is not None and not self.chained():
            log.warning("%s received; the run completed, stopping", self.name)
            raise Interrupted(0)

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        if self in _ENTERED:
            _ENTERED.remove(self)


def active() -> Optional[SignalFlag]:
    """The flag of the run in progress in this process (the innermost), or None."""
    return _ENTERED[-1] if _ENTERED else None


@contextlib.contextmanager
def watching() -> Iterator[SignalFlag]:
    """The flag a long step checks: the run's when one is in progress, else one of its own for
    the step's duration (a caller outside a run: the API, a notebook)."""
    flag = active()
    if flag is not None:
        yield flag
        return
    with SignalFlag() as flag:
        yield flag
