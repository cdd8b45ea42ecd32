"""A run's identity and its directory name, from one declaration of the keys that leave them.

The identity is a short hash of everything in a run's resolved config that determines what it
computes; the run directory's resume check compares it (:mod:`lipbench.train.rundir`), so it
sits with the run record, below the training code and the config validation. The directory
name is made from the command line's overrides (:func:`run_dirname`, the ``lipbench_dirname``
resolver of conf/config.yaml). :data:`RUN_KEYS` says, for each key that is not simply hashed
and named, how it enters both: a key that does not change what a run computes must leave the
directory name too, or the same run would train again in a second directory, and a key left in
the identity but out of the name would make a changed run refuse the directory it lands in.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from typing import Any, Iterable

from omegaconf import DictConfig, OmegaConf

HASHED = "hashed"  # part of the identity as set
DROPPED = "dropped"  # never part of the identity
AT_DEFAULT = "dropped at default"  # left out while at its default, so that older runs keep their identity
AS_DEFAULT = "hashed as default"  # hashed as its default whatever its value (it was always hashed)


@dataclass(frozen=True)
class RunKey:
    """How one key enters a run's identity (``identity``: one of the four above) and whether
    a command line that sets it gets another run directory (``in_dirname``)."""

    identity: str
    default: Any = None
    in_dirname: bool = True


RUN_KEYS = {
    "name": RunKey(DROPPED, in_dirname=False),  # the comparison's name is already the parent folder
    "experiment": RunKey(HASHED, in_dirname=False),  # a preset: the keys it sets are hashed (and its name the folder)
    "device": RunKey(AS_DEFAULT, "auto", in_dirname=False),  # where a run computes, not what
    "train.overwrite": RunKey(DROPPED, in_dirname=False),
    "train.progress": RunKey(DROPPED, in_dirname=False),
    "train.threads": RunKey(DROPPED, in_dirname=False),
    "train.checkpoint_every": RunKey(DROPPED, in_dirname=False),  # how often a run saves, not what it computes
    "eval.alpha": RunKey(AS_DEFAULT, 0.05, in_dirname=False),  # only the report's significance level
    "train.precision": RunKey(AT_DEFAULT, "fp32"),
    "train.compile": RunKey(AT_DEFAULT, False),
    "eval.metrics": RunKey(AT_DEFAULT, None),
}


def run_identity(cfg: DictConfig) -> str:
    """A short hash of everything that determines what a run computes."""
    data = OmegaConf.to_container(cfg, resolve=True)
    for dotted, key in RUN_KEYS.items():
        node = data
        *parents, last = dotted.split(".")
        for p in parents:
            node = node.get(p, {}) if isinstance(node, dict) else {}
        if not isinstance(node, dict) or last not in node:
            continue
        if key.identity == DROPPED or (key.identity == AT_DEFAULT and node[last] == key.default):
            del node[last]
        elif key.identity == AS_DEFAULT:
            node[last] = key.default
    blob = json.dumps(data, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _override_key(line: str) -> str:
    """The key (or group) an override sets: ``+a.b@pkg=v`` -> ``a.b`` (Hydra's key_or_group)."""
    return line.split("=", 1)[0].lstrip("~+").split("@", 1)[0]


def run_dirname(overrides: Iterable[str]) -> str:
    """A run directory's name from its command line's overrides (Hydra's ``overrides.task``):
    those of the keys :data:`RUN_KEYS` keeps in the name, sorted and joined with commas, path
    separators replaced; a long name shortened with a hash so that it stays valid (and unique)
    on every file system; ``defaults`` for none."""
    kept = sorted(str(o) for o in overrides if RUN_KEYS.get(_override_key(str(o)), RunKey(HASHED)).in_dirname)
    name = (",".join(kept) or "defaults").replace(os.sep, "_")
    if len(name) > 180:
        name = f"{name[:160]}...{hashlib.sha1(name.encode()).hexdigest()[:12]}"
    return name
