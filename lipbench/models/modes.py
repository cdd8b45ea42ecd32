"""Eval mode for the length of a block, every module's own training flag restored after.

Evaluators and the Lipschitz diagnostics run the networks in eval mode (no power-iteration
updates of spectral normalization, no dropout) and must leave them as they found them:
:func:`eval_mode` keeps each submodule's flag, not only the top-level one, so a submodule
that was in eval mode inside a training network stays so.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

from torch import nn


@contextlib.contextmanager
def eval_mode(*modules: nn.Module) -> Iterator[None]:
    """Put ``modules`` in eval mode inside the block; restore every submodule's flag after."""
    flags = [(m, m.training) for module in modules for m in module.modules()]
    for module in modules:
        module.eval()
    try:
        yield
    finally:
        for m, flag in flags:
            m.training = flag
