"""Deleting stored versions and custom entries (`zoo delete`, the dashboard's controls).

`delete("name@N")` removes one version; `delete_entry(name, versions=True)` a custom
entry (its `<store>/_entries/<name>.toml`) with all its versions. Each version goes in
three steps, so a crash at any moment leaves either the whole version or none of it:

1. a tombstone `<store>/<name>/.deleted-N` is created, before anything is moved: the
   store gives the next version `max(stored, deleted) + 1` (`Store.commit`), so a number
   once given out never names another model (a dashboard cache or a note that says
   `name@N` can never meet a different model under it);
2. the folder is renamed to a hidden `.trash-N-<random>` name in the same folder: one
   atomic rename(2), after which no listing, `runs()` or `load` sees it (versions are
   folders named by digits only);
3. the trash folder is removed; one a crash left behind is removed by the next delete
   in that entry, and is never read meanwhile.

Other versions are never touched; `zoo.load(name)` then falls back to the latest good
version that remains. Refusals are one line and change nothing: an unknown ref, a bare
name without `@N` (a version is named explicitly), a built-in entry (only its versions
can go), an entry that still has versions unless `versions=True`.

Ensembles hold their members' weights in their own `model.keras` (`zoo.ensembles`
clones each member's layers with their weights), and transfer learning copies the
weights it starts from, so no stored version depends on another: deleting a member
leaves an ensemble loadable, and is not refused. Its `metrics.json` still names the
members it was built from, as history.

The audit line is written by the caller (`zoo delete` as the OS user, the dashboard as
the visitor), like the other actions of `zoo.audit`.

Example:
    >>> import tempfile
    >>> delete("mlp-cancer", store=tempfile.mkdtemp())  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    zoo.errors.ConfigError: 'mlp-cancer' names no version: ...
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zoo import registry
from zoo.errors import ConfigError, StorageError, UnknownModelError, describe_os_error
from zoo.store import TOMBSTONE, Store, parse_ref

log = logging.getLogger("zoo")

TRASH_PREFIX = ".trash-"


@dataclass(frozen=True)
class Deleted:
    """What one delete removed: `target` (`name@N` or an entry), the versions deleted
    (refs, with the status each had), and every path removed.

    Example:
        >>> Deleted("mlp-cancer@2", refs=("mlp-cancer@2",)).lines()
        ['deleted mlp-cancer@2']
    """

    target: str
    refs: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    paths: tuple[Path, ...] = ()
    kept: tuple[str, ...] = ()

    def lines(self) -> list[str]:
        """What was deleted (and kept), one line each, as `zoo delete` prints it.

        Example:
            >>> Deleted("x@1", ("x@1",), ("ok",), (Path("/s/x/1"),)).lines()
            ['deleted x@1 (ok): /s/x/1']
        """
        out = []
        for i, ref in enumerate(self.refs):
            status = f" ({self.statuses[i]})" if i < len(self.statuses) else ""
            where = f": {self.paths[i]}" if i < len(self.paths) else ""
            out.append(f"deleted {ref}{status}{where}")
        out += [f"deleted {p}" for p in self.paths[len(self.refs) :]]
        out += [f"kept {k}" for k in self.kept]
        return out


def _store(store: Any) -> Store:
    return store if isinstance(store, Store) else Store(store)


def _fsync_dir(folder: Path) -> None:
    # The rename is durable once its folder is synced: a power cut cannot bring it back.
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _remove_tree(folder: Path) -> None:
    """Rename `folder` to a hidden trash name beside it, then remove it (atomic first)."""
    trash = folder.with_name(f"{TRASH_PREFIX}{folder.name}-{uuid.uuid4().hex}")
    os.rename(folder, trash)
    _fsync_dir(folder.parent)
    shutil.rmtree(trash, ignore_errors=True)
    if trash.exists():  # a file that cannot be removed now; it is invisible and retried
        log.warning("%s could not be removed completely; the next delete retries", trash)


def remove_trash(folder: Path) -> list[Path]:
    """Remove the `.trash-*` folders a crashed delete left in `folder`; returns them.

    They are invisible already (no listing reads them); this only frees the space.

    Example:
        >>> import tempfile
        >>> d = Path(tempfile.mkdtemp()); (d / ".trash-3-ab").mkdir()
        >>> [p.name for p in remove_trash(d)], list(d.iterdir())
        (['.trash-3-ab'], [])
    """
    try:
        found = [p for p in folder.iterdir() if p.name.startswith(TRASH_PREFIX) and p.is_dir()]
    except OSError:
        return []
    for path in found:
        shutil.rmtree(path, ignore_errors=True)
    return found


def _delete_version(store: Store, name: str, version: int) -> str:
    """Delete one version (tombstone, rename to trash, remove); returns its status."""
    folder = store.path(name, version)
    status = store.verify(name, version).status if registry._REGISTRY.get(name) else "unknown"
    try:
        remove_trash(folder.parent)
        # The tombstone first: from here on no commit can take this number.
        tomb = folder.parent / f"{TOMBSTONE}{version}"
        tomb.touch(exist_ok=True)
        _fsync_dir(folder.parent)
        _remove_tree(folder)
    except OSError as err:
        if not folder.exists():  # another process deleted it first
            raise UnknownModelError(
                f"{name}@{version} does not exist in {store.root} any more: it was deleted "
                f"meanwhile (see `zoo runs {name}`)"
            ) from None
        raise StorageError(
            f"{name}@{version} was not deleted: {describe_os_error(err, folder)}; the "
            "version is unchanged"
        ) from None
    return status


def _missing(store: Store, name: str, version: int) -> UnknownModelError:
    have = ", ".join(f"{name}@{v}" for v in store.versions(name)) or "none"
    return UnknownModelError(
        f"{name}@{version} does not exist in {store.root}; stored versions: {have} "
        f"(see `zoo runs {name}`)"
    )


def delete(ref: str, *, store: Store | str | Path | None = None) -> Deleted:
    """Delete stored version `ref` (`name@N`, always explicit); returns what was removed.

    Works for a good, failed or corrupted version alike. Other versions are untouched;
    `zoo.load(name)` then loads the latest good one that remains, and the number `N` is
    never given to a new version. Refusals (one line, nothing changed): a ref without
    `@N`, an unknown entry, a version that is not stored.

    Example:
        >>> import tempfile
        >>> from zoo.store import Store
        >>> store = Store(tempfile.mkdtemp())
        >>> with store.staging("mlp-cancer") as tmp:
        ...     _ = (tmp / "config.json").write_text("{}")
        ...     store.commit("mlp-cancer", tmp, status="failed", error="demo")
        1
        >>> delete("mlp-cancer@1", store=store).refs, store.versions("mlp-cancer")
        (('mlp-cancer@1',), [])
        >>> delete("mlp-cancer@1", store=store)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        zoo.errors.UnknownModelError: mlp-cancer@1 does not exist in ...
    """
    name, version = parse_ref(ref)
    st = _store(store)
    if version is None:
        latest = max(st.versions(name), default=1) if name in registry._REGISTRY else 1
        raise ConfigError(
            f"{name!r} names no version: `zoo delete` deletes one version, named "
            f"explicitly, e.g. {name}@{latest} (see `zoo runs {name}`); to delete a custom "
            f"entry with all its versions use `zoo delete {name} --entry --versions`"
        )
    registry.get_spec(name)  # an unknown entry: one line with the close names
    if version not in st.versions(name):
        raise _missing(st, name, version)
    status = _delete_version(st, name, version)
    ref = f"{name}@{version}"
    return Deleted(ref, (ref,), (status,), (st.path(name, version),))


def _resume_backups(root: Path, name: str) -> list[Path]:
    # `zoo.resume`: `<store>/.resume/<name>-<16 hex>`; the exact pattern, so deleting
    # `mlp-wine` never touches the backups of `mlp-wine-red`.
    from zoo.resume import RESUME_FOLDER

    folder = root / RESUME_FOLDER
    pattern = re.compile(re.escape(name) + r"-[0-9a-f]{16}")
    try:
        return sorted(p for p in folder.iterdir() if pattern.fullmatch(p.name) and p.is_dir())
    except OSError:
        return []


def _uploads(root: Path, name: str, entry_file: Path) -> tuple[Path | None, str]:
    """The entry's uploaded data folder when nothing else uses it, or why it is kept."""
    from zoo.entries import ENTRIES_DIR

    folder = root / "_uploads" / name  # dashboard.uploads.UPLOADS_DIR (zoo never imports it)
    if not folder.is_dir():
        return None, ""
    users = []
    for other in sorted((root / ENTRIES_DIR).glob("*.toml")):
        if other != entry_file and str(folder) in other.read_text(errors="replace"):
            users.append(other.stem)
    if users:
        return None, f"{folder}: the data of {', '.join(users)} too"
    return folder, ""


