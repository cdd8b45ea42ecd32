"""Turn run directories into comparison tables and plots.

``report(paths, out_dir)`` is the one code path behind ``lipbench-report`` and the Hydra
callback that runs at the end of every sweep. It writes into ``out_dir``::

    README.md        a one-page report (lipbench.report.readme): how the folder was made (the
                     hand-written COMMAND.md, the runs' overrides and time), the headline table,
                     the key figures, the Lipschitz verdicts, NOTES.md, links to everything else
    runs.csv         one row per run: status, timings, final metrics, cfg.* config values
    incomplete.csv   run dirs that could not be read, with the reason
    table.md         the headline: method x swept factors, converged k/n, the primary metrics
                     and their floors, the Lipschitz verdict (at most 8 columns, 120 characters)
    table_full.md/.csv/.tex   every column: mean ± std over seeds, converged k/n and time to
                     quality, bold = not significantly worse than the best (Welch, alpha)
    ranking.md/.csv  per method: mean rank (± spread) over data sets, per metric with a direction
    lipschitz.md/.csv    per method: is the critic 1-Lipschitz (certified / exceeded), and its bounds
    plots/*.png|pdf  every plot of lipbench.report.plots
    runs/<run>/      a compact copy of each run record (summary.json, metrics.jsonl,
                     config.yaml; final_samples.npz / grid_final.png for the runs the sample plots show),
                     so the folder is self-contained and the notebooks can redraw the plots
"""

from __future__ import annotations

import os
import shutil
import textwrap
from typing import Iterable, List, Optional, Sequence, Union

import pandas as pd

from lipbench import record
from lipbench.report.aggregate import REPORT_MARKER, load_histories, load_runs
from lipbench.report.convergence import convergence_warning, unknown_convergence_note
from lipbench.report.dual_table import dual_report
from lipbench.report.factors import swept_factors
from lipbench.report.headline import WIDTH, headline_text, legend
from lipbench.report.lipschitz_table import lipschitz_table, write_lipschitz_table
from lipbench.report.plots import plot_all
from lipbench.report.plots_critic import representative_runs
from lipbench.report.ranking import ranking_table, write_ranking
from lipbench.report.readme import report_command, write_readme
from lipbench.report.study_load import find_study
from lipbench.report.tables import comparison_table, format_table
from lipbench.report.writers import write_tables

__all__ = [
    "report",
    "load_runs",
    "load_histories",
    "swept_factors",
    "comparison_table",
    "format_table",
    "write_tables",
    "copy_runs",
    "ranking_table",
    "table_warnings",
]


_CALLED_WITH: List[List[str]] = []  # the paths report() was given, while it reports a study's reruns


def _same(a: str, b: str) -> bool:
    return os.path.realpath(a) == os.path.realpath(b)


def copy_runs(df: pd.DataFrame, out_dir: str) -> List[str]:
    """Copy each run's compact record into ``out_dir/runs/<name>/``; returns the names
    (relative paths ``runs/<name>``) in row order. Stale copies from an earlier report
    are removed."""
    runs_dir = os.path.join(out_dir, "runs")
    os.makedirs(runs_dir, exist_ok=True)
    with_npz = set(representative_runs(df).index) if not df.empty else set()
    names, used = [], set()
    for idx, run in df.iterrows():
        src = str(run["run_dir"])
        base = str(run["run_id"])
        name = base if base not in used else f"{base}-{idx}"
        if os.path.dirname(os.path.realpath(src)) == os.path.realpath(runs_dir):
            name = os.path.basename(os.path.normpath(src))  # already one of our copies
        used.add(name)
        dst = os.path.join(runs_dir, name)
        names.append(f"runs/{name}")
        if _same(src, dst):
            continue
        os.makedirs(dst, exist_ok=True)
        for fname in record.COMPACT + ((record.SAMPLES, record.GRID) if idx in with_npz else ()):
            if os.path.isfile(os.path.join(src, fname)):
                shutil.copy2(os.path.join(src, fname), os.path.join(dst, fname))
    for entry in os.listdir(runs_dir):  # stale copies of runs no longer reported
        path = os.path.join(runs_dir, entry)
        if entry not in used and os.path.isdir(path):
            shutil.rmtree(path, ignore_errors=True)
    return names


def table_warnings(table: pd.DataFrame) -> List[str]:
    """The lines every printout of the table carries: the convergence warning, or the note
    that the runs do not record convergence."""
    factors = table.attrs.get("factors", [])
    return [w for w in (convergence_warning(table, factors), unknown_convergence_note(table)) if w]


