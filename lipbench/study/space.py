"""A method's search space, declared in conf/ with Hydra's sweep syntax, and its seeded draws.

Each entry of ``hydra.sweeper.common`` (shared by every method) and of
``hydra.sweeper.space.<method>`` maps a config key to one of:

* ``tag(log, interval(a, b))``: log-uniform on [a, b] (0 < a < b);
* ``interval(a, b)``: uniform on [a, b] (a < b);
* ``choice(x, y, ...)`` or ``range(...)``: one of the values, each equally likely;
* a plain value: fixed.

These are the expressions hydra-optuna-sweeper reads, parsed by Hydra's own override
parser. The draws come from Optuna's ``RandomSampler``, seeded per method (not per data
set or per position in the grid), so every machine and every relaunch draws the same
settings, and adding a method leaves the other methods' draws unchanged. A key
``name[i]`` sets element i of the list ``name`` (``optim.betas[0]``: Adam's beta1); all
elements of such a list must be declared. Drawn floats are rounded to 3 significant
digits, so that run directories and tables stay readable.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping

from lipbench.errors import ConfigError

ELEMENT = re.compile(r"^(?P<key>[A-Za-z_][\w.]*)\[(?P<index>\d+)\]$")
KEY = re.compile(r"^[A-Za-z_][\w.]*$")


@dataclass(frozen=True)
class Dimension:
    """One searched key: ``kind`` is log, uniform, choice or fixed."""

    key: str
    kind: str
    low: float = 0.0
    high: float = 0.0
    choices: tuple = ()

    def distribution(self):
        """The Optuna distribution of this dimension (None when fixed)."""
        import optuna.distributions as d

        if self.kind == "choice":
            return d.CategoricalDistribution(list(self.choices))
        if hasattr(d, "FloatDistribution"):  # optuna >= 3
            return d.FloatDistribution(self.low, self.high, log=self.kind == "log")
        cls = d.LogUniformDistribution if self.kind == "log" else d.UniformDistribution
        return cls(self.low, self.high)


def parse_dimension(where: str, key: str, expression: Any) -> Dimension:
    """``expression`` (a string in Hydra's sweep syntax, or a plain value) as a Dimension;
    ``where`` names the entry in messages (``hydra.sweeper.space.gp``)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.core.override_parser.types import ChoiceSweep, IntervalSweep, RangeSweep
    from hydra.errors import HydraException

    name = f"{where}.{key}"
    if not (KEY.match(key) or ELEMENT.match(key)):
        raise ConfigError(f"{name}: not a config key (use dotted keys, e.g. optim.lr, or optim.betas[0])")
    if not isinstance(expression, str):
        return Dimension(key, "fixed", choices=(expression,))
    try:
        value = OverridesParser.create().parse_override(f"x={expression}").value()
    except HydraException as e:
        raise ConfigError(f"{name}={expression}: not a sweep expression ({str(e).splitlines()[0]})") from None
    if isinstance(value, IntervalSweep):
        low, high, log = float(value.start), float(value.end), "log" in (value.tags or set())
        if not low < high:
            raise ConfigError(f"{name}={expression}: empty range (the lower end must be below the upper)")
        if log and not low > 0:
            raise ConfigError(f"{name}={expression}: a log-uniform range needs a lower end > 0")
        return Dimension(key, "log" if log else "uniform", low, high)
    if isinstance(value, (ChoiceSweep, RangeSweep)):
        choices = tuple(value.list) if isinstance(value, ChoiceSweep) else tuple(_range_values(value))
        if not choices:
            raise ConfigError(f"{name}={expression}: no values to choose from")
        return Dimension(key, "choice", choices=choices)
    return Dimension(key, "fixed", choices=(value,))


def _range_values(r) -> List[float]:
    out, x = [], r.start
    while (r.step > 0 and x < r.stop) or (r.step < 0 and x > r.stop):
        out.append(x)
        x += r.step
    return out


def parse_space(where: str, entries: Mapping[str, Any]) -> List[Dimension]:
    """Every entry of a declared space, checked: lists set by ``name[i]`` must declare all
    their elements 0..n-1."""
    dims = [parse_dimension(where, str(k), v) for k, v in (entries or {}).items()]
    lists: Dict[str, set] = {}
    for dim in dims:
        m = ELEMENT.match(dim.key)
        if m:
            lists.setdefault(m["key"], set()).add(int(m["index"]))
    for key, indices in lists.items():
        if indices != set(range(len(indices))):
            raise ConfigError(f"{where}.{key}[...]: declare every element 0..{max(indices)} of the list")
        if key in {d.key for d in dims}:
            raise ConfigError(f"{where}.{key}: declared both whole and by element")
    return dims


def method_seed(seed: int, method: str) -> int:
    """The sampler seed of one method: the study's seed mixed with the method's name."""
    return (int(seed) * 1_000_003 + zlib.crc32(method.encode())) % (2**32)


def _round(value):
    if isinstance(value, float):
        return float(f"{value:.3g}")
    return value


def draw(dims: List[Dimension], n: int, seed: int) -> List[Dict[str, Any]]:
    """``n`` settings drawn i.i.d. by Optuna's RandomSampler(seed): ``[{key: value}]`` with
    list elements gathered into their lists (``{"optim.betas": [b1, b2]}``)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    searched = {d.key: d.distribution() for d in dims if d.kind != "fixed"}
    settings = []
    for _ in range(n):
        trial = study.ask(fixed_distributions=searched) if searched else None
        values = {d.key: _round(trial.params[d.key]) if d.kind != "fixed" else d.choices[0] for d in dims}
        if trial is not None:
            study.tell(trial, 0.0)
        settings.append(gather(values))
    return settings


def gather(values: Dict[str, Any]) -> Dict[str, Any]:
    """``{"a[0]": x, "a[1]": y}`` -> ``{"a": [x, y]}``, other keys unchanged (in order)."""
    out: Dict[str, Any] = {}
    for key, value in values.items():
        m = ELEMENT.match(key)
        if m:
            out.setdefault(m["key"], {})[int(m["index"])] = value
        else:
            out[key] = value
    return {k: [v[i] for i in sorted(v)] if isinstance(v, dict) else v for k, v in out.items()}


def as_override(key: str, value: Any) -> str:
    """A Hydra override setting ``key`` to ``value`` (lists as ``[a,b]``)."""
    if isinstance(value, (list, tuple)):
        return f"{key}=[{','.join(_scalar(v) for v in value)}]"
    return f"{key}={_scalar(value)}"


def _scalar(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)
