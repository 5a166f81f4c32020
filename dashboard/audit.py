"""The audit log: who trained, created, imported or deleted what, and when.

One JSON object per line in `<store>/_audit.jsonl`, appended by the dashboard (never
rewritten): `time` (UTC, ISO 8601), `who`, `action` (`train`, `create`, `import`,
`delete`), `target` (an entry or `name@version`), `outcome` and details. The store lists
only folders holding versions, so the file never shows as an entry. Each line is written
with one `write` on a file opened for appending, so lines of two servers on one store
never interleave.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from zoo.errors import StorageError

AUDIT_FILE = "_audit.jsonl"


def audit_path(root: str | Path) -> Path:
    """The audit log of store `root`.

    Example:
        >>> audit_path("/data/zoo").as_posix()
        '/data/zoo/_audit.jsonl'
    """
    return Path(root) / AUDIT_FILE


def record(
    root: str | Path, who: str, action: str, target: str, outcome: str = "ok", **details: Any
) -> dict[str, Any]:
    """Append one action to store `root`'s audit log; returns the line written.

    A store that cannot be written is a `StorageError` naming the file.

    Example:
        >>> import tempfile
        >>> root = tempfile.mkdtemp()
        >>> line = record(root, "ann@lab.org", "train", "mlp-cancer@2", epochs=3)
        >>> line["who"], line["action"], line["target"], line["outcome"], line["epochs"]
        ('ann@lab.org', 'train', 'mlp-cancer@2', 'ok', 3)
    """
    line = {
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
        "who": who,
        "action": action,
        "target": target,
        "outcome": outcome,
        **details,
    }
    data = (json.dumps(line, default=str, ensure_ascii=False) + "\n").encode("utf-8")
    path = audit_path(root)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
    except OSError as err:
        raise StorageError(f"cannot write the audit log {path}: {err.strerror or err}") from None
    return line


def _lines(path: Path) -> Iterator[dict[str, Any]]:
    try:
        with path.open(encoding="utf-8", errors="replace") as f:
            for raw in f:
                try:
                    item = json.loads(raw)
                except json.JSONDecodeError:
                    continue  # a torn or edited line is skipped, the rest still reads
                if isinstance(item, dict):
                    yield item
    except FileNotFoundError:
        return


def read(root: str | Path, limit: int | None = 200) -> list[dict[str, Any]]:
    """The last `limit` actions of store `root`'s audit log, newest first.

    Example:
        >>> import tempfile
        >>> root = tempfile.mkdtemp()
        >>> _ = record(root, "ann", "train", "a@1"); _ = record(root, "bob", "train", "b@1")
        >>> [line["who"] for line in read(root)], read(tempfile.mkdtemp())
        (['bob', 'ann'], [])
    """
    lines = list(_lines(audit_path(root)))
    lines.reverse()
    return lines if limit is None else lines[:limit]
