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
# # The dual benchmark: how close each constrained critic gets to W1
#
# Only the critic is trained, to maximise E_P[f] − E_Q[f] for fixed P and Q with a known W1; its estimate on
# held-out samples is compared with the exact W1. This notebook reads a results folder written by
# `lipbench-report` (`runs/` holds a compact copy of every run record) and redraws every dual figure. Set
# `LIPBENCH_RESULTS` to point it elsewhere.
#
# Its source is the paired `.py` file next to it (jupytext percent format); after editing either, run
# `jupytext --sync notebooks/*.ipynb` (notebooks/README.md).

# %%
# %matplotlib inline
import os
from functools import partial

from IPython.display import Markdown, display

from figure_display import show_figures
from lipbench.report import load_runs, plots_dual
from lipbench.report.dual_table import dual_runs, dual_table, to_markdown

# The results folder written by `lipbench-report multirun/dual --out results/dual`; override with LIPBENCH_RESULTS.
RESULTS = os.environ.get("LIPBENCH_RESULTS", "../results/dual")
show = partial(show_figures, results=RESULTS)  # show(figures): display a {name: Figure} dict

# %% [markdown]
# ## Runs

# %%
runs, incomplete = load_runs(RESULTS)
dual = dual_runs(runs)
print(f"{len(runs)} runs read from {RESULTS}; {len(dual)} dual runs; {len(incomplete)} incomplete")
dual[["pair", "dim", "critic", "seed", "status", "dual_tightness", "lip_upper"]].head(10)

# %% [markdown]
# ## The dual table
#
# Held-out estimate / exact W1, mean ± std over seeds, per pair.

# %%
display(Markdown(to_markdown(dual_table(runs))))

# %% [markdown]
# ## Estimate / W1 against the dimension
#
# Gaussian translation, W1 = ‖δ‖ = 1 exactly: mean ± std over seeds per critic (log x).

# %%
show(plots_dual.figures_dual_dimension(runs))

# %% [markdown]
# ## The estimate during training
#
# Held-out estimate / W1 against the critic step, mean over seeds, per pair and dimension.

# %%
show(plots_dual.figures_dual_curves(runs))

# %% [markdown]
# ## Value surfaces (WGAN-GP Figure 1a)
#
# The critic's value over the plane, P (orange) against P + noise (blue), first seed of each critic.

# %%
show(plots_dual.figures_dual_surfaces(runs))
