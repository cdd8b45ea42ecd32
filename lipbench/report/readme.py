"""README.md of a report folder: a one-page report that GitHub renders.

Its sections, all generated from the runs, except two hand-written files the folder keeps and
that the report never writes:

* **How this folder was made**: ``COMMAND.md`` verbatim (the command, its wall time, the
  machine), then what the records say: the runs' command-line overrides merged per sweep, the
  ``lipbench-report`` command that wrote the folder and the runs' time (the sum of their wall
  times and the span from the first start to the last finish);
* the headline table (:mod:`lipbench.report.headline`) with its legend and warnings;
* 2-4 key figures inline (``plots/*.png`` that exist, :data:`KEY_FIGURES`);
* the Lipschitz verdicts, in words, from :func:`~lipbench.report.lipschitz_table.lipschitz_table`;
* **Notes**: ``NOTES.md`` verbatim (a discussion written by hand);
* links to every other file and to the notebook that redraws the folder.
"""

from __future__ import annotations

import fnmatch
import os
from typing import List, Optional, Sequence

import pandas as pd

from lipbench.report import overrides as ov
from lipbench.report.headline import headline_markdown, legend
from lipbench.report.tables import fmt_number, format_table

COMMAND_FILE, NOTES_FILE = "COMMAND.md", "NOTES.md"
# at most one figure per pattern, in this order, at most MAX_FIGURES in all
KEY_FIGURES = (
    "dual_ratio_vs_dim*",
    "dual_curves",
    "dual_surfaces",
    "study_expected_best",
    "study_distribution",
    "sample_grids",
    "samples_2d",
    "history*",
    "final*",
    "lipschitz*",
)
MAX_FIGURES = 4


def _read(path: str) -> Optional[str]:
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as f:
        return f.read().strip() + "\n"


def key_figures(out_dir: str) -> List[str]:
    """``plots/<name>.png`` of the key figures that exist (see :data:`KEY_FIGURES`)."""
    plots = os.path.join(out_dir, "plots")
    names = sorted(f[:-4] for f in os.listdir(plots) if f.endswith(".png")) if os.path.isdir(plots) else []
    chosen: List[str] = []
    for pattern in KEY_FIGURES:
        match = next((n for n in names if fnmatch.fnmatch(n, pattern) and n not in chosen), None)
        if match is not None and len(chosen) < MAX_FIGURES:
            chosen.append(match)
    return [f"plots/{n}.png" for n in chosen]


def report_command(paths: Sequence[str], out_dir: str, options: Sequence[str]) -> str:
    """The ``lipbench-report`` command line that writes this folder (paths as they were given)."""
    return " ".join(["lipbench-report", *(_quote(str(p)) for p in paths), "--out", _quote(out_dir), *options])


def _quote(s: str) -> str:
    return f"'{s}'" if any(c in s for c in " ;&|$`\"'()") else s


def _timing(df: pd.DataFrame) -> Optional[str]:
    """The runs' time from their records: the sum of their wall times, and the span from the
    first start (finish minus wall time) to the last finish."""
    if df.empty or "wall_time_s" not in df:
        return None
    wall = pd.to_numeric(df["wall_time_s"], errors="coerce")
    text = f"{len(df)} run(s), {_duration(wall.sum())} of run wall time in all (the sum of each run's `wall_time_s`)"
    if "finished_at" in df:
        end = pd.to_datetime(df["finished_at"], errors="coerce", utc=True)
        start = end - pd.to_timedelta(wall, unit="s")
        if end.notna().any():
            span = (end.max() - start.min()).total_seconds()
            text += (
                f"; the first started at {start.min():%Y-%m-%d %H:%M} and the last finished at "
                f"{end.max():%Y-%m-%d %H:%M} UTC, {_duration(span)} of wall-clock time for the whole set"
            )
    return text + "."


