"""The errors a user of the zoo can meet.

Every message says what was wrong, what was expected and how to fix it, so that the
CLI and the dashboard can show it as-is instead of a traceback.
"""

from __future__ import annotations


class ZooError(Exception):
    """Base class of every error the zoo raises on purpose.

    Example:
        >>> try:
        ...     raise ConfigError("epochs must be >= 1, got 0; pass epochs=1 or more")
        ... except ZooError as err:
        ...     print(err)
        epochs must be >= 1, got 0; pass epochs=1 or more
    """


class ConfigError(ZooError, ValueError):
    """A training option is invalid or incompatible with the chosen model."""


class DataError(ZooError, ValueError):
    """Input data has the wrong shape, dtype, range or content."""


class ArtifactError(ZooError):
    """A stored model version is missing, incomplete or fails verification."""


class UnknownModelError(ZooError, KeyError):
    """A zoo entry or version does not exist."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""
