"""Artifacts on disk: `<store>/<name>/<version>/`, written atomically and checksummed.

A version directory is written under a hidden temporary name in the same folder and
renamed into place only when complete, so a crash or Ctrl-C never leaves a half
artifact that `runs()` lists; the staging folders of killed processes are removed on the
next start (`zoo.staging`). `manifest.json` records the sha256 of every file (except the
`explain/` cache, which is derived and rewritten later) and the library versions.

Reading never trusts a file: the manifest must list every file the version needs, each
file must match its checksum, and every JSON file is checked for the shape the zoo writes
(`zoo.artifact`). A bad file marks only its own version corrupted, with the file and the
reason; listing, `runs()` and loading other versions go on. OS errors (disk full, a
read-only folder, a file where the store should be) become one `StorageError` line that
names the path and what to do.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from zoo import artifact, staging
from zoo import backend as _backend
from zoo.artifact import FORMAT_VERSION, MANIFEST, UNCHECKED_DIRS, Damage
from zoo.errors import ArtifactError, StorageError, UnknownModelError, describe_os_error
from zoo.files import (  # noqa: F401  (public here too: callers import them from zoo.store)
    atomic_write_bytes,
    atomic_write_text,
    sha256,
    write_json,
)
from zoo.registry import get_spec

__all__ = ["FORMAT_VERSION", "MANIFEST", "UNCHECKED_DIRS", "RunInfo", "Store", "parse_ref"]

# Versions are 1..999,999,999: nine ASCII digits. `str.isdigit` also accepts '²' and
# Arabic-Indic digits, which `int()` reads differently or not at all.
MAX_VERSION_DIGITS = 9
MAX_REF_LENGTH = 200
_VERSION = re.compile(rf"[1-9][0-9]{{0,{MAX_VERSION_DIGITS - 1}}}")  # a version folder
_REF_VERSION = re.compile(rf"[0-9]{{1,{MAX_VERSION_DIGITS}}}")  # typed: '@02' is version 2
TOMBSTONE = ".deleted-"  # `<name>/.deleted-N`: version N was deleted (zoo.deleting)


def default_store() -> Path:
    """The store folder: `$ZOO_HOME`, else `$XDG_DATA_HOME/keras-zoo`, else ~/.local/share.

    Example:
        >>> os.environ["ZOO_HOME"] = "/tmp/zoo-example"
        >>> str(default_store())
        '/tmp/zoo-example'
        >>> del os.environ["ZOO_HOME"]
    """
    if os.environ.get("ZOO_HOME"):
        return Path(os.environ["ZOO_HOME"]).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local/share")
    return Path(base) / "keras-zoo"


def parse_ref(ref: str) -> tuple[str, int | None]:
    """Split `name@version` into its parts (version None: the latest good one).

    The version is ASCII digits only (`@²` and `@١` are refused, not read as 2 or 1),
    at most nine of them.

    Example:
        >>> parse_ref("cnn-digits@3"), parse_ref("cnn-digits")
        (('cnn-digits', 3), ('cnn-digits', None))
        >>> parse_ref("cnn-digits@²")
        Traceback (most recent call last):
        ...
        zoo.errors.UnknownModelError: 'cnn-digits@²': the version after '@' must be ...
    """
    if not isinstance(ref, str):
        raise UnknownModelError(
            f"a model reference is a string such as 'cnn-digits' or 'cnn-digits@2', got "
            f"{type(ref).__name__}"
        )
    if len(ref) > MAX_REF_LENGTH:
        raise UnknownModelError(
            f"the model reference is {len(ref)} characters long; expected name@version of "
            f"at most {MAX_REF_LENGTH} (e.g. cnn-digits@2); check what was passed"
        )
    name, at, version = ref.partition("@")
    if not at:
        return name, None
    shown = ref if len(ref) <= 40 else ref[:37] + "..."
    if len(version) > MAX_VERSION_DIGITS and version.isascii() and version.isdigit():
        raise UnknownModelError(
            f"{shown!r}: the version has {len(version)} digits; versions have at most "
            f"{MAX_VERSION_DIGITS} (see `zoo runs {name}`)"
        )
    if not _REF_VERSION.fullmatch(version) or int(version) < 1:
        raise UnknownModelError(
            f"{shown!r}: the version after '@' must be a positive integer in ASCII digits "
            f"0-9, e.g. {name}@1 (see `zoo runs {name}`)"
        )
    return name, int(version)


@dataclass(frozen=True)
class RunInfo:
    """One stored version as `zoo runs` lists it: status, config and test metrics.

    `status` is 'ok', 'failed' (training stopped with an error; no model saved) or
    'corrupted' (a file is missing, fails its checksum, is left out of the manifest or
    is not shaped as the zoo writes it; `reason` names it). `warnings` lists files in the
    folder that the manifest does not list: the zoo never reads them, so they do not
    make the version corrupted, but someone put them there.
    """

    name: str
    version: int
    path: Path
    status: str
    reason: str = ""
    created: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    @property
    def ref(self) -> str:
        """`name@version`."""
        return f"{self.name}@{self.version}"


def library_versions() -> dict[str, str]:
    """Versions of Python and the libraries an artifact depends on (no imports needed).

    Example:
        >>> "python" in library_versions()
        True
    """
    out = {"python": platform.python_version()}
    for dist in ("tensorflow", "keras", "shap", "numpy", "scikit-learn", "keras-zoo"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


class Store:
    """A folder of trained zoo models.

    Example:
        >>> import tempfile
        >>> store = Store(tempfile.mkdtemp())
        >>> store.runs()
        []
    """

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root).expanduser() if root else default_store()
        # The custom entries stored here (`<root>/_entries/`, `zoo.entries`) become known
        # entries: a new process sees them as soon as it names this store.
        from zoo.entries import sync

        sync(self.root)

    def __repr__(self) -> str:
        return f"Store({str(self.root)!r})"

    # --- writing ----------------------------------------------------------------------

    @contextlib.contextmanager
    def staging(self, name: str) -> Iterator[Path]:
        """A temporary folder to write a new version into; removed if the block fails.

        Use `commit(name, folder, ...)` inside the block to seal and publish it. Its name
        records this process (`zoo.staging`), and staging folders that killed processes
        left behind are removed first. An `OSError` in the block (disk full, a read-only
        folder) becomes a `StorageError` that names the path and what to do.

        Example:
            >>> import tempfile
            >>> store = Store(tempfile.mkdtemp())
            >>> with store.staging("mlp-cancer") as tmp:
            ...     tmp.name.startswith(".tmp-" + staging.owner_tag())
            True
            >>> store.root.joinpath("mlp-cancer").exists(), store.versions("mlp-cancer")
            (True, [])
        """
        get_spec(name)
        self.ensure_root()
        staging.remove_dead(self.root)
        parent = self.root / name
        try:
            parent.mkdir(parents=True, exist_ok=True)
            tmp = parent / staging.new_name()
            tmp.mkdir()
        except OSError as err:
            raise StorageError(
                f"cannot start a new version of {name} in the store {self.root}: "
                f"{describe_os_error(err, parent)}"
            ) from None
        try:
            yield tmp
        except OSError as err:
            raise StorageError(
                f"{name} was not stored: {describe_os_error(err, tmp)}; nothing half-written "
                "was kept"
            ) from None
        finally:
            # After a successful commit the folder has been renamed away.
            shutil.rmtree(tmp, ignore_errors=True)

    def commit(self, name: str, folder: Path, *, status: str = "ok", error: str = "") -> int:
        """Seal `folder` with a manifest and rename it to the next free version number.

        Example:
            >>> import tempfile
            >>> store = Store(tempfile.mkdtemp())
            >>> with store.staging("mlp-cancer") as tmp:
            ...     _ = (tmp / "config.json").write_text("{}")
            ...     store.commit("mlp-cancer", tmp, status="failed", error="demo")
            1
        """
        try:
            return self._commit(name, folder, status=status, error=error)
        except OSError as err:
            raise StorageError(
                f"{name} was not stored: {describe_os_error(err, folder)}; nothing "
                "half-written was kept"
            ) from None

    def _commit(self, name: str, folder: Path, *, status: str, error: str) -> int:
        if status not in artifact.STATUSES:
            raise ValueError(f"status must be one of {artifact.STATUSES}, got {status!r}")
        files = {}
        for path in sorted(folder.rglob("*")):
            rel = path.relative_to(folder)
            if path.is_file() and rel.parts[0] not in UNCHECKED_DIRS and rel.name != MANIFEST:
                files[rel.as_posix()] = {"sha256": sha256(path), "bytes": path.stat().st_size}
        missing = [
            f for f in artifact.required_files(get_spec(name).family, status) if f not in files
        ]
        if missing:
            # Sealing it would publish a version that every reader reports as corrupted.
            raise ArtifactError(
                f"{name} was not stored: its new version lacks {', '.join(missing)}, which "
                f"every {status} version needs; this is a bug in the code that trained it"
            )
        manifest = {
            "format": FORMAT_VERSION,
            "name": name,
            "status": status,
            "error": error,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "files": files,
            "versions": library_versions(),
            "backend": _backend.recorded(),  # the Keras backend it was trained on (issue 11)
        }
        (folder / MANIFEST).write_text(json.dumps(manifest, indent=2))
        _fsync_tree(folder)
        parent = folder.parent
        while True:
            # Past the highest deleted number too (`zoo.deleting` tombstones): a ref
            # once given out never names another model.
            version = max([*self.versions(name), *deleted_versions(parent)], default=0) + 1
            try:
                # rename(2) of a directory onto a missing name is atomic; a concurrent
                # writer that took the number first makes it fail and we take the next.
                os.rename(folder, parent / str(version))
                return version
            except OSError:
                if not (parent / str(version)).exists():
                    raise
            time.sleep(0.01)

    # --- reading ----------------------------------------------------------------------

    def names(self) -> list[str]:
        """Entries with at least one stored version.

        Example:
            >>> import tempfile
            >>> Store(tempfile.mkdtemp()).names()
            []
        """
        if not self._check_root():
            return []
        return sorted(
            p.name
            for p in self.root.iterdir()
            if not p.name.startswith(".") and p.is_dir() and self.versions(p.name)
        )

    def versions(self, name: str) -> list[int]:
        """Version numbers stored for `name`, ascending (whatever their status).

        Example:
            >>> import tempfile
            >>> Store(tempfile.mkdtemp()).versions("cnn-digits")
            []
        """
        folder = self.root / name
        if not folder.is_dir():
            return []
        # Only canonical version names: a folder called '²', '01' or '1.bak' is ignored.
        return sorted(
            int(p.name) for p in folder.iterdir() if _VERSION.fullmatch(p.name) and p.is_dir()
        )

    def ensure_root(self) -> Path:
        """Create the store folder if needed; a `StorageError` naming it when it cannot be.

        `zoo train` calls it before any data is loaded, so a --store that names a file or
        an unwritable place fails in a second, not after the training.

        Example:
            >>> import tempfile
            >>> Store(Path(tempfile.mkdtemp()) / "new").ensure_root().is_dir()
            True
        """
        self._check_root()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            probe = self.root / f".probe-{uuid.uuid4().hex}"
            probe.mkdir()  # mkdir succeeds where a new version's folder would
            probe.rmdir()
        except OSError as err:
            raise StorageError(
                f"cannot write to the store: {describe_os_error(err, self.root)}"
            ) from None
        return self.root

    def _check_root(self) -> bool:
        """Whether the store folder exists; a `StorageError` when a file is in its place."""
        if self.root.is_dir():
            return True
        if self.root.exists() or self.root.is_symlink():
            raise StorageError(
                f"the store {self.root} is a file, not a folder; pass --store (or set "
                "ZOO_HOME) with a folder, or move the file away"
            )
        # A store under a file can never be made: say so, rather than list an empty one.
        for parent in self.root.parents:
            if parent.exists():
                if not parent.is_dir():
                    raise StorageError(
                        f"the store {self.root} cannot exist: {parent} is a file, not a "
                        "folder; pass --store (or set ZOO_HOME) with a folder"
                    )
                break
        return False

    def path(self, name: str, version: int) -> Path:
        """Folder of one version (it may not exist)."""
        return self.root / name / str(version)

    def verify(self, name: str, version: int) -> RunInfo:
        """Check one version's manifest and checksums; never raises for a bad artifact.

        Example:
            >>> import tempfile
            >>> Store(tempfile.mkdtemp()).verify("cnn-digits", 1).status
            'corrupted'
        """
        folder = self.path(name, version)
        info: dict[str, Any] = dict(name=name, version=version, path=folder)
        try:
            return RunInfo(**info, **self._verified(name, folder))
        except Damage as damage:
            return RunInfo(**info, status="corrupted", reason=str(damage))

    def _verified(self, name: str, folder: Path) -> dict[str, Any]:
        # Raises Damage naming the first bad file; the order is the cheapest check first.
        manifest = artifact.check_manifest(
            artifact.read_json(folder / MANIFEST, limit=artifact.MAX_MANIFEST_BYTES),
            folder / MANIFEST,
            name,
        )
        files = manifest["files"]
        family = get_spec(name).family
        for rel in artifact.required_files(family, manifest["status"]):
            if rel not in files:
                raise Damage(
                    folder / MANIFEST,
                    f"does not list {rel}, which every {family} version needs: the "
                    "manifest was edited, so its checksums vouch for nothing",
                )
        for rel, meta in files.items():
            _check_file(folder / rel, meta)
        config = artifact.check_config(
            artifact.read_json(folder / "config.json"), folder / "config.json", name
        )
        metrics: dict[str, Any] = {}
        if "metrics.json" in files:
            path = folder / "metrics.json"
            metrics = artifact.check_metrics(artifact.read_json(path), path)
        if "history.json" in files:
            path = folder / "history.json"
            artifact.check_history(artifact.read_json(path), path)
        if "preprocessing.json" in files:  # a version trained on the user's data
            path = folder / "preprocessing.json"
            artifact.check_preprocessing(artifact.read_json(path), path)
        extra = artifact.unexpected_files(folder, files)
        warnings = tuple(
            f"{folder / rel} is not in the manifest (the zoo never reads it; delete it if you "
            "did not put it there)"
            for rel in extra
        )
        return dict(
            status=manifest["status"],
            reason=manifest.get("error", ""),
            created=manifest.get("created", ""),
            config=config,
            metrics=metrics,
            warnings=warnings,
        )

    def runs(self, name: str | None = None) -> list[RunInfo]:
        """Every stored version (of `name`, or of all entries), oldest first.

        Example:
            >>> import tempfile
            >>> Store(tempfile.mkdtemp()).runs("cnn-digits")
            []
        """
        names = [name] if name else self.names()
        return [self.verify(n, v) for n in names for v in self.versions(n)]

    def resolve(self, ref: str) -> RunInfo:
        """The verified version `ref` names: `name@N`, or the latest good one of `name`.

        Raises `UnknownModelError` (nothing trained / no such version) or `ArtifactError`
        (that version is failed or corrupted; the message names the file and the fix).

        Example:
            >>> import tempfile
            >>> Store(tempfile.mkdtemp()).resolve("cnn-digits")
            Traceback (most recent call last):
            ...
            zoo.errors.UnknownModelError: no trained version of 'cnn-digits' in ...
        """
        name, version = parse_ref(ref)
        get_spec(name)
        if version is None:
            infos = self.runs(name)
            good = [i for i in infos if i.status == "ok"]
            if good:
                return good[-1]
            if not infos:
                raise UnknownModelError(
                    f"no trained version of {name!r} in {self.root}; train one with "
                    f"`zoo train {name}` (or pass --store / set ZOO_HOME to another store)"
                )
            bad = "; ".join(f"{i.ref}: {i.status} ({i.reason})" for i in infos)
            raise ArtifactError(
                f"no good version of {name!r} in {self.root}: {bad}. Train a new one with "
                f"`zoo train {name}`"
            )
        if version not in self.versions(name):
            have = ", ".join(f"{name}@{v}" for v in self.versions(name)) or "none"
            raise UnknownModelError(
                f"{name}@{version} does not exist in {self.root}; stored versions: {have}"
            )
        info = self.verify(name, version)
        if info.status == "corrupted":
            raise ArtifactError(
                f"{info.ref} is corrupted: {info.reason}. Delete it (`zoo delete {info.ref}`) and "
                f"train again with `zoo train {name}`, or load another version (`zoo runs "
                f"{name}`)"
            )
        if info.status != "ok":
            raise ArtifactError(
                f"{info.ref} has no model: its training {info.status} ({info.reason}). "
                f"Load another version (`zoo runs {name}`)"
            )
        return info


def deleted_versions(folder: Path) -> list[int]:
    """Version numbers deleted from an entry's folder: its `.deleted-N` tombstones.

    `zoo.deleting` leaves one per deleted version, written before the version is moved
    away, so `commit` never gives its number to another model.

    Example:
        >>> import tempfile
        >>> d = Path(tempfile.mkdtemp()); (d / ".deleted-3").touch()
        >>> deleted_versions(d), deleted_versions(d / "missing")
        ([3], [])
    """
    try:
        names = [p.name for p in folder.iterdir()]
    except OSError:
        return []
    return sorted(
        int(n[len(TOMBSTONE) :])
        for n in names
        if n.startswith(TOMBSTONE) and _VERSION.fullmatch(n[len(TOMBSTONE) :])
    )


def _check_file(path: Path, meta: dict[str, Any]) -> None:
    # A symlink could point anywhere and change after the check; the zoo writes none.
    if path.is_symlink() or not path.is_file():
        raise Damage(path, "is missing" if not path.exists() else "is not a regular file")
    try:
        size = path.stat().st_size
        good = size == meta["bytes"] and sha256(path) == meta["sha256"]
    except OSError as err:
        raise Damage(path, f"cannot be read ({err.strerror or err})") from None
    if not good:
        raise Damage(
            path,
            f"fails its checksum: it (or its entry in {MANIFEST}) was truncated or edited "
            "after it was written",
        )


def _fsync_tree(folder: Path) -> None:
    # Flush file contents before the rename publishes them, so a power cut cannot leave
    # a renamed folder of empty files.
    for path in folder.rglob("*"):
        if path.is_file():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
