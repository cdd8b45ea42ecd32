# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # A GAN comparison: Lipschitz constraints on the critic
#
# This notebook reads a results folder written by `lipbench-report` (`runs/` holds a compact copy of every run
# record) and redraws every table and plot of the report: by default the 2-D benchmark (`../results/toy2d`: 8
# Gaussians, 25 Gaussians and the Swiss roll; exact W1, modes and high-quality samples). Set `LIPBENCH_RESULTS` to
# read another folder, e.g. `LIPBENCH_RESULTS=../results/digits` for the image benchmark (FID/KID/IS with the
# domain feature extractor); the plots that do not apply to its data say so.
#
# Its source is the paired `.py` file next to it (jupytext percent format); after editing either, run
# `jupytext --sync notebooks/*.ipynb` (notebooks/README.md).

# %%
# %matplotlib inline
import os
from functools import partial

from IPython.display import Markdown, display

from figure_display import show_figures
from lipbench.report import comparison_table, load_runs, plots
from lipbench.report.tables import to_markdown

# The results folder written by `lipbench-report ... --out results/NAME`; override with LIPBENCH_RESULTS.
RESULTS = os.environ.get("LIPBENCH_RESULTS", "../results/toy2d")
show = partial(show_figures, results=RESULTS)  # show(figures): display a {name: Figure} dict

# %% [markdown]
# ## Runs

# %%
runs, incomplete = load_runs(RESULTS)
print(f"{len(runs)} runs read from {RESULTS}; {len(incomplete)} incomplete")
for path, reason in incomplete:
    print("incomplete:", path, "-", reason)
cols = [c for c in ["method", "status", "seed", "step", "wall_time_s", "it_per_s"] if c in runs]
runs[cols].head(20)

# %% [markdown]
# ## Comparison table
#
# Mean ± sample std over completed seeds. Bold marks every method that is not significantly worse than the
# column's best (one-sided Welch t-test over seeds, the level is stated under the table); `converged` counts the
# seeds that reached the plateau rule and `ttq` is the time to quality. Diverged and failed runs are counted in
# their own columns.

# %%
from lipbench.report import table_warnings
from lipbench.report.tables import table_notes

table = comparison_table(runs)
display(Markdown(to_markdown(table)))
display(Markdown("\n\n".join(table_notes(table, warnings=False))))
for warning in table_warnings(table):  # runs that did not converge, or that do not say
    print(warning)

# %% [markdown]
# ## Ranking across data sets
#
# Within each data set, methods ranked by their mean (1 = best); the mean rank over data sets with its spread.

# %%
from lipbench.report.ranking import ranking_markdown, ranking_table

display(Markdown(ranking_markdown(ranking_table(table))))

# %% [markdown]
# ## Is each critic 1-Lipschitz?
#
# Per completed run, *certified* when the guaranteed upper bound (composed over the critic's layers) is
# ≤ 1.0001, *exceeded* when some measured gradient norm is > 1.0001, otherwise *undecided* (or *no certificate*
# when some layer has no guaranteed bound); the slack is for float rounding only.

# %%
from lipbench.report.lipschitz_table import lipschitz_table, to_markdown as lipschitz_markdown

display(Markdown(lipschitz_markdown(lipschitz_table(runs))))

# %% [markdown]
# ## Metrics during training
#
# Each metric against the generator iteration: mean over seeds with a min–max band.

# %%
show(plots.figures_histories(runs))

# %% [markdown]
# ## Final metrics per method
#
# Box plots over seeds (completed runs); tick labels count diverged/failed runs.

# %%
show(plots.figures_final(runs))

# %% [markdown]
# ## Samples and critic contours (2-D data)
#
# One panel per method (first seed): the critic's value contours with real and generated points, in the manner
# of WGAN-GP Figure 1.

# %%
show(plots.figures_samples_2d(runs))

# %% [markdown]
# ## Critic gradient norms
#
# Distribution of ‖∇x D‖ at real, generated and interpolated points.

# %%
show(plots.figures_grad_norms(runs))

# %% [markdown]
# ## Per-layer spectral norms
#
# σ of each critic layer (solid) and the true operator norm (dashed, convolutions).

# %%
show(plots.figures_layer_norms(runs))

# %% [markdown]
# ## Hyper-parameter settings
#
# Each metric across the settings of a swept hyper-parameter (e.g. SN settings A–F).

# %%
show(plots.figures_settings(runs))

# %% [markdown]
# ## Budget curves
#
# Kurach-style: expected best metric against the number of settings tried (resampled).

# %%
show(plots.figures_budget(runs))

# %% [markdown]
# ## Lipschitz diagnostics
#
# Lower and upper Lipschitz estimates; the critic's W1 estimate against exact W1.

# %%
show(plots.figures_lipschitz(runs))
