"""Where a run's numbers come from: the versions of the packages that shape them and the
commit of the lipbench checkout that computed them (``versions`` and ``git_commit`` in
summary.json)."""

from __future__ import annotations

import platform
import subprocess
from pathlib import Path
from typing import Dict

PACKAGES = ("lipbench", "torchvision", "numpy", "hydra-core", "omegaconf", "torch-fidelity", "pot", "pandas")


def versions() -> Dict[str, str]:
    """Versions of Python, torch (its own ``__version__``, with the build tag such as
    ``+cu130``) and the packages that shape a run's numbers (read from their metadata)."""
    from importlib.metadata import PackageNotFoundError, version

    import torch

    out = {"python": platform.python_version(), "torch": torch.__version__}
    for dist in PACKAGES:
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:  # pragma: no cover - optional packages
            pass
    return out


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(cwd), *args], capture_output=True, text=True, timeout=5).stdout.strip()


def _is_lipbench_project(root: Path) -> bool:
    """Whether ``root/pyproject.toml`` declares the project named ``lipbench``."""
    try:
        text = (root / "pyproject.toml").read_text()
    except OSError:
        return False
    try:
        import tomllib
    except ImportError:  # Python < 3.11: read the name with a pattern
        import re

        match = re.search(r'^\[project\][^\[]*?^name\s*=\s*"([^"]+)"', text, re.M | re.S)
        return bool(match) and match.group(1) == "lipbench"
    try:
        return tomllib.loads(text).get("project", {}).get("name") == "lipbench"
    except tomllib.TOMLDecodeError:
        return False


def git_commit(package_dir: Path | None = None) -> str | None:
    """The commit of the lipbench checkout this code runs from (with "+dirty" when tracked
    files have local changes), or None.

    Only when the package directory is ``<top>/lipbench`` of a git work tree whose top level
    holds lipbench's own pyproject.toml: an installed copy (site-packages, perhaps inside some
    other repository or a venv inside this one) records no commit.
    """
    package = Path(package_dir or Path(__file__).resolve().parents[1]).resolve()
    try:
        top = _git(package, "rev-parse", "--show-toplevel")
        if not top or Path(top).resolve() / "lipbench" != package or not _is_lipbench_project(Path(top)):
            return None
        commit = _git(package, "rev-parse", "HEAD")
        if not commit:
            return None
        dirty = _git(package, "status", "--porcelain", "--untracked-files=no")
        return commit + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None
