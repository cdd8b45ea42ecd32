"""``lipbench-report RUN_OR_SWEEP_DIRS... --out results/NAME``: the report from the shell.

Several sweep dirs are merged into one report. Exits 0 even when some runs are incomplete
(they are listed), 2 when an input path does not exist or an option is invalid.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import List, Optional


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="lipbench-report",
        description="Aggregate lipbench run/sweep directories into tables (md/csv/tex) and plots.",
    )
    p.add_argument(
        "paths",
        nargs="+",
        metavar="RUN_OR_SWEEP_DIR",
        help="run directories or folders searched recursively for runs (merged)",
    )
    p.add_argument(
        "--out", default=None, help="output folder, e.g. results/NAME (default: <dir>/report for a single input)"
    )
    p.add_argument("--name", default=None, help="title of the report (default: the --out folder name)")
    p.add_argument(
        "--metrics",
        default=None,
        help="comma-separated metric columns for the table, e.g. w1,modes,hq_pct (default: all present)",
    )
    p.add_argument(
        "--alpha",
        default=None,
        help="significance level of the bold (one-sided Welch t-test over seeds against each "
        "column's best), a number in (0, 1) (default: the runs' eval.alpha, else 0.05)",
    )
    p.add_argument(
        "--quiet", action="store_true", help="do not print the tables (the convergence warning is still printed)"
    )
    p.add_argument("--no-plots", action="store_true", help="write the tables only")
    return p


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    for path in args.paths:
        if not os.path.isdir(path):
            what = "is not a directory" if os.path.exists(path) else "does not exist"
            print(f"lipbench-report: error: {path} {what}", file=sys.stderr)
            return 2
    out = args.out
    if out is None:
        if len(args.paths) > 1:
            print("lipbench-report: error: --out is required when merging several directories", file=sys.stderr)
            return 2
        out = os.path.join(args.paths[0], "report")
    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()] if args.metrics else None
    alpha = None
    if args.alpha is not None:
        from lipbench.report.significance import check_alpha

        try:
            alpha = check_alpha(args.alpha)
        except ValueError:
            print(f"lipbench-report: error: --alpha must be a number in (0, 1), got {args.alpha!r}", file=sys.stderr)
            return 2
    from lipbench.report import report  # heavy imports only after the arguments are checked

    report(args.paths, out, name=args.name, quiet=args.quiet, metrics=metrics, plots=not args.no_plots, alpha=alpha)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
