"""``lipbench --cfg job``: the config a run will use, printed before anything runs.

Hydra's own ``--cfg job`` prints the composed config, whose ``optim`` keys are null under
``optim=paper`` (the setting comes from the first constraint's ``paper`` block). The
``lipbench`` command prints the validated config instead, the one the run receives and
writes to its config.yaml: optim filled in, every value typed.
"""

from __future__ import annotations

from typing import List, Optional

from omegaconf import DictConfig

from lipbench.spec import is_hydra_override, load


def job_config_overrides(argv) -> Optional[List[str]]:
    """The overrides of ``lipbench --cfg job [--resolve] OVERRIDES...`` (one run), else None
    (any other flag, ``-m`` included, is left to Hydra)."""
    overrides, shown, i = [], False, 0
    while i < len(argv):
        if argv[i] in ("--cfg", "-c") and argv[i + 1 : i + 2] == ["job"]:
            shown, i = True, i + 2
            continue
        if argv[i] == "--cfg=job":
            shown = True
        elif argv[i].startswith("-") and argv[i] != "--resolve":
            return None
        else:
            overrides.append(argv[i])
        i += 1
    return [o for o in overrides if not is_hydra_override(o)] if shown else None


def job_config(conf_dir: str, overrides, config_name: str = "config") -> DictConfig:
    """The validated config of one run of ``overrides``; a bad value is one ConfigError line."""
    return load(conf_dir, overrides, config_name).config
