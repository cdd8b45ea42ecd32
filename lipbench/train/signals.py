"""Stop signals: SIGTERM / SIGUSR1 (and a launcher's preemption signal) become a flag the
training loop checks between iterations, and are handed on once a checkpoint is written.

A cluster launcher (submitit) requeues a preempted or timed-out job from its own Python
handler; :class:`SignalFlag` defers that handler until the loop has checkpointed, so the
requeued job resumes from the step it stopped at.
"""

from __future__ import annotations

import logging
import os
import signal
import threading

log = logging.getLogger("lipbench")
STOP_SIGNALS = ("SIGTERM", "SIGUSR1")


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
        self._previous = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            signals = [getattr(signal, name, None) for name in STOP_SIGNALS]
            extra = preemption_signal()
            if extra is not None and callable(signal.getsignal(extra)):
                signals.append(extra)
            for sig in dict.fromkeys(s for s in signals if s is not None):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        self.signum = signum

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name

    def chained(self) -> bool:
        """Whether the pending signal goes on to a launcher's Python handler."""
        return callable(self._previous.get(self.signum))

    def hand_over(self) -> None:
        """Pass the pending signal on (see the class docstring); returns only if that handler does."""
        signum, self.signum = self.signum, None
        previous = self._previous.get(signum)
        if not callable(previous):
            raise Interrupted(0)
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
