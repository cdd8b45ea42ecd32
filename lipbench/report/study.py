"""The report of a study folder (issue 19: a ``study.json`` of kind lipbench-study).

:func:`lipbench.report.report` hands a study folder to :func:`study_report`, which

1. writes the ordinary report (runs.csv, table, ranking, Lipschitz table, plots, run
   copies) of the Phase-2 reruns only, through :func:`lipbench.report.report` itself;
2. writes ``study.md`` (:mod:`lipbench.report.study_md`) and its csv files::

       study_settings.csv      one row per Phase-1 trial: data, method, trial, seed, params, status,
                               score (the selection rule's, recomputed), capped (the score the curves
                               use), final metrics, converged, train_time_s, group, dir
       study_reruns.csv        one row per Phase-2 rerun (the same columns)
       study_forgiving.csv     per data set and method: the distribution over settings
       study_expected_best.csv         expected best after k settings (both forms)
       study_expected_best_seconds.csv best within t training seconds
       study_chosen.csv        the chosen setting and its reruns (mean, 95% CI, modes, converged)
       study_pairwise.csv      pairwise tests on the reruns with Holm's adjustment

   and plots/study_*.png|pdf (:mod:`lipbench.report.study_plots`);
3. copies study.json and every trial's compact run record to ``study/`` (so that the folder
   is self-contained: ``lipbench-report <folder>/study`` redraws it), and adds a "Study"
   section to the folder's README.md.
"""

from __future__ import annotations

import os
import shutil
from typing import List, Optional, Sequence

import numpy as np
import pandas as pd

from lipbench import record
from lipbench.report.plot_common import save_figures
from lipbench.report.significance import DEFAULT_ALPHA
from lipbench.report.study_curves import cap_scores, expected_best_table, forgiving_table, seconds_table
from lipbench.report.study_load import read_study, rerun_dirs, trials_frame
from lipbench.report.study_md import render
from lipbench.report.study_plots import figure_distribution, figure_expected_best
from lipbench.report.study_stats import chosen_table, pairwise_table

CSV_FILES = {
    "settings": "one row per Phase-1 trial (params, status, score, capped score, final metrics, converged, "
    "train_time_s)",
    "reruns": "one row per Phase-2 rerun",
    "forgiving": "per data set and method: fractions of the settings that converge, come within 3× the floor, "
    "collapse, diverge",
    "expected_best": "expected best score after k settings (without and with replacement)",
    "expected_best_seconds": "best score within t training seconds (Monte Carlo over orders)",
    "chosen": "the chosen setting per method and its reruns (mean, 95% CI, modes, converged)",
    "pairwise": "pairwise Welch tests on the reruns, Holm-adjusted",
}


def _notes(meta: dict, trials: pd.DataFrame, chosen: pd.DataFrame) -> List[str]:
    """What a reader of study.md must know about this study's state: trials not run, rule or
    scores that differ from study.json, a selection that is not the best recomputed score."""
    notes = []
    for phase, g in trials.groupby("phase"):
        missing = int((~g["status"].isin(record.FINISHED)).sum())
        if missing:
            notes.append(f"{missing} of {len(g)} {phase} trials have not finished (missing or running); left out.")
    if (meta.get("rule") or {}).get("name") != "tail_mean":
        notes.append(
            f"the selection rule {(meta.get('rule') or {}).get('name')!r} is not known to the report: "
            "the scores are study.json's."
        )
    a, b = trials["score"].to_numpy(float), trials["study_score"].to_numpy(float)
    both = np.isfinite(a) & np.isfinite(b)
    off = int((np.abs(a[both] - b[both]) > 1e-6 * np.maximum(1.0, np.abs(b[both]))).sum())
    if off:
        notes.append(
            f"{off} trial score(s) recomputed from the runs differ from study.json's; the recomputed ones are used."
        )
    for r in chosen.itertuples() if len(chosen) else []:
        if r.best_trial is not None and r.trial is not None and r.rerun and r.best_trial != r.trial:
            notes.append(
                f"{r.method} ({r.data}): the reruns repeat trial {r.trial}; "
                f"the best recomputed score is trial {r.best_trial}."
            )
    return notes


def _with_capped(search: pd.DataFrame, capped: pd.DataFrame) -> pd.DataFrame:
    """study_settings.csv's frame: the Phase-1 trials with ``capped`` (the score the curves use;
    NaN for a trial not run) after ``score``."""
    out = search.copy()
    out.insert(out.columns.get_loc("score") + 1, "capped", capped["capped"].reindex(out.index))
    return out


def _plots(out_dir, search, curves, seconds, caps, meta, errors) -> List[str]:
    files = []
    draws = (
        ("distribution", lambda: figure_distribution(search, meta)),
        ("expected best", lambda: figure_expected_best(curves, meta, caps, seconds=False)),
        ("expected best (seconds)", lambda: figure_expected_best(seconds, meta, caps, seconds=True)),
    )
    for what, draw in draws:
        try:
            files += save_figures(draw(), os.path.join(out_dir, "plots"))
        except Exception as exc:  # a plot never stops the report
            errors.append(f"study plot {what}: {type(exc).__name__}: {exc}")
    return files


