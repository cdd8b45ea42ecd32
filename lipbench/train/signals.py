"""Stop signals of the training loop: the mechanism lives in :mod:`lipbench.signals` (the bottom
layer, so that a long step below the loop, the domain classifier's training, answers the same
flag); this module keeps the names the training code and its users import from here."""

from lipbench.signals import (  # noqa: F401
    STOP_SIGNALS,
    HandlerRaised,
    Interrupted,
    SignalFlag,
    active,
    preemption_signal,
    watching,
)
