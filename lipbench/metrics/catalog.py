"""The metric plug-ins: every metric declares itself here, and evaluators select from here.

A metric is one module of :mod:`lipbench.metrics` that calls :func:`register_metric` next to
the code that computes it. The declaration says

* ``name`` -- what ``eval.metrics=[...]`` selects it by;
* ``kinds`` -- the data kinds it applies to (``toy2d``, ``image``, ``dual``), each mapped to
  when it runs: :data:`EVERY` evaluation or only the :data:`FINAL` one;
* ``outputs`` -- the columns it writes, each a :class:`MetricInfo` with its direction
  (:data:`LOWER`, :data:`HIGHER` or None), an optional target and whether the report's table
  shows it (a metric with a direction is always shown);
* ``params`` -- a dataclass of the ``eval.*`` keys it reads, with their defaults (values
  are checked in its ``__post_init__`` by :func:`lipbench.errors.require`);
* ``default`` -- whether a run computes it when ``eval.metrics`` is null;
* ``order`` -- where it runs and where its columns go (lower first). The Lipschitz
  diagnostics (80) draw from the evaluation's random stream, so a metric that draws from it
  too changes their numbers unless it comes after them.

The decorated object computes it: a function ``compute(ev, params) -> {name: value}``, or a
class built once per run as ``cls(run, params)`` whose instances are called ``obj(ev)``
(for what is computed once, such as a sampling floor). Either may return ``(metrics,
diagnostics)`` to add JSON-able details to summary.json at the final evaluation. ``ev`` is
a :class:`lipbench.metrics.context.Evaluation`, ``run`` a
:class:`lipbench.metrics.context.RunContext`.

Metrics that the training loop derives from the evaluation history (convergence, time to
95%) are declared with :func:`declare_history`: they are recorded, not selected.
This module imports nothing heavy; the metric modules are imported when a lookup needs them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, Mapping, Optional, Sequence, Tuple, Union

from lipbench.errors import ConfigError
from lipbench.record.metric_info import HIGHER, LOWER, MetricInfo, lookup

__all__ = [
    "LOWER",
    "HIGHER",
    "EVERY",
    "FINAL",
    "KINDS",
    "MetricInfo",
    "Metric",
    "register_metric",
    "declare_history",
    "output",
    "get",
    "names",
    "selection",
    "info",
    "direction",
    "all_metrics",
    "check_selection",
]

EVERY = "every"
FINAL = "final"
KINDS = ("toy2d", "image", "dual")
DEFAULT_ORDER = 100


@dataclass(frozen=True)
class Metric:
    """A registered metric (see the module docstring)."""

    name: str
    kinds: Mapping[str, str]  # data kind -> EVERY or FINAL
    outputs: Tuple[MetricInfo, ...]
    compute: Optional[Callable]  # None: derived from the history by the training loop
    params: Optional[type] = None
    default: bool = True
    order: int = DEFAULT_ORDER
    doc: str = ""

    @property
    def selectable(self) -> bool:
        return self.compute is not None


_METRICS: Dict[str, Metric] = {}
_LOADED = []  # set once the built-in metric modules are imported


def output(
    name: str, better: Optional[str] = None, doc: str = "", *, target: Optional[float] = None, table: bool = False
) -> MetricInfo:
    """One column a metric writes (``better``: LOWER, HIGHER or None)."""
    return MetricInfo(name, better, doc, target, table)


def _kinds(kinds: Union[Sequence[str], Mapping[str, str]]) -> Dict[str, str]:
    pairs = dict(kinds) if isinstance(kinds, Mapping) else {k: EVERY for k in kinds}
    for kind, when in pairs.items():
        if kind not in KINDS or when not in (EVERY, FINAL):
            raise ValueError(f"kinds: {kind}={when}; kinds are {', '.join(KINDS)}, each run {EVERY} or {FINAL}")
    return pairs


def _add(metric: Metric) -> None:
    old = _METRICS.get(metric.name)
    if old is not None and old.compute is not metric.compute and old.compute is not None:
        raise ValueError(f"metric {metric.name!r} is registered twice")
    _METRICS[metric.name] = metric


def register_metric(
    name: str,
    *,
    kinds,
    outputs: Sequence[MetricInfo],
    params: Optional[type] = None,
    default: bool = True,
    order: int = DEFAULT_ORDER,
    doc: str = "",
) -> Callable:
    """Decorator: register the decorated function or class as the metric ``name``."""

    def decorator(compute):
        _add(
            Metric(
                name,
                _kinds(kinds),
                tuple(outputs),
                compute,
                params,
                default,
                order,
                doc or (compute.__doc__ or "").strip().split("\n")[0],
            )
        )
        return compute

    return decorator


def declare_history(
    name: str, *, kinds, outputs: Sequence[MetricInfo], order: int = DEFAULT_ORDER, doc: str = ""
) -> None:
    """Declare columns the training loop derives from the evaluation history (recorded with
    the run's metrics, never selected or computed by an evaluator)."""
    _add(Metric(name, _kinds(kinds), tuple(outputs), None, None, True, order, doc))


def unregister(name: str) -> None:
    """Remove a metric (tests register toy metrics and take them away again)."""
    _METRICS.pop(name, None)


def _load_all() -> None:
    """Import every module of :mod:`lipbench.metrics`, so that the built-in metrics are registered."""
    if _LOADED:
        return
    import importlib
    import pkgutil

    import lipbench.metrics as pkg

    for mod in pkgutil.iter_modules(pkg.__path__):
        importlib.import_module(f"{pkg.__name__}.{mod.name}")
    _LOADED.append(True)


def names(selectable: bool = True) -> list:
    """The registered metric names (those ``eval.metrics`` accepts, by default), sorted."""
    _load_all()
    return sorted(n for n, m in _METRICS.items() if m.selectable or not selectable)


def metrics(selectable: bool = True) -> list:
    """Every registered metric (those ``eval.metrics`` can select, by default), by name."""
    return [_METRICS[n] for n in names(selectable)]


def get(name: str) -> Metric:
    _load_all()
    metric = _METRICS.get(name)
    if metric is None or not metric.selectable:
        raise ConfigError(f"eval.metrics={name}: unknown; allowed: {', '.join(names())}")
    return metric


def check_selection(selected) -> None:
    """``eval.metrics``: null, or a non-empty list of registered names (ConfigError naming the key)."""
    if selected is None:
        return
    if isinstance(selected, str) or not isinstance(selected, Sequence) or not selected:
        raise ConfigError(
            f"eval.metrics={selected}: expected a non-empty list such as [w1,lipschitz], "
            "or null for the data kind's defaults"
        )
    for name in selected:
        get(str(name))


def selection(kind: str, selected: Optional[Sequence[str]] = None) -> list:
    """The metrics a ``kind`` run computes, in :attr:`Metric.order`: those named in ``selected``
    that apply to ``kind`` (the others are skipped), or its defaults when ``selected`` is None."""
    _load_all()
    if selected is None:
        chosen = [m for m in _METRICS.values() if m.selectable and m.default and kind in m.kinds]
    else:
        chosen = [m for m in map(get, dict.fromkeys(str(n) for n in selected)) if kind in m.kinds]
    return sorted(chosen, key=lambda m: (m.order, m.name))


def history(kind: str) -> list:
    """The history metrics declared for ``kind``, in order."""
    _load_all()
    return sorted(
        (m for m in _METRICS.values() if not m.selectable and kind in m.kinds), key=lambda m: (m.order, m.name)
    )


def all_metrics() -> Dict[str, MetricInfo]:
    """Every declared column, by name."""
    _load_all()
    return {o.name: o for m in _METRICS.values() for o in m.outputs}


def info(name: str) -> Optional[MetricInfo]:
    """The declaration of the column ``name`` (a ``prefix*`` one when it covers it), or None."""
    return lookup(all_metrics(), name)


def direction(name: str) -> Optional[str]:
    i = info(name)
    return None if i is None else i.better
