"""Staging folders: where a version is written before it is renamed into place.

A staging folder's name says who owns it: `.tmp-<pid>-<start>-<host>-<hex>`, the owning
process id, its start time (clock ticks since boot, from /proc; 0 where unknown, so a
recycled process id is not taken for the owner), a tag of the host name (a store on a
shared disk can be written from several machines, and a process id means nothing on
another one) and a random part. A process killed with `kill -9` cannot remove its
folder; the next training start does (`remove_dead`), and never touches a folder whose
owner is alive or runs on another host.

Example:
    >>> tag = owner_tag()
    >>> parse_owner(f".tmp-{tag}-0123456789abcdef0123456789abcdef")[0] == os.getpid()
    True
    >>> is_dead(f".tmp-{tag}-0123456789abcdef0123456789abcdef")
    False
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import shutil
import socket
import time
import uuid
from pathlib import Path

log = logging.getLogger(__name__)

PREFIX = ".tmp-"
_OWNED = re.compile(r"\.tmp-(\d{1,10})-(\d{1,20})-([0-9a-f]{8})-[0-9a-f]{32}")
# Folders written by zoo versions before owners were recorded: no owner to ask, so they
# go once nothing in them has changed for a day (no training runs that long silently:
# the history file is rewritten every epoch).
_LEGACY = re.compile(r"\.tmp-[0-9a-f]{32}")
LEGACY_AGE_S = 24 * 3600


def host_tag() -> str:
    """Eight hex digits identifying this host (a hash of its name).

    Example:
        >>> len(host_tag())
        8
    """
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]


def start_ticks(pid: int) -> int:
    """When process `pid` started, in clock ticks since boot (0 where /proc is missing).

    Example:
        >>> start_ticks(os.getpid()) >= 0
        True
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    # Field 22; the command name (field 2) may hold spaces, so count after its ')'.
    fields = stat.rpartition(")")[2].split()
    try:
        return int(fields[19])
    except (IndexError, ValueError):
        return 0


def owner_tag() -> str:
    """`<pid>-<start>-<host>` of this process, the middle of its staging folders' names.

    Example:
        >>> owner_tag().split("-")[0] == str(os.getpid())
        True
    """
    pid = os.getpid()
    return f"{pid}-{start_ticks(pid)}-{host_tag()}"


def new_name() -> str:
    """A fresh staging folder name owned by this process.

    Example:
        >>> new_name().startswith(".tmp-")
        True
    """
    return f"{PREFIX}{owner_tag()}-{uuid.uuid4().hex}"


def parse_owner(name: str) -> tuple[int, int, str] | None:
    """(pid, start ticks, host tag) from a staging folder's name; None if it has none.

    Example:
        >>> parse_owner(".tmp-42-7-0a1b2c3d-" + "0" * 32)
        (42, 7, '0a1b2c3d')
        >>> parse_owner(".tmp-" + "0" * 32) is None
        True
    """
    match = _OWNED.fullmatch(name)
    if not match:
        return None
    return int(match[1]), int(match[2]), match[3]


def alive(pid: int, start: int = 0) -> bool:
    """Whether process `pid` runs on this host (and, when `start` is known, is the one
    that started then rather than a later process given the same id).

    Example:
        >>> alive(os.getpid(), start_ticks(os.getpid()))
        True
    """
    if pid <= 0:  # os.kill(0, ...) would signal our own process group
        return False
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):  # gone, or an id no process can have
        return False
    except PermissionError:
        pass  # it exists, owned by another user
    except OSError:
        return True  # cannot tell: keep its folder
    if start:
        now = start_ticks(pid)
        if now and now != start:
            return False
    return True


def is_dead(name: str, path: Path | None = None, *, now: float | None = None) -> bool:
    """Whether the staging folder `name` was left behind by a process that is gone.

    Folders of another host are never dead to us; legacy folders (no owner in the
    name) are dead once `path` has not changed for `LEGACY_AGE_S` seconds.

    Example:
        >>> is_dead(".tmp-999999999-0-" + host_tag() + "-" + "0" * 32)
        True
        >>> is_dead(".tmp-999999999-0-ffffffff-" + "0" * 32)  # another host: kept
        False
    """
    owner = parse_owner(name)
    if owner is not None:
        pid, start, host = owner
        return host == host_tag() and not alive(pid, start)
    if _LEGACY.fullmatch(name) and path is not None:
        return (now or time.time()) - _newest_mtime(path) > LEGACY_AGE_S
    return False


def remove_dead(root: Path) -> list[Path]:
    """Remove the staging folders of dead processes under every entry of store `root`.

    Best effort: a folder that cannot be removed (a read-only store) is left for the
    next start, and reading the store never fails because of it. Returns what went.

    Example:
        >>> import tempfile
        >>> root = Path(tempfile.mkdtemp())
        >>> dead = root / "mlp-cancer" / f".tmp-999999999-0-{host_tag()}-{'0' * 32}"
        >>> dead.mkdir(parents=True)
        >>> remove_dead(root) == [dead], dead.exists()
        (True, False)
    """
    removed: list[Path] = []
    try:
        entries = [p for p in root.iterdir() if p.is_dir()]
    except OSError:
        return removed
    for entry in entries:
        try:
            candidates = [p for p in entry.iterdir() if p.name.startswith(PREFIX)]
        except OSError:
            continue
        for path in candidates:
            if not path.is_dir() or not is_dead(path.name, path):
                continue
            shutil.rmtree(path, ignore_errors=True)
            if not path.exists():
                log.info("removed %s, left behind by a training that was killed", path)
                removed.append(path)
    return removed


def _newest_mtime(path: Path) -> float:
    newest = 0.0
    with contextlib.suppress(OSError):
        newest = path.stat().st_mtime
        for here, _, files in os.walk(path):
            for file in files:
                with contextlib.suppress(OSError):
                    newest = max(newest, os.stat(os.path.join(here, file)).st_mtime)
    return newest
