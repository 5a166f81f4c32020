"""``zoo dashboard``: the subcommand that starts the Streamlit server on this app.

Registered through the ``keras_zoo.commands`` entry points in ``pyproject.toml``, so the
``zoo`` package never imports (or looks for) the dashboard; ``zoo.cli`` loads this
module only for ``zoo dashboard`` and ``zoo --help``. Streamlit itself is imported by the
server process, not here.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from dashboard import access, limits
from zoo import backend

APP = Path(__file__).resolve().parent / "app.py"


def register(commands: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Add the ``dashboard`` subcommand to ``commands`` (``zoo``'s subparsers).

    Example:
        >>> parser = argparse.ArgumentParser(prog="zoo")
        >>> register(parser.add_subparsers(dest="command"), [])
        >>> parser.parse_args(["dashboard", "--port", "9000", "--no-train"]).port
        9000
    """
    p = commands.add_parser("dashboard", parents=parents, help="open the Streamlit dashboard")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8501)
    p.add_argument(
        "--no-train", action="store_true", help="do not train the default zoo on an empty store"
    )
    p.add_argument("--headless", action="store_true", help="do not open a browser")
    share = p.add_argument_group("sharing (see README, 'Sharing the dashboard')")
    share.add_argument(
        "--secrets",
        type=Path,
        metavar="FILE",
        help="the secrets.toml with the [auth] sign-in section (default: Streamlit's own: "
        "~/.streamlit/, ./.streamlit/, dashboard/.streamlit/)",
    )
    share.add_argument(
        "--read-only",
        action="store_true",
        help="viewers only: nobody can train, with or without sign-in",
    )
    share.add_argument(
        "--no-auth",
        action="store_true",
        help="serve beyond loopback without sign-in: anyone reaching the port may train",
    )
    share.add_argument(
        "--trainers",
        default="",
        metavar="EMAILS",
        help="comma-separated e-mail addresses (or @domain) that may train once signed in, "
        "added to [keras_zoo] trainers",
    )
    share.add_argument(
        "--max-trainings",
        type=int,
        default=None,
        metavar="N",
        help="trainings running at once; the others queue (default 1)",
    )
    share.add_argument(
        "--max-explanations",
        type=int,
        default=None,
        metavar="N",
        help="explanations computed at once; a visitor waits up to "
        f"{limits.EXPLAIN_WAIT_S:g} s for a free slot, then is told to come back (default "
        f"{limits.DEFAULT_MAX_EXPLANATIONS})",
    )
    share.add_argument(
        "--upload-rate",
        default=None,
        metavar="N/SECONDS",
        help="uploads per visitor on the Data page: at most N per SECONDS, or off "
        f"(default {limits.DEFAULT_UPLOAD_RATE}: ten per ten minutes)",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace, store: Any) -> int:
    """Train the default zoo on an empty store (unless ``--no-train``), then serve the app.

    The process becomes the Streamlit server (``os.execve``), so Ctrl-C and SIGTERM reach
    it directly; this returns only when the first training fails (its exit code).

    Example:
        >>> import tempfile, zoo
        >>> from unittest import mock
        >>> args = argparse.Namespace(no_train=True, host="127.0.0.1", port=8501, headless=True)
        >>> with mock.patch("os.execve") as serve:  # stands in for the server
        ...     run(args, zoo.Store(tempfile.mkdtemp()))  # doctest: +ELLIPSIS
        dashboard: http://127.0.0.1:8501  (store: ...)
        0
        >>> serve.call_args.args[1][2:4]
        ['streamlit', 'run']
    """
    secrets, env_flags = sharing(args)
    # The server's trainings run in child processes, each on the backend `zoo train` would
    # pick (zoo.backend.for_training), carried as ZOO_BACKEND: the user's KERAS_BACKEND
    # (as `zoo` read it before importing Keras), else auto.
    given = getattr(args, "given_backend", os.environ.get("KERAS_BACKEND"))
    env_flags[backend.SETTING] = os.environ.get(backend.SETTING) or given or backend.AUTO
    if not args.no_train and not any(r.status == "ok" for r in store.runs()):
        print(f"the store {store.root} is empty: training the default zoo (quick) first")
        from zoo.cli import main

        code = main(["--store", str(store.root), "train", "--all", "--quick"])
        if code:
            return code
    env = dict(os.environ, ZOO_HOME=str(store.root), **env_flags)
    cmd = streamlit_command(args.host, args.port, headless=args.headless, secrets=secrets)
    print(f"dashboard: http://{args.host}:{args.port}  (store: {store.root})", flush=True)
    # Become the server process, so Ctrl-C and SIGTERM reach Streamlit directly.
    os.execve(sys.executable, cmd, env)
    return 0  # not reached


