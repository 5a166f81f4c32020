"""The dashboard in a real browser: `zoo dashboard` served, Debian's chromium driving it.

One walk through the pages a user visits first: Zoo -> Model -> Training curves ->
Explain (press Explain, wait for the SHAP figure) -> Compare -> GAN, then Train and
Report (build the report). On every page the charts (Vega-Lite svgs) and images
(`st.image` / `st.pyplot`) must be visible and loaded, with no exception box, no error
alert, no "Traceback" and no uncaught JavaScript error. The server is
`zoo --store STORE dashboard --headless --no-train --port PORT`, the same command a user
runs, against the session's tiny trained store.

Needs chromium at /usr/bin/chromium (`apt-get install -y chromium`); the `playwright`
package drives it, its own browsers are never downloaded. Runs in plain `pytest`
(marker `browser`: `pytest -m browser` runs it alone, `-m "not browser"` skips it).

Screenshots of every page (1280x800) land in tests/output/browser/. To refresh the
README screenshots in dashboard/screenshots/, point the test at a store trained with the
quick settings (better looking than the tiny one) and set ZOO_SCREENSHOTS; those copies
are palette-compressed PNGs:

    zoo --store /tmp/zoo-quick train --all --quick
    ZOO_BROWSER_STORE=/tmp/zoo-quick ZOO_SCREENSHOTS=dashboard/screenshots \\
        pytest tests/browser -m browser
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = ROOT / "tests" / "output" / "browser"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 800}
START_TIMEOUT_S = 90
PAGE_TIMEOUT_MS = 60_000

# Streamlit 1.67's test ids. A page has finished drawing when its title is shown, the
# script is no longer running (no status widget, no spinner) and no element is stale.
CHART = '[data-testid="stVegaLiteChart"]'
IMAGE = '[data-testid="stImage"] img'
TABLE = '[data-testid="stDataFrame"]'
METRIC = '[data-testid="stMetric"]'
PAGE_LINK = '[data-testid="stPageLink"]'
# Streamlit shows its "running" widget only ~0.5 s into a script run, so the state must
# hold for QUIET_MS before a page counts as finished.
QUIET_MS = 750
SETTLED_JS = """
([title, need, quiet]) => {
  const drawn = (() => {
    const main = document.querySelector('[data-testid="stMain"]');
    if (!main) return false;
    const h1 = main.querySelector('h1');
    if (!h1 || h1.innerText.trim() !== title) return false;
    if (document.querySelector('[data-testid="stStatusWidget"]')) return false;
    if (main.querySelector('[data-testid="stSpinner"], [data-stale="true"]')) return false;
    for (const [selector, count] of need) {
      const shown = [...main.querySelectorAll(selector)].filter(
        (el) => el.getBoundingClientRect().width > 0 &&
                (el.tagName !== 'IMG' || (el.complete && el.naturalWidth > 0)));
      if (shown.length < count) return false;
    }
    return true;
  })();
  if (!drawn) { window.__zooDrawnSince = null; return false; }
  window.__zooDrawnSince ??= performance.now();
  return performance.now() - window.__zooDrawnSince >= quiet;
}
"""


@dataclass
class Server:
    """A running `zoo dashboard`: its URL, process and log file."""

    url: str
    proc: subprocess.Popen
    log: Path

    def tail(self, chars: int = 4000) -> str:
        """The end of the server's output, for failure messages."""
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return text[-chars:] or "(no output)"


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_dashboard(store: Path, log: Path, port: int | None = None) -> Server:
    """Start `zoo --store STORE dashboard --headless --no-train` in its own process group."""
    port = port or free_port()
    cmd = [sys.executable, "-m", "zoo.cli", "--store", str(store), "dashboard"]
    cmd += ["--headless", "--no-train", "--port", str(port)]
    out = log.open("wb")
    proc = subprocess.Popen(
        cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
    )
    out.close()
    return Server(f"http://127.0.0.1:{port}", proc, log)


