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
    if not args.no_train and not any(r.status == "ok" for r in store.runs()):
        print(f"the store {store.root} is empty: training the default zoo (quick) first")
        from zoo.cli import main

        code = main(["--store", str(store.root), "train", "--all", "--quick"])
        if code:
            return code
    env = dict(os.environ, ZOO_HOME=str(store.root))
    cmd = streamlit_command(args.host, args.port, headless=args.headless)
    print(f"dashboard: http://{args.host}:{args.port}  (store: {store.root})", flush=True)
    # Become the server process, so Ctrl-C and SIGTERM reach Streamlit directly.
    os.execve(sys.executable, cmd, env)
    return 0  # not reached


def streamlit_command(host: str, port: int, *, headless: bool = False) -> list[str]:
    """The command line that serves the dashboard with the zoo's server settings.

    Example:
        >>> cmd = streamlit_command("127.0.0.1", 8501)
        >>> cmd[1:4], cmd[cmd.index("--server.port") + 1]
        (['-m', 'streamlit', 'run'], '8501')
    """
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
    ]
