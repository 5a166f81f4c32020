"""Deleting from the dashboard: trainers get a confirmed "Delete this version" on the
Model page and an entry delete on the Data page; viewers see neither, and the server
refuses them even when the action is called directly.

The store: the session tiny store's real mlp-cancer@1, copied as @1 and @2 (the
manifest names the entry, not the number, so the copy verifies).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import zoo
from dashboard import access, audit
from zoo import entries
from zoo.store import Store

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"
DATA_PAGE = APP.parent / "views" / "data.py"
NAME = "mlp-cancer"
TIMEOUT = 60


@pytest.fixture(scope="module")
def template(tiny_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("dashdelete") / "store"
    shutil.copytree(tiny_store / NAME / "1", root / NAME / "1")
    shutil.copytree(tiny_store / NAME / "1", root / NAME / "2")
    return root


@pytest.fixture
def store(template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = Path(shutil.copytree(template, tmp_path / "store"))
    monkeypatch.setenv("ZOO_HOME", str(root))
    return root


def model_page(ref: str, *, user=None, secrets=None):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    if user is not None:
        at.user = user
    if secrets is not None:
        at.secrets = secrets
    at.switch_page("views/model.py")
    at.query_params["model"] = ref
    return at.run()


def delete_controls(at) -> list[str]:
    return [e.label for e in at.expander if e.label.startswith("Delete")]


def test_a_trainer_deletes_a_version_after_confirming(store):
    at = model_page(f"{NAME}@2")  # loopback, no sign-in: the local user is a trainer
    assert not at.exception and delete_controls(at) == ["Delete this version"]
    button = at.button(key="model_delete")
    assert button.disabled  # nothing happens before the box is ticked
    at.checkbox(key=f"model_delete_confirm:{NAME}@2").check().run()
    assert not at.button(key="model_delete").disabled
    at.button(key="model_delete").click().run()
    assert not at.exception and not at.error
    assert [s.value for s in at.success] == [f"Deleted {NAME}@2."]
    assert Store(store).versions(NAME) == [1]
    # The page falls back to the remaining version; the deleted one is not offered.
    picker = at.selectbox(key="model_picker")
    assert picker.value == f"{NAME}@1" and len(picker.options) == 1
    line = audit.read(store)[0]
    assert (line["via"], line["action"], line["target"], line["outcome"]) == (
        "dashboard",
        "delete",
        f"{NAME}@2",
        "ok",
    )
    assert line["who"] == "local user (no sign-in)"
    # Its number stays retired (tests/zoo/test_delete.py trains the next one: @3).
    assert (store / NAME / ".deleted-2").exists() and not (store / NAME / "2").exists()


def test_viewers_see_no_control_and_the_server_refuses_them(store, monkeypatch):
    from streamlit.testing.v1 import AppTest

    # A signed-in viewer (not listed as a trainer).
    secrets = {
        "auth": {
            "redirect_uri": "http://zoo.example.org:8501/oauth2callback",
            "cookie_secret": "a-long-random-secret-for-the-tests",
            "client_id": "keras-zoo",
            "client_secret": "client-secret",
            "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration",
        },
        "keras_zoo": {"trainers": ["ann@lab.org"]},
    }
    bob = {"is_logged_in": True, "email": "bob@lab.org"}
    at = model_page(f"{NAME}@2", user=bob, secrets=secrets)
    assert not at.exception and at.selectbox(key="model_picker").value == f"{NAME}@2"
    assert delete_controls(at) == [] and not [b for b in at.button if b.key == "model_delete"]
    # A read-only server: no control either.
    monkeypatch.setenv(access.READ_ONLY_ENV, "1")
    at = model_page(f"{NAME}@2")
    assert not at.exception and delete_controls(at) == []
    # Called directly, the action refuses before touching the store.
    before = sorted(p.relative_to(store).as_posix() for p in store.rglob("*"))
    script = (
        "import streamlit as st\nfrom dashboard import deletes\nfrom zoo.errors import ZooError\n"
        "for call in (lambda: deletes.delete_version(ROOT, 'mlp-cancer@2'),\n"
        "             lambda: deletes.delete_entry(ROOT, 'mlp-cancer', versions=True)):\n"
        "    try:\n        call()\n    except ZooError as err:\n        st.error(str(err))\n"
    ).replace("ROOT", repr(str(store)))
    at = AppTest.from_string(script, default_timeout=TIMEOUT).run()
    assert not at.exception
    assert [e.value for e in at.error] == [
        "Deleting a version is off: this dashboard is served read-only (--read-only).",
        "Deleting an entry is off: this dashboard is served read-only (--read-only).",
    ]
    assert sorted(p.relative_to(store).as_posix() for p in store.rglob("*")) == before


def test_a_trainer_deletes_a_custom_entry_on_the_data_page(store):
    from streamlit.testing.v1 import AppTest

    name = "mlp-cancer-copy"
    try:
        zoo.import_model(zoo.load(f"{NAME}@1", store=store).model, NAME, name=name, store=store)
        entry_file = entries.entry_path(store, name)
        at = AppTest.from_string(f"import runpy\nrunpy.run_path({str(DATA_PAGE)!r})")
        at.default_timeout = TIMEOUT
        at.run()
        assert not at.exception
        assert [e.label for e in at.expander] == ["Delete a custom entry"]
        assert at.selectbox(key="data_delete_name").options == [name]
        # Without ticking "with its versions": one line, nothing deleted.
        at.checkbox(key="data_delete_confirm").check().run()
        at.button(key="data_delete").click().run()
        assert len(at.error) == 1 and "--versions" in at.error[0].value
        assert entry_file.exists() and Store(store).versions(name) == [1]
        at.checkbox(key="data_delete_versions").check().run()
        at.button(key="data_delete").click().run()
        assert not at.exception and not at.error
        assert [s.value for s in at.success] == [
            f"Deleted the entry {name} and its versions {name}@1."
        ]
        assert not entry_file.exists() and Store(store).versions(name) == []
        assert not at.expander  # no custom entry left to delete
        line = audit.read(store)[0]
        assert (line["via"], line["action"], line["target"], line["versions"]) == (
            "dashboard",
            "delete",
            name,
            [f"{name}@1"],
        )
        assert Store(store).versions(NAME) == [1, 2]  # the other entry is untouched
    finally:
        entries.forget(name)
