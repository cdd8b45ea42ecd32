"""The command lines behind a set of runs, from their records: each summary.json keeps the
run's command-line overrides (Hydra's task overrides, one value per swept key); merged, they
give one ``lipbench -m key=v1,v2 ...`` line per sweep, for a report's README.

Absolute paths (``data.root=/home/me/data/x.tar.gz``) are shown as ``…/x.tar.gz``: the rest
names a machine, not the data. The merge is exact: a group of runs becomes one line only when its runs are the full
cross-product of the values it lists; otherwise it is split on a key and each part merged
again (so two sweeps that swept different keys, or different values, stay two lines).
"""

from __future__ import annotations

import json
import os
import re
from typing import Dict, List, Sequence, Tuple

import pandas as pd

from lipbench import record

Overrides = Tuple[Tuple[str, str], ...]  # (key, value) in the run's order


def run_overrides(out_dir: str, df: pd.DataFrame) -> List[Overrides]:
    """Each run's overrides, read from its record's summary.json (the copy under ``out_dir`` when
    there is one, else its run dir); runs that record none are left out."""
    found = []
    for _, run in df.iterrows():
        where = [os.path.join(out_dir, str(run["record"]))] if isinstance(run.get("record"), str) else []
        where.append(str(run.get("run_dir", "")))
        for d in where:
            path = os.path.join(d, record.SUMMARY)
            if os.path.isfile(path):
                with open(path, encoding="utf-8") as f:
                    items = json.load(f).get("overrides") or []
                pairs = tuple(tuple(o.split("=", 1)) for o in items if isinstance(o, str) and "=" in o)
                if pairs:
                    found.append(pairs)
                break
    return found


def _natural(value: str):
    try:
        return (0, float(value), "")
    except ValueError:
        return (1, 0.0, value)


def _line(group: List[Dict[str, str]], order: List[str]) -> str:
    parts, multi = [], False
    for key in order:
        values = sorted({g[key] for g in group}, key=_natural)
        multi |= len(values) > 1
        parts.append(f"{key}={','.join(_shell(v) for v in values)}")
    return "lipbench " + ("-m " if multi else "") + " ".join(parts)


def _shell(value: str) -> str:
    if value.startswith("/"):  # a path on the machine that made the runs: only its file name is portable
        value = "…/" + value.rstrip("/").rsplit("/", 1)[-1]
    return value if re.fullmatch(r"[\w.,:/+\-=\[\]@…]*", value) else f"'{value}'"


def _merge(group: List[Dict[str, str]], order: List[str]) -> List[str]:
    distinct = {tuple(sorted(g.items())) for g in group}
    counts = [len({g[k] for g in group}) for k in order]
    product = 1
    for c in counts:
        product *= c
    if product == len(distinct):
        return [_line(group, order)]
    split = min((k for k, c in zip(order, counts) if c > 1), key=lambda k: len({g[k] for g in group}))
    lines: List[str] = []
    for value in sorted({g[split] for g in group}, key=_natural):
        lines += _merge([g for g in group if g[split] == value], order)
    return lines


def merged_commands(runs: Sequence[Overrides]) -> List[str]:
    """One ``lipbench [-m] key=values ...`` line per sweep, keys in the runs' own order with the
    ``experiment=`` preset first; runs with different sets of keys are different sweeps."""
    groups: Dict[Tuple[str, ...], List[Dict[str, str]]] = {}
    orders: Dict[Tuple[str, ...], List[str]] = {}
    for pairs in runs:
        keys = tuple(sorted(k for k, _ in pairs))
        groups.setdefault(keys, []).append(dict(pairs))
        order = orders.setdefault(keys, [])
        order += [k for k, _ in pairs if k not in order]
    lines: List[str] = []
    for keys, group in groups.items():
        order = sorted(orders[keys], key=lambda k: k != "experiment")  # stable: the preset first
        merged = _merge(group, order)
        lines += [line for line in merged if line not in lines]
    return lines
