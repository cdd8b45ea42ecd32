"""What a run record says about its metrics: which way each is better, and which the
report's table shows.

The evaluator writes, at the final evaluation, ``summary.json["diagnostics"]["metric_info"]``:
``{name: {"better": "lower" | "higher" | null, "target": float | null, "table": bool}}``
for every column its selected metrics (and the history metrics of the training loop)
produce, in the order the report shows them. The report reads it from there, so it needs
neither the metric's code nor torch. Records written before that key existed get
:data:`lipbench.record.legacy.LEGACY_METRIC_INFO`, the declarations of that time.

A name ending in ``*`` covers every metric name with that prefix (the longest prefix wins).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Iterable, Mapping, Optional

LOWER = "lower"
HIGHER = "higher"
METRIC_INFO = "metric_info"  # the key in summary.json's diagnostics

InfoMap = Dict[str, "MetricInfo"]


@dataclass(frozen=True)
class MetricInfo:
    """One metric column: ``better`` is "lower", "higher" or None (a diagnostic, no best);
    ``target`` an ideal value of a diagnostic (e.g. 1.0); ``table`` whether the report's table
    shows a diagnostic by default (a metric with a direction is always shown)."""

    name: str
    better: Optional[str]
    doc: str = ""
    target: Optional[float] = None
    table: bool = False

    def __post_init__(self):
        if self.better not in (LOWER, HIGHER, None):
            raise ValueError(f"metric {self.name}: better must be 'lower', 'higher' or None, not {self.better!r}")

    def __deepcopy__(self, memo):
        # immutable (frozen, with immutable fields): pandas deep-copies a frame's attrs, which hold
        # these, on every operation; a copy would be equal and only cost time
        return self


def to_record(infos: Iterable[MetricInfo]) -> Dict[str, dict]:
    """The JSON form stored in a run record (docs are left out: the code has them)."""
    return {i.name: {"better": i.better, "target": i.target, "table": bool(i.table)} for i in infos}


def from_record(entry) -> Optional[InfoMap]:
    """The infos of a stored ``metric_info`` entry; None when there is none or it is malformed."""
    if not isinstance(entry, dict) or not entry:
        return None
    out: InfoMap = {}
    for name, value in entry.items():
        if not isinstance(value, dict):
            return None
        target = value.get("target")
        try:
            target = None if target is None else float(target)
            out[str(name)] = MetricInfo(str(name), value.get("better"), target=target, table=bool(value.get("table")))
        except (TypeError, ValueError):
            return None
    return out


def recorded(summary: Mapping) -> Optional[InfoMap]:
    """The infos a summary.json object records, or None for a record that has none."""
    diagnostics = summary.get("diagnostics") if isinstance(summary, Mapping) else None
    return from_record(diagnostics.get(METRIC_INFO)) if isinstance(diagnostics, Mapping) else None


def merge(maps: Iterable[Mapping[str, MetricInfo]]) -> InfoMap:
    """One map for several runs, keeping each run's order: a name first seen in a later map
    goes right before the next name of that map already placed (else at the end). The first
    run to declare a name gives its direction; ``table`` is set when any run sets it."""
    order: list = []
    out: InfoMap = {}
    for m in maps:
        names = list(m)
        for i, name in enumerate(names):
            if name in out:
                if m[name].table and not out[name].table:
                    out[name] = MetricInfo(name, out[name].better, out[name].doc, out[name].target, True)
                continue
            anchor = next((n for n in names[i + 1 :] if n in out), None)
            order.insert(order.index(anchor) if anchor is not None else len(order), name)
            out[name] = m[name]
    return {name: out[name] for name in order}


def lookup(infos: Mapping[str, MetricInfo], name: str) -> Optional[MetricInfo]:
    """The info of ``name``: its own entry, else the longest ``prefix*`` entry that matches."""
    if name in infos:
        return infos[name]
    best = None
    for key, value in infos.items():
        if key.endswith("*") and name.startswith(key[:-1]) and (best is None or len(key) > len(best.name)):
            best = value
    return best