def _duration(seconds: float) -> str:
    if not pd.notna(seconds):
        return "an unknown time"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _made(out_dir: str, df: pd.DataFrame, command: str) -> List[str]:
    lines = ["## How this folder was made", ""]
    hand = _read(os.path.join(out_dir, COMMAND_FILE))
    lines += (
        [hand]
        if hand
        else [
            f"_No `{COMMAND_FILE}` here: write the command that made these runs into it "
            "(with its wall time), and the next `lipbench-report` puts it on this page._",
            "",
        ]
    )
    merged = ov.merged_commands(ov.run_overrides(out_dir, df))
    lines += ["From the run records:", ""]
    if merged:
        lines += ["- the runs' command-line overrides, merged per sweep:", "", "  ```bash"]
        lines += [f"  {c}" for c in merged] + ["  ```", ""]
    lines += [f"- this page and the tables: `{command}`;"]
    timing = _timing(df)
    if timing:
        lines += [f"- {timing}"]
    return lines + [""]


def dual_headline(out_dir: str) -> List[str]:
    """From dual.md, when the folder has one: each pair's heading and its first table (the critic's
    estimate / W1 per critic and dimension), the dual benchmark's headline."""
    text = _read(os.path.join(out_dir, "dual.md"))
    if not text:
        return []
    out: List[str] = []
    state = "before"  # before a pair; "seek" its first table; "table" in it; "done" with it
    for line in text.splitlines():
        if line.startswith("## "):
            out += ["", "#" + line, ""]
            state = "seek"
        elif state in ("seek", "table") and line.startswith("|"):
            out.append(line)
            state = "table"
        elif state == "table":
            state = "done"
    return out[1:]


def _verdicts(lip: pd.DataFrame) -> List[str]:
    """One line per row of the Lipschitz table: its verdict and its bounds, in words."""
    if lip is None or lip.empty:
        return ["_No run recorded Lipschitz bounds._"]
    factors = lip.attrs.get("factors", [])
    lines = []
    for _, r in lip.iterrows():
        label = str(r["method"]) + "".join(f", {f[4:] if f.startswith('cfg.') else f}={r[f]}" for f in factors)
        bounds = [f"K ≥ {fmt_number(r['lip_lower_max'], 3)} measured (largest witness)"]
        if pd.notna(r.get("certified_k")):
            bounds.append(f"K ≤ {fmt_number(r['certified_k'], 4)} guaranteed for every run")
        lines.append(f"- **{label}**: {r['verdict']}; " + ", ".join(bounds) + ".")
    return lines


def _notebook(out_dir: str, has_dual: bool) -> List[str]:
    """Links to the notebooks that redraw this folder, when it lies in a clone that has them."""
    here = os.path.abspath(out_dir)
    for up in range(1, 5):
        root = os.path.abspath(os.path.join(here, *[".."] * up))
        nb_dir = os.path.join(root, "notebooks")
        if os.path.isfile(os.path.join(nb_dir, "comparison.ipynb")):
            rel_results = os.path.relpath(here, nb_dir)
            names = ["comparison"] + (
                ["dual"] if has_dual and os.path.isfile(os.path.join(nb_dir, "dual.ipynb")) else []
            )
            links = ", ".join(f"[`notebooks/{n}.ipynb`]({os.path.relpath(nb_dir, here)}/{n}.ipynb)" for n in names)
            return [
                f"- the notebook{'s' if len(names) > 1 else ''} {links} redraw{'' if len(names) > 1 else 's'} every "
                "table and plot of this folder: "
                f"`LIPBENCH_RESULTS={rel_results} jupyter notebook` from `notebooks/`."
            ]
    return [
        "- `notebooks/comparison.ipynb` of a lipbench clone redraws every table and plot of this folder "
        "(`LIPBENCH_RESULTS=<this folder>`)."
    ]


