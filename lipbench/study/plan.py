"""A study's trials: the sweeper's options checked, the grid expanded, the settings drawn.

The grid is the sweeper's ``params`` (each entry an axis, even with one value) plus the
sweep overrides of the command line, as for Hydra's basic sweeper; each of its
combinations is a *group* (its values name its run directories), and ``method_key``
(``constraint``) names the method whose search space the group uses. A search trial's
seed is its index (0..n_settings-1); the reruns use ``rerun_seeds``, which must not
overlap them.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence

from omegaconf import DictConfig, OmegaConf

from lipbench.errors import ConfigError
from lipbench.study.space import Dimension, as_override, draw, method_seed, parse_space

PREFIX = "hydra.sweeper"
SEARCH, RERUN = "search", "rerun"


@dataclass(frozen=True)
class StudyOptions:
    """``hydra.sweeper.*`` of conf/hydra/sweeper/study.yaml, checked."""

    n_settings: int
    seed: int
    method_key: str
    common: Dict[str, Any]
    space: Dict[str, Dict[str, Any]]
    rerun_seeds: List[int]
    rule: Dict[str, Any]
    params: Dict[str, Any] = field(default_factory=dict)
    metric: Optional[str] = None

    @classmethod
    def from_config(cls, options: Mapping[str, Any]) -> "StudyOptions":
        plain = {
            k: OmegaConf.to_container(v, resolve=True) if OmegaConf.is_config(v) else v
            for k, v in (options.items() if not isinstance(options, DictConfig) else options.items_ex(resolve=True))
        }
        plain.pop("_target_", None)
        known = {f for f in cls.__dataclass_fields__}
        unknown = sorted(set(plain) - known)
        if unknown:
            raise ConfigError(f"{PREFIX}.{unknown[0]}: unknown option; allowed: {', '.join(sorted(known))}")
        opts = cls(**{k: plain[k] for k in plain})
        opts.check()
        return opts

    def check(self) -> None:
        if not isinstance(self.n_settings, int) or self.n_settings < 1:
            raise ConfigError(f"{PREFIX}.n_settings={self.n_settings}: must be an integer >= 1")
        seeds = list(self.rerun_seeds or [])
        if not seeds or len(set(seeds)) != len(seeds) or not all(isinstance(s, int) and s >= 0 for s in seeds):
            raise ConfigError(f"{PREFIX}.rerun_seeds={seeds}: must be distinct integers >= 0, at least one")
        clash = sorted(s for s in seeds if s < self.n_settings)
        if clash:
            raise ConfigError(
                f"{PREFIX}.rerun_seeds: {clash[0]} is also a search seed (the search uses seeds "
                f"0..{self.n_settings - 1}); rerun seeds must be fresh"
            )
        if self.rule.get("name") != "tail_mean" or not int(self.rule.get("last", 0)) >= 1:
            raise ConfigError(f"{PREFIX}.rule={self.rule}: allowed: {{name: tail_mean, last: >= 1}}")
        parse_space(f"{PREFIX}.common", self.common)
        for method in self.space or {}:
            self.dimensions(method)

    def dimensions(self, method: str) -> List[Dimension]:
        """The method's search space: ``common``, then its own entries (which take precedence)."""
        if method not in (self.space or {}):
            raise ConfigError(
                f"{PREFIX}.space.{method}: missing; every method of the study declares its space "
                f"({{}} when it has no parameter of its own); declared: {', '.join(sorted(self.space or {}))}"
            )
        merged = {**(self.common or {}), **(self.space[method] or {})}
        return parse_space(f"{PREFIX}.space.{method}", merged)


@dataclass
class Trial:
    phase: str
    group: Dict[str, str]
    method: str
    trial: int
    seed: int
    params: Dict[str, Any]
    overrides: List[str]
    dir: str

    def job(self) -> List[str]:
        """The overrides Hydra's launcher gets: the trial's, its seed and its run directory."""
        return [*self.overrides, f"seed={self.seed}", f"hydra.sweep.subdir='{self.dir}'"]


