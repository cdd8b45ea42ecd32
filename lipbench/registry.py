"""Name -> factory registries.

Everything selected by name from config (constraints, losses, data sets, models,
evaluators, feature extractors) is looked up in a :class:`Registry`, so that adding a
method is one module that registers itself, plus one yaml file in ``conf/``.
"""

from __future__ import annotations

from typing import Callable, Dict, Generic, Optional, TypeVar

from lipbench.errors import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    """A mapping from names to factories, with errors that list the allowed names."""

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: Dict[str, T] = {}
        self._schemas: Dict[str, type] = {}

    def register(self, name: str, schema: Optional[type] = None) -> Callable[[T], T]:
        """Register a factory under ``name``; ``schema`` is the dataclass of its config
        keys (types and defaults), checked by :func:`lipbench.typecheck.check_node`."""

        def decorator(obj: T) -> T:
            if name in self._entries and self._entries[name] is not obj:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._entries[name] = obj
            if schema is not None:
                self._schemas[name] = schema
            return obj

        return decorator

    def schema(self, name: str) -> Optional[type]:
        """The config dataclass registered with ``name`` (None when it declares none)."""
        return self._schemas.get(name)

    def get(self, name: str) -> T:
        try:
            return self._entries[name]
        except KeyError:
            allowed = ", ".join(sorted(self._entries)) or "(none registered)"
            raise ConfigError(f"{self.kind}={name}: unknown; allowed: {allowed}") from None

    def names(self):
        return sorted(self._entries)

    def __contains__(self, name: str) -> bool:
        return name in self._entries
