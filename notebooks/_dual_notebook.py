"""The cells of notebooks/dual.ipynb (written by notebooks/_make_notebooks.py).

The notebook reads a results folder of the dual benchmark (default ``../results/dual``,
or the folder in LIPBENCH_RESULTS), shows the dual table and redraws its figures with
lipbench.report.plots_dual: estimate / W1 against the dimension, the estimate during
training, and the Figure-1a-style value surfaces of the 2-D pairs.
"""

from __future__ import annotations

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

SETUP = '''import os

# The results folder written by `lipbench-report multirun/dual --out results/dual`; override with LIPBENCH_RESULTS.
RESULTS = os.environ.get("LIPBENCH_RESULTS", "../results/dual")

%matplotlib inline
from IPython.display import Markdown, display

from lipbench.report import load_runs
from lipbench.report import plots_dual
from lipbench.report.dual_table import dual_runs, dual_table, to_markdown


def show(figures):
    """Display a {name: Figure} dict (or say there is nothing to draw)."""
    if not figures:
        print("(no data for this plot in", RESULTS, ")")
    for name, fig in figures.items():
        display(Markdown(f"`{name}`"))
        display(fig)'''

LOAD = '''runs, incomplete = load_runs(RESULTS)
dual = dual_runs(runs)
print(f"{len(runs)} runs read from {RESULTS}; {len(dual)} dual runs; {len(incomplete)} incomplete")
dual[["pair", "dim", "critic", "seed", "status", "dual_tightness", "lip_upper"]].head(10)'''

PLOTS = [
    ("Estimate / W1 against the dimension",
     "Gaussian translation, W1 = ‖δ‖ = 1 exactly: mean ± std over seeds per critic (log x).",
     "plots_dual.figures_dual_dimension(runs)"),
    ("The estimate during training",
     "Held-out estimate / W1 against the critic step, mean over seeds, per pair and dimension.",
     "plots_dual.figures_dual_curves(runs)"),
    ("Value surfaces (WGAN-GP Figure 1a)",
     "The critic's value over the plane, P (orange) against P + noise (blue), first seed of each critic.",
     "plots_dual.figures_dual_surfaces(runs)"),
]


def make_dual() -> nbformat.NotebookNode:
    """The dual benchmark notebook, with stable cell ids (regenerating gives the same file)."""
    cells = [
        new_markdown_cell("# The dual benchmark: how close each constrained critic gets to W1\n\n"
                          "Only the critic is trained, to maximise E_P[f] − E_Q[f] for fixed P and Q with a known "
                          "W1; its estimate on held-out samples is compared with the exact W1. This notebook reads "
                          "a results folder written by `lipbench-report` (`runs/` holds a compact copy of every run "
                          "record) and redraws every dual figure. Set `LIPBENCH_RESULTS` to point it elsewhere."),
        new_code_cell(SETUP),
        new_markdown_cell("## Runs"),
        new_code_cell(LOAD),
        new_markdown_cell("## The dual table\n\nHeld-out estimate / exact W1, mean ± std over seeds, per pair."),
        new_code_cell("display(Markdown(to_markdown(dual_table(runs))))"),
    ]
    for head, text, call in PLOTS:
        cells += [new_markdown_cell(f"## {head}\n\n{text}"), new_code_cell(f"show({call})")]
    for i, cell in enumerate(cells):
        cell["id"] = f"cell-{i:02d}"
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb
