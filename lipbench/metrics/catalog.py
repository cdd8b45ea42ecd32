"""One place that says, for every metric, which direction is better.

Metric modules call :func:`declare` next to the code that computes the metric; the
report asks :func:`direction` when it marks the best value in a column. A declaration
ending in ``*`` covers every metric name with that prefix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional

LOWER = "lower"
HIGHER = "higher"


@dataclass(frozen=True)
class MetricInfo:
    name: str
    better: Optional[str]  # "lower", "higher" or None (a diagnostic, no "best")
    doc: str
    target: Optional[float] = None  # for diagnostics with an ideal value (e.g. 1.0)


_CATALOG: Dict[str, MetricInfo] = {}


def declare(name: str, better: Optional[str], doc: str, target: Optional[float] = None) -> str:
    if better not in (LOWER, HIGHER, None):
        raise ValueError(f"better must be 'lower', 'higher' or None, not {better!r}")
    _CATALOG[name] = MetricInfo(name, better, doc, target)
    return name


def info(name: str) -> Optional[MetricInfo]:
    _load_all()
    if name in _CATALOG:
        return _CATALOG[name]
    best = None
    for key, value in _CATALOG.items():
        if key.endswith("*") and name.startswith(key[:-1]):
            if best is None or len(key) > len(best.name):
                best = value
    return best


def direction(name: str) -> Optional[str]:
    i = info(name)
    return None if i is None else i.better


def all_metrics() -> Dict[str, MetricInfo]:
    _load_all()
    return dict(_CATALOG)


def _load_all():
    import importlib
    import pkgutil

    import lipbench.evaluate
    import lipbench.metrics

    for pkg in (lipbench.metrics, lipbench.evaluate):
        for mod in pkgutil.iter_modules(pkg.__path__):
            importlib.import_module(f"{pkg.__name__}.{mod.name}")