@dataclass
class Grid:
    fixed: List[str]  # overrides every job gets
    axes: List[List[str]]  # the sweep overrides' values, as "key=value"

    def groups(self) -> List[List[str]]:
        return [list(c) for c in itertools.product(*self.axes)] if self.axes else [[]]


def parse_grid(opts: StudyOptions, arguments: Sequence[str], config_loader=None) -> Grid:
    """The sweeper's params and the command line's overrides: fixed ones and swept axes.

    Each params entry is an axis, even with one value: it names the groups and their
    directories, so that adding values later keeps the finished runs' directories. The
    command line replaces a params entry of the same key in place (``constraint=clip,sn``,
    ``data=eight_gaussians,twentyfive_gaussians``); its other sweeps are further axes."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser = OverridesParser.create(config_loader=config_loader)
    axes: Dict[str, List[str]] = {}
    for o in parser.parse_overrides([f"{k}={v}" for k, v in (opts.params or {}).items()]):
        axes[o.get_key_element()] = _values(o)
    fixed = []
    for o in parser.parse_overrides(list(arguments)):
        key = o.get_key_element()
        if key in ("seed", "hydra.sweep.subdir"):
            raise ConfigError(f"{key}: set per trial by the study; remove it from the command line")
        if key in axes or o.is_sweep_override():
            axes[key] = _values(o)
        else:
            fixed.append(f"{key}={o.get_value_element_as_str()}")
    return Grid(fixed, list(axes.values()))


def _values(o) -> List[str]:
    key = o.get_key_element()
    if not o.is_sweep_override():
        return [f"{key}={o.get_value_element_as_str()}"]
    if not o.is_discrete_sweep():
        raise ConfigError(f"{key}: the study's grid takes lists of values; intervals go in {PREFIX}.space")
    return [f"{key}={v}" for v in o.sweep_string_iterator()]


def _value(overrides: Sequence[str], key: str) -> Optional[str]:
    for o in overrides:
        k, _, v = o.partition("=")
        if k.lstrip("+~") == key:
            return v
    return None


def group_of(opts: StudyOptions, grid: Grid, combo: List[str], default_method: Optional[str]):
    """(group dict, method, directory name) of one grid combination."""
    group = {o.partition("=")[0]: o.partition("=")[2] for o in combo}
    method = _value(combo, opts.method_key) or _value(grid.fixed, opts.method_key) or default_method
    if not method:
        raise ConfigError(f"{opts.method_key}: the study needs a method; sweep it, e.g. {opts.method_key}=clip,gp")
    parts = list(group.values()) or [method]
    if method not in parts:
        parts.append(method)
    name = "/".join(p.replace(os.sep, "_").replace("'", "") for p in parts)
    return group, method, name


def search_trials(opts: StudyOptions, grid: Grid, default_method: Optional[str] = None) -> List[Trial]:
    """Every search trial, trial-major (trial 0 of every group first), so that a study
    stopped early holds the same number of settings for every group."""
    per_group = []
    for combo in grid.groups():
        group, method, name = group_of(opts, grid, combo, default_method)
        settings = draw(opts.dimensions(method), opts.n_settings, method_seed(opts.seed, method))
        per_group.append((combo, group, method, name, settings))
    trials = []
    for t in range(opts.n_settings):
        for combo, group, method, name, settings in per_group:
            params = settings[t]
            overrides = [*grid.fixed, *combo, *(as_override(k, v) for k, v in params.items())]
            trials.append(Trial(SEARCH, group, method, t, t, params, overrides, f"{SEARCH}/{name}/t{t:02d}"))
    return trials


def rerun_trials(opts: StudyOptions, grid: Grid, chosen: Sequence[Trial]) -> List[Trial]:
    """The reruns of each group's chosen search trial, seed-major."""
    out = []
    for seed in opts.rerun_seeds:
        for best in chosen:
            name = best.dir.split("/", 1)[1].rsplit("/", 1)[0]
            out.append(
                Trial(RERUN, best.group, best.method, best.trial, seed, best.params, best.overrides,
                      f"{RERUN}/{name}/s{seed}")
            )  # fmt: skip
    return out
