"""Every docstring example in the packages runs, against the tiny trained store."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import numpy as np
import pytest

import dashboard
import explain
import zoo

# Dashboard modules whose examples cannot run here: the app and its pages run on import
# and, like `ui`'s widgets, need a Streamlit session (tests/dashboard runs them with
# AppTest); `harness` serves a dashboard and opens Chromium (tests/browser runs its
# examples, under the `browser` marker).
NOT_HERE = ("dashboard.app", "dashboard.ui", "dashboard.views", "dashboard.harness")

MODULES = sorted(
    info.name
    for package in (zoo, explain, dashboard)
    for info in pkgutil.walk_packages(package.__path__, package.__name__ + ".")
    if not info.name.startswith(NOT_HERE)
) + ["zoo", "explain", "dashboard"]


@pytest.mark.parametrize("module_name", MODULES)
def test_docstring_examples_run(module_name, tiny_store, monkeypatch, tmp_path):
    monkeypatch.setenv("ZOO_HOME", str(tiny_store))
    monkeypatch.chdir(tmp_path)  # examples that write files write them here
    module = importlib.import_module(module_name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False
    )
    examples = 0
    for test in finder.find(module, module_name, extraglobs={"zoo": zoo, "np": np}):
        skipped = [ex.source for ex in test.examples if ex.options.get(doctest.SKIP)]
        assert not skipped, f"{test.name}: examples must run, not be skipped: {skipped}"
        examples += len(test.examples)
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {module_name}"
    public = [n for n in dir(module) if not n.startswith("_") and callable(getattr(module, n))]
    own = [n for n in public if getattr(getattr(module, n), "__module__", "") == module_name]
    private = any(part.startswith("_") for part in module_name.split("."))
    assert examples > 0 or not own or private, f"{module_name}: public functions, no examples"
