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
    from lipbench.data import toy2d  # noqa: F401

    try:
        from lipbench.data import images  # noqa: F401
    except ImportError as e:  # pragma: no cover - only while the module is missing
        if "lipbench.data.images" not in str(e):
            raise
