"""Lipschitz constraints as plug-ins; see :mod:`lipbench.constraints.base`.

Each module registers one :class:`~lipbench.constraints.base.Constraint` subclass in
:data:`CONSTRAINTS` under the name of its ``conf/constraint/<name>.yaml``.
"""

from lipbench.registry import Registry

CONSTRAINTS = Registry("constraint")


def build_constraints(cfg):
    """Build a ConstraintSet from the ``constraint`` config node ``{name: params, ...}`` (in order)."""
    from lipbench.constraints.base import ConstraintSet

    _import_all()
    items = list((cfg or {}).items())
    return ConstraintSet([CONSTRAINTS.get(name).from_config(params, f"constraint.{name}") for name, params in items])


def _import_all():
    import importlib
    import pkgutil

    import lipbench.constraints as pkg

    for mod in pkgutil.iter_modules(pkg.__path__):
        importlib.import_module(f"{pkg.__name__}.{mod.name}")
