"""A run's identity: a short hash of everything in its resolved config that determines
what it computes. A run directory holding a checkpoint or summary of the same identity
is resumed (or left alone when complete); one of another identity is refused."""

from __future__ import annotations

import hashlib
import json

from omegaconf import DictConfig, OmegaConf

# keys that do not change what a run computes, left out of its identity
NON_IDENTITY_KEYS = ("train.overwrite", "train.progress", "train.threads", "train.checkpoint_every", "name")
# keys left out of a run's identity while at these defaults, so that older runs keep theirs
IDENTITY_DEFAULTS = {"train.precision": "fp32", "train.compile": False}


def run_identity(cfg: DictConfig) -> str:
    """A short hash of everything that determines what a run computes."""
    data = OmegaConf.to_container(cfg, resolve=True)
    for dotted in (*NON_IDENTITY_KEYS, *IDENTITY_DEFAULTS):
        node = data
        *parents, last = dotted.split(".")
        for p in parents:
            node = node.get(p, {}) if isinstance(node, dict) else {}
        if isinstance(node, dict) and (dotted not in IDENTITY_DEFAULTS or node.get(last) == IDENTITY_DEFAULTS[dotted]):
            node.pop(last, None)
    blob = json.dumps(data, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]
