"""Config validation and derived settings.

Hydra composes the config; this module checks it before anything is trained or written:
unknown keys, wrong types and out-of-range values raise :class:`ConfigError` with one
line naming the key and what is allowed. Every node has a dataclass schema, the one
place for its keys' defaults and types: the shared groups' are in
:mod:`lipbench.config_schemas`, a constraint's is its ``Params``, and a model, data set or
loss registers its schema with its name. All are Hydra structured configs
(:mod:`lipbench.configstore`), so Hydra types the values when it composes; :func:`checked`
checks them again (a config may come from elsewhere), with the ranges. Each range is
checked where its key is declared, by :func:`lipbench.errors.require`: each node is made an
instance of its dataclass (``OmegaConf.to_object``), whose ``__post_init__`` checks it (data,
model, train, eval, an evaluator's or metric's ``eval.*`` keys, a constraint's ``Params``).
:func:`checked` returns those instances; :mod:`lipbench.spec` holds them.
"""

from __future__ import annotations

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from lipbench.config_schemas import OPTIMIZERS, OptimSchema, PaperSchema, RunSchema, TrainSchema, eval_schema
from lipbench.errors import ConfigError, require
from lipbench.evaluate.metric_set import check_eval_params
from lipbench.typecheck import check_node, keys_of, show

TOP_LEVEL_KEYS = {
    "name",
    "seed",
    "device",
    "data",
    "model",
    "constraint",
    "loss",
    "optim",
    "train",
    "eval",
    "task",
    "pair",
}
# set only by task=dual (conf/task/dual.yaml); absent, a config is a GAN run (task gan)
OPTIONAL_TOP_LEVEL_KEYS = {"task", "pair"}
TASKS = ("gan", "dual")


def _check_schema(cfg: DictConfig, key: str, schema):
    """``(node, instance)``: ``cfg[key]`` typed by ``schema`` (one line naming the key for a wrong
    type or an unknown key), and the schema's instance built from it, whose ``__post_init__``
    checks the ranges."""
    typed = check_node(cfg[key], schema, key)
    return typed, OmegaConf.to_object(typed)


def _check_scalars_and_constraints(cfg: DictConfig) -> None:
    """Type-check the top-level scalars (``seed`` converted in place) and every constraint's
    ``paper`` block, which :func:`resolve_optim` reads before the constraints are built."""
    cfg.seed = check_node({k: cfg[k] for k in keys_of(RunSchema)}, RunSchema, "").seed
    if not isinstance(cfg.constraint, DictConfig):
        raise ConfigError(f"constraint={show(cfg.constraint)}: expected constraint=NAME or a list, e.g. [sn,gp]")
    for name, node in cfg.constraint.items():
        if node is not None and not isinstance(node, DictConfig):
            raise ConfigError(f"constraint.{name}={show(node)}: expected a mapping of the constraint's parameters")
        if node is not None and node.get("paper") is not None:
            check_node(node.paper, PaperSchema, f"constraint.{name}.paper")


def resolve_optim(cfg: DictConfig) -> dict:
    """The optimizer setting a run uses: the preset, or under ``paper`` the first
    constraint's published setting (with ``optim.paper_overrides`` of that constraint applied);
    explicitly set keys win."""
    o = cfg.optim
    chosen = {}
    if o.preset == "paper":
        for name, node in (cfg.constraint or {}).items():
            if node is not None and node.get("paper") is not None:
                chosen = OmegaConf.to_container(node.paper, resolve=True)
                chosen.update(_paper_changes(o, name))
                break
        if not chosen:
            raise ConfigError(
                "optim.preset=paper: no constraint in the list defines a `paper` setting; pick optim=A..F"
            )
    for key in ("optimizer", "lr", "betas", "n_critic"):
        if o.get(key) is not None:
            chosen[key] = OmegaConf.to_container(o[key]) if key == "betas" else o[key]
    chosen["preset"] = o.preset
    optimizer, betas = chosen.get("optimizer"), chosen.get("betas")
    require(optimizer, "optim.optimizer", optimizer in OPTIMIZERS, f"allowed: {', '.join(OPTIMIZERS)}")
    chosen["lr"] = float(require(chosen.get("lr"), "optim.lr", lambda lr: float(lr) > 0, "must be > 0"))
    require(chosen.get("n_critic"), "optim.n_critic", at_least=1, why="critic steps per generator step")
    if optimizer == "adam":
        two = betas is not None and len(betas) == 2 and all(0 <= float(b) < 1 for b in betas)
        require(betas, "optim.betas", two, "adam needs two values in [0, 1)")
        chosen["betas"] = [float(b) for b in betas]
    return chosen


