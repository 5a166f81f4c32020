"""The audit log of a store: who trained, created, imported or deleted what, and when.

One JSON object per line in `<store>/_audit.jsonl`, appended, never rewritten: `time`
(UTC, ISO 8601), `who`, `via` (`cli` or `dashboard`), `action` (`train`, `create`,
`import`, `ensemble`, `delete`), `target` (an entry or `name@version`), `outcome` (`ok`,
`failed`, `cancelled`, `interrupted`) and details. The `zoo` commands write it as the OS
user (`getpass.getuser()`); the dashboard as the signed-in visitor (`dashboard.audit`).

Safety: the store lists only folders holding versions, so the file never shows as an
entry. Each line is written with one `write` on a file opened for appending, so lines of
two processes on one store never interleave; a line torn by a crash is skipped by
`read` (and the next line starts on a line of its own), so a damaged log never stops a
command or a page.
"""

from __future__ import annotations

import getpass
import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
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


def _append(path: Path, data: bytes) -> None:
    """Append `data` (one line) with one write; start it on a line of its own."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        size = os.fstat(fd).st_size
        # A line torn by a crash (no newline at the end) must not swallow this one.
        if size and os.pread(fd, 1, size - 1) != b"\n":
            data = b"\n" + data
        written = os.write(fd, data)
        while written < len(data):  # a short write (a full disk) leaves a torn line
            written += os.write(fd, data[written:])
    finally:
        os.close(fd)


def record(
    root: str | Path,
    who: str,
    action: str,
    target: str,
    outcome: str = "ok",
    *,
    via: str = "cli",
    **details: Any,
) -> dict[str, Any]:
    """Append one action to store `root`'s audit log; returns the line written.

    A store that cannot be written is a `StorageError` naming the file.

    Example:
        >>> import tempfile
        >>> root = tempfile.mkdtemp()
        >>> line = record(root, "ann", "train", "mlp-cancer@2", epochs=3)
        >>> line["who"], line["via"], line["action"], line["target"], line["outcome"]
        ('ann', 'cli', 'train', 'mlp-cancer@2', 'ok')
    """
    line = {
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
        "who": who,
        "via": via,
        "action": action,
        "target": target,
        "outcome": outcome,
        **details,
    }
    data = (json.dumps(line, default=str, ensure_ascii=False) + "\n").encode("utf-8")
    path = audit_path(root)
    try:
        _append(path, data)
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
    except (FileNotFoundError, NotADirectoryError):
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


def os_user() -> str:
    """Who runs this process: the OS user name (`getpass.getuser()`), or `unknown`.

    Example:
        >>> isinstance(os_user(), str) and os_user() != ""
        True
    """
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no LOGNAME/USER and no passwd entry (some containers)
        return "unknown"


def cli_record(
    root: str | Path, action: str, target: str, outcome: str = "ok", **details: Any
) -> dict[str, Any] | None:
    """Audit one `zoo` command's action: as the OS user, `via` = `cli`.

    A log that cannot be written is a warning on stderr (None), never an error: the
    action itself has happened.

    Example:
        >>> import tempfile
        >>> root = tempfile.mkdtemp()
        >>> line = cli_record(root, "create", "mlp-wine", family="mlp")
        >>> line["via"], line["who"] == os_user(), read(root)[0]["family"]
        ('cli', True, 'mlp')
    """
    try:
        return record(root, os_user(), action, target, outcome, via="cli", **details)
    except StorageError as err:
        print(f"zoo: warning: {err}", file=sys.stderr)
        return None


@contextmanager
def recording(root: str | Path, action: str, target: str, **details: Any) -> Iterator[dict]:
    """Audit the command run inside the `with` block as the OS user, `via` = `cli`.

    Yields the line's details: set `line["target"]` once it is known (`name@version`).
    The outcome is `ok`, `failed` (an exception; the store must exist already, so a
    command that failed before creating its store leaves nothing behind) or
    `interrupted` (Ctrl-C); the exception goes on. A log that cannot be written is a
    warning on stderr: the action itself has happened.

    Example:
        >>> import tempfile
        >>> root = tempfile.mkdtemp()
        >>> with recording(root, "import", "imported-cancer") as line:
        ...     line["target"] = "imported-cancer@1"
        >>> last = read(root)[0]
        >>> last["via"], last["target"], last["outcome"], last["who"] == os_user()
        ('cli', 'imported-cancer@1', 'ok', True)
    """
    line: dict[str, Any] = {"target": target, **details}
    start = time.monotonic()
    outcome = "failed"
    try:
        yield line
        outcome = "ok"
    except KeyboardInterrupt:
        outcome = "interrupted"
        raise
    finally:
        if outcome == "ok" or Path(root).is_dir():
            line.setdefault("seconds", round(time.monotonic() - start, 1))
            cli_record(root, action, str(line.pop("target")), outcome, **line)
