"""A run's spec: its config composed once, validated once, as a frozen tree of typed parts.

:func:`load` is the one place that composes a run's config from a command line's overrides,
and :func:`from_config` the one place that validates a composed config
(:func:`lipbench.config.checked`): the ``lipbench`` command's single run, its preflight of a
sweep's jobs, the Hydra app of a sweep's job and ``lipbench --cfg job`` all go through them.
A :class:`RunSpec` holds every component as an instance of the dataclass that declares its
keys (``OmegaConf.to_object`` of its structured config), so each ``__post_init__`` has
checked its ranges (:func:`lipbench.errors.require`) before a run directory exists. Training
(:func:`lipbench.train.loop.train`), the tasks, the builders and the evaluators take the
spec and read these parts; ``config``, the validated config as a whole, is what the run
records (config.yaml and the summary's ``config``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Optional, Sequence, Tuple

from omegaconf import DictConfig, OmegaConf

from lipbench.compose_errors import hydra_message
from lipbench.config import checked
from lipbench.configstore import store_configs
from lipbench.errors import ConfigError
from lipbench.record.identity import run_identity


@dataclass(frozen=True)
class RunSpec:
    """One run: every part typed and range-checked, and its identity."""

    config: DictConfig  # the validated config: optim filled in, every value typed (what the run records)
    name: str
    seed: int
    device: str
    task: str  # gan or dual
    data: Any  # the data set's schema instance (its config node for a data set registered without a schema)
    model: Any  # likewise
    loss: Any  # likewise
    constraints: Tuple[Tuple[str, Any], ...]  # (name, Params) of each constraint, in the list's order
    train: Any  # TrainSchema
    eval: Any  # the eval schema of lipbench.config_schemas.eval_schema
    optim: dict  # the optimizer setting used (lipbench.config.resolve_optim)
    pair: Optional[dict]  # the dual task's pair (None for a GAN run)
    run_id: str  # lipbench.record.identity.run_identity of config

    def with_threads(self, threads: Optional[int]) -> "RunSpec":
        """This spec with ``train.threads`` set (the launcher's share of the cores; not part of the identity)."""
        config = OmegaConf.create(OmegaConf.to_container(self.config))
        config.train.threads = threads
        return dataclasses.replace(self, config=config, train=dataclasses.replace(self.train, threads=threads))


def from_config(cfg: DictConfig) -> RunSpec:
    """The spec of a composed config (without its ``hydra`` node); raises ConfigError."""
    from omegaconf.errors import OmegaConfBaseException

    try:
        config, parts = checked(cfg)
    except OmegaConfBaseException as e:
        raise ConfigError(hydra_message(e)) from None
    return RunSpec(
        config=config,
        name=str(config.name),
        seed=int(config.seed),
        device=str(config.device),
        task=str(config.get("task") or "gan"),
        data=_typed(parts["data"], config.data),
        model=_typed(parts["model"], config.model),
        loss=_typed(parts["loss"], config.loss),
        constraints=tuple(zip(config.constraint, (c.params for c in parts["constraints"].constraints))),
        train=parts["train"],
        eval=parts["eval"],
        optim=OmegaConf.to_container(config.optim),
        pair=OmegaConf.to_container(config.pair) if config.get("pair") is not None else None,
        run_id=run_identity(config),
    )


def _typed(instance, node):
    """A component's schema instance, or its config node when it was registered without a schema."""
    return node if instance is None else instance


def is_hydra_override(override: str) -> bool:
    """An override of Hydra's own config (``hydra.run.dir=...``, ``hydra/launcher=...``)."""
    key = override.lstrip("+~")
    return key.startswith("hydra.") or key.startswith("hydra/") or key == "hydra"


def compose_job(conf_dir: str, overrides: Sequence[str], config_name: str = "config") -> DictConfig:
    """The composed config of one run of ``overrides`` (Hydra's overrides dropped); a
    composition error is one ConfigError line. Call it outside Hydra's ``initialize``."""
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    store_configs(conf_dir)  # members registered since the last call (a plug-in, a test's)
    with initialize_config_dir(config_dir=conf_dir, version_base=None, job_name="lipbench"):
        try:
            return compose(config_name, overrides=[o for o in overrides if not is_hydra_override(o)])
        except (HydraException, OmegaConfBaseException) as e:
            raise ConfigError(hydra_message(e)) from None


def load(conf_dir: str, overrides: Sequence[str], config_name: str = "config") -> RunSpec:
    """The spec of one run of ``overrides``: composed once, validated once."""
    return from_config(compose_job(conf_dir, overrides, config_name))