def checked(cfg: DictConfig):
    """``(config, parts)``: a checked copy of ``cfg`` (resolved, every value typed, ``optim``
    filled in; ``cfg`` itself is left as it is), and the typed, range-checked objects built on
    the way (``parts``: ``data``, ``model`` and ``loss``, each its schema's instance or None,
    ``train`` and ``eval``, their schemas' instances, and ``constraints``, the
    :class:`~lipbench.constraints.base.ConstraintSet`). Raises :class:`ConfigError` on the first
    problem found. :func:`lipbench.spec.from_config` is its one caller in a run."""
    missing = sorted(OmegaConf.missing_keys(cfg))
    if missing:
        raise ConfigError(f"{missing[0]}: required; set it on the command line ({missing[0]}=...)")
    try:
        cfg = OmegaConf.create(OmegaConf.to_container(cfg, resolve=True))
    except OmegaConfBaseException as e:
        raise ConfigError(f"{getattr(e, 'full_key', '')}: {str(e).splitlines()[0]}") from None
    unknown = sorted(set(cfg) - TOP_LEVEL_KEYS)
    if unknown:
        raise ConfigError(f"{unknown[0]}: unknown top-level key; allowed: {', '.join(sorted(TOP_LEVEL_KEYS))}")
    missing = sorted(k for k in TOP_LEVEL_KEYS - OPTIONAL_TOP_LEVEL_KEYS if k not in cfg)
    if missing:
        raise ConfigError(f"{missing[0]}: missing from the config")
    _check_scalars_and_constraints(cfg)
    cfg.train, train = _check_schema(cfg, "train", TrainSchema)
    cfg.eval, eval_ = _check_schema(cfg, "eval", eval_schema())
    _check_schema(cfg, "optim", OptimSchema)
    from lipbench.metrics.catalog import check_selection

    e = cfg.eval
    check_selection(None if e.metrics is None else list(e.metrics))  # eval.metrics=foo: unknown; allowed: ...
    check_eval_params(e)  # the evaluators' and metrics' own keys, checked by their declaring dataclasses
    if not cfg.constraint:
        raise ConfigError("constraint: empty; use constraint=none for the unconstrained baseline")
    _apply_paper_overrides(cfg)
    cfg.optim = resolve_optim(cfg)
    parts = {**_check_components(cfg), "train": train, "eval": eval_}
    _check_task(cfg)
    return cfg, parts


def _apply_paper_overrides(cfg: DictConfig) -> None:
    """``optim.paper_overrides``: each names a constraint of the registry; one of this run's
    constraints gets its changes written into its ``paper`` block, so that the resolved config
    records the setting used. The others' changes are dropped (a sweep's jobs share them)."""
    from lipbench.constraints import CONSTRAINTS

    changes = cfg.optim.get("paper_overrides") or {}
    for name, node in changes.items():
        if name not in CONSTRAINTS:
            raise ConfigError(
                f"optim.paper_overrides.{name}: unknown constraint; allowed: {', '.join(CONSTRAINTS.names())}"
            )
        changes[name] = check_node(node, PaperSchema, f"optim.paper_overrides.{name}")
        own = cfg.constraint.get(name)
        if own is not None and own.get("paper") is not None:
            own.paper = OmegaConf.merge(own.paper, _paper_changes(cfg.optim, name))


def _paper_changes(optim: DictConfig, name: str) -> dict:
    """The keys that ``optim.paper_overrides`` sets (not null) for constraint ``name``."""
    node = (optim.get("paper_overrides") or {}).get(name)
    if node is None:
        return {}
    return {key: value for key, value in OmegaConf.to_container(node, resolve=True).items() if value is not None}


def _check_components(cfg: DictConfig) -> dict:
    """Names of data, model, loss and constraints exist, every key of theirs has its declared
    type (the schema registered with the name) and is in range: each as its schema's instance
    (None without a schema), and the constraints as a ConstraintSet."""
    from lipbench.constraints import build_constraints
    from lipbench.data import DATASETS
    from lipbench.losses import LOSSES
    from lipbench.models import MODELS

    parts = {}
    for node, registry in (("data", DATASETS), ("model", MODELS), ("loss", LOSSES)):
        if not isinstance(cfg[node], DictConfig):
            raise ConfigError(f"{node}={show(cfg[node])}: expected a mapping with a name; pick a preset, {node}=NAME")
        name = cfg[node].get("name")
        if not isinstance(name, str) or name not in registry:
            raise ConfigError(f"{node}.name={show(name)}: unknown; allowed: {', '.join(registry.names())}")
        schema = registry.schema(name)  # every key's type and range, before anything is built
        parts[node] = None if schema is None else OmegaConf.to_object(check_node(cfg[node], schema, node))
    parts["constraints"] = build_constraints(cfg.constraint)  # each constraint's Params: keys, types and ranges
    return parts


def _check_task(cfg: DictConfig) -> None:
    """``task`` is gan (no key) or dual; the dual task needs a valid ``pair`` and the Wasserstein loss."""
    task = cfg.get("task") or "gan"
    if task not in TASKS:
        raise ConfigError(f"task={task}: allowed: {', '.join(TASKS)}")
    if task == "gan":
        if cfg.get("pair") is not None:
            raise ConfigError("pair: used only by the dual task; add task=dual or drop the pair")
        return
    if cfg.get("pair") is None:
        raise ConfigError("pair: required for task=dual; e.g. pair=gaussian (see conf/pair/)")
    if cfg.loss.name != "wasserstein":
        raise ConfigError(
            f"loss.name={cfg.loss.name}: task=dual maximises E_P[f] - E_Q[f], the Wasserstein "
            "dual; allowed: wasserstein"
        )
    from lipbench.dual.pairs import build_pair

    build_pair(cfg.pair)  # checks every pair key (dimension, shift, OT sample sizes, ...)
