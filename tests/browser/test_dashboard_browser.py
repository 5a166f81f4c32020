"""The dashboard in a real browser: `zoo dashboard` served, Debian's chromium driving it.

One walk through the pages a user visits first: Zoo -> Model -> Training curves ->
Explain (press Explain, wait for the SHAP figure) -> Compare -> GAN -> Sweeps, then
Train and Report (build the report); and a sweep's HTML report opened from its file. On
every page the charts (Vega-Lite svgs) and images (`st.image` / `st.pyplot`) must be
visible and loaded, with no exception box, no error alert, no "Traceback" and no
uncaught JavaScript error. The server is the Streamlit command line `zoo --store STORE
dashboard --headless --no-train` runs, on a free port, against a copy of the session's
tiny trained store (`dashboard.harness`: server, Chromium, waits).

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
from collections.abc import Iterator
from pathlib import Path

import pytest

from dashboard import harness
from dashboard.harness import (
    CHART,
    EXPLAIN_FIGURE,
    IMAGE,
    METRIC,
    PAGE_LINK,
    PAGE_TIMEOUT_MS,
    TABLE,
    VIEWPORT,
    Server,
)

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = ROOT / "tests" / "output" / "browser"
CUSTOM = "mlp-browser-wine"  # the custom entry the store fixture adds


@pytest.fixture(scope="module")
def store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """$ZOO_BROWSER_STORE when set (e.g. a quick-trained store), else a copy of the tiny
    store; either way with a real sweep in it (2 trials of mlp-cancer, 2 epochs each) for
    the Sweeps page, unless it has one already."""
    import shutil

    import zoo

    given = os.environ.get("ZOO_BROWSER_STORE")
    if given:
        root = Path(given)
    else:  # a copy: the sweep's versions must not change the session's shared store
        root = tmp_path_factory.mktemp("browser") / "store"
        shutil.copytree(request.getfixturevalue("tiny_store"), root)
    if not zoo.list_sweeps(store=root):
        zoo.sweep("mlp-cancer", grid={"dropout": [0, 0.3]}, epochs=2, store=root)
    if not (root / "_entries" / f"{CUSTOM}.toml").exists():
        # a user's own table (a text category, blanks) as a custom entry, trained briefly
        from sklearn.datasets import load_wine

        frame = load_wine(as_frame=True).frame
        frame.insert(2, "region", ["north", "south", "east"] * 59 + ["north"])
        frame.loc[::17, "region"] = None
        table = tmp_path_factory.mktemp("wine") / "wine.csv"
        frame.to_csv(table, index=False)
        zoo.add_entry(CUSTOM, family="mlp", csv=table, target="target", store=root)
        zoo.train(CUSTOM, store=root, epochs=2)
    return root


@pytest.fixture(scope="module")
def server(store: Path) -> Iterator[Server]:
    """The dashboard served on the store, on a free port; always stopped afterwards."""
    OUTPUT.mkdir(parents=True, exist_ok=True)
    with harness.serve(store, OUTPUT / "server.log") as srv:
        srv.wait_healthy()
        yield srv


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
        try:
            harness.wait_drawn(self.page, title, need)
        except Exception as err:
            main = self.page.locator('[data-testid="stMain"]')  # type: ignore[attr-defined]
            shown = main.inner_text()[:1500] if main.count() else "(no main block)"
            counts = {sel: main.locator(sel).count() for sel in need}
            self.fail(
                f"page {title!r} did not finish drawing {need} within "
                f"{PAGE_TIMEOUT_MS / 1000:.0f} s ({type(err).__name__}); found "
                f"{counts}; it shows:\n{shown}"
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
        harness.open_page(self.page, self.server.url, url_path)
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
        assert not page.locator(EXPLAIN_FIGURE).count()
        page.locator(".st-key-explain_go button").click()
        metric = page.locator(METRIC).filter(has_text="additivity error (max)")
        metric.first.wait_for(state="visible", timeout=PAGE_TIMEOUT_MS)
        walk.settle("Explain", {CHART: 1, EXPLAIN_FIGURE: 1, METRIC: 4})
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

        walk.open("sweeps", "Sweeps", {TABLE: 1, CHART: 1})
        walk.screenshot("sweeps", scroll_to=CHART)

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


def test_a_custom_entry_is_shown_and_explained_in_a_real_browser(
    request: pytest.FixtureRequest,
) -> None:
    """The user's own table: its Model page and an explanation, like any entry's."""
    browser = request.getfixturevalue("browser")
    server: Server = request.getfixturevalue("server")
    context = browser.new_context(viewport=VIEWPORT)  # type: ignore[attr-defined]
    try:
        page = context.new_page()
        walk = Walk(page, server)
        page.goto(f"{server.url}/model?model={CUSTOM}@1")
        walk.settle("Model", {METRIC: 1, TABLE: 1})
        assert f"{CUSTOM}@1" in page.locator('[data-testid="stMain"]').inner_text()
        page.goto(f"{server.url}/explain?model={CUSTOM}@1")
        walk.settle("Explain", {CHART: 1})
        page.locator(".st-key-explain_go button").click()
        metric = page.locator(METRIC).filter(has_text="additivity error (max)")
        metric.first.wait_for(state="visible", timeout=PAGE_TIMEOUT_MS)
        walk.settle("Explain", {METRIC: 4})
        walk.screenshot("explain-custom-entry")
    finally:
        context.close()


def test_sweep_report_renders_in_a_real_browser(request: pytest.FixtureRequest) -> None:
    """The sweep's self-contained HTML report: its table and figure drawn, nothing fetched."""
    import zoo
    from explain.reporting.sweep import write_sweep_report

    browser = request.getfixturevalue("browser")
    store: Path = request.getfixturevalue("store")
    sweep = zoo.list_sweeps(store=store)[0]
    out = write_sweep_report(sweep, OUTPUT / "sweep-report.html", store=store)
    context = browser.new_context(viewport=VIEWPORT)  # type: ignore[attr-defined]
    try:
        page = context.new_page()
        errors: list[str] = []
        requests: list[str] = []
        page.on("pageerror", lambda err: errors.append(str(err)))
        page.on("request", lambda req: requests.append(req.url))
        page.goto(out.resolve().as_uri())
        page.locator("table").first.wait_for(state="visible", timeout=PAGE_TIMEOUT_MS)
        assert page.locator("table tr").count() >= 3  # a header and both trials
        image = page.locator("img").first
        image.wait_for(state="visible", timeout=PAGE_TIMEOUT_MS)
        assert image.evaluate("img => img.complete && img.naturalWidth > 0")
        assert not errors
        assert [u for u in requests if not u.startswith(("file:", "data:"))] == []
        page.screenshot(path=str(OUTPUT / "sweep-report.png"))
    finally:
        context.close()
