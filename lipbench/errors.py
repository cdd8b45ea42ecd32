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
