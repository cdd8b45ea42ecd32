"""Where a run's numbers come from: the versions of the packages that shape them, the
commit of the lipbench checkout that computed them and the machine that ran it
(``versions``, ``git_commit`` and ``machine`` in summary.json). Bitwise reproducibility
holds per machine: the same commit gives other last digits on another CPU (its kernels),
which GAN training amplifies."""

from __future__ import annotations

import functools
import os
import platform
import subprocess
from pathlib import Path
from typing import Any, Dict, Optional

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


def _cpu_model(cpuinfo: str = "/proc/cpuinfo") -> Optional[str]:
    """The CPU's model name: /proc/cpuinfo's first ``model name`` (Linux), else
    ``platform.processor()``, else ``platform.machine()`` (None when all are empty)."""
    try:
        with open(cpuinfo, encoding="utf-8", errors="replace") as f:
            for line in f:
                key, sep, value = line.partition(":")
                if sep and key.strip() == "model name" and value.strip():
                    return value.strip()
    except OSError:  # not Linux, or no /proc
        pass
    try:
        return platform.processor() or platform.machine() or None
    except Exception:  # pragma: no cover - platform reads uname
        return None


def _guarded(read, default=None):
    try:
        return read()
    except Exception:
        return default


@functools.lru_cache(maxsize=None)
def _host() -> tuple:
    """The parts of :func:`machine` that do not change while the process runs (read once)."""
    import torch

    return (
        _guarded(_cpu_model),
        _guarded(os.cpu_count),
        _guarded(torch.backends.cpu.get_cpu_capability),
        _guarded(platform.platform),
    )


def _cuda_device(device) -> Optional[str]:
    """The name of the CUDA device a run computes on, when CUDA is available: ``device`` when it
    is a CUDA device, else the current one if this process has already initialized CUDA. A CPU
    run does not initialize CUDA for it (seconds, and a context on the GPU): None then."""
    import torch

    if not torch.cuda.is_available():
        return None
    device = torch.device(device) if device is not None else None
    if device is not None and device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if torch.cuda.is_initialized():
        return torch.cuda.get_device_name(torch.cuda.current_device())
    return None


def machine(device=None) -> Dict[str, Any]:
    """The machine a run is made on (bitwise reproducibility holds per machine), JSON-able:
    ``cpu`` (its model name), ``cpu_count`` (logical CPUs), ``cpu_capability`` (torch's CPU
    kernel level, e.g. ``AVX2``), ``platform`` (``platform.platform()``) and ``cuda_device``
    (see :func:`_cuda_device`; ``device`` is the run's torch device). Cheap (the host's parts
    are read once per process) and never raising: what cannot be read is None."""
    cpu, count, capability, system = _guarded(_host, (None, None, None, None))
    return {
        "cpu": cpu,
        "cpu_count": count,
        "cpu_capability": capability,
        "platform": system,
        "cuda_device": _guarded(lambda: _cuda_device(device)),
    }


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
