"""Fixtures of the dashboard tests: the app run by AppTest against a tiny real store.

Every test opens the real app (dashboard/app.py with its st.navigation) and switches to
one page, with ZOO_HOME pointing at a store the session-wide `tiny_store` fixture
trained for real. Tests that write (training) or break (corruption) a store work on a
copy of it.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"
TIMEOUT = 60


@pytest.fixture(autouse=True)
def _no_store_warmup(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pages warm only what they open: tests count warm-ups and share two cores.

    The server-start warm-up of every entry (`data.warm_store`) has its own test.
    """
    monkeypatch.setenv("ZOO_WARM_ON_START", "0")


@pytest.fixture
def open_page(monkeypatch: pytest.MonkeyPatch, tiny_store: Path) -> Callable:
    """`open_page("model", model="cnn-digits@1", store=...)` -> an AppTest run on that page.

    `store` defaults to the shared tiny store; query parameters are passed as keywords.
    """
    from streamlit.testing.v1 import AppTest

    def run(page: str, *, store: Path | None = None, **query: str) -> AppTest:
        monkeypatch.setenv("ZOO_HOME", str(store or tiny_store))
        at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
        at.run()
        at.switch_page(f"views/{page}.py")
        for key, value in query.items():
            at.query_params[key] = value
        return at.run()

    return run


@pytest.fixture
def store_copy(tiny_store: Path, tmp_path: Path) -> Path:
    """A private copy of the tiny store, free to write to or to damage."""
    return Path(shutil.copytree(tiny_store, tmp_path / "store"))


def _texts(at: object) -> str:
    parts = []
    for kind in ("markdown", "caption", "error", "warning", "info", "success", "title"):
        parts += [str(el.value) for el in getattr(at, kind)]
    return "\n".join(parts)


def _metric(at: object, label: str) -> str:
    for el in at.metric:  # type: ignore[attr-defined]
        if el.label == label:
            return str(el.value)
    labels = [m.label for m in at.metric]  # type: ignore[attr-defined]
    raise KeyError(f"no metric {label!r}; the page shows {labels}")


@pytest.fixture
def texts() -> Callable[[object], str]:
    """`texts(at)`: every markdown, caption, alert and title of a run, joined."""
    return _texts


@pytest.fixture
def metric() -> Callable[[object, str], str]:
    """`metric(at, label)`: the value shown by the st.metric labelled `label`."""
    return _metric


def _frame(at: object, column: str) -> object:
    for el in at.dataframe:  # type: ignore[attr-defined]
        if column in el.value.columns:
            return el.value
    raise KeyError(f"no table with a column {column!r}")


@pytest.fixture
def frame() -> Callable[[object, str], object]:
    """`frame(at, column)`: the first table shown whose columns include `column`."""
    return _frame
