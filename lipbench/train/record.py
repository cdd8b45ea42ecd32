"""The run record: summary.json, metrics.jsonl, config.yaml and checkpoint.pt.

Every file that is replaced is written atomically (a temporary file in the same
directory, fsync, then ``os.replace``), so that a crash or a full disk never leaves a
half-written summary or checkpoint behind: the previous version stays intact.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import platform
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Callable, Dict

import torch

SUMMARY = "summary.json"
METRICS = "metrics.jsonl"
CONFIG = "config.yaml"
CHECKPOINT = "checkpoint.pt"
RECORD_FILES = (SUMMARY, METRICS, CONFIG, CHECKPOINT, "train.log", "final_samples.npz")


def now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def atomic_write(path: Path, write: Callable[[Any], None], mode: str = "w") -> None:
    """Write ``path`` through ``write(fileobj)`` into a temp file, then rename it over ``path``."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def jsonable(value):
    """Floats that are not finite become strings ("nan", "inf") so the JSON stays valid."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, torch.Tensor):
        return jsonable(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        try:
            return jsonable(value.item())
        except (ValueError, TypeError):
            pass
    return value


def write_json(path: Path, data: Dict) -> None:
    atomic_write(path, lambda f: json.dump(jsonable(data), f, indent=2, sort_keys=False))


def read_json(path: Path) -> Dict:
    with open(path) as f:
        return json.load(f)


def append_jsonl(path: Path, row: Dict) -> None:
    with open(path, "a") as f:
        f.write(json.dumps(jsonable(row)) + "\n")
        f.flush()


def read_jsonl(path: Path, max_step: int = None):
    """Rows of a metrics.jsonl; a torn last line (crash mid-write) is skipped."""
    rows = []
    if not Path(path).exists():
        return rows
    with open(path) as f:
        for line in f:
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            if max_step is None or row.get("step", 0) <= max_step:
                rows.append(row)
    return rows


def save_checkpoint(path: Path, state: Dict) -> None:
    atomic_write(path, lambda f: torch.save(state, f), mode="wb")


def load_checkpoint(path: Path) -> Dict:
    return torch.load(path, map_location="cpu", weights_only=True)


def versions() -> Dict[str, str]:
    """Versions of Python and the packages that shape a run's numbers (read from metadata, no imports)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version(), "torch": torch.__version__}
    for dist in ("lipbench", "torchvision", "numpy", "hydra-core", "omegaconf", "torch-fidelity", "pot", "pandas"):
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
