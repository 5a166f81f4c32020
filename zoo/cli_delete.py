"""The `zoo delete` subcommand: one stored version, or a custom entry (`zoo.deleting`).

`zoo delete NAME@VERSION` deletes one version (named explicitly: a bare NAME is
refused); `zoo delete NAME --entry [--versions]` a custom entry, with all its versions
when `--versions` is given. It asks for no confirmation, prints exactly what it deleted,
and writes one `delete` line to the store's audit log (`zoo.audit`, as the OS user).

Example:
    >>> import argparse
    >>> sub = argparse.ArgumentParser().add_subparsers(dest="command")
    >>> add_parsers(sub, [])
    >>> sub.choices["delete"].parse_args(["mlp-wine", "--entry", "--versions"]).versions
    True
"""

from __future__ import annotations

import argparse
from typing import Any

from zoo import audit
from zoo.errors import ConfigError
from zoo.store import Store


def add_parsers(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Add the `delete` subparser (with its handler) to `sub`.

    Example:
        >>> sub = argparse.ArgumentParser().add_subparsers(dest="command")
        >>> add_parsers(sub, [])
        >>> sub.choices["delete"].parse_args(["mlp-cancer@2"]).entry
        False
    """
    p = sub.add_parser(
        "delete",
        parents=parents,
        help="delete one stored version (NAME@VERSION), or a custom entry (--entry)",
        description="Deletes one stored version, named explicitly (NAME@VERSION), or with "
        "--entry a custom entry's file (and with --versions all its versions). A version "
        "is moved to a hidden trash folder in one rename, then removed, so a crash never "
        "leaves half of it; its number is never given to another version. Prints what "
        "was deleted and writes one line to the store's audit log.",
    )
    p.add_argument("target", help="NAME@VERSION (e.g. mlp-cancer@2), or NAME with --entry")
    p.add_argument(
        "--entry",
        action="store_true",
        help="delete the custom entry NAME (its file in <store>/_entries); built-in "
        "entries cannot be deleted, only their versions",
    )
    p.add_argument(
        "--versions",
        action="store_true",
        help="with --entry: delete all the entry's versions too (else an entry with "
        "versions is refused)",
    )
    p.set_defaults(run=_cmd_delete)


def _cmd_delete(args: argparse.Namespace, store: Store) -> int:
    from zoo.deleting import delete, delete_entry

    if args.versions and not args.entry:
        raise ConfigError(
            f"--versions goes with --entry (zoo delete NAME --entry --versions); to delete "
            f"one version name it: zoo delete NAME@VERSION (got {args.target!r})"
        )
    if args.entry:
        done = delete_entry(args.target, store=store, versions=args.versions)
        details: dict[str, Any] = {"entry": True, "versions": list(done.refs)}
    else:
        done = delete(args.target, store=store)
        details = {"status": done.statuses[0]}
    audit.cli_record(store.root, "delete", done.target, **details)
    for line in done.lines():
        print(line)
    return 0
