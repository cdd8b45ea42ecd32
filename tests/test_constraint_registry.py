"""Every registered constraint, found by the registry (no list to keep): its own defining
property (``check_property``, declared next to its code), then the generic checks of
tests/constraint_checks.py: it composes, its hooks run, a tiny run reports its Lipschitz
bounds and resumes after a stop signal."""

import pytest

from constraint_checks import (
    declared_property_holds,
    hooks_run_on_tiny_critics,
    registered_constraints,
    tiny_run_reports_lipschitz_and_resumes,
)
from lipbench.constraints import CONSTRAINTS
from lipbench.constraints.base import Constraint

NAMES = registered_constraints()


def test_the_registry_found_every_constraint_class_of_the_package():
    import importlib
    import pkgutil

    import lipbench.constraints as pkg

    defined = {}
    for info in pkgutil.iter_modules(pkg.__path__):
        module = importlib.import_module(f"{pkg.__name__}.{info.name}")
        defined.update(
            {
                obj.name: obj
                for obj in vars(module).values()
                if isinstance(obj, type)
                and issubclass(obj, Constraint)
                and obj is not Constraint
                and obj.__module__ == module.__name__
            }
        )
    assert {name: CONSTRAINTS.get(name) for name in NAMES} == defined
    assert {"none", "clip", "gp", "sn"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_each_constraint_declares_its_defining_property_and_it_holds(name):
    declared_property_holds(CONSTRAINTS.get(name))


def test_a_constraint_without_a_declared_property_fails_the_suite():
    class Undeclared(Constraint):
        name = "undeclared"

    with pytest.raises(AssertionError, match="'undeclared'.*declares no check_property"):
        declared_property_holds(Undeclared)
    with pytest.raises(NotImplementedError):
        Undeclared.check_property()


@pytest.mark.parametrize("name", NAMES)
def test_each_constraint_composes_and_its_hooks_run_on_tiny_critics(name):
    hooks_run_on_tiny_critics(name)


@pytest.mark.parametrize("name", NAMES)
def test_each_constraint_reports_lipschitz_bounds_and_resumes(name, tmp_path, monkeypatch):
    tiny_run_reports_lipschitz_and_resumes(name, tmp_path, monkeypatch)
