"""Writing and fingerprinting files: whole-or-nothing writes, JSON with NumPy values, and
the sha256 a version's manifest records. The store (`zoo.store`, which re-exports them)
and the caches use them.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import uuid
from pathlib import Path
from typing import Any


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