def report(
    paths: Union[str, os.PathLike, Iterable],
    out_dir,
    *,
    name: Optional[str] = None,
    quiet: bool = False,
    metrics: Optional[Sequence[str]] = None,
    plots: bool = True,
    alpha: Optional[float] = None,
) -> dict:
    """Aggregate the runs below ``paths`` (merged) and write the report into ``out_dir``.

    Prints the markdown table, the ranking and where everything is unless ``quiet``; the
    convergence warning and plot errors are printed even when ``quiet``. ``plots=False``
    skips drawing (tables, runs.csv and the run copies are still written). ``alpha`` is the
    significance level of the bold (default: the runs' eval.alpha, else 0.05). Never raises
    on bad run dirs: they are returned (and written to incomplete.csv) as ``(path, reason)``.
    Returns ``{"table", "ranking", "runs", "files", "incomplete", "errors", "warnings", "out_dir"}``.
    """
    study = find_study(paths)
    if study is not None:  # a study folder: this report of its reruns, then study.md (lipbench.report.study)
        return _study_report(paths, study, out_dir, name=name, quiet=quiet, metrics=metrics, plots=plots, alpha=alpha)
    out_dir = os.fspath(out_dir)
    name_given, name = name, name or os.path.basename(os.path.normpath(os.path.abspath(out_dir)))
    os.makedirs(out_dir, exist_ok=True)
    open(os.path.join(out_dir, REPORT_MARKER), "w").close()
    df, incomplete = load_runs(paths)
    errors: List[str] = []
    df, files = _write_runs(df, incomplete, out_dir, errors)
    table = comparison_table(df, metrics, alpha=alpha)
    lip = lipschitz_table(df)
    files += list(write_tables(table, out_dir, caption=name, lip=lip).values())
    ranking = ranking_table(table)
    rank_paths = write_ranking(ranking, out_dir, caption=name)
    files += list(rank_paths.values())
    lip_paths = write_lipschitz_table(lip, out_dir, caption=name)
    files += list(lip_paths.values())
    if plots and not df.empty:
        files += plot_all(df, os.path.join(out_dir, "plots"), metrics=metrics, errors=errors)
    files += dual_report(df, out_dir, name, plots=plots, errors=errors, quiet=quiet)  # dual.md/.csv when dual runs
    warnings = table_warnings(table)
    given = _CALLED_WITH[-1] if _CALLED_WITH else _as_list(paths)
    command = report_command(given, out_dir, _options(out_dir, name_given, metrics, alpha, plots))
    files.append(
        write_readme(out_dir, name, df, tables=(table, lip), incomplete=incomplete, command=command, warnings=warnings)
    )
    if not quiet:
        _print_report(name, df, (table, lip, ranking), incomplete, out_dir, lip_paths, rank_paths)
    for line in warnings + [f"warning: {err}" for err in errors]:
        print(textwrap.fill(line, WIDTH, break_long_words=False, break_on_hyphens=False))
    return {
        "table": table,
        "ranking": ranking,
        "runs": df,
        "files": files,
        "incomplete": incomplete,
        "errors": errors,
        "warnings": warnings,
        "out_dir": out_dir,
    }


def _study_report(paths, study, out_dir, **options) -> dict:
    """lipbench.report.study's report of ``study``; its README's command names the study folder
    (``paths``), not the rerun dirs it reports on."""
    from lipbench.report.study import study_report

    _CALLED_WITH.append(_as_list(paths))
    try:
        return study_report(study, out_dir, **options)
    finally:
        _CALLED_WITH.pop()


def _as_list(paths) -> List[str]:
    return [os.fspath(paths)] if isinstance(paths, (str, os.PathLike)) else [os.fspath(p) for p in paths]


def _options(out_dir, name, metrics, alpha, plots) -> List[str]:
    """The lipbench-report options that give these arguments (for the README's command line)."""
    opts = []
    if name and name != os.path.basename(os.path.normpath(os.path.abspath(out_dir))):
        opts += ["--name", f"'{name}'" if " " in name else name]
    if metrics:
        opts += ["--metrics", ",".join(metrics)]
    if alpha is not None:
        opts += ["--alpha", f"{alpha:g}"]
    return opts + ([] if plots else ["--no-plots"])


def _write_runs(df, incomplete, out_dir, errors):
    """runs.csv (each run with its record copied into the report) and incomplete.csv; a
    failed copy goes to ``errors``. Returns the runs frame and the two paths."""
    try:
        df = df.assign(record=copy_runs(df, out_dir)) if not df.empty else df.assign(record=[])
    except OSError as exc:
        errors.append(f"copying run records: {exc}")
    runs_csv = os.path.join(out_dir, "runs.csv")
    df.to_csv(runs_csv, index=False)
    inc_csv = os.path.join(out_dir, "incomplete.csv")
    pd.DataFrame(incomplete, columns=["path", "reason"]).to_csv(inc_csv, index=False)
    return df, [runs_csv, inc_csv]


def _print_report(name, df, tables, incomplete, out_dir, lip_paths, rank_paths) -> None:
    """The headline table (at most :data:`~lipbench.report.headline.WIDTH` characters wide), what
    its cells mean, incomplete runs and where the files are: the full table, the ranking, the
    Lipschitz table and the plots."""
    table, lip, ranking = tables
    print(f"{name}: {len(df)} run(s)" + (f", {len(incomplete)} incomplete" if incomplete else ""))
    print(headline_text(table, lip), end="")
    if not table.empty:
        print(textwrap.fill(legend(table), WIDTH, break_long_words=False))
    for path, reason in incomplete:
        print(f"incomplete: {path}: {reason}")
    print(f"Table: {os.path.join(out_dir, 'table.md')}")
    if not table.empty:
        print(f"Every column ({len(format_table(table).columns)}): {os.path.join(out_dir, 'table_full.md')}")
    if rank_paths:
        print(f"Ranking over {len(ranking.attrs['blocks'])} data set(s): {rank_paths['md']}")
    if lip_paths:
        print(f"Lipschitz table: {lip_paths['md']}")
    print(f"Plots: {os.path.join(out_dir, 'plots')}")
