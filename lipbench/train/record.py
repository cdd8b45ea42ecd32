"""Moved to :mod:`lipbench.record`; this name stays for the modules that still import it.

Everything the run record module offers, plus the torch parts (checkpoints, versions,
git commit), under the old names.
"""

import torch  # noqa: F401  (tests patch ``record.torch.save``)

from lipbench.record import *  # noqa: F401,F403
from lipbench.record import __all__ as _record_all
from lipbench.record.checkpoint import load_checkpoint, save_checkpoint  # noqa: F401
from lipbench.record.provenance import git_commit, versions  # noqa: F401

__all__ = list(_record_all) + ["load_checkpoint", "save_checkpoint", "git_commit", "versions"]
