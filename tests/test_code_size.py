"""Size limits of the project's conventions: no module over 300 lines, no function over 60.

Scans every ``.py`` file under lipbench/, experiments/ and notebooks/ (the notebooks'
percent-format sources). A function's length runs from its ``def`` line (decorators
excluded) to its last line, docstring and comments included; a nested function counts on
its own and inside the function around it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCANNED = ("lipbench", "experiments", "notebooks")
MAX_MODULE_LINES = 300
MAX_FUNCTION_LINES = 60


def module_lines(source: str) -> int:
    return len(source.splitlines())


def long_functions(source: str, limit: int = MAX_FUNCTION_LINES) -> list:
    """``(line, qualified name, length)`` of each function longer than ``limit`` lines."""
    found = []

    def visit(node, prefix):
        for child in ast.iter_child_nodes(node):
            name = prefix
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = f"{prefix}{child.name}."
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = child.end_lineno - child.lineno + 1
                if length > limit:
                    found.append((child.lineno, name[:-1], length))
            visit(child, name)

    visit(ast.parse(source), "")
    return sorted(found)


def scanned_files() -> list:
    files = [p for top in SCANNED for p in sorted((ROOT / top).rglob("*.py")) if "__pycache__" not in p.parts]
    assert files, f"no Python files under {SCANNED} in {ROOT}"
    return files


def test_no_module_over_300_lines():
    offenders = []
    for path in scanned_files():
        n = module_lines(path.read_text(encoding="utf-8"))
        if n > MAX_MODULE_LINES:
            offenders.append(f"{path.relative_to(ROOT)}: {n} lines")
    assert not offenders, f"modules over {MAX_MODULE_LINES} lines (split them by job):\n" + "\n".join(offenders)


def test_no_function_over_60_lines():
    offenders = []
    for path in scanned_files():
        for line, name, length in long_functions(path.read_text(encoding="utf-8")):
            offenders.append(f"{path.relative_to(ROOT)}:{line} {name}: {length} lines")
    assert not offenders, f"functions over {MAX_FUNCTION_LINES} lines:\n" + "\n".join(offenders)


def _function(name: str, n_lines: int, indent: str = "") -> str:
    """Source of a function spanning exactly ``n_lines`` lines."""
    body = [f"{indent}    x = {i}" for i in range(n_lines - 2)]
    return "\n".join([f"{indent}def {name}():", *body, f"{indent}    return x"]) + "\n"


@pytest.mark.parametrize("n_lines,flagged", [(60, False), (61, True)])
def test_a_function_is_measured_from_its_def_to_its_last_line(n_lines, flagged):
    source = "import os\n\n\n@staticmethod\n" + _function("f", n_lines) + "\nprint(1)\n"
    assert long_functions(source) == ([(5, "f", n_lines)] if flagged else [])


def test_methods_and_nested_functions_are_named_and_measured_on_their_own():
    inner = _function("inner", 61, indent="        ")
    source = "class C:\n    def method(self):\n" + inner + "        return inner\n"
    # method: its def line, inner's 61 lines and its return; inner starts on line 3
    assert long_functions(source) == [(2, "C.method", 63), (3, "C.method.inner", 61)]


def test_a_module_counts_its_physical_lines():
    assert module_lines("a = 1\n\n# comment\n") == 3
    assert module_lines("") == 0
