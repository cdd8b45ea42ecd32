"""Installs that are not editable: the wheel ships conf/ (as lipbench/conf), an installed
copy trains from any directory, and a run records a git commit only from a checkout."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

from conftest import REPO
from lipbench.record.provenance import git_commit

# the quick start at its smallest: 2 iterations, tiny evaluation
TINY_RUN = [
    "train.iterations=2",
    "train.batch_size=32",
    "model.hidden=16",
    "train.progress=false",
    "train.tensorboard=false",
    "eval.every=0",
    "eval.n_samples=200",
    "eval.w1_samples=100",
    "eval.grad_samples=16",
    "eval.surface_resolution=8",
    "eval.floor_pairs=1",
    "hydra.run.dir=run",
]
_NOT_SHIPPED = shutil.ignore_patterns(
    ".git",
    ".venv",
    "venv",
    "build",
    "*.egg-info",
    "outputs",
    "multirun",
    "__pycache__",
    ".pytest_cache",
    "results",
    "notebooks",
)


def _source_copy(dest: Path) -> Path:
    """The project's files as a fresh clone has them (tracked and not-ignored), in ``dest``."""
    listed = subprocess.run(
        ["git", "-C", str(REPO), "ls-files", "-co", "--exclude-standard", "-z"], capture_output=True, text=True
    )
    if listed.returncode != 0:  # not a checkout (an unpacked sdist): copy the tree
        shutil.copytree(REPO, dest, ignore=_NOT_SHIPPED)
        return dest
    for name in filter(None, listed.stdout.split("\0")):
        if (REPO / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, dest / name)
    return dest


def _pip(*args, python=sys.executable, cwd=None):
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return proc


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """lipbench's wheel, built from a copy of the sources (nothing is written into the clone)."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = _source_copy(tmp / "src")
    _pip("wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp / "dist"), ".", cwd=src)
    (path,) = (tmp / "dist").glob("lipbench-*.whl")
    return path, src


def _overlay_venv(root: Path) -> Path:
    """A new venv without lipbench; its dependencies are this environment's (a .pth line),
    so that nothing is downloaded. Returns its python."""
    venv.EnvBuilder(with_pip=False, symlinks=os.name != "nt").create(root)
    python = root / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    deps = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    Path(site, "_lipbench_test_deps.pth").write_text("\n".join(sorted(deps)) + "\n")
    return python


def _installed_env() -> dict:
    """This environment without what would point the installed copy at the clone."""
    env = {k: v for k, v in os.environ.items() if k not in ("LIPBENCH_CONF", "PYTHONPATH")}
    return {**env, "OMP_NUM_THREADS": "1"}


def _run_installed(python: Path, cwd: Path, *args) -> subprocess.CompletedProcess:
    exe = python.parent / ("lipbench.exe" if os.name == "nt" else "lipbench")
    return subprocess.run([str(exe), *args], cwd=cwd, capture_output=True, text=True, timeout=300, env=_installed_env())


def _check_installed_run(python: Path, tmp_path: Path):
    """The installed lipbench reads its shipped configs and trains from a folder outside the clone."""
    site = subprocess.run(
        [str(python), "-c", "import lipbench.cli as c; print(c.CONF_DIR)"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
        env=_installed_env(),
    ).stdout.strip()
    assert Path(site).parts[-2:] == ("lipbench", "conf") and REPO not in Path(site).parents
    work = tmp_path / "elsewhere"
    work.mkdir()
    proc = _run_installed(python, work, *TINY_RUN)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((work / "run" / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["step"] == 2
    assert summary["git_commit"] is None  # an installed copy is not a checkout


# a wheel build and a venv install: slow, so out of the default suite; .ci/run runs `-m packaging`
@pytest.mark.slow
@pytest.mark.packaging
def test_the_wheel_ships_every_config_file(wheel):
    path, src = wheel  # compared with the sources it was built from
    expected = {p.relative_to(src / "conf").as_posix(): p.read_bytes() for p in (src / "conf").rglob("*.yaml")}
    with zipfile.ZipFile(path) as z:
        shipped = {n[len("lipbench/conf/") :]: z.read(n) for n in z.namelist() if n.startswith("lipbench/conf/")}
    assert "config.yaml" in shipped
    assert shipped == expected  # every preset, byte for byte, and nothing else
    assert not (REPO / "lipbench" / "conf").exists()  # conf/ stays the only source in the clone


@pytest.mark.slow
@pytest.mark.packaging
def test_an_installed_wheel_trains_from_outside_the_clone(wheel, tmp_path):
    python = _overlay_venv(tmp_path / "venv")
    _pip("install", "--no-deps", str(wheel[0]), python=python)
    _check_installed_run(python, tmp_path)


@pytest.mark.slow
@pytest.mark.packaging  # a pip install like the two above (from a local git URL: no network), so .ci/run runs it too
def test_an_install_from_a_git_url_trains_from_outside_the_clone(tmp_path):
    src = _source_copy(tmp_path / "repo")
    for args in (["init", "-q"], ["add", "-A"], ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x"]):
        subprocess.run(["git", "-C", str(src), *args], check=True, capture_output=True)
    python = _overlay_venv(tmp_path / "venv")
    _pip("install", "--no-deps", "--no-build-isolation", f"git+{src.as_uri()}", python=python)
    _check_installed_run(python, tmp_path)


def _git_repo(root: Path, project_name: str) -> Path:
    (root / "lipbench").mkdir(parents=True)
    (root / "lipbench" / "__init__.py").write_text("")
    (root / "pyproject.toml").write_text(f'[project]\nname = "{project_name}"\nversion = "0"\n')
    for args in (["init", "-q"], ["add", "-A"], ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x"]):
        subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True)
    return root


def _head(root: Path) -> str:
    return subprocess.run(
        ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()


def test_the_commit_is_recorded_only_from_a_lipbench_checkout(tmp_path):
    checkout = _git_repo(tmp_path / "checkout", "lipbench")
    assert git_commit(checkout / "lipbench") == _head(checkout)
    (checkout / "lipbench" / "__init__.py").write_text("x = 1\n")
    assert git_commit(checkout / "lipbench") == _head(checkout) + "+dirty"

    other = _git_repo(tmp_path / "other", "someone-elses-project")
    assert git_commit(other / "lipbench") is None  # a repo that happens to hold a lipbench folder

    installed = checkout / ".venv" / "lib" / "site-packages" / "lipbench"  # a venv inside the checkout
    installed.mkdir(parents=True)
    assert git_commit(installed) is None
    outside = tmp_path / "plain" / "lipbench"
    outside.mkdir(parents=True)
    assert git_commit(outside) is None