def wait_until_healthy(server: Server, timeout: float = START_TIMEOUT_S) -> None:
    """Poll /_stcore/health until it answers "ok"; fail with the server's output."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise AssertionError(
                f"`zoo dashboard` exited with code {server.proc.returncode} before "
                f"answering:\n{server.tail()}"
            )
        try:
            with urllib.request.urlopen(server.url + "/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError(
        f"`zoo dashboard` did not answer {server.url}/_stcore/health within {timeout:.0f} s:"
        f"\n{server.tail()}"
    )


def stop_dashboard(server: Server, timeout: float = 15.0) -> None:
    """Terminate `zoo dashboard` and its streamlit child: the whole process group.

    `zoo dashboard` runs streamlit as a child and exits at once on SIGTERM, so the
    group (started with start_new_session) is signalled and waited for until empty.
    """
    group = server.proc.pid
    try:
        os.killpg(group, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        server.proc.poll()  # reap `zoo` itself
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    os.killpg(group, signal.SIGKILL)
    server.proc.wait(timeout=timeout)


@pytest.fixture(scope="module")
def store(request: pytest.FixtureRequest) -> Path:
    """$ZOO_BROWSER_STORE when set (e.g. a quick-trained store), else the tiny store."""
    given = os.environ.get("ZOO_BROWSER_STORE")
    if given:
        return Path(given)
    return request.getfixturevalue("tiny_store")


@pytest.fixture(scope="module")
def server(store: Path) -> Iterator[Server]:
    """`zoo dashboard` on the store, on a free port; always terminated afterwards."""
    OUTPUT.mkdir(parents=True, exist_ok=True)
    srv = start_dashboard(store, OUTPUT / "server.log")
    try:
        wait_until_healthy(srv)
        yield srv
    finally:
        stop_dashboard(srv)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Debian's chromium, headless, driven by playwright; fails (no skip) when missing."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the browser test drives Debian's chromium. "
            "Install it with `apt-get install -y chromium`."
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("the playwright package is missing: pip install -e '.[dev]'")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


class Walk:
    """One browser tab on the dashboard, with the checks every page gets."""

    def __init__(self, page: object, server: Server) -> None:
        self.page = page
        self.server = server
        self.js_errors: list[str] = []
        page.on("pageerror", lambda err: self.js_errors.append(str(err)))  # type: ignore[attr-defined]

    def fail(self, what: str) -> None:
        pytest.fail(f"{what}\n--- server output (tail) ---\n{self.server.tail()}")

    def settle(self, title: str, need: dict[str, int]) -> None:
        """Wait until page `title` is drawn with at least `need[selector]` visible items."""
        self.page.evaluate("window.__zooDrawnSince = null")  # type: ignore[attr-defined]
        try:
            self.page.wait_for_function(  # type: ignore[attr-defined]
                SETTLED_JS, arg=[title, list(need.items()), QUIET_MS], timeout=PAGE_TIMEOUT_MS
            )
        except Exception as err:
            main = self.page.locator('[data-testid="stMain"]')  # type: ignore[attr-defined]
            shown = main.inner_text()[:1500] if main.count() else "(no main block)"
            counts = {sel: main.locator(sel).count() for sel in need}
            self.fail(
                f"page {title!r} did not finish drawing {need} within "
                f"{PAGE_TIMEOUT_MS / 1000:.0f} s ({type(err).__name__}); found {counts}; "
                f"it shows:\n{shown}"
            )
        self.check_no_error(title)

    def check_no_error(self, title: str) -> None:
        page = self.page
        for selector in ('[data-testid="stException"]', '[data-testid="stAlertContentError"]'):
            boxes = page.locator(selector)  # type: ignore[attr-defined]
            if boxes.count():
                self.fail(f"page {title!r} shows an error box: {boxes.first.inner_text()!r}")
        text = page.locator("body").inner_text()  # type: ignore[attr-defined]
        if "Traceback" in text:
            self.fail(f"page {title!r} shows a traceback:\n{text[:3000]}")
        if self.js_errors:
            self.fail(f"page {title!r}: uncaught JavaScript errors {self.js_errors}")

    def open(self, url_path: str, title: str, need: dict[str, int]) -> None:
        """Click the sidebar link to `url_path` ("" for Zoo) and wait for the page."""
        href = f"{self.server.url}/{url_path}"
        link = self.page.locator(  # type: ignore[attr-defined]
            f'[data-testid="stSidebarNav"] a[href="{href}"]'
        )
        link.click()
        self.settle(title, need)

    def screenshot(self, name: str, scroll_to: str | None = None) -> None:
        """Save tests/output/browser/NAME.png (and $ZOO_SCREENSHOTS/NAME.png, compressed)."""
        page = self.page
        if scroll_to:
            page.locator(scroll_to).last.scroll_into_view_if_needed()  # type: ignore[attr-defined]
        page.mouse.move(VIEWPORT["width"] - 1, VIEWPORT["height"] - 1)  # type: ignore[attr-defined]
        path = OUTPUT / f"{name}.png"
        page.screenshot(path=str(path))  # type: ignore[attr-defined]
        folder = os.environ.get("ZOO_SCREENSHOTS")
        if folder:
            save_compressed(path, Path(folder) / f"{name}.png")


def save_compressed(src: Path, dest: Path) -> None:
    """`src` as an adaptive-palette PNG at `dest` (a README screenshot: small, readable)."""
    from PIL import Image

    dest.parent.mkdir(parents=True, exist_ok=True)
    with Image.open(src) as img:
        small = img.convert("RGB").quantize(colors=128, method=Image.Quantize.MEDIANCUT)
        small.save(dest, optimize=True)


def test_pages_render_in_a_real_browser(request: pytest.FixtureRequest) -> None:
    """Zoo, Model, curves, Explain (explained), Compare, GAN, Train, Report: drawn, no error."""
    # Fixtures requested here, not as arguments: a missing chromium is a test failure
    # (not a setup error), and it fails before a store is trained or a server started.
    browser = request.getfixturevalue("browser")
    server: Server = request.getfixturevalue("server")
    context = browser.new_context(viewport=VIEWPORT)  # type: ignore[attr-defined]
    try:
        page = context.new_page()
        walk = Walk(page, server)
        page.goto(server.url + "/")
        walk.settle("Keras Zoo", {TABLE: 1, PAGE_LINK: 6})
        walk.screenshot("zoo")

        walk.open("model", "Model", {CHART: 1, METRIC: 1, TABLE: 1})
        walk.screenshot("model")

        walk.open("curves", "Training curves", {CHART: 1})
        walk.screenshot("curves")

        walk.open("explain", "Explain", {CHART: 1, IMAGE: 1})
        before = page.locator(IMAGE).count()
        page.locator(".st-key-explain_go button").click()
        metric = page.locator(METRIC).filter(has_text="additivity error (max)")
        metric.first.wait_for(state="visible", timeout=PAGE_TIMEOUT_MS)
        walk.settle("Explain", {CHART: 1, IMAGE: before + 1, METRIC: 4})
        # what a person reads: the exact default method and an error that adds up
        assert page.locator(METRIC).filter(has_text="layerwise").count() == 1
        normalized = page.locator(METRIC).filter(has_text="additivity error (normalized)")
        shown = normalized.first.locator('[data-testid="stMetricValue"]').inner_text()
        assert float(shown.strip().rstrip("%")) <= 1.0, shown
        walk.screenshot("explain", scroll_to=IMAGE)

        walk.open("compare", "Compare runs", {TABLE: 2, CHART: 1})
        walk.screenshot("compare", scroll_to=CHART)

        walk.open("gan", "GAN", {CHART: 2, IMAGE: 2, METRIC: 4})
        walk.screenshot("gan")

        walk.open("train", "Train", {'[data-testid="stForm"]': 1})
        walk.screenshot("train")

        walk.open("report", "Report", {'[data-testid="stButton"]': 1})
        page.locator(".st-key-report_build button").click()
        page.locator(".st-key-report_download").wait_for(state="visible", timeout=PAGE_TIMEOUT_MS)
        walk.settle("Report", {'[data-testid="stDownloadButton"]': 1})
        page.locator('[data-testid="stExpander"] summary').click()
        preview = page.frame_locator('[data-testid="stExpander"] iframe')
        preview.locator("h1").first.wait_for(state="visible", timeout=PAGE_TIMEOUT_MS)
        walk.check_no_error("Report")
        walk.screenshot("report", scroll_to='[data-testid="stExpander"] iframe')
    finally:
        context.close()
