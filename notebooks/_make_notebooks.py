"""Generate notebooks/toy2d.ipynb and notebooks/images.ipynb (run: python notebooks/_make_notebooks.py).

Both notebooks load a results folder written by ``lipbench-report`` (default
``../results/<name>``, or the folder in the LIPBENCH_RESULTS environment variable) and
redraw every plot of the report with the lipbench.report plotting functions.
"""

from __future__ import annotations

import os

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = os.path.dirname(os.path.abspath(__file__))

PLOTS = [
    ("Metrics during training", "Each metric against the generator iteration: mean over seeds with a min–max band.",
     "plots.figures_histories(runs)"),
    ("Final metrics per method", "Box plots over seeds (completed runs); tick labels count diverged/failed runs.",
     "plots.figures_final(runs)"),
    ("Samples and critic contours (2-D data)",
     "One panel per method (first seed): the critic's value contours with real and generated points, "
     "in the manner of WGAN-GP Figure 1.", "plots.figures_samples_2d(runs)"),
    ("Critic gradient norms", "Distribution of ‖∇x D‖ at real, generated and interpolated points.",
     "plots.figures_grad_norms(runs)"),
    ("Per-layer spectral norms", "σ of each critic layer (solid) and the true operator norm (dashed, convolutions).",
     "plots.figures_layer_norms(runs)"),
    ("Hyper-parameter settings", "Each metric across the settings of a swept hyper-parameter (e.g. SN settings A–F).",
     "plots.figures_settings(runs)"),
    ("Budget curves", "Kurach-style: expected best metric against the number of settings tried (resampled).",
     "plots.figures_budget(runs)"),
    ("Lipschitz diagnostics", "Lower and upper Lipschitz estimates; the critic's W1 estimate against exact W1.",
     "plots.figures_lipschitz(runs)"),
]

SETUP = '''import os

# The results folder written by `lipbench-report ... --out results/NAME`; override with LIPBENCH_RESULTS.
RESULTS = os.environ.get("LIPBENCH_RESULTS", "{default}")

%matplotlib inline
import pandas as pd
from IPython.display import Markdown, display

from lipbench.report import comparison_table, load_runs
from lipbench.report import plots
from lipbench.report.tables import to_markdown


def show(figures):
    """Display a {{name: Figure}} dict from lipbench.report.plots (or say there is nothing to draw)."""
    if not figures:
        print("(no data for this plot in", RESULTS, ")")
    for name, fig in figures.items():
        display(Markdown(f"`{{name}}`"))
        display(fig)'''

LOAD = '''runs, incomplete = load_runs(RESULTS)
print(f"{len(runs)} runs read from {RESULTS}; {len(incomplete)} incomplete")
for path, reason in incomplete:
    print("incomplete:", path, "-", reason)
cols = [c for c in ["method", "status", "seed", "step", "wall_time_s", "it_per_s"] if c in runs]
runs[cols].head(20)'''

TABLE = '''from lipbench.report import table_warnings
from lipbench.report.tables import table_notes

table = comparison_table(runs)
display(Markdown(to_markdown(table)))
display(Markdown("\\n\\n".join(table_notes(table, warnings=False))))
for warning in table_warnings(table):  # runs that did not converge, or that do not say
    print(warning)'''

RANKING = '''from lipbench.report.ranking import ranking_markdown, ranking_table

display(Markdown(ranking_markdown(ranking_table(table))))'''

LIPSCHITZ_TABLE = '''from lipbench.report.lipschitz_table import lipschitz_table, to_markdown as lipschitz_markdown

display(Markdown(lipschitz_markdown(lipschitz_table(runs))))'''


def make(title: str, default: str, intro: str) -> nbformat.NotebookNode:
    cells = [
        new_markdown_cell(f"# {title}\n\n{intro}\n\nThis notebook reads a results folder written by "
                          "`lipbench-report` (`runs/` holds a compact copy of every run record) and redraws "
                          "every plot of the report. Set `LIPBENCH_RESULTS` to point it at another folder."),
        new_code_cell(SETUP.format(default=default)),
        new_markdown_cell("## Runs"),
        new_code_cell(LOAD),
        new_markdown_cell("## Comparison table\n\nMean ± sample std over completed seeds. Bold marks every method "
                          "that is not significantly worse than the column's best (one-sided Welch t-test over "
                          "seeds, the level is stated under the table); `converged` counts the seeds that "
                          "reached the plateau rule and `ttq` is the time to quality. Diverged and failed runs "
                          "are counted in their own columns."),
        new_code_cell(TABLE),
        new_markdown_cell("## Ranking across data sets\n\nWithin each data set, methods ranked by their mean "
                          "(1 = best); the mean rank over data sets with its spread."),
        new_code_cell(RANKING),
        new_markdown_cell("## Is each critic 1-Lipschitz?\n\nPer completed run, *certified* when the upper bound "
                          "(product of per-layer operator norms) is ≤ 1.05, *exceeded* when some gradient norm "
                          "is > 1.05, otherwise *undecided*; the bounds are means over those runs."),
        new_code_cell(LIPSCHITZ_TABLE),
    ]
    for head, text, call in PLOTS:
        cells += [new_markdown_cell(f"## {head}\n\n{text}"), new_code_cell(f"show({call})")]
    for i, cell in enumerate(cells):
        cell["id"] = f"cell-{i:02d}"  # stable ids: regenerating gives the same file
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def main() -> None:
    specs = {
        "toy2d.ipynb": ("2-D benchmark: Lipschitz constraints on toy data", "../results/toy2d",
                        "8 Gaussians, 25 Gaussians and the Swiss roll; exact W1, modes and high-quality samples."),
        "images.ipynb": ("Image benchmark: Lipschitz constraints on digits", "../results/digits",
                         "FID/KID/IS with the domain feature extractor (and Inception where available)."),
    }
    for fname, (title, default, intro) in specs.items():
        nbformat.write(make(title, default, intro), os.path.join(HERE, fname))
    from _dual_notebook import make_dual  # the dual benchmark's own cells (notebooks/_dual_notebook.py)

    nbformat.write(make_dual(), os.path.join(HERE, "dual.ipynb"))


if __name__ == "__main__":
    main()
