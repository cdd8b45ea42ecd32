"""Errors lipbench reports to the user as one clear line."""


class ConfigError(ValueError):
    """A configuration value is not allowed.

    The message names the key and what is allowed, e.g.
    ``constraint.clip.c=-1: must be > 0``.
    """


class DataError(RuntimeError):
    """Input data is missing, empty or unreadable."""


class RunDirError(RuntimeError):
    """A run directory cannot be used (holds another run, corrupted checkpoint, ...)."""


def require(value, key: str, ok=None, rule: str = "", *, at_least=None, above=None, why: str = ""):
    """``value`` of config key ``key`` (``model.hidden``), or a :class:`ConfigError` with one
    line naming the key: ``model.hidden=0: must be >= 1``. The one range check of every
    schema's ``__post_init__`` (data, model, constraint, train, eval, optim, pair).

    ``at_least=lo``: ``value >= lo``; ``above=lo``: ``value > lo``; else ``ok`` (a bool, or a
    predicate of ``value``) with ``rule`` saying what is allowed ("must be in [0, 1)").
    ``why`` is added in parentheses.
    """
    if at_least is not None:
        ok, rule = value is not None and value >= at_least, rule or f"must be >= {at_least}"
    elif above is not None:
        ok, rule = value is not None and value > above, rule or f"must be > {above}"
    elif callable(ok):
        ok = value is not None and ok(value)
    if not ok:
        raise ConfigError(f"{key}={value}: {rule}" + (f" ({why})" if why else ""))
    return value
