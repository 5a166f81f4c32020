"""dashboard.ui: the Streamlit hook it replaces (and the warning when it is gone), and the
model-page preamble every model page starts with."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import pytest

from dashboard import ui

HOOK = "_clean_problem_modules"


def test_keep_keras_state_replaces_the_hook_of_the_installed_streamlit(caplog):
    import matplotlib.pyplot as plt
    from streamlit.runtime.scriptrunner import script_runner

    with caplog.at_level(logging.WARNING, logger="dashboard"):
        assert ui.keep_keras_state() is True
        assert ui.keep_keras_state() is True  # idempotent
    assert not caplog.records
    hook = getattr(script_runner, HOOK)
    assert hook.keeps_keras
    plt.figure()
    hook()  # what Streamlit calls after every script run: pyplot is still cleaned up
    assert plt.get_fignums() == []


def test_the_new_hook_leaves_keras_alone(monkeypatch):
    from streamlit.runtime.scriptrunner import script_runner

    assert ui.keep_keras_state()
    import keras

    cleared = []
    monkeypatch.setattr(keras.backend, "clear_session", lambda *a, **k: cleared.append(1))
    getattr(script_runner, HOOK)()
    assert cleared == []


def test_keep_keras_state_logs_when_the_hook_is_missing(monkeypatch, caplog):
    from streamlit.runtime.scriptrunner import script_runner

    monkeypatch.delattr(script_runner, HOOK)
    with caplog.at_level(logging.WARNING, logger="dashboard.ui"):
        assert ui.keep_keras_state() is False
    [record] = [r for r in caplog.records if r.name == "dashboard.ui"]
    assert record.levelno == logging.WARNING
    assert HOOK in record.getMessage()
    assert "Keras state is reset" in record.getMessage()


def test_keep_keras_state_logs_when_the_module_is_missing(monkeypatch, caplog):
    from streamlit.runtime import scriptrunner

    # What a Streamlit without the script_runner module looks like to the import.
    monkeypatch.delattr(scriptrunner, "script_runner")
    monkeypatch.setitem(sys.modules, "streamlit.runtime.scriptrunner.script_runner", None)
    with caplog.at_level(logging.WARNING, logger="dashboard.ui"):
        assert ui.keep_keras_state() is False
    assert any(HOOK in r.getMessage() for r in caplog.records if r.name == "dashboard.ui")


def _model_page_app() -> None:
    # Run by AppTest as a script of its own: imports inside.
    import streamlit as st

    from dashboard import ui

    page = ui.model_page("Some page", families=["mlp"])
    st.caption("none" if page is None else f"{page.ref} {page.model.ref} {page.root}")


def _caption(store: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[object, str]:
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("ZOO_HOME", str(store))
    at = AppTest.from_function(_model_page_app, default_timeout=60).run()
    assert not at.exception
    assert at.title[0].value == "Some page"
    return at, at.caption[-1].value


def test_model_page_picks_and_loads_the_model(tiny_store, monkeypatch):
    at, caption = _caption(tiny_store, monkeypatch)
    assert caption == f"mlp-cancer@1 mlp-cancer@1 {tiny_store}"
    assert at.selectbox(key="model_picker").value == "mlp-cancer@1"


@pytest.mark.parametrize("page", ["model", "curves", "gan"])
def test_model_pages_say_so_when_the_store_has_no_model(open_page, tmp_path, texts, page):
    # Through the real app: the picker's "Train a model" link needs its page table.
    at = open_page(page, store=tmp_path / "empty")
    assert not at.exception
    assert "No usable trained model" in texts(at)
    assert len(at.title) == 1  # the page's own title, nothing of the page after it
