"""Lipschitz constraints as plug-ins; see :mod:`lipbench.constraints.base`.

Each module of this package registers its :class:`~lipbench.constraints.base.Constraint`
subclasses in :data:`CONSTRAINTS`; the registry imports every module on its first
lookup, so a new constraint is one module here (plus ``conf/constraint/<name>.yaml``
for its published optimizer setting, the ``paper`` block, when it has one).
"""

from lipbench.registry import Registry

CONSTRAINTS = Registry("constraint", package=__name__)


def build_constraints(cfg):
    """Build a ConstraintSet from the ``constraint`` config node ``{name: params, ...}`` (in order)."""
    from lipbench.constraints.base import ConstraintSet

    items = list((cfg or {}).items())
    return ConstraintSet([CONSTRAINTS.get(name).from_config(params, f"constraint.{name}") for name, params in items])
