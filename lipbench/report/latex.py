"""table.tex: the comparison table as a booktabs ``tabular``, with its footer.

The cells are those of :func:`lipbench.report.tables.format_table` (``style="latex"``);
text is escaped, and the few non-ASCII signs the report uses (±, —, α, ×, ↓, ↑, ≥) become
LaTeX math so the file compiles with plain pdflatex.
"""

from __future__ import annotations

from typing import Optional, Sequence

import pandas as pd

from lipbench.report.tables import format_table, table_metrics

_LATEX_ESCAPES = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\^{}",
}
_SIGNS = {
    "±": r"$\pm$",
    "—": "--",
    "–": "--",
    "α": r"$\alpha$",
    "×": r"$\times$",
    "↓": r"$\downarrow$",
    "↑": r"$\uparrow$",
    "≥": r"$\geq$",
    "≤": r"$\leq$",
    "…": r"\dots{}",
}


def tex_escape(text: str) -> str:
    """``text`` with LaTeX's special characters escaped and the report's signs as math."""
    return "".join(_SIGNS.get(ch, _LATEX_ESCAPES.get(ch, ch)) for ch in text)


def _cell(text: str) -> str:
    if text.startswith("\\textbf{"):
        return "\\textbf{" + _cell(text[8:-1]) + "}"
    return tex_escape(text)


def _head(col: str) -> str:
    base, _, arrow = col.partition(" $")
    return tex_escape(base) + (" $" + arrow if arrow else "")


def to_latex(table: pd.DataFrame, caption: Optional[str] = None, notes: Sequence[str] = ()) -> str:
    """A booktabs ``tabular`` (inside a ``table`` float when a caption is given), followed
    by ``notes`` as a small-print footer."""
    if table.empty:
        return "% No readable runs.\n"
    shown = format_table(table, "latex")
    metrics = set(table_metrics(table))
    align = "".join("r" if c.split(" ")[0] in metrics or c.startswith("n_") else "l" for c in shown.columns)
    lines = [
        f"\\begin{{tabular}}{{{align}}}",
        "\\toprule",
        " & ".join(_head(c) for c in shown.columns) + " \\\\",
        "\\midrule",
    ]
    for _, r in shown.iterrows():
        lines.append(" & ".join(_cell(str(v)) for v in r) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}"]
    if notes:
        lines += ["\\par\\smallskip{\\footnotesize " + " ".join(tex_escape(n) for n in notes) + "\\par}"]
    if caption:
        lines = ["\\begin{table}[t]", "\\centering", f"\\caption{{{tex_escape(caption)}}}"] + lines + ["\\end{table}"]
    return "\n".join(lines) + "\n"


__all__ = ["to_latex", "tex_escape"]