def copy_study(folder: str, out_dir: str, meta: dict) -> str:
    """``out_dir/study/``: study.json and a compact copy (summary.json, metrics.jsonl,
    config.yaml) of every trial's run, in the study's own layout, so that the results folder
    is self-contained: ``lipbench-report <out_dir>/study --out X`` redraws everything."""
    from lipbench import record

    dst_root = os.path.join(out_dir, "study")
    if os.path.realpath(dst_root) == os.path.realpath(folder):
        return dst_root
    if os.path.isdir(dst_root):
        shutil.rmtree(dst_root)  # no stale trials from an earlier report
    for trial in meta.get("trials", []):
        src, dst = os.path.join(folder, trial["dir"]), os.path.join(dst_root, trial["dir"])
        for fname in record.COMPACT:
            if os.path.isfile(os.path.join(src, fname)):
                os.makedirs(dst, exist_ok=True)
                shutil.copy2(os.path.join(src, fname), os.path.join(dst, fname))
    shutil.copy2(os.path.join(folder, "study.json"), os.path.join(dst_root, "study.json"))
    return dst_root


def _write_csvs(out_dir: str, frames: dict) -> List[str]:
    paths = []
    for key, frame in frames.items():
        path = os.path.join(out_dir, f"study_{key}.csv")
        frame.to_csv(path, index=False)
        paths.append(path)
    return paths


def _append_readme(out_dir: str, files: Sequence[str]) -> None:
    lines = [
        "",
        "## Study",
        "",
        "This folder reports a study (study.json): `study.md` gives the distribution over settings, the expected "
        "best after k settings (and against training seconds), the chosen settings with their reruns' CIs, the "
        "corrected pairwise tests and the answer. The table, ranking, Lipschitz table and plots above cover the "
        "Phase-2 reruns only.",
        "",
        "- `study.md`",
        "- `study/`: study.json and a compact copy of every trial's run (`lipbench-report <this folder>/study "
        "--out X` redraws this folder)",
    ]
    lines += [f"- `study_{k}.csv`: {text}" for k, text in CSV_FILES.items()]
    rel = sorted(os.path.relpath(f, out_dir) for f in files if f.endswith(".png"))
    lines += [f"- [`{r}`]({r})" for r in rel]
    with open(os.path.join(out_dir, "README.md"), "a", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


def study_report(
    folder,
    out_dir,
    *,
    name: Optional[str] = None,
    quiet: bool = False,
    metrics: Optional[Sequence[str]] = None,
    plots: bool = True,
    alpha: Optional[float] = None,
) -> dict:
    """The report of the study in ``folder`` (see the module docstring). Returns
    :func:`lipbench.report.report`'s dict for the reruns, with ``files`` and ``errors``
    extended and ``study``: the study's frames (trials, forgiving, expected_best,
    expected_best_seconds, chosen, pairwise), its caps and alpha."""
    from lipbench.report import report  # the package imports this module lazily, too

    folder, out_dir = os.fspath(folder), os.fspath(out_dir)
    meta = read_study(folder)
    res = report(rerun_dirs(meta, folder), out_dir, name=name, quiet=quiet, metrics=metrics, plots=plots, alpha=alpha)
    name = name or os.path.basename(os.path.normpath(os.path.abspath(out_dir)))
    alpha = float(res["table"].attrs.get("alpha", DEFAULT_ALPHA))
    trials = trials_frame(meta, folder)
    search, reruns = trials[trials["phase"] == "search"], trials[trials["phase"] == "rerun"]
    capped, caps = cap_scores(search, meta.get("better", "lower"))
    frames = {
        "settings": _with_capped(search, capped),
        "reruns": reruns,
        "forgiving": forgiving_table(search, meta),
        "expected_best": expected_best_table(capped, meta),
        "expected_best_seconds": seconds_table(capped, caps, meta),
        "chosen": chosen_table(trials, meta),
    }
    frames["pairwise"] = pairwise_table(reruns, meta, alpha)
    files, errors = _write_csvs(out_dir, frames), []
    if plots:
        files += _plots(out_dir, search, frames["expected_best"], frames["expected_best_seconds"], caps, meta, errors)
    text = render(
        meta, name, _notes(meta, trials, frames["chosen"]), forgiving=frames["forgiving"],
        curves=frames["expected_best"], seconds=frames["expected_best_seconds"], caps=caps, chosen=frames["chosen"],
        pairwise=frames["pairwise"], alpha=alpha, plots=plots,
    )  # fmt: skip
    md = os.path.join(out_dir, "study.md")
    with open(md, "w", encoding="utf-8") as f:
        f.write(text)
    copy_study(folder, out_dir, meta)
    _append_readme(out_dir, files)
    res["files"] = list(res["files"]) + files + [md]
    res["errors"] = list(res["errors"]) + errors
    res["study"] = dict(frames, trials=trials, caps=caps, alpha=alpha, meta=meta)
    if not quiet:
        print(text[text.index("## Answer") :].rstrip())
    print(f"Study: {md}")
    for err in errors:
        print(f"warning: {err}")
    return res


__all__ = ["study_report", "CSV_FILES"]
