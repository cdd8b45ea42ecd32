"""What the notebooks here share: showing a ``{name: Figure}`` dict of lipbench.report's plots.

Imported by comparison.py and dual.py (their kernels run in this folder).
"""

from __future__ import annotations

from typing import Mapping

from IPython.display import Markdown, display
from matplotlib.figure import Figure


def show_figures(figures: Mapping[str, Figure], results: str) -> None:
    """Display each figure under its name, or say that ``results`` holds no data for this plot."""
    if not figures:
        print("(no data for this plot in", results, ")")
    for name, fig in figures.items():
        display(Markdown(f"`{name}`"))
        display(fig)
