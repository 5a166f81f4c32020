"""Serving the dashboard and driving it in a real browser, in one place.

A served dashboard on a free port with its health check and stop (`serve`, `Server`),
Debian's Chromium with its launch flags (`chromium`), and the wait for a page to finish
drawing (`wait_drawn`, `open_page`). Its users: bench/dashboard.py and the browser tests
(tests/browser, the report test in tests/explain).

Why it lives in the `dashboard` package rather than in tests/ or bench/: the benchmark
runs as a script (only bench/ on sys.path) and the tests run under pytest, and both
already import the installed packages, so the package is the one place every caller
reaches; and beside `dashboard.cli`, whose Streamlit command line (the one `zoo dashboard`
runs) it serves with, so the tests and the benchmark serve exactly what a user runs,
without going through `zoo`'s subcommand registration. Importing it costs nothing: no
Streamlit, no TensorFlow, and playwright (a dev dependency) only inside `chromium()`.

Its docstring examples serve a dashboard and open Chromium, so tests/browser runs them
(marker `browser`), not tests/test_docstrings.py.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dashboard.cli import streamlit_command

HOST = "127.0.0.1"
START_TIMEOUT_S = 90.0

# Debian's chromium, driven through playwright's `executable_path`: playwright's own
# browsers are never downloaded (no network after installation).
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",  # tests run as root in containers, where the sandbox cannot start
    "--disable-gpu",
    # No update checks, sync or background fetches: nothing leaves the machine and
    # nothing competes with the page being timed.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 800}

# Streamlit 1.67's test ids, for `wait_drawn`'s `need`.
CHART = '[data-testid="stVegaLiteChart"]'
IMAGE = '[data-testid="stImage"] img'
TABLE = '[data-testid="stDataFrame"]'
METRIC = '[data-testid="stMetric"]'
PAGE_LINK = '[data-testid="stPageLink"]'
# The Explain page's SHAP figure (its own container): what an Explain click waits for. A
# count of all images before and after the click could be off by a stale one.
EXPLAIN_FIGURE = '.st-key-explain_figure [data-testid="stImage"] img'
# Streamlit shows its "running" widget only ~0.5 s into a script run, so a page counts as
# finished only when it stays drawn, with no script running, for this long.
QUIET_MS = 750
PAGE_TIMEOUT_MS = 60_000

# True once the page titled `title` shows, in its main block, at least `count` visible
# elements per selector (images loaded), and nothing stale. With quiet > 0 it must also
# stay so, with no script running (no status widget, no spinner), for `quiet` ms.
DRAWN_JS = """
([title, need, quiet]) => {
  const main = document.querySelector('[data-testid="stMain"]');
  let drawn = !!main;
  if (drawn) {
    const h1 = main.querySelector('h1');
    drawn = !!h1 && h1.innerText.trim() === title && !main.querySelector('[data-stale="true"]');
  }
  for (const [selector, count] of (drawn ? need : [])) {
    const shown = [...main.querySelectorAll(selector)].filter(
      (el) => el.getBoundingClientRect().width > 0 &&
              (el.tagName !== 'IMG' || (el.complete && el.naturalWidth > 0)));
    if (shown.length < count) { drawn = false; break; }
  }
  if (drawn && quiet > 0) {
    drawn = !document.querySelector('[data-testid="stStatusWidget"]') &&
            !main.querySelector('[data-testid="stSpinner"]');
  }
  if (!drawn) { window.__zooDrawnSince = null; return false; }
  window.__zooDrawnSince ??= performance.now();
  return performance.now() - window.__zooDrawnSince >= quiet;
}
"""


class ServerError(RuntimeError):
    """The served dashboard exited or did not answer; the message ends with its output."""


def free_port(host: str = HOST) -> int:
    """A TCP port nothing listens on right now.

    Example:
        >>> 0 < free_port() < 65536
        True
    """
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


@dataclass
class Server:
    """A served dashboard: its URL, process (its own process group), log and start time.

    `started` is `time.perf_counter()` just before the process was started.
    """

    url: str
    proc: subprocess.Popen
    log: Path
    started: float

    def tail(self, chars: int = 4000) -> str:
        """The end of the server's output, for failure messages.

        Example:
            >>> Server("http://127.0.0.1:1", None, Path("/nonexistent.log"), 0.0).tail()
            '(no output)'
        """
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return text[-chars:] or "(no output)"

    def wait_healthy(self, timeout: float = START_TIMEOUT_S) -> float:
        """Poll /_stcore/health until it answers; the seconds since the process started.

        Raises `ServerError`, with the server's output, when the process exits first or
        nothing answers within `timeout` seconds. Example: `serve`'s.
        """
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            if self.proc.poll() is not None:
                raise ServerError(
                    f"the dashboard exited with code {self.proc.returncode} before "
                    f"answering:\n{self.tail()}"
                )
            try:
                with urllib.request.urlopen(self.url + "/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        return time.perf_counter() - self.started
            except OSError:
                pass
            time.sleep(0.02)  # fine-grained: the benchmark times this
        raise ServerError(
            f"the dashboard did not answer {self.url}/_stcore/health within {timeout:.0f} s:"
            f"\n{self.tail()}"
        )

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM the server's process group and wait until it is empty (then SIGKILL).

        The whole group, so that any child the server started goes with it. Idempotent.
        Example: `serve`'s (leaving the `with` block stops the server).
        """
        group = self.proc.pid
        try:
            os.killpg(group, signal.SIGTERM)
        except ProcessLookupError:
            self.proc.poll()
            return
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            self.proc.poll()  # reap the leader, or killpg(0) keeps finding its zombie
            try:
                os.killpg(group, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)
        os.killpg(group, signal.SIGKILL)
        self.proc.wait(timeout=timeout)

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve(store: str | os.PathLike[str], log: Path, *, port: int | None = None) -> Server:
    """Serve the dashboard on store `store`, on 127.0.0.1 (a free port unless given).

    Runs `dashboard.cli.streamlit_command` (headless) with `$ZOO_HOME` set to the store,
    as `zoo --store STORE dashboard --headless --no-train` does, in its own process group,
    its output in `log`. Returns at once: call `wait_healthy()`, and `stop()` (or use it
    as a context manager).

    Example:
        >>> with serve(os.environ["ZOO_HOME"], Path("server.log")) as server:
        ...     _ = server.wait_healthy()
        ...     urllib.request.urlopen(server.url + "/_stcore/health").status
        200
    """
    port = port or free_port()
    env = dict(os.environ, ZOO_HOME=str(store))
    cmd = streamlit_command(HOST, port, headless=True)
    with log.open("wb") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(
            cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    return Server(f"http://{HOST}:{port}", proc, log, started)


def browser_problem() -> str | None:
    """Why `chromium()` cannot start here (with the fix), or None when it can.

    Example:
        >>> browser_problem() is None or "install" in browser_problem()
        True
    """
    if not CHROMIUM.exists():
        return (
            f"{CHROMIUM} is missing: the browser checks drive Debian's chromium. Install it "
            "with `apt-get update && apt-get install -y chromium` (never `playwright install`)"
        )
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is missing: install with `pip install -e '.[dev]'`"
    return None


@contextmanager
def chromium() -> Iterator[Any]:
    """Debian's chromium, headless, as a playwright `Browser`; closed on exit.

    Raises `RuntimeError` with `browser_problem()`'s message when it cannot start.

    Example:
        >>> with chromium() as browser:
        ...     page = browser.new_page(viewport=VIEWPORT)
        ...     _ = page.set_content("<h1>zoo</h1>")
        ...     page.inner_text("h1")
        'zoo'
    """
    problem = browser_problem()
    if problem:
        raise RuntimeError(problem)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def wait_drawn(
    page: Any,
    title: str,
    need: Mapping[str, int],
    *,
    quiet_ms: int = QUIET_MS,
    timeout_ms: int = PAGE_TIMEOUT_MS,
) -> None:
    """Wait until the dashboard page titled `title` is drawn in playwright `page`.

    Drawn: the title shows, at least `need[selector]` elements of each selector are
    visible (images loaded) and nothing is stale; with `quiet_ms` > 0 (a finished page)
    it has also stayed so, with no script running, for that long. `quiet_ms=0` returns
    as soon as the content is shown (what a timing wants). Raises playwright's
    TimeoutError after `timeout_ms`.

    Example:
        >>> with chromium() as browser:
        ...     page = browser.new_page()
        ...     _ = page.set_content('<div data-testid="stMain"><h1>Zoo</h1></div>')
        ...     wait_drawn(page, "Zoo", {"h1": 1}, quiet_ms=0)
    """
    page.evaluate("window.__zooDrawnSince = null")
    page.wait_for_function(
        DRAWN_JS, arg=[title, list(need.items()), quiet_ms], timeout=timeout_ms, polling="raf"
    )


def open_page(page: Any, url: str, path: str) -> None:
    """Click the sidebar link of the dashboard page at `path` ("" for the Zoo page).

    `url` is the server's (`Server.url`); this only clicks: wait with `wait_drawn`.

    Example:
        >>> with serve(os.environ["ZOO_HOME"], Path("server.log")) as server, chromium() as b:
        ...     _ = server.wait_healthy()
        ...     page = b.new_page(viewport=VIEWPORT)
        ...     _ = page.goto(server.url + "/")
        ...     wait_drawn(page, "Keras Zoo", {TABLE: 1})
        ...     open_page(page, server.url, "model")
        ...     wait_drawn(page, "Model", {METRIC: 1})
    """
    page.locator(f'[data-testid="stSidebarNav"] a[href="{url}/{path}"]').click()
