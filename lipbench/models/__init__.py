"""Generators and critics, selected by ``model.name``.

Each module registers a builder ``fn(model_cfg, data_shape) -> (generator, critic)`` in
:data:`MODELS`. The generator has an attribute ``z_dim`` and maps ``(B, z_dim)`` noise to
``(B, *data_shape)``; the critic maps ``(B, *data_shape)`` to ``(B,)`` or ``(B, 1)``.
Critics contain no BatchNorm.
"""

from lipbench.registry import Registry

MODELS = Registry("model")


def build_models(cfg, data_shape):
    """Build ``(generator, critic)`` for the ``model`` config node ``cfg``."""
    _import_all()
    return MODELS.get(cfg.name)(cfg, tuple(data_shape))


def _import_all():
    import importlib
    import pkgutil

    import lipbench.models as pkg

    for mod in pkgutil.iter_modules(pkg.__path__):
        importlib.import_module(f"{pkg.__name__}.{mod.name}")
