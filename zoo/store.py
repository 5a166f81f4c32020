"""Artifacts on disk: `<store>/<name>/<version>/`, written atomically and checksummed.

A version directory is written under a hidden temporary name in the same folder and
renamed into place only when complete, so a crash or Ctrl-C never leaves a half
artifact that `runs()` lists. `manifest.json` records the sha256 of every file (except
the `explain/` cache, which is derived and rewritten later) and the library versions.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from zoo.errors import ArtifactError, UnknownModelError
from zoo.registry import get_spec

MANIFEST = "manifest.json"
UNCHECKED_DIRS = ("explain",)  # derived caches, rewritten after the artifact is sealed
FORMAT_VERSION = 1


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

    Example:
        >>> parse_ref("cnn-digits@3"), parse_ref("cnn-digits")
        (('cnn-digits', 3), ('cnn-digits', None))
    """
    name, _, version = ref.partition("@")
    if not version:
        return name, None
    if not version.isdigit() or int(version) < 1:
        raise UnknownModelError(
            f"{ref!r}: the version after '@' must be a positive integer, e.g. {name}@1"
        )
    return name, int(version)


@dataclass(frozen=True)
class RunInfo:
    """One stored version as `zoo runs` lists it: status, config and test metrics.

    `status` is 'ok', 'failed' (training stopped with an error; no model saved) or
    'corrupted' (a file is missing or fails its checksum; `reason` names it).
    """

    name: str
    version: int
    path: Path
    status: str
    reason: str = ""
    created: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def ref(self) -> str:
        """`name@version`."""
        return f"{self.name}@{self.version}"


def sha256(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks.

    Example:
        >>> p = Path(os.devnull)
        >>> sha256(p)[:8]
        'e3b0c442'
    """
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


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


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write a file so readers see the old content or the new, never a part.

    Parent folders are created; the data is fsynced before the rename publishes it.
    OSError (e.g. a read-only folder) propagates for the caller to explain.

    Example:
        >>> import tempfile
        >>> p = atomic_write_bytes(Path(tempfile.mkdtemp()) / "sub" / "a.bin", b"hi")
        >>> p.read_bytes()
        b'hi'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    """`atomic_write_bytes` for UTF-8 text.

    Example:
        >>> import tempfile
        >>> atomic_write_text(Path(tempfile.mkdtemp()) / "a.txt", "hi").read_text()
        'hi'
    """
    return atomic_write_bytes(path, text.encode("utf-8"))


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

    def __repr__(self) -> str:
        return f"Store({str(self.root)!r})"

    # --- writing ----------------------------------------------------------------------

    @contextlib.contextmanager
    def staging(self, name: str) -> Iterator[Path]:
        """A temporary folder to write a new version into; removed if the block fails.

        Use `commit(name, folder, ...)` inside the block to seal and publish it.
        """
        get_spec(name)
        parent = self.root / name
        parent.mkdir(parents=True, exist_ok=True)
        tmp = parent / f".tmp-{uuid.uuid4().hex}"
        tmp.mkdir()
        try:
            yield tmp
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
        files = {}
        for path in sorted(folder.rglob("*")):
            rel = path.relative_to(folder)
            if path.is_file() and rel.parts[0] not in UNCHECKED_DIRS and rel.name != MANIFEST:
                files[rel.as_posix()] = {"sha256": sha256(path), "bytes": path.stat().st_size}
        manifest = {
            "format": FORMAT_VERSION,
            "name": name,
            "status": status,
            "error": error,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "files": files,
            "versions": library_versions(),
        }
        (folder / MANIFEST).write_text(json.dumps(manifest, indent=2))
        _fsync_tree(folder)
        parent = folder.parent
        while True:
            version = max(self.versions(name), default=0) + 1
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
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and self.versions(p.name))

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
        return sorted(int(p.name) for p in folder.iterdir() if p.name.isdigit() and p.is_dir())

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
        info = dict(name=name, version=version, path=folder)
        try:
            manifest = json.loads((folder / MANIFEST).read_text())
            files = manifest["files"]
        except FileNotFoundError:
            return RunInfo(**info, status="corrupted", reason=f"{folder / MANIFEST} is missing")
        except (ValueError, KeyError, TypeError) as err:
            return RunInfo(
                **info, status="corrupted", reason=f"{folder / MANIFEST} is unreadable: {err}"
            )
        for rel, meta in files.items():
            path = folder / rel
            if not path.is_file():
                return RunInfo(**info, status="corrupted", reason=f"{path} is missing")
            if path.stat().st_size != meta.get("bytes") or sha256(path) != meta.get("sha256"):
                return RunInfo(
                    **info,
                    status="corrupted",
                    reason=f"{path} fails its checksum: it was truncated or edited after "
                    "it was written",
                )
        config, metrics = (_read_json(folder / f) for f in ("config.json", "metrics.json"))
        return RunInfo(
            **info,
            status=manifest.get("status", "ok"),
            reason=manifest.get("error", ""),
            created=manifest.get("created", ""),
            config=config,
            metrics=metrics,
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
                f"{info.ref} is corrupted: {info.reason}. Delete {info.path} and train again "
                f"with `zoo train {name}`, or load another version (`zoo runs {name}`)"
            )
        if info.status != "ok":
            raise ArtifactError(
                f"{info.ref} has no model: its training {info.status} ({info.reason}). "
                f"Load another version (`zoo runs {name}`)"
            )
        return info


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return {}


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


def write_json(folder: Path, name: str, data: Any) -> None:
    """Write `data` as pretty JSON to `folder/name` (inside a staging folder).

    Example:
        >>> import tempfile
        >>> d = Path(tempfile.mkdtemp()); write_json(d, "x.json", {"a": 1})
        >>> (d / "x.json").read_text()
        '{\\n  "a": 1\\n}'
    """
    (folder / name).write_text(json.dumps(data, indent=2, default=_jsonable))


def _jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")
