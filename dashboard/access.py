"""Who may do what on a shared dashboard: the start check, sign-in and roles.

Pure functions over plain values (a host, a secrets mapping, the `st.user` dict), so
they are tested without Streamlit; `current_visitor()` is the one place that reads them
from a running Streamlit session.

- **Start check** (`start_problem`): a dashboard that listens beyond loopback must have
  sign-in configured (an `[auth]` section in the secrets file Streamlit reads), unless
  `--no-auth` (served openly, with a warning) or `--read-only` (anyone may view, nobody
  may train).
- **Roles** (`role_for`): `viewer` (Zoo, Model, Curves, Explain, GAN, Compare, Report) or
  `trainer` (also Train and anything that writes to the store). With sign-in, trainers
  are the e-mail addresses or groups listed in `[keras_zoo]` (`trainers`,
  `trainer_groups`, `groups_claim`) or in `$ZOO_DASHBOARD_TRAINERS`; everyone else who
  signs in is a viewer. Without sign-in everyone is a trainer (one person on loopback),
  unless read-only.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zoo.errors import ZooError

VIEWER = "viewer"
TRAINER = "trainer"
# Pages (keys of `dashboard.ui.PAGES`) only trainers open: training, and the Data page
# that creates entries from uploads. Every other page is every visitor's.
TRAINER_PAGES = frozenset({"train", "data"})

# What `zoo dashboard` hands the server process (it becomes the server by execve).
READ_ONLY_ENV = "ZOO_DASHBOARD_READ_ONLY"
NO_AUTH_ENV = "ZOO_DASHBOARD_NO_AUTH"
MAX_TRAININGS_ENV = "ZOO_DASHBOARD_MAX_TRAININGS"
TRAINERS_ENV = "ZOO_DASHBOARD_TRAINERS"
# The secrets section of the zoo's own sharing settings.
SECTION = "keras_zoo"
# The keys every OIDC provider needs (Streamlit's st.login documentation).
SHARED_KEYS = ("redirect_uri", "cookie_secret")
PROVIDER_KEYS = ("client_id", "client_secret", "server_metadata_url")


class AccessError(ZooError):
    """The dashboard's sharing settings are unusable; the message says how to fix them."""


def is_loopback(host: str) -> bool:
    """Whether `host` only accepts connections from this machine.

    `localhost` and every loopback address (127.0.0.0/8, ::1, brackets allowed) are;
    wildcard addresses (0.0.0.0, ::), other addresses and other host names are not (a
    name could resolve anywhere).

    Example:
        >>> [is_loopback(h) for h in ("127.0.0.1", "localhost", "[::1]", "0.0.0.0", "example.org")]
        [True, True, True, False, False]
    """
    name = host.strip().strip("[]").rstrip(".").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def secrets_files(
    script_dir: Path, *, cwd: Path | None = None, home: Path | None = None
) -> list[Path]:
    """The secrets files Streamlit reads for the app in `script_dir`, later ones winning.

    Streamlit's order: `~/.streamlit/secrets.toml`, `./.streamlit/secrets.toml` (the
    working folder), then the app's own `.streamlit/secrets.toml`.

    Example:
        >>> [str(p) for p in secrets_files(Path("/app"), cwd=Path("/w"), home=Path("/h"))]
        ['/h/.streamlit/secrets.toml', '/w/.streamlit/secrets.toml', '/app/.streamlit/secrets.toml']
    """
    home = Path.home() if home is None else home
    cwd = Path.cwd() if cwd is None else cwd
    files = [home / ".streamlit" / "secrets.toml", cwd / ".streamlit" / "secrets.toml"]
    own = script_dir / ".streamlit" / "secrets.toml"
    return files if own in files else [*files, own]


def read_secrets(files: Iterable[Path]) -> dict[str, Any]:
    """The merged secrets of `files` as Streamlit merges them (a later file's section wins).

    Missing files are skipped; a file that is not TOML is an `AccessError` naming it.

    Example:
        >>> import tempfile
        >>> f = Path(tempfile.mkdtemp()) / "secrets.toml"
        >>> _ = f.write_text('[auth]\\nredirect_uri = "http://x/oauth2callback"\\n')
        >>> read_secrets([f, f.with_name("missing.toml")])["auth"]["redirect_uri"]
        'http://x/oauth2callback'
    """
    merged: dict[str, Any] = {}
    for path in files:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            continue
        except (OSError, UnicodeDecodeError) as err:
            raise AccessError(f"cannot read the secrets file {path}: {err}") from None
        try:
            merged.update(tomllib.loads(text))
        except tomllib.TOMLDecodeError as err:
            raise AccessError(
                f"the secrets file {path} is not valid TOML ({err}); fix it or pass --secrets "
                "with another file"
            ) from None
    return merged


def providers(auth: Mapping[str, Any]) -> list[str | None]:
    """The sign-in providers of an `[auth]` section: None for the unnamed one, then the
    names of its `[auth.NAME]` subsections (what `st.login(provider)` takes).

    Example:
        >>> providers({"client_id": "a", "google": {"client_id": "b"}})
        [None, 'google']
    """
    named = [key for key, value in auth.items() if isinstance(value, Mapping)]
    return ([None] if "client_id" in auth else []) + named


