"""The errors a user of the zoo can meet.

Every message says what was wrong, what was expected and how to fix it, so that the
CLI and the web UI can show it as-is instead of a traceback.
"""

from __future__ import annotations

import errno


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


class StorageError(ZooError):
    """A file or folder could not be read or written (disk full, permissions, a file in
    the way); the message names the path and what to do."""


# What to do about an OSError, by its errno: the advice a person can act on.
_OS_ADVICE = {
    errno.ENOSPC: "the disk is full; free some space, or point --store / ZOO_HOME at another disk",
    errno.EDQUOT: "your disk quota is used up; free some space, or point --store / ZOO_HOME "
    "at another disk",
    errno.EFBIG: "the file is larger than this system allows (a `ulimit -f` limit or the "
    "file system's maximum); raise the limit or use another disk",
    errno.EACCES: "permission denied; fix the permissions, or point --store / ZOO_HOME at "
    "a folder you can write",
    errno.EPERM: "operation not permitted; fix the permissions, or point --store / "
    "ZOO_HOME at a folder you can write",
    errno.EROFS: "the file system is read-only; point --store / ZOO_HOME at a writable folder",
    errno.ENOTDIR: "a part of the path is a file, not a folder; pass --store (or set "
    "ZOO_HOME) with a folder",
    errno.EISDIR: "it is a folder where a file was expected; name a file",
    errno.EEXIST: "a file is in the way; move it, or pass --store with another folder",
    errno.ENOENT: "it does not exist; check the path",
    errno.EMFILE: "too many open files; raise `ulimit -n` or close other programs",
    errno.ENFILE: "too many open files on this system; close other programs",
    errno.EIO: "the disk reported an input/output error; check the disk",
    errno.ENAMETOOLONG: "the path is too long; use a shorter --store folder",
}


def describe_os_error(err: OSError, path: object = None) -> str:
    """One line for an `OSError`: the path, what went wrong and what to do.

    `path` is used when the error carries no file name of its own.

    Example:
        >>> describe_os_error(OSError(errno.ENOSPC, "No space left on device", "/s/m.keras"))
        '/s/m.keras: No space left on device; the disk is full; free some space, or ...'
    """
    where = err.filename if err.filename is not None else path
    if err.filename2 is not None:
        where = f"{where} -> {err.filename2}"
    what = err.strerror or str(err) or type(err).__name__
    advice = _OS_ADVICE.get(err.errno or 0, "check the path, its permissions and the disk")
    text = f"{where}: {what}; {advice}" if where is not None else f"{what}; {advice}"
    return " ".join(text.split())  # one line, whatever the OS put in the message
