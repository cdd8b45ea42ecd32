"""Data sets, selected by ``data.name``.

Each module registers a builder ``fn(data_cfg) -> DataSource`` in :data:`DATASETS`, with
the dataclass of its config keys (``schema=``); the registry imports every module of
this package on its first lookup.
"""

from lipbench.registry import Registry

DATASETS = Registry("data", package=__name__)


def build_data(cfg):
    """Build the data source named by ``cfg.name`` (``cfg`` is the ``data`` config node)."""
    return DATASETS.get(cfg.name)(cfg)