def delete_entry(
    name: str, *, store: Store | str | Path | None = None, versions: bool = False
) -> Deleted:
    """Delete custom entry `name` of the store (`<store>/_entries/<name>.toml`); with
    `versions=True` all its versions first. Returns what was removed.

    Also removed: the data the dashboard's Data page uploaded for it
    (`<store>/_uploads/<name>/`, unless another entry reads it) and its training resume
    backups; files outside the store (a CSV given to `zoo add`) are never touched.
    Refusals (one line, nothing changed): a built-in entry (delete its versions with
    `delete('name@N')`), no such entry file in this store, an entry that still has
    versions without `versions=True`. The version numbers stay retired.

    Example:
        >>> import tempfile
        >>> delete_entry("mlp-cancer", store=tempfile.mkdtemp())  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        zoo.errors.ConfigError: 'mlp-cancer' is a built-in entry: it cannot be deleted, ...
    """
    from zoo.entries import entry_path, forget

    st = _store(store)
    if "@" in str(name):
        raise ConfigError(
            f"{name!r}: an entry is deleted by its name alone (e.g. {str(name).split('@')[0]}); "
            f"to delete one version use `zoo delete {name}` without --entry"
        )
    registry.check_name(name)
    spec = registry._REGISTRY.get(name)
    path = entry_path(st.root, name)
    if spec is not None and not spec.custom:
        raise ConfigError(
            f"{name!r} is a built-in entry: it cannot be deleted, only its versions "
            f"(`zoo delete {name}@N`, see `zoo runs {name}`)"
        )
    if not path.is_file():
        raise UnknownModelError(
            f"no custom entry {name!r} in the store {st.root} (no {path}); `zoo list` shows "
            "the entries (pass --store / set ZOO_HOME for another store)"
        )
    stored = st.versions(name)
    if stored and not versions:
        refs = ", ".join(f"{name}@{v}" for v in stored)
        raise ConfigError(
            f"entry {name!r} still has {len(stored)} version(s) ({refs}); pass --versions "
            f"(versions=True) to delete them with it, or delete them first with "
            f"`zoo delete {name}@N`"
        )
    # `ref_list`, not `refs`: the message above bound `refs` to a str.
    ref_list: list[str] = []
    statuses: list[str] = []
    paths: list[Path] = []
    for version in stored:
        statuses.append(_delete_version(st, name, version))
        ref_list.append(f"{name}@{version}")
        paths.append(st.path(name, version))
    # The entry file last: a crash before this leaves an entry with fewer versions,
    # never versions of an entry that no longer exists.
    uploads, kept = _uploads(st.root, name, path)
    try:
        os.remove(path)
        _fsync_dir(path.parent)
        paths.append(path)
        forget(name)
        for folder in [*([uploads] if uploads else []), *_resume_backups(st.root, name)]:
            _remove_tree(folder)
            paths.append(folder)
    except OSError as err:
        raise StorageError(
            f"entry {name!r} was not deleted completely: {describe_os_error(err, path)}"
            + (f"; its versions {', '.join(ref_list)} were deleted" if ref_list else "")
        ) from None
    return Deleted(name, tuple(ref_list), tuple(statuses), tuple(paths), (kept,) if kept else ())
