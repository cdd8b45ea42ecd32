"""Typed config values: a config node checked against the dataclass that declares its keys.

Every component declares its keys, their types and defaults in one dataclass (the
``train``/``eval``/``optim`` schemas in :mod:`lipbench.config_schemas`, a constraint's ``Params``,
the schema a model, data set or loss registers with its registry). :func:`check_node`
merges a node into that dataclass with OmegaConf, which converts what converts losslessly
(``"64"`` -> 64, 2 -> 2.0) and rejects the rest. The first problem becomes one line
naming the key, the value and what was expected::

    model.hidden=abc: expected an integer
    constraint.gp.weight=[1, 2]: expected a number
    train.nope: unknown key; allowed: iterations, batch_size, ...
"""

from __future__ import annotations

import dataclasses
import re
import typing
from typing import Any, Union

from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from lipbench.errors import ConfigError

_ONE = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}
_MANY = {int: "integers", float: "numbers", bool: "true/false values", str: "strings"}


def expected(tp) -> str:
    """What a value of type ``tp`` looks like, in words: ``Optional[int]`` -> "an integer or null"."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is Union:
        members = [a for a in args if a is not type(None)]
        words = " or ".join(expected(a) for a in members)
        return words + (" or null" if len(members) < len(args) else "")
    if origin in (list, tuple, typing.List, typing.Tuple):
        return f"a list of {_MANY.get(args[0], 'values') if args else 'values'}"
    if origin in (dict, typing.Dict):
        return "a mapping"
    if tp is Any:
        return "any value"
    return _ONE.get(tp, getattr(tp, "__name__", str(tp)))


def show(value) -> str:
    """A value as it would be written on the command line."""
    if isinstance(value, (DictConfig, ListConfig)):
        value = OmegaConf.to_container(value, resolve=False)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(show(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}:{show(v)}" for k, v in value.items()) + "}"
    return str(value)


def keys_of(schema) -> list:
    """The keys ``schema`` declares, in declaration order."""
    return [f.name for f in dataclasses.fields(schema)]


def check_node(node, schema, path: str) -> DictConfig:
    """``node`` merged into ``schema`` (typed: later assignments are type-checked too).

    Raises :class:`ConfigError` for a key the schema does not declare or a value that
    is not of the declared type, naming ``path.key`` (``key`` alone where ``path`` is "",
    the config's top level).
    """
    dotted = (lambda key: f"{path}.{key}") if path else (lambda key: key)
    names = keys_of(schema)
    node = {} if node is None else node
    if not isinstance(node, (dict, DictConfig)):
        raise ConfigError(f"{path}={show(node)}: expected a mapping of {', '.join(names)}")
    unknown = sorted(set(node) - set(names))
    if unknown:
        raise ConfigError(f"{dotted(unknown[0])}: unknown key; allowed: {', '.join(names)}")
    try:
        return OmegaConf.merge(OmegaConf.structured(schema), node)
    except OmegaConfBaseException as e:
        key = re.split(r"[.\[]", str(getattr(e, "full_key", "") or ""))[0]
        if key not in names:  # some errors (a mapping for a list) name no key: find it
            key = next((k for k in node if not _fits(schema, k, node[k])), None)
        if key is None:  # pragma: no cover - one of the keys failed above
            raise ConfigError(f"{path or 'config'}: {str(e).splitlines()[0]}") from None
        hint = typing.get_type_hints(schema)[key]
        raise ConfigError(f"{dotted(key)}={show(node[key])}: expected {expected(hint)}") from None


def _fits(schema, key: str, value) -> bool:
    try:
        OmegaConf.merge(OmegaConf.structured(schema), {key: value})
        return True
    except OmegaConfBaseException:
        return False
