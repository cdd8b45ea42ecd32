"""Build hook: ship the top-level ``conf/`` inside the package, as ``lipbench/conf``.

``conf/`` stays the only source of the Hydra configs. A wheel (``pip install .``, an
install from a git URL, ``python -m build``) gets a fresh copy of it under
``lipbench/conf``; an editable install reads ``conf/`` from the checkout instead
(see ``lipbench.cli.conf_dir``). All metadata lives in pyproject.toml.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

CONF = Path(__file__).resolve().parent / "conf"


class BuildPyWithConf(build_py):
    """``build_py`` that also copies ``conf/`` into the built package (not for editable installs)."""

    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return
        target = Path(self.build_lib) / "lipbench" / "conf"
        shutil.rmtree(target, ignore_errors=True)  # no stale presets from an earlier build
        shutil.copytree(CONF, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


setup(cmdclass={"build_py": BuildPyWithConf})
