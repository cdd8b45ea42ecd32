"""Name -> factory registries that discover their members.

Everything selected by name from config (constraints, losses, data sets, models,
evaluators, feature extractors) is looked up in a :class:`Registry`. A registry made
with ``package=`` imports every module of that package the first time it is asked
for a name, so adding a method is one module that registers itself (plus, where it has
published settings, one preset yaml in ``conf/``): there is no list of members to edit.
A member registered from anywhere else (a test module, a user's script) before the
lookup is found the same way.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Callable, Dict, Generic, Optional, TypeVar

from lipbench.errors import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    """A mapping from names to factories, with errors that list the allowed names.

    ``package`` (a dotted module name): the package whose modules register the members,
    all imported by :meth:`discover` on the first lookup.
    """

    def __init__(self, kind: str, package: Optional[str] = None):
        self.kind = kind
        self.package = package
        self._entries: Dict[str, T] = {}
        self._schemas: Dict[str, type] = {}
        self._discovered = package is None

    def register(self, name: str, schema: Optional[type] = None) -> Callable[[T], T]:
        """Register a factory under ``name``; ``schema`` is the dataclass of its config
        keys (types and defaults), checked by :func:`lipbench.typecheck.check_node` and
        stored as its structured config (:mod:`lipbench.configstore`)."""

        def decorator(obj: T) -> T:
            if name in self._entries and self._entries[name] is not obj:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._entries[name] = obj
            if schema is not None:
                self._schemas[name] = schema
            return obj

        return decorator

    def unregister(self, name: str) -> None:
        """Remove ``name`` (a member a test registered for itself)."""
        self._entries.pop(name, None)
        self._schemas.pop(name, None)

    def discover(self) -> None:
        """Import every module of ``package`` once, so that each registers its members."""
        if self._discovered:
            return
        self._discovered = True  # first: a module that looks a name up while importing must not recurse
        try:
            pkg = importlib.import_module(self.package)
            for mod in pkgutil.iter_modules(pkg.__path__):
                importlib.import_module(f"{pkg.__name__}.{mod.name}")
        except BaseException:
            self._discovered = False
            raise

    def schema(self, name: str) -> Optional[type]:
        """The config dataclass registered with ``name`` (None when it declares none)."""
        self.discover()
        return self._schemas.get(name)

    def get(self, name: str) -> T:
        self.discover()
        try:
            return self._entries[name]
        except KeyError:
            allowed = ", ".join(sorted(self._entries)) or "(none registered)"
            raise ConfigError(f"{self.kind}={name}: unknown; allowed: {allowed}") from None

    def names(self):
        self.discover()
        return sorted(self._entries)

    def __contains__(self, name: str) -> bool:
        self.discover()
        return name in self._entries
