"""The audit log as the dashboard writes it: the store's `_audit.jsonl` (see `zoo.audit`).

The writer lives in `zoo.audit`, shared with the `zoo` commands (whose lines say
`via: cli`, written as the OS user); the dashboard's lines say `via: dashboard` and name
the visitor (the signed-in e-mail, or `local user (no sign-in)`). Both kinds show on the
Zoo page's audit view for trainers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from zoo.audit import AUDIT_FILE, audit_path, read

__all__ = ["AUDIT_FILE", "audit_path", "read", "record"]


def record(
    root: str | Path, who: str, action: str, target: str, outcome: str = "ok", **details: Any
) -> dict[str, Any]:
    """Append one dashboard action to store `root`'s audit log; returns the line written.

    A store that cannot be written is a `StorageError` naming the file.

    Example:
        >>> import tempfile
        >>> root = tempfile.mkdtemp()
        >>> line = record(root, "ann@lab.org", "train", "mlp-cancer@2", epochs=3)
        >>> line["who"], line["via"], line["action"], line["target"], line["outcome"]
        ('ann@lab.org', 'dashboard', 'train', 'mlp-cancer@2', 'ok')
        >>> [line["who"] for line in read(root)]
        ['ann@lab.org']
    """
    from zoo import audit

    details.setdefault("via", "dashboard")
    return audit.record(root, who, action, target, outcome, **details)
