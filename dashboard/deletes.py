"""The dashboard's deletions, checked on the server: a version (Model page) or a custom
entry (Data page), for trainers only.

The pages draw the controls for trainers only, and these functions check the visitor
again before touching the store, so a viewer (or a `--read-only` server) is refused
even if a control is reached some other way. Each deletion is `zoo.delete` /
`zoo.delete_entry` (atomic per version; numbers never reused), then the caches that
held the deleted versions are cleared (`data.forget_version`), then one `delete` line
goes to the store's audit log as the visitor (`via: dashboard`).
"""

from __future__ import annotations

import logging
import os

import zoo
from dashboard import access, audit, data
from zoo.errors import StorageError, ZooError

log = logging.getLogger("dashboard")


class NotAllowedError(ZooError):
    """A visitor who is not a trainer asked to delete something."""


def trainer(action: str) -> access.Visitor:
    """The current visitor when they are a trainer, else `NotAllowedError` (one line).

    Example:
        >>> trainer("Deleting a version").role  # no sign-in, not read-only: the local user
        'trainer'
    """
    who = access.current_visitor()
    if who is not None and who.trainer:
        return who
    settings = access.settings(os.environ, access.server_secrets())
    nobody = access.Visitor("nobody", access.VIEWER, signed_in=True)
    raise NotAllowedError(access.refusal(action, who or nobody, read_only=settings.read_only))


def _audit(root: str, who: access.Visitor, target: str, **details: object) -> None:
    try:
        audit.record(root, who.who, "delete", target, **details)
    except StorageError as err:  # the deletion has happened; the log says what is missing
        log.error("%s", err)


def delete_version(root: str, ref: str) -> zoo.Deleted:
    """Delete stored version `ref` as the current visitor (a trainer), clear its caches
    and audit it; `NotAllowedError` for anyone else, a `ZooError` line on a bad ref.

    Example:
        >>> delete_version(data.store_root(), "mlp-cancer@999")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        zoo.errors.UnknownModelError: mlp-cancer@999 does not exist in ...
    """
    who = trainer("Deleting a version")
    done = zoo.delete(ref, store=root)
    data.forget_version(root, ref)
    _audit(root, who, done.target, status=done.statuses[0])
    return done


def delete_entry(root: str, name: str, *, versions: bool = False) -> zoo.Deleted:
    """Delete custom entry `name` (with `versions`, all its versions) as the current
    visitor (a trainer), clear the caches of its versions and audit it.

    Example:
        >>> delete_entry(data.store_root(), "mlp-cancer")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        zoo.errors.ConfigError: 'mlp-cancer' is a built-in entry: it cannot be deleted, ...
    """
    who = trainer("Deleting an entry")
    done = zoo.delete_entry(name, store=root, versions=versions)
    for ref in done.refs:
        data.forget_version(root, ref)
    data.clear_store_caches()
    _audit(root, who, done.target, entry=True, versions=list(done.refs))
    return done


def summary(done: zoo.Deleted) -> str:
    """One sentence saying what a deletion removed.

    Example:
        >>> summary(zoo.Deleted("mlp-cancer@2", ("mlp-cancer@2",), ("ok",)))
        'Deleted mlp-cancer@2.'
    """
    if done.refs == (done.target,):
        return f"Deleted {done.target}."
    versions = f" and its versions {', '.join(done.refs)}" if done.refs else ""
    return f"Deleted the entry {done.target}{versions}."
