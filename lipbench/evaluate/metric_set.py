"""The metrics one run computes: chosen by ``eval.metrics``, built once, run at every
evaluation, and described in the run record.

``eval.metrics`` null selects the data kind's defaults (every registered metric declared
``default=True`` for it); a list selects those of its names that apply to the run's kind
(a sweep over 2-D and image data may name both kinds' metrics). Either way they run in
their declared order. Parameters come from ``eval.*`` through each metric's params
dataclass; a missing key takes the dataclass default.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from typing import Optional

from omegaconf import OmegaConf

from lipbench.errors import ConfigError
from lipbench.metrics import catalog
from lipbench.metrics.catalog import EVERY
from lipbench.metrics.context import Evaluation, RunContext
from lipbench.record.metric_info import METRIC_INFO, to_record


def eval_value(eval_cfg, key: str):
    """``eval.<key>`` of an OmegaConf node, a mapping or an object (None when absent), as plain Python."""
    if eval_cfg is None:
        return None
    if OmegaConf.is_config(eval_cfg):
        value = OmegaConf.select(eval_cfg, key, default=None)
    elif isinstance(eval_cfg, Mapping):
        value = eval_cfg.get(key)
    else:
        value = getattr(eval_cfg, key, None)
    return OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value


def params_from(eval_cfg, schema: Optional[type]):
    """An instance of the dataclass ``schema`` from the ``eval.*`` keys it declares (None without one)."""
    if schema is None:
        return None
    given = {f.name: eval_value(eval_cfg, f.name) for f in dataclasses.fields(schema)}
    return schema(**{k: v for k, v in given.items() if v is not None})


def _build(metric: catalog.Metric, run: RunContext, params):
    """The callable ``f(ev)`` of a metric: an instance of a class metric, or the function with its params."""
    if isinstance(metric.compute, type):
        return metric.compute(run, params)
    return lambda ev: metric.compute(ev, params)


class MetricSet:
    """The selected metrics of one run (see the module docstring)."""

    def __init__(self, run: RunContext, eval_cfg):
        self.kind = run.kind
        selected = eval_value(eval_cfg, "metrics")
        catalog.check_selection(selected)
        self.metrics = catalog.selection(run.kind, selected)
        self._compute = [_build(m, run, params_from(eval_cfg, m.params)) for m in self.metrics]
        self._history = catalog.history(run.kind)

    @property
    def names(self) -> list:
        return [m.name for m in self.metrics]

    def produces(self, column: str) -> bool:
        return any(o.name == column for m in self.metrics for o in m.outputs)

    def require(self, column: str, why: str) -> None:
        """ConfigError when no selected metric writes ``column`` (the evaluator needs it)."""
        if not self.produces(column):
            owner = next(
                (m.name for m in catalog.selection(self.kind) if any(o.name == column for o in m.outputs)), column
            )
            raise ConfigError(f"eval.metrics=[{','.join(self.names)}]: a {self.kind} run needs {owner} ({why}); add it")

    def run(self, ev: Evaluation, when: str = EVERY) -> dict:
        """Compute the metrics scheduled ``when`` (EVERY or FINAL) into ``ev.metrics``, in order;
        returns the diagnostics they add."""
        diagnostics: dict = {}
        for metric, compute in zip(self.metrics, self._compute):
            if metric.kinds[self.kind] != when:
                continue
            result = compute(ev)
            values, extra = result if isinstance(result, tuple) else (result, {})
            ev.metrics.update(values)
            diagnostics.update(extra)
        return diagnostics

    def info(self) -> dict:
        """``{METRIC_INFO: ...}`` for the final diagnostics: every column of the selected metrics
        and of the kind's history metrics, in order (see :mod:`lipbench.record.metric_info`)."""
        outputs = [o for m in self.metrics + self._history for o in m.outputs]
        return {METRIC_INFO: to_record(outputs)}


def eval_fields() -> dict:
    """``{key: dataclasses.Field}`` of every ``eval.*`` key the evaluators' options and the
    registered metrics' params declare (the config's eval schema is built from them). Raises
    ValueError when two declare one key with different defaults."""
    return {name: f for name, (f, _) in _declared().items()}


def eval_field_specs() -> list:
    """``(key, type, dataclasses.field)`` of every key of :func:`eval_fields`, with its type
    resolved and its default, for :func:`dataclasses.make_dataclass`."""
    specs = []
    for name, (f, typ) in _declared().items():
        if f.default_factory is not dataclasses.MISSING:
            specs.append((name, typ, dataclasses.field(default_factory=f.default_factory)))
        else:
            specs.append((name, typ, dataclasses.field(default=f.default)))
    return specs


def check_eval_params(eval_cfg) -> None:
    """Build every declared ``eval.*`` schema (the evaluators' options and the registered metrics'
    params) from ``eval_cfg``, so that each key's range is checked where it is declared, with
    that schema's one-line :class:`ConfigError`, before anything is trained."""
    for schema in _schemas():
        params_from(eval_cfg, schema)


def _schemas() -> list:
    """The evaluators' options, then the registered metrics' params dataclasses."""
    from lipbench.evaluate.options import DualOptions, ImageOptions, Toy2DOptions

    return [Toy2DOptions, ImageOptions, DualOptions] + [m.params for m in catalog.metrics() if m.params is not None]


def _declared() -> dict:
    """``{key: (Field, resolved type)}`` over the evaluators' options, then the metrics' params."""
    out: dict = {}
    for schema in _schemas():
        hints = typing.get_type_hints(schema)
        for f in dataclasses.fields(schema):
            if f.name in out and _default(out[f.name][0]) != _default(f):
                raise ValueError(f"eval.{f.name}: {schema.__name__} and another declare different defaults")
            out.setdefault(f.name, (f, hints[f.name]))
    return out


def _default(f: dataclasses.Field):
    return f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
