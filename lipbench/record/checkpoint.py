"""checkpoint.pt: written atomically with ``torch.save``, read with ``weights_only=True``.

The only part of the run record that needs torch; :mod:`lipbench.record` itself does not
import this module, so reading records (the report) never loads torch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict

import torch

from lipbench.record.io import atomic_write


def save_checkpoint(path: Path, state: Dict) -> None:
    atomic_write(path, lambda f: torch.save(state, f), mode="wb")


def load_checkpoint(path: Path, map_location="cpu") -> Dict:
    return torch.load(path, map_location=map_location, weights_only=True)