def auth_problem(auth: Mapping[str, Any]) -> str | None:
    """What an `[auth]` section lacks for Streamlit's sign-in, or None when it is complete.

    Example:
        >>> auth_problem({"redirect_uri": "http://h:8501/oauth2callback", "cookie_secret": "s"})
        '[auth] names no provider: add client_id, client_secret and server_metadata_url'
    """
    missing = [key for key in SHARED_KEYS if not auth.get(key)]
    if missing:
        return f"[auth] lacks {', '.join(missing)}"
    if not str(auth["redirect_uri"]).endswith("/oauth2callback"):
        return "[auth] redirect_uri must be the dashboard's URL ending in /oauth2callback"
    names = providers(auth)
    if not names:
        return (
            f"[auth] names no provider: add {', '.join(PROVIDER_KEYS[:-1])} and {PROVIDER_KEYS[-1]}"
        )
    for name in names:
        section = auth if name is None else auth[name]
        lacking = [key for key in PROVIDER_KEYS if not section.get(key)]
        if lacking:
            where = "[auth]" if name is None else f"[auth.{name}]"
            return f"{where} lacks {', '.join(lacking)}"
    return None


def authlib_problem() -> str | None:
    """Why Streamlit's sign-in cannot run here (Authlib >= 1.3.2 missing), or None.

    Example:
        >>> authlib_problem() is None or "Authlib" in authlib_problem()
        True
    """
    try:
        import authlib
    except ImportError:
        return "sign-in needs Authlib: install it with `pip install 'Authlib>=1.3.2'`"
    version = tuple(int(p) for p in authlib.__version__.split(".")[:3] if p.isdigit())
    if version < (1, 3, 2):
        return f"sign-in needs Authlib >= 1.3.2, not {authlib.__version__}: upgrade it"
    return None


def start_problem(host: str, *, signs_in: bool, no_auth: bool, read_only: bool) -> str | None:
    """The one line that stops a dashboard from listening on `host`, or None.

    Off loopback, a dashboard must sign visitors in (`signs_in`: an `[auth]` section),
    be read-only, or be opened to all on purpose (`no_auth`).

    Example:
        >>> flags = dict(signs_in=False, no_auth=False, read_only=False)
        >>> start_problem("0.0.0.0", **flags)  # doctest: +ELLIPSIS
        'the dashboard would listen on 0.0.0.0, beyond this machine, without sign-in: ...'
        >>> start_problem("127.0.0.1", **flags), start_problem("::", **flags | {"read_only": True})
        (None, None)
    """
    if is_loopback(host) or signs_in or no_auth or read_only:
        return None
    return (
        f"the dashboard would listen on {host}, beyond this machine, without sign-in: "
        "anyone reaching the port could train models. Configure sign-in with an [auth] "
        "section in .streamlit/secrets.toml (README: Sharing the dashboard; "
        "--secrets FILE to name the file), or pass --read-only to serve it for viewing "
        "only, or --no-auth to share it openly"
    )


@dataclass(frozen=True)
class Settings:
    """The sharing settings of one server: flags from `zoo dashboard` and `[keras_zoo]`."""

    read_only: bool = False
    no_auth: bool = False
    max_trainings: int = 1
    trainers: tuple[str, ...] = ()
    trainer_groups: tuple[str, ...] = ()
    groups_claim: str = "groups"


def _names(value: Any) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else list(value or [])
    return tuple(str(v).strip().lower() for v in items if str(v).strip())


def settings(env: Mapping[str, str], secrets: Mapping[str, Any]) -> Settings:
    """The server's `Settings` from its environment and its secrets' `[keras_zoo]` section.

    `$ZOO_DASHBOARD_TRAINERS` (comma-separated, from `--trainers`) adds to the section's
    `trainers`; a bad `--max-trainings` value is an `AccessError`.

    Example:
        >>> s = settings({"ZOO_DASHBOARD_TRAINERS": "b@x.org"},
        ...              {"keras_zoo": {"trainers": ["A@x.org"], "trainer_groups": ["ml"]}})
        >>> s.trainers, s.trainer_groups, s.max_trainings, s.read_only
        (('a@x.org', 'b@x.org'), ('ml',), 1, False)
    """
    section = secrets.get(SECTION) or {}
    raw_max = env.get(MAX_TRAININGS_ENV) or section.get("max_trainings", 1)
    try:
        max_trainings = int(raw_max)
    except (TypeError, ValueError):
        max_trainings = 0
    if max_trainings < 1:
        raise AccessError(f"max_trainings={raw_max!r} must be a whole number of at least 1")
    return Settings(
        read_only=env.get(READ_ONLY_ENV, "") == "1" or bool(section.get("read_only", False)),
        no_auth=env.get(NO_AUTH_ENV, "") == "1",
        max_trainings=max_trainings,
        trainers=tuple(
            dict.fromkeys(_names(section.get("trainers")) + _names(env.get(TRAINERS_ENV)))
        ),
        trainer_groups=_names(section.get("trainer_groups")),
        groups_claim=str(section.get("groups_claim", "groups")),
    )


