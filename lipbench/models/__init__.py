"""Generators and critics, selected by ``model.name``.

Each module registers a builder ``fn(model_cfg, data_shape) -> (generator, critic)`` in
:data:`MODELS`, with the dataclass of its config keys (``schema=``); the registry
imports every module of this package on its first lookup. The generator has an
attribute ``z_dim`` and maps ``(B, z_dim)`` noise to ``(B, *data_shape)``; the critic
maps ``(B, *data_shape)`` to ``(B,)`` or ``(B, 1)``. Critics contain no BatchNorm.
"""

from lipbench.registry import Registry

MODELS = Registry("model", package=__name__)


def build_models(cfg, data_shape):
    """Build ``(generator, critic)`` for ``cfg``: the spec's model schema instance (``spec.model``)
    or a ``model`` config node; builders read its keys as attributes."""
    return MODELS.get(cfg.name)(cfg, tuple(data_shape))
