"""Hydra's composition errors as one line naming the key and what is allowed.

Hydra types every value against the components' structured configs when it composes
(:mod:`lipbench.configstore`), so ``model.hidden=abc`` already fails there; its
multi-line error becomes the line :func:`lipbench.typecheck.check_node` writes for the
same mistake, ``model.hidden=abc: expected an integer``.
"""

from __future__ import annotations

import dataclasses
import re
import typing
from typing import Optional

from omegaconf import OmegaConf
from omegaconf.errors import ValidationError

from lipbench.typecheck import expected, show


def hydra_message(e: Exception) -> str:
    """Hydra's multi-line composition errors as one line naming the key and the allowed values."""
    typed = override_type_message(e)
    if typed is not None:
        return typed
    text = str(e)
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if "Available options in" in text:
        head = lines[0].split("': ", 1)[1] if lines[0].startswith("In '") else lines[0]  # "In 'task/dual': ..."
        group = text.split("Available options in '")[1].split("'")[0]
        options = [
            ln
            for ln in lines[lines.index(next(x for x in lines if x.startswith("Available options"))) + 1 :]
            if not ln.startswith(("Config search path", "provider=", "Set the environment"))
        ]
        wanted = head.split("'")[1].split("/")[-1] if "'" in head else head
        return f"{group}={wanted}: unknown option; allowed: {', '.join(options)}"
    keep = [ln for ln in lines if not ln.startswith(("Set the environment", "full_key", "object_type"))]
    if keep and keep[0].startswith("Could not override"):
        key = keep[0].split("'")[1]
        reason = next((ln for ln in keep if "not in struct" in ln), keep[-1])
        return f"{key}: unknown key ({reason}); use +{key}=... only for keys a config group accepts"
    cause = e.__cause__
    if isinstance(cause, ValidationError) and getattr(cause, "full_key", None):  # a value in a yaml file
        return f"{cause.full_key}: {str(cause).splitlines()[0]}"
    return "; ".join(keep)


def override_type_message(e: Exception) -> Optional[str]:
    """``key=value: expected ...`` for a command-line value of the wrong type, else None."""
    match = re.match(r"Error merging override (.+)", str(e).splitlines()[0] if str(e) else "")
    cause = e.__cause__
    if match is None or not isinstance(cause, ValidationError) or not getattr(cause, "full_key", None):
        return None
    from hydra.core.override_parser.overrides_parser import OverridesParser

    override = OverridesParser.create().parse_override(match.group(1))
    path = re.sub(r"\[\d+\]$", "", str(cause.full_key))  # constraint.gp.paper.betas[1] -> ...betas
    hint = _declared_type(cause, path.rsplit(".", 1)[-1])
    if hint is None:
        return None
    return f"{path}={show(override.value())}: expected {expected(hint)}"


def _declared_type(cause: ValidationError, key: str):
    """The type the dataclass holding ``key`` declares for it (None when no dataclass does)."""
    node = getattr(cause, "parent_node", None)
    while node is not None:
        schema = OmegaConf.get_type(node)
        if dataclasses.is_dataclass(schema) and key in {f.name for f in dataclasses.fields(schema)}:
            return typing.get_type_hints(schema)[key]
        node = node._get_parent()
    return None
