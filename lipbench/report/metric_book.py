"""Which way each metric of a report is better, and which columns its table shows: read
from the run records (:mod:`lipbench.record.metric_info`), never from the metric code, so a
report needs neither torch nor the plug-in that computed a metric.

:func:`lipbench.report.aggregate.load_runs` merges the records' ``metric_info`` into the
runs frame's ``attrs["metric_info"]``; :class:`MetricBook` reads it back (a frame without
it, e.g. one built by hand, gets the declarations of the records written before
``metric_info`` existed).

:data:`OLD_NAMES` is the single table of the metric names that older records use for a
quantity that now has another name. The loader reads a record's metrics and metric infos
through it (:func:`current_names`, :func:`current_infos`), so the rest of the report knows
each quantity by one name.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Dict, List, Mapping, Optional

from lipbench.record.legacy import LEGACY_METRIC_INFO
from lipbench.record.metric_info import MetricInfo, lookup

ATTR = "metric_info"  # the key in a frame's attrs
RUN_COLUMNS = ("it_per_s",)  # run-level numbers shown after the metrics

# old name -> current name. ``sigma_prod``: the product of the per-layer norm estimates, which
# the records written since the certified bound existed also hold as ``lip_upper_est`` (the
# same number); the records written before it hold it as ``sigma_prod`` only.
OLD_NAMES = {"sigma_prod": "lip_upper_est"}


def current_names(metrics: Mapping[str, object]) -> Dict[str, object]:
    """``metrics`` (one record's) under their current names; an old name is dropped where the
    record also holds the current one (the same number, written twice)."""
    out = {}
    for name, value in metrics.items():
        new = OLD_NAMES.get(name, name)
        if new == name or new not in metrics:
            out[new] = value
    return out


def current_infos(infos: Mapping[str, MetricInfo]) -> Dict[str, MetricInfo]:
    """``infos`` under the current names. An old name's entry moves to the current name, in
    its place and with its table column; where ``infos`` also declares the current name, that
    declaration (its text, direction, target) is the one kept there."""
    out: Dict[str, MetricInfo] = {}
    for name, info in infos.items():
        new = OLD_NAMES.get(name, name)
        if new != name:
            declared = infos.get(new, info)
            out[new] = replace(declared, name=new, table=info.table or declared.table)
        elif name not in out:
            out[name] = info
    return out


def is_floor(metric: str) -> bool:
    """A sampling floor (w1_floor, fid_floor_domain): a property of the data, never bold."""
    return "_floor" in metric


class MetricBook:
    """The metric infos of a set of runs."""

    def __init__(self, infos: Optional[Mapping[str, MetricInfo]] = None):
        self.infos = dict(infos) if infos else current_infos(LEGACY_METRIC_INFO)

    @classmethod
    def of(cls, frame) -> "MetricBook":
        """The book of a runs frame or a table (from its ``attrs``)."""
        return cls(getattr(frame, "attrs", {}).get(ATTR))

    def info(self, metric: str) -> Optional[MetricInfo]:
        return lookup(self.infos, metric)

    def better(self, metric: str) -> Optional[str]:
        """ "lower", "higher" or None (a diagnostic, a sampling floor or an unknown name)."""
        if is_floor(metric):
            return None
        i = self.info(metric)
        return None if i is None else i.better

    def table_order(self) -> List[str]:
        """The columns the table shows first, in order, then the run-level ones."""
        order = [n for n, i in self.infos.items() if i.table and not n.endswith("*")]
        return order + [c for c in RUN_COLUMNS if c not in order]
