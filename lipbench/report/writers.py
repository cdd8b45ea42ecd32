"""The report's table files: table.md (the headline), table_full.md, table.csv, table.tex and
the markdown + csv pairs of the side tables (ranking, Lipschitz verdicts, dual)."""

from __future__ import annotations

import os
from typing import Dict, Optional

import pandas as pd

from lipbench.report.convergence import ttq_note
from lipbench.report.headline import headline_markdown
from lipbench.report.latex import to_latex
from lipbench.report.tables import format_table, table_notes, to_markdown


def write_md_and_csv(
    frame: pd.DataFrame, out_dir, stem: str, *, markdown: str, heading: Optional[str] = None
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


def write_tables(table: pd.DataFrame, out_dir, caption: Optional[str] = None, *, lip=None) -> Dict[str, str]:
    """Write table.md (the headline of :mod:`lipbench.report.headline`, with ``lip`` the
    Lipschitz table for its verdict column), table_full.md (every column), table.csv and
    table.tex into ``out_dir`` (md and tex with the footer of :func:`table_notes`); returns
    {kind: path}, kind in md, full_md, csv, tex."""
    out_dir = os.fspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    paths = {k: os.path.join(out_dir, f"table.{k}") for k in ("md", "csv", "tex")}
    paths["full_md"] = os.path.join(out_dir, "table_full.md")
    notes = table_notes(table)
    ttq = ttq_note(table)  # the headline has no ttq column: its note is table_full.md's
    n_columns = len(format_table(table).columns) if not table.empty else 0
    pointer = (
        f"\nEvery column ({n_columns}: all metrics, the counts of diverged and failed runs, time to quality): "
        "[table_full.md](table_full.md); the numbers: [table.csv](table.csv); LaTeX: [table.tex](table.tex).\n"
    )
    for key, body in (("md", headline_markdown(table, lip)), ("full_md", to_markdown(table))):
        with open(paths[key], "w", encoding="utf-8") as f:
            if caption:
                f.write(f"# {caption}\n\n")
            f.write(body)
            for note in notes:
                if key == "full_md" or note != ttq:
                    f.write(f"\n{note}\n")
            if key == "md" and not table.empty:
                f.write(pointer)
    table.to_csv(paths["csv"], index=False)
    with open(paths["tex"], "w", encoding="utf-8") as f:
        f.write(to_latex(table, caption, notes=notes))
    return paths
