"""The Chromium every browser test drives (Debian's, through playwright)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dashboard import harness


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Debian's chromium, headless, driven by playwright; fails (no skip) when missing."""
    problem = harness.browser_problem()
    if problem:
        pytest.fail(problem)
    with harness.chromium() as chromium:
        yield chromium
