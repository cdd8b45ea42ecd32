"""Data sets, selected by ``data.name``.

Each module registers a builder ``fn(data_cfg) -> DataSource`` in :data:`DATASETS`, with
the dataclass of its config keys (``schema=``); the registry imports every module of
this package on its first lookup.
"""

from lipbench.errors import ConfigError
from lipbench.registry import Registry
from lipbench.typecheck import check_node

DATASETS = Registry("data", package=__name__)


def checked(cfg, path: str = "data"):
    """The data node ``cfg`` as an instance of its data set's schema: every key typed, and
    every range checked by the schema's ``__post_init__`` (None for a data set without a
    schema). ``path`` names the node in messages (``pair.base`` for the noisy pair's data)."""
    schema = DATASETS.schema(cfg.name)
    if schema is None:
        return None
    from omegaconf import OmegaConf

    try:
        return OmegaConf.to_object(check_node(cfg, schema, path))
    except ConfigError as e:  # the schemas name their keys data.*
        raise ConfigError(path + str(e)[4:] if str(e).startswith("data.") else str(e)) from None


def build_data(cfg):
    """Build the data source named by ``cfg.name``: the spec's data schema instance
    (``spec.data``) or a ``data`` config node."""
    return DATASETS.get(cfg.name)(cfg)