def _files(out_dir: str, table: pd.DataFrame, incomplete) -> List[str]:
    n = len(format_table(table).columns) if not table.empty else 0
    entries = [
        ("table.md", "the headline table above, with its notes"),
        ("table_full.md", f"every column ({n}): time to quality, gradient norms, bounds, run counts"),
        ("table.csv", "the numbers: `<metric>_mean/_std/_n/_tied_best/_p` per row"),
        ("table.tex", "the full table for LaTeX"),
        ("ranking.md", "per method, the mean rank over data sets"),
        ("lipschitz.md", "the Lipschitz verdicts with both bounds, and what each verdict guarantees"),
        ("dual.md", "the dual benchmark's table: the critic's estimate / the exact W1"),
        ("runs.csv", "one row per run: status, timings, final metrics, every config value"),
        ("incomplete.csv", f"run dirs that could not be read ({len(incomplete)})"),
        ("runs/", "a compact copy of every run record (this folder is self-contained)"),
        ("plots/", "every plot, .png and .pdf"),
    ]
    return [f"- [`{f}`]({f}): {what}" for f, what in entries if os.path.exists(os.path.join(out_dir, f.rstrip("/")))]


def _headline(out_dir: str, table: pd.DataFrame, lip, warnings) -> List[str]:
    """The headline table with its legend, or, for the dual task, its estimate / W1 tables; then
    the warnings (runs that did not converge)."""
    dual = dual_headline(out_dir)
    if dual:  # the dual task's answer is the estimate / W1 table; the generic one is table.md
        lines = ["## Headline: the critic's held-out estimate / exact W1", "", *dual, ""]
        lines += [
            "Mean ± std over seeds; 1 = the critic attains W1. Every column: [`dual.md`](dual.md); "
            "the generic table (gradient norms, bounds, time to 95%): [`table.md`](table.md).",
            "",
        ]
    else:
        lines = ["## Headline", "", headline_markdown(table, lip).rstrip(), ""]
        if not table.empty:
            lines += [legend(table, "[table_full.md](table_full.md)", "**bold**"), ""]
    return lines + [f"**{w}**" if w.startswith("WARNING") else w for w in warnings] + ([""] if warnings else [])


def _figures(out_dir: str) -> List[str]:
    figures = key_figures(out_dir)
    if not figures:
        return []
    lines = ["## Figures", ""] + [f"![{os.path.basename(f)[:-4]}]({f})" for f in figures]
    return lines + ["", "Every plot: [`plots/`](plots/).", ""]


def write_readme(out_dir: str, name: str, df: pd.DataFrame, *, tables, incomplete, command: str, warnings) -> str:
    """Write ``out_dir/README.md`` (see the module docstring); ``tables`` is ``(table, lip)``."""
    table, lip = tables
    unreadable = f"; {len(incomplete)} unreadable run dir(s) are listed in `incomplete.csv`." if incomplete else "."
    lines = [f"# {name}", ""]
    lines += [
        f"Generated by `lipbench-report` from {len(df)} run(s){unreadable} The hand-written parts are "
        "`COMMAND.md` and `NOTES.md`; everything else is rewritten by each report.",
        "",
    ]
    lines += _made(out_dir, df, command) + _headline(out_dir, table, lip, warnings) + _figures(out_dir)
    lines += ["## Lipschitz verdicts", "", *_verdicts(lip), ""]
    lines += ["What each verdict guarantees: [`lipschitz.md`](lipschitz.md).", ""]
    notes = _read(os.path.join(out_dir, NOTES_FILE))
    if notes:
        lines += ["## Notes", "", notes]
    has_dual = os.path.exists(os.path.join(out_dir, "dual.md"))
    lines += ["## Files", "", *_files(out_dir, table, incomplete), *_notebook(out_dir, has_dual), ""]
    path = os.path.join(out_dir, "README.md")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines).rstrip() + "\n")
    return path


__all__ = ["write_readme", "key_figures", "report_command", "COMMAND_FILE", "NOTES_FILE", "KEY_FIGURES"]
