"""The lint settings in pyproject.toml catch what CI relies on them to catch.

.ci/run runs ruff and import-linter on the whole tree; these tests plant violations in a
scratch copy and check that the tools name each one (and nothing planted is reported on
the unchanged copy), so a contract or rule that silently stopped applying fails here.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

# lint-imports twice on a scratch copy of the package: slow, so out of the default suite;
# .ci/run runs them with `python -m pytest -m packaging`
pytestmark = [pytest.mark.slow, pytest.mark.packaging]

pytest.importorskip("importlinter")
pytest.importorskip("ruff")

ROOT = Path(__file__).resolve().parents[1]

# (module file, line appended to it, what lint-imports must then report)
PLANTED_IMPORTS = [
    ("lipbench/report/latex.py", "import torch", "lipbench.report.latex -> torch (l."),
    ("lipbench/report/budget.py", "import torch_fidelity", "lipbench.report.budget -> torch_fidelity (l."),
    ("lipbench/report/ranking.py", "import lipbench.train", "lipbench.report.ranking -> lipbench.train (l."),
    ("lipbench/data/base.py", "import lipbench.metrics", "lipbench.data.base -> lipbench.metrics (l."),
    ("lipbench/errors.py", "import lipbench.registry", "lipbench.errors -> lipbench.registry (l."),
    ("lipbench/constraints/clip.py", "import lipbench.evaluate", "lipbench.constraints.clip -> lipbench.evaluate (l."),
]


def _scratch_copy(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "lipbench", tmp_path / "lipbench", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def _lint_imports(root: Path) -> str:
    code = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"
    env = {**os.environ, "PYTHONPATH": str(root)}
    out = subprocess.run([sys.executable, "-c", code, "--no-cache"], cwd=root, env=env, capture_output=True, text=True)
    assert "Contracts:" in out.stdout, out.stdout + out.stderr  # it ran and checked the contracts
    return out.stdout


def test_import_linter_reports_each_planted_import(tmp_path):
    root = _scratch_copy(tmp_path)
    before = _lint_imports(root)
    for rel, line, _ in PLANTED_IMPORTS:
        with open(root / rel, "a", encoding="utf-8") as f:
            f.write(f"\n{line}  # planted by tests/test_lint.py\n")
    after = _lint_imports(root)
    for rel, line, expected in PLANTED_IMPORTS:
        assert expected not in before, f"{expected} reported before it was planted"
        assert expected in after, f"{line!r} in {rel} is not reported:\n{after}"


def _ruff(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ruff", *args, "--no-cache"], cwd=root, capture_output=True, text=True)


def test_ruff_flags_what_the_settings_select(tmp_path):
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    at_limit, over = ("x = '" + "a" * n + "'" for n in (114, 115))  # 120 and 121 characters
    (tmp_path / "module.py").write_text(
        "import sys\n"  # 1: unsorted (I001)
        "import json\n"  # 2: unused (F401)
        "\n"
        "print(sys.argv)\n"
        f"{at_limit}\n"
        f"{over}\n"  # 6: too long (E501)
        "import os\n"  # 7: after code (E402)
        "\n"
        "print(os.sep)\n"
        "\n\n"
        "def f(xs=[]):\n"  # 12: mutable default (B006)
        "    return xs\n"
    )
    (tmp_path / "notebooks").mkdir()
    # a notebook source imports in the cell that needs a name: E402 is not reported there
    (tmp_path / "notebooks" / "nb.py").write_text("# %%\nx = 1\n\n# %%\nimport os\n\nprint(os.sep, x)\n")
    out = _ruff(tmp_path, "check", "--output-format", "json", ".")
    found = sorted((Path(d["filename"]).name, d["location"]["row"], d["code"]) for d in json.loads(out.stdout))
    expected = [(1, "I001"), (2, "F401"), (6, "E501"), (7, "E402"), (12, "B006")]
    assert found == [("module.py", row, code) for row, code in expected], found


def test_ruff_format_keeps_lines_up_to_120_characters(tmp_path):
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    call = "result = some_function(first_argument, second_argument, third_argument, fourth_argument, fifth)"
    assert 88 < len(call) <= 120  # black's default would split it
    (tmp_path / "fits.py").write_text(call + "\n")
    (tmp_path / "too_long.py").write_text(call.replace("fourth_argument", "fourth_argument" + "_x" * 20) + "\n")
    out = _ruff(tmp_path, "format", "--check", ".")
    assert "too_long.py" in out.stdout and "fits.py" not in out.stdout, out.stdout + out.stderr