def role_for(email: str | None, groups: Iterable[str], config: Settings) -> str:
    """The role of a signed-in visitor: `trainer` when listed, else `viewer`.

    Listed: the e-mail address (any case) in `config.trainers`, its domain written as
    `@example.org`, `*` (everyone who signs in), or one of `groups` in
    `config.trainer_groups`. A read-only server has viewers only.

    Example:
        >>> config = Settings(trainers=("ann@lab.org", "@ops.org"), trainer_groups=("ml",))
        >>> [role_for(e, g, config) for e, g in
        ...  [("Ann@lab.org", []), ("bob@lab.org", []), ("cy@ops.org", []), ("di@x.org", ["ml"])]]
        ['trainer', 'viewer', 'trainer', 'trainer']
        >>> role_for("ann@lab.org", [], Settings(read_only=True, trainers=("ann@lab.org",)))
        'viewer'
    """
    if config.read_only:
        return VIEWER
    email = (email or "").strip().lower()
    if email:
        domain = "@" + email.rpartition("@")[2]
        if "*" in config.trainers or email in config.trainers or domain in config.trainers:
            return TRAINER
    wanted = set(config.trainer_groups)
    if wanted & {str(g).strip().lower() for g in groups}:
        return TRAINER
    return VIEWER


@dataclass(frozen=True)
class Visitor:
    """Who is looking: `who` (e-mail, or a description without sign-in) and the role."""

    who: str
    role: str
    signed_in: bool = False

    @property
    def trainer(self) -> bool:
        """Whether this visitor may train, import and delete."""
        return self.role == TRAINER


def signs_in(secrets: Mapping[str, Any], config: Settings) -> bool:
    """Whether visitors must sign in: an `[auth]` section, and no `--no-auth`.

    Example:
        >>> signs_in({"auth": {"redirect_uri": "..."}}, Settings()), signs_in({}, Settings())
        (True, False)
    """
    return bool(secrets.get("auth")) and not config.no_auth


def visitor(
    user: Mapping[str, Any], secrets: Mapping[str, Any], config: Settings
) -> Visitor | None:
    """The visitor described by `user` (`st.user`'s dict); None when one must sign in first.

    An e-mail address the provider marks unverified (`email_verified: false`) earns no role.

    Example:
        >>> auth = {"auth": {"redirect_uri": "..."}}
        >>> ann = {"is_logged_in": True, "email": "ann@lab.org"}
        >>> visitor(ann, auth, Settings(trainers=("ann@lab.org",)))
        Visitor(who='ann@lab.org', role='trainer', signed_in=True)
        >>> visitor({}, auth, Settings()) is None
        True
        >>> visitor({}, {}, Settings()).role  # no sign-in: the one local user trains
        'trainer'
    """
    if not signs_in(secrets, config):
        who = "local user (no sign-in)" if not config.no_auth else "anyone (--no-auth)"
        return Visitor(who, VIEWER if config.read_only else TRAINER)
    if not user.get("is_logged_in"):
        return None
    email = user.get("email") if user.get("email_verified", True) is not False else None
    groups = user.get(config.groups_claim) or []
    if isinstance(groups, str):
        groups = [groups]
    who = str(email or user.get("sub") or "signed-in visitor")
    return Visitor(who, role_for(email, groups, config), signed_in=True)


def may_open(page: str, who: Visitor) -> bool:
    """Whether `who` may open dashboard page `page` (a key of `dashboard.ui.PAGES`).

    Example:
        >>> viewer = Visitor("v@x.org", VIEWER)
        >>> may_open("train", viewer), may_open("model", viewer)
        (False, True)
    """
    return who.trainer or page not in TRAINER_PAGES


def refusal(action: str, who: Visitor, *, read_only: bool = False) -> str:
    """The one line that refuses `action` to a visitor who is not a trainer.

    `read_only`: the server was started with `--read-only` (nobody trains there).

    Example:
        >>> refusal("Training", Visitor("v@x.org", VIEWER, signed_in=True))  # doctest: +ELLIPSIS
        'Training is for trainers: you are signed in as v@x.org, a viewer. ...'
    """
    if who.signed_in and not read_only:
        return (
            f"{action} is for trainers: you are signed in as {who.who}, a viewer. Ask the "
            "owner of this dashboard to add you to [keras_zoo] trainers."
        )
    return f"{action} is off: this dashboard is served read-only (--read-only)."


def server_secrets() -> dict[str, Any]:
    """The secrets of the running Streamlit app (`st.secrets`), {} when there are none.

    Example:
        >>> isinstance(server_secrets(), dict)
        True
    """
    import streamlit as st

    try:
        return st.secrets.to_dict()
    except FileNotFoundError:  # Streamlit's "no secrets" error is a FileNotFoundError
        return {}


def current_visitor() -> Visitor | None:
    """The visitor of the running Streamlit session (None: not signed in yet).

    Example:
        >>> current_visitor() is None or current_visitor().role in (VIEWER, TRAINER)
        True
    """
    import streamlit as st

    secrets = server_secrets()
    return visitor(st.user.to_dict(), secrets, settings(os.environ, secrets))
