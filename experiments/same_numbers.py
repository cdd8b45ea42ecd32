"""Do two sweeps hold the same numbers? Compare two reports' runs.csv column for column.

Rows are matched by their run's (method, seed, data set, model width) and only rows present in
both are compared, so a quick start can be checked against the bigger sweep whose rows it
repeats:

    lipbench -m experiment=toy2d
    python experiments/same_numbers.py results/toy2d/runs.csv multirun/toy2d/report/runs.csv

It prints the columns equal in every matched row (NaN equals NaN), then each column that
differs, with its largest relative difference, or the side that lacks it. Wall-clock columns
(``*_s``, ``it_per_s``, ``finished_at``) and where a run lives (``run_dir``, ``record``,
``cfg.name``) are listed apart: they differ between any two sweeps. Bitwise equality is a
per-machine property (README, "Resuming and run identity"). Exit status: 0 when every
compared column is equal, 1 otherwise, 2 when no row matches.
"""

from __future__ import annotations

import argparse
import math
import sys

import pandas as pd

KEYS = ("method", "seed", "cfg.data.name", "cfg.model.hidden")
EXPECTED_TO_DIFFER = ("run_dir", "record", "cfg.name", "finished_at", "it_per_s")


def matched(path: str) -> pd.DataFrame:
    frame = pd.read_csv(path)
    keys = [k for k in KEYS if k in frame]
    if frame.duplicated(keys).any():
        raise SystemExit(f"{path}: two rows share ({', '.join(keys)}); compare one sweep's report at a time")
    return frame.set_index(keys)


def equal(a, b) -> bool:
    if pd.isna(a) and pd.isna(b):
        return True
    return a == b


def relative(a, b) -> str:
    try:
        a, b = float(a), float(b)
    except (TypeError, ValueError):
        return "text differs"
    if math.isnan(a) or math.isnan(b):
        return "NaN on one side"
    return f"max relative difference {abs(a - b) / max(abs(a), abs(b), 1e-300):.2g}"


def compare(ref: pd.DataFrame, other: pd.DataFrame):
    """``(rows, same, differ, apart)``: the matched row keys, the equal columns, ``{column: why}``
    for the others, and the columns expected to differ."""
    rows = ref.index.intersection(other.index)
    ref, other = ref.loc[rows], other.loc[rows]
    same, differ, apart = [], {}, []
    for column in sorted(set(ref.columns) | set(other.columns)):
        if column in EXPECTED_TO_DIFFER or column.endswith("_s"):
            apart.append(column)
        elif column not in other or column not in ref:
            present = ref[column] if column in ref else other[column]
            if present.isna().all():  # a key of runs that are not compared (another data set's)
                same.append(column)
            else:
                differ[column] = "only in " + ("the reference" if column in ref else "the other")
        else:
            pairs = [(a, b) for a, b in zip(ref[column], other[column]) if not equal(a, b)]
            if not pairs:
                same.append(column)
            else:
                worst = max(pairs, key=lambda p: abs(float(p[0]) - float(p[1])) if _numeric(p) else math.inf)
                differ[column] = f"{len(pairs)} of {len(rows)} rows; {relative(*worst)}"
    return list(rows), same, differ, apart


def _numeric(pair) -> bool:
    try:
        return all(math.isfinite(float(v)) for v in pair)
    except (TypeError, ValueError):
        return False


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reference", help="a report's runs.csv (e.g. results/toy2d/runs.csv)")
    parser.add_argument("other", help="another report's runs.csv (e.g. multirun/toy2d/report/runs.csv)")
    args = parser.parse_args(argv)
    rows, same, differ, apart = compare(matched(args.reference), matched(args.other))
    if not rows:
        print("no run of one report matches a run of the other", file=sys.stderr)
        return 2
    print(f"{len(rows)} matched runs: {', '.join('/'.join(map(str, r)) for r in rows)}")
    print(f"equal in every matched run ({len(same)} columns): {', '.join(same)}")
    for column, why in differ.items():
        print(f"DIFFERS {column}: {why}")
    print(f"not compared (wall clock, location): {', '.join(apart)}")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