def sharing(args: argparse.Namespace) -> tuple[list[Path], dict[str, str]]:
    """Check whether `zoo dashboard` may serve on `args.host` as asked, before anything runs.

    Returns the secrets files Streamlit is to read and the environment that carries the
    sharing flags to the server. Raises `access.AccessError` (one line: what is wrong,
    what is expected, how to fix it) for a host beyond loopback without sign-in, an
    unusable `[auth]` section or a missing Authlib; prints a warning line for `--no-auth`
    beyond loopback. Opens no port.

    Example:
        >>> import tempfile
        >>> empty = Path(tempfile.mkdtemp()) / "secrets.toml"; _ = empty.write_text("")
        >>> args = argparse.Namespace(host="0.0.0.0", secrets=empty)
        >>> sharing(args)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        dashboard.access.AccessError: the dashboard would listen on 0.0.0.0, ...
        >>> args.no_auth = True
        >>> sharing(args)[1]  # doctest: +ELLIPSIS
        zoo: warning: --no-auth: the dashboard on 0.0.0.0 is open to anyone who can reach it...
        {'ZOO_DASHBOARD_NO_AUTH': '1'}
    """
    read_only = bool(getattr(args, "read_only", False))
    no_auth = bool(getattr(args, "no_auth", False))
    explicit = getattr(args, "secrets", None)
    if explicit is not None:
        if explicit.suffix != ".toml":
            raise access.AccessError(f"--secrets {explicit}: name a .toml file (a secrets.toml)")
        if not no_auth and not explicit.is_file():
            raise access.AccessError(
                f"--secrets {explicit}: no such file; pass the secrets.toml with [auth]"
            )
        files = [explicit]
    else:
        files = access.secrets_files(APP.parent)
    secrets = access.read_secrets(files)
    signs_in = bool(secrets.get("auth")) and not no_auth
    if signs_in:
        problem = access.auth_problem(secrets["auth"]) or access.authlib_problem()
        if problem:
            raise access.AccessError(f"sign-in is configured but cannot work: {problem}")
    problem = access.start_problem(
        args.host, signs_in=signs_in, no_auth=no_auth, read_only=read_only
    )
    if problem:
        raise access.AccessError(problem)
    env = {access.READ_ONLY_ENV: "1"} if read_only else {}
    if no_auth:
        env[access.NO_AUTH_ENV] = "1"
        if not access.is_loopback(args.host) and not read_only:
            print(
                f"zoo: warning: --no-auth: the dashboard on {args.host} is open to anyone who can "
                "reach it, and anyone may train; configure [auth] sign-in to share it safely",
                file=sys.stdout,
                flush=True,
            )
    if getattr(args, "trainers", ""):
        env[access.TRAINERS_ENV] = args.trainers
    if getattr(args, "max_trainings", None) is not None:
        if args.max_trainings < 1:
            raise access.AccessError(f"--max-trainings {args.max_trainings}: pass 1 or more")
        env[access.MAX_TRAININGS_ENV] = str(args.max_trainings)
    if getattr(args, "max_explanations", None) is not None:
        if args.max_explanations < 1:
            raise access.AccessError(f"--max-explanations {args.max_explanations}: pass 1 or more")
        env[limits.MAX_EXPLANATIONS_ENV] = str(args.max_explanations)
    if getattr(args, "upload_rate", None) is not None:
        try:
            limits.parse_rate(args.upload_rate)
        except ValueError as err:
            raise access.AccessError(f"--upload-rate: {err}") from None
        env[limits.UPLOAD_RATE_ENV] = args.upload_rate
    # Both the server and this check read the secrets the settings (and sign-in) come from.
    access.settings(env, secrets)
    limits.limits_from(env, secrets)
    return files, env


def streamlit_command(
    host: str, port: int, *, headless: bool = False, secrets: list[Path] | None = None
) -> list[str]:
    """The command line that serves the dashboard with the zoo's server settings.

    `secrets`: the secrets files Streamlit reads (default: its own search path).

    Example:
        >>> cmd = streamlit_command("127.0.0.1", 8501, secrets=[Path("s.toml")])
        >>> cmd[1:4], cmd[cmd.index("--server.port") + 1], cmd[cmd.index("--secrets.files") + 1]
        (['-m', 'streamlit', 'run'], '8501', 's.toml')
    """
    files = [arg for path in secrets or [] for arg in ("--secrets.files", str(path))]
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP),
        "--server.address",
        host,
        "--server.port",
        str(port),
        # Streamlit itself detects a machine without a display and stays headless.
        *(["--server.headless", "true"] if headless else []),
        "--server.maxUploadSize",
        "5",
        "--browser.gatherUsageStats",
        "false",
        "--global.developmentMode",
        "false",
        # Tracebacks go to the server log, never to the page.
        "--client.showErrorDetails",
        "none",
        "--client.toolbarMode",
        "viewer",
        "--server.fileWatcherType",
        "none",
        # A full gc after every rerun walks ~540k TensorFlow/shap objects: ~0.3 s per click.
        "--runner.postScriptGC",
        "false",
        *files,
    ]
