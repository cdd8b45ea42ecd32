"""Every component's schema as a Hydra structured config (``ConfigStore``).

The dataclass that declares a component's keys is the one place for their defaults and
types: each is stored twice in Hydra's ConfigStore,

* as ``schema/<group>/<name>``, which a preset yaml extends (``conf/constraint/gp.yaml``
  keeps only the ``paper`` block; ``optim/A.yaml`` only setting A)::

      defaults:
        - /schema/constraint/gp@_here_
        - _self_

* and as the option ``<group>/<name>`` itself, unless a yaml of that name exists in the
  config folder (``conf/model/mlp.yaml`` need not exist: ``model=mlp`` is the schema).

Members come from the registries (:mod:`lipbench.registry`), which discover their
modules, so a new model, data set, loss or constraint is selectable as soon as its
module registers it. A constraint's node is its ``Params`` plus its ``paper`` block
(:class:`lipbench.config_schemas.PaperSchema`). Hydra then types every value at composition:
``model.hidden=abc`` fails there, and :mod:`lipbench.compose_errors` makes it one line.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Dict, Iterator, Optional, Tuple

from hydra.core.config_store import ConfigStore

from lipbench.config_schemas import OptimSchema, PaperSchema, TrainSchema, eval_schema

SCHEMA_GROUP = "schema"
# the shared groups: (the option that is the schema's defaults, a function giving the schema; eval's
# holds the keys of the metrics registered at the time)
SHARED = {
    "train": ("default", lambda: TrainSchema),
    "eval": ("default", eval_schema),
    "optim": ("paper", lambda: OptimSchema),
}
_CONSTRAINT_NODES: Dict[type, type] = {}
_STORED: Dict[tuple, type] = {}  # (conf_dir, group, option) -> the schema last stored for it


def constraint_schema(cls) -> type:
    """The structured config of constraint class ``cls``: its ``Params`` fields, then
    ``paper`` (its published optimizer setting, null when it has none). A subclass of
    ``cls.Params``: ``OmegaConf.to_object`` of it checks the ranges, naming ``constraint.<name>``."""
    if cls not in _CONSTRAINT_NODES:
        paper = ("paper", Optional[PaperSchema], dataclasses.field(default=None))
        _CONSTRAINT_NODES[cls] = dataclasses.make_dataclass(f"{cls.__name__}Config", [paper], bases=(cls.Params,))
    return _CONSTRAINT_NODES[cls]


def _named(schema, name: str):
    """The node of registry member ``name``: its schema with ``name`` set (one schema may
    serve several names, as the losses' does), or ``{name: ...}`` when it declares none."""
    if schema is None:
        return {"name": name}
    if "name" in {f.name for f in dataclasses.fields(schema)}:
        return schema(name=name)
    return schema


def nodes() -> Iterator[Tuple[str, str, object, Optional[str]]]:
    """``(group, option, node, package)`` for every option that has a schema."""
    from lipbench.constraints import CONSTRAINTS
    from lipbench.data import DATASETS
    from lipbench.losses import LOSSES
    from lipbench.models import MODELS

    for group, (option, schema) in SHARED.items():
        yield group, option, schema(), None
    for group, registry in (("model", MODELS), ("data", DATASETS), ("loss", LOSSES)):
        for name in registry.names():
            yield group, name, _named(registry.schema(name), name), None
    for name in CONSTRAINTS.names():
        yield "constraint", name, constraint_schema(CONSTRAINTS.get(name)), f"constraint.{name}"


def store_configs(conf_dir) -> None:
    """Put every schema into Hydra's ConfigStore (again: members registered since the last
    call are added). ``conf_dir``: the config folder whose yaml files take precedence."""
    cs = ConfigStore.instance()
    for group, option, node, package in nodes():
        where, schema = (str(conf_dir), group, option), node if isinstance(node, type) else type(node)
        if _STORED.get(where) is schema:
            continue
        cs.store(group=f"{SCHEMA_GROUP}/{group}", name="default" if group in SHARED else option, node=node)
        if not (Path(conf_dir) / group / f"{option}.yaml").is_file():  # a yaml of the name extends the schema
            cs.store(group=group, name=option, node=node, package=package)
        _STORED[where] = schema


def forget(group: str, option: str) -> None:
    """Remove ``group/option`` and its schema from the ConfigStore (a member a test registered)."""
    repo = ConfigStore.instance().repo
    for path in (group, f"{SCHEMA_GROUP}/{group}"):
        node = repo
        for part in path.split("/"):
            node = node.get(part, {})
        node.pop(f"{option}.yaml", None)
    for where in [k for k in _STORED if k[1:3] == (group, option)]:
        del _STORED[where]
