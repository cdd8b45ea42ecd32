"""The report's table files: table.md/.csv/.tex and the markdown + csv pairs of the side
tables (ranking, Lipschitz verdicts, dual)."""

from __future__ import annotations

import os
from typing import Dict, Optional

import pandas as pd

from lipbench.report.latex import to_latex
from lipbench.report.tables import table_notes, to_markdown


def write_md_and_csv(
    frame: pd.DataFrame, out_dir, stem: str, markdown: str, heading: Optional[str] = None
) -> Dict[str, str]:
    """Write ``<stem>.md`` (``# heading``, when given, then ``markdown``) and ``<stem>.csv``
    (``frame``) into ``out_dir``; returns ``{"md": path, "csv": path}``. The side tables
    (ranking, Lipschitz verdicts, dual) are written through this."""
    paths = {k: os.path.join(os.fspath(out_dir), f"{stem}.{k}") for k in ("md", "csv")}
    with open(paths["md"], "w", encoding="utf-8") as f:
        if heading:
            f.write(f"# {heading}\n\n")
        f.write(markdown)
    frame.to_csv(paths["csv"], index=False)
    return paths


def write_tables(table: pd.DataFrame, out_dir, caption: Optional[str] = None) -> Dict[str, str]:
    """Write table.md, table.csv and table.tex into ``out_dir`` (md and tex with the footer
    of :func:`table_notes`); returns {kind: path}."""
    out_dir = os.fspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    paths = {k: os.path.join(out_dir, f"table.{k}") for k in ("md", "csv", "tex")}
    with open(paths["md"], "w", encoding="utf-8") as f:
        if caption:
            f.write(f"# {caption}\n\n")
        f.write(to_markdown(table))
        for note in table_notes(table):
            f.write(f"\n{note}\n")
    table.to_csv(paths["csv"], index=False)
    with open(paths["tex"], "w", encoding="utf-8") as f:
        f.write(to_latex(table, caption, notes=table_notes(table)))
    return paths
