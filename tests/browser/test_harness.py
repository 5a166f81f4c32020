"""dashboard.harness: its docstring examples serve the dashboard and open Chromium.

tests/test_docstrings.py leaves this module out (its examples need chromium, the
`browser` marker's requirement), so they run here, against the session's tiny store.
"""

from __future__ import annotations

import doctest
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser


def test_harness_examples_run(
    tiny_store: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from dashboard import harness

    problem = harness.browser_problem()
    if problem:
        pytest.fail(problem)
    monkeypatch.setenv("ZOO_HOME", str(tiny_store))
    monkeypatch.chdir(tmp_path)  # the examples write server.log here
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    examples = 0
    for test in finder.find(harness, harness.__name__):
        skipped = [ex.source for ex in test.examples if ex.options.get(doctest.SKIP)]
        assert not skipped, f"{test.name}: examples must run, not be skipped: {skipped}"
        examples += len(test.examples)
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert examples > 0
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in dashboard.harness"
