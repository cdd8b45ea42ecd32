"""Data sets, selected by ``data.name``.

Each module registers a builder ``fn(data_cfg) -> DataSource`` in :data:`DATASETS`.
"""

from lipbench.registry import Registry

DATASETS = Registry("data")


def build_data(cfg):
    """Build the data source named by ``cfg.name`` (``cfg`` is the ``data`` config node)."""
    _import_all()
    return DATASETS.get(cfg.name)(cfg)


def _import_all():
    import importlib
    import pkgutil

    import lipbench.data as pkg

    for mod in pkgutil.iter_modules(pkg.__path__):
        importlib.import_module(f"{pkg.__name__}.{mod.name}")
