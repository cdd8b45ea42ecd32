"""Lipschitz constraints as plug-ins; see :mod:`lipbench.constraints.base`.

Each module of this package registers its :class:`~lipbench.constraints.base.Constraint`
subclasses in :data:`CONSTRAINTS`; the registry imports every module on its first
lookup, so a new constraint is one module here (plus ``conf/constraint/<name>.yaml``
for its published optimizer setting, the ``paper`` block, when it has one).
"""

from lipbench.registry import Registry

CONSTRAINTS = Registry("constraint", package=__name__)


def build_constraints(cfg):
    """Build a ConstraintSet from ``{name: params, ...}`` (in order): the ``constraint`` config
    node, or a run spec's checked ``Params`` (``dict(spec.constraints)``)."""
    from lipbench.constraints.base import ConstraintSet, Params

    def build(name, params):
        cls = CONSTRAINTS.get(name)
        return cls(params) if isinstance(params, Params) else cls.from_config(params, f"constraint.{name}")

    return ConstraintSet([build(name, params) for name, params in (cfg or {}).items()])
