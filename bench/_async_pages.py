"""Async page waits and widget helpers of bench/dashboard_load.py: playwright's async API
versions of dashboard.harness.wait_drawn / open_page (the same DRAWN_JS and links), the
select-box choice, and what a page shows as an error.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the project before bench/dashboard.py (see dashboard_load)

from playwright.async_api import TimeoutError as PlaywrightTimeout  # noqa: E402

from dashboard.harness import DRAWN_JS  # noqa: E402

POLL_MS = 50
FORM = '[data-testid="stForm"]'
ERROR_SELECTORS = ('[data-testid="stException"]', '[data-testid="stAlertContentError"]')
SUCCESS = '[data-testid="stAlertContentSuccess"]'
EXPLAIN_READY = {".st-key-explain_go": 1}


# --------------------------------------------------------------------------- page waits
# Async versions of dashboard.harness.wait_drawn / open_page (same DRAWN_JS, same links).


async def wait_drawn(page, title: str, need: dict[str, int], *, quiet_ms: int, timeout_s: float):
    await page.evaluate("window.__zooDrawnSince = null")
    await page.wait_for_function(
        DRAWN_JS, arg=[title, list(need.items()), quiet_ms], timeout=timeout_s * 1000,
        polling=POLL_MS,
    )  # fmt: skip


async def open_page(page, url: str, path: str) -> None:
    await page.locator(f'[data-testid="stSidebarNav"] a[href="{url}/{path}"]').click()


async def listbox_options(page, key: str) -> tuple[object, list[str]]:
    """Open the select box with widget key `key`; its listbox locator and option texts."""
    box = page.locator(f'.st-key-{key} [role="combobox"]')
    listbox = page.locator('[role="listbox"]')
    await box.click()
    try:  # a combobox that kept the focus does not always open on a click; the arrow does
        await listbox.wait_for(state="visible", timeout=2000)
    except PlaywrightTimeout:
        await box.press("ArrowDown")
        await listbox.wait_for(state="visible", timeout=10000)
    return listbox, await listbox.locator('[role="option"]').all_inner_texts()


async def choose_text(page, key: str, pattern: str, typed: str = "") -> None:
    """Pick the option of select box `key` whose text matches regex `pattern`.

    `typed` is typed first: the select box filters its options (a test-sample box holds
    hundreds, more than its listbox draws).
    """
    listbox, _ = await listbox_options(page, key)
    if typed:
        await page.keyboard.type(typed)
    await listbox.locator('[role="option"]').filter(has_text=re.compile(pattern)).first.click()


async def shown_errors(page) -> list[str]:
    """Streamlit exceptions / error boxes and tracebacks the page shows now."""
    found = []
    for selector in ERROR_SELECTORS:
        found += [t.strip() for t in await page.locator(selector).all_inner_texts()]
    if not found and "Traceback" in await page.locator("body").inner_text():
        found.append("a traceback in the page")
    return found


IMAGES_JS = """
() => [...document.querySelectorAll('[data-testid="stMain"] [data-testid="stImage"] img')].map(
  (el) => `${(el.getAttribute('src') || '').slice(-24)} complete=${el.complete} ` +
          `natural=${el.naturalWidth} shown=${el.getBoundingClientRect().width > 0}`)
"""


async def image_states(page) -> str:
    """Each image of the main block: its source's tail, loaded or not, drawn or not."""
    try:
        return "; ".join(await page.evaluate(IMAGES_JS)) or "no image"
    except Exception as err:  # diagnostics only: never fail the run
        return f"(images unreadable: {type(err).__name__})"


async def main_text(page, chars: int = 300) -> str:
    try:
        main = page.locator('[data-testid="stMain"]')
        return " ".join((await main.inner_text(timeout=5000)).split())[:chars]
    except Exception as err:  # a page that is gone or stuck: say so, never fail the run
        return f"(main block unreadable: {type(err).__name__})"
