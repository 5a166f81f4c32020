"""The Data page: an uploaded table or zipped image folder is previewed and becomes a zoo
entry of the dashboard's store; bad uploads are one line and write nothing; once trained,
the new entry has its Model page.

AppTest (Streamlit 1.67) simulates uploads (`file_uploader(...).upload`), so the page is
driven as a user would. It is not in the app's navigation yet (dashboard/app.py is being
changed elsewhere), so it runs on its own: a two-line script that runs the page's file.
The Model page runs in the real app, against this module's own store (not the session's
tiny zoo, which this file does not need to train).
"""

from __future__ import annotations

import io
import tomllib
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import zoo
from dashboard import data, uploads
from zoo import entries
from zoo.cli import main
from zoo.trained import TrainedModel

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "dashboard" / "views" / "data.py"
APP = ROOT / "dashboard" / "app.py"
TIMEOUT = 60
NAMES = ("mlp-wine", "cnn-pngs", "mlp-wine-raw")


# --- the files ----------------------------------------------------------------------------


def _wine_csv() -> bytes:
    """scikit-learn's wine table with a categorical column and missing values."""
    from sklearn.datasets import load_wine

    frame = load_wine(as_frame=True).frame
    rng = np.random.default_rng(0)
    frame.insert(3, "region", rng.choice(["north", "south", "east"], len(frame)))
    frame.loc[rng.choice(len(frame), 20, replace=False), "alcohol"] = np.nan
    frame.loc[rng.choice(len(frame), 12, replace=False), "region"] = None
    frame["target"] = frame["target"].map({0: "barolo", 1: "grignolino", 2: "barbera"})
    return frame.to_csv(index=False).encode()


def _digits_zip(per_class: int = 8) -> bytes:
    """A zip of a folder `digits/` with one sub-folder of PNGs per digit."""
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for label in range(10):
            for i in np.flatnonzero(digits.target == label)[:per_class]:
                png = io.BytesIO()
                Image.fromarray((digits.images[i] * 255 / 16).astype("uint8")).save(png, "PNG")
                z.writestr(f"digits/{label}/{i}.png", png.getvalue())
    return buf.getvalue()


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, content in members.items():
            z.writestr(name, content)
    return buf.getvalue()


# --- running the page ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory):
    """This module's store; its custom entries are forgotten in this process afterwards."""
    yield tmp_path_factory.mktemp("datastore")
    for name in NAMES:
        entries.forget(name)


@pytest.fixture
def data_page(monkeypatch: pytest.MonkeyPatch, store: Path):
    """`data_page(root=None)`: an AppTest of the Data page, run once, on store `root`
    (default: this module's store)."""
    from streamlit.testing.v1 import AppTest

    def run(root: Path | None = None):
        monkeypatch.setenv("ZOO_HOME", str(root or store))
        at = AppTest.from_string(f"import runpy\nrunpy.run_path({str(PAGE)!r})")
        at.default_timeout = TIMEOUT
        return at.run()

    return run


def _upload(at, filename: str, raw: bytes, mime: str = "application/octet-stream"):
    at.file_uploader(key="data_upload").upload(filename, raw, mime)
    return at.run()


def _files(store: Path) -> list[str]:
    return sorted(p.relative_to(store).as_posix() for p in store.rglob("*"))


def _zoo_list(store: Path, capsys) -> str:
    capsys.readouterr()
    assert main(["--store", str(store), "list"]) == 0
    return capsys.readouterr().out


# --- the tests ----------------------------------------------------------------------------


def test_wine_csv_is_previewed_and_becomes_an_entry(data_page, store, capsys):
    at = _upload(data_page(), "wine.csv", _wine_csv(), "text/csv")
    assert not at.exception and not at.error
    head = at.dataframe[0].value
    assert len(head) == 10 and "region" in head.columns
    caption = " ".join(c.value for c in at.caption)
    assert "178 rows" in caption and "missing values: alcohol 20, region 12" in caption
    assert "categorical columns: region, target" in caption
    assert at.selectbox(key="data_target").value == "target"
    assert at.multiselect(key="data_categorical").value == ["region"]
    assert at.text_input(key="data_name").value == "mlp-wine"
    at.button(key="data_create").click()
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert "Entry **mlp-wine** created" in at.success[0].value
    # Saved in the store's private folder, which the entry's source names.
    entry = tomllib.loads((store / "_entries/mlp-wine.toml").read_text())
    saved = Path(entry["data"]["path"])
    assert saved.parent.parent == store / "_uploads" / "mlp-wine" and saved.name == "wine.csv"
    assert saved.read_bytes() == _wine_csv()
    assert "mlp-wine" in _zoo_list(store, capsys)
    assert "_uploads" not in zoo.Store(store).names()


def test_zipped_png_folder_is_previewed_and_becomes_an_entry(data_page, store, capsys):
    at = _upload(data_page(), "digits.zip", _digits_zip(), "application/zip")
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any(c.value.startswith("10 classes, 80 images") for c in at.caption)
    assert len(at.get("image")) == 10 * 4  # four images per class
    assert at.text_input(key="data_size").value == "8x8"
    # 'cnn-digits' is a built-in entry: the suggested name steps around it.
    assert at.text_input(key="data_name").value == "cnn-digits-2"
    at.text_input(key="data_name").set_value("cnn-pngs")
    at.button(key="data_create").click()
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    spec = zoo.get_spec("cnn-pngs")
    assert spec.family == "cnn" and spec.task == "classification"
    folder = Path(entries.describe_source("cnn-pngs")["path"])
    assert sorted(p.name for p in folder.iterdir()) == [str(d) for d in range(10)]
    assert folder.is_relative_to(store / "_uploads" / "cnn-pngs")
    assert "cnn-pngs" in _zoo_list(store, capsys)


def _bad_uploads() -> dict[str, tuple[str, bytes, str]]:
    many = {f"d/{i % 2}/{i}.png": b"" for i in range(uploads.MAX_ZIP_MEMBERS + 1)}
    one_class = pd.DataFrame({"a": range(30), "y": ["same"] * 30}).to_csv(index=False)
    return {
        "path traversal": (
            "evil.zip",
            _zip({"d/0/1.png": b"x", "d/1/1.png": b"x", "../evil": b"x"}),
            "'../evil' with an absolute path or '..'",
        ),
        "member count": ("many.zip", _zip(many), f"at most {uploads.MAX_ZIP_MEMBERS} are"),
        "one-class csv": ("bad.csv", one_class.encode(), "of bad.csv has one class only"),
    }


@pytest.mark.parametrize("case", list(_bad_uploads()))
def test_bad_uploads_are_one_line_and_write_nothing(data_page, tmp_path, case):
    store = tmp_path / "store"
    store.mkdir()
    filename, raw, expected = _bad_uploads()[case]
    at = _upload(data_page(store), filename, raw)
    if not at.error:  # the file itself reads: the entry is refused when it is created
        at.text_input(key="data_name").set_value("mlp-bad")
        at.button(key="data_create").click()
        at.run()
    assert not at.exception
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "\n" not in errors[0] and expected in errors[0], errors
    assert _files(store) == []
    with pytest.raises(zoo.UnknownModelError):
        zoo.get_spec("mlp-bad")


def test_zip_member_checks():
    for bad in ("/etc/passwd", "C:\\evil.png", "d/../../x.png"):
        with pytest.raises(zoo.DataError, match="absolute path or '..'"):
            uploads.zip_members(_zip({"d/0/a.png": b"x", bad: b"x"}))
    link = zipfile.ZipInfo("d/0/link.png")
    link.external_attr = 0o120777 << 16
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(link, "/etc/passwd")
    with pytest.raises(zoo.DataError, match="symbolic link"):
        uploads.zip_members(buf.getvalue())
    with pytest.raises(zoo.DataError, match="not a zip file"):
        uploads.zip_members(b"PK not really")


def _train_outside(store: Path, name: str, **options: object) -> TrainedModel:
    """One epoch of `name`, trained outside the dashboard; its cached store listing is
    cleared, or the new version would show only after STORE_TTL_S (a fast machine gets to
    the page first)."""
    run = zoo.train(name, store=store, epochs=1, early_stopping=0, **options)
    data.clear_store_caches()
    return run


def test_trained_entry_shows_on_the_model_zoo_and_train_pages(monkeypatch, store):
    from streamlit.testing.v1 import AppTest

    if not (store / "_entries/mlp-wine.toml").exists():  # run on its own
        uploads.create_entry(store, "mlp-wine", "wine.csv", _wine_csv(), family="mlp",
                             target="target")  # fmt: skip
    run = _train_outside(store, "mlp-wine", steps_per_execution=1)
    assert run.ref == "mlp-wine@1"
    monkeypatch.setenv("ZOO_HOME", str(store))
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.run()
    at.switch_page("views/model.py")
    at.query_params["model"] = "mlp-wine@1"
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.selectbox(key="model_picker").value == "mlp-wine@1"
    shown = {m.label: m.value for m in at.metric}
    assert shown["accuracy"] == f"{run.metrics['accuracy']:.4f}"
    at.switch_page("views/zoo.py")
    at.run()
    entries_shown = [list(f.value["entry"]) for f in at.dataframe if "entry" in f.value.columns]
    added = {p.stem for p in (store / "_entries").glob("*.toml")}  # mlp-wine, cnn-pngs
    assert entries_shown and added <= set(entries_shown[0])
    at.switch_page("views/train.py")
    at.run()
    assert added <= set(at.selectbox(key="train_entry").options)
    # An entry whose file is removed: its versions leave the pickers, no page breaks.
    (store / "_entries" / "mlp-wine.toml").unlink()
    entries.sync(store)
    data.clear_store_caches()  # else the listing is re-read after STORE_TTL_S
    at.switch_page("views/model.py")
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any(i.value.startswith("No usable trained model") for i in at.info)


def test_trained_image_entry_predicts_an_uploaded_image_on_the_explain_page(monkeypatch, store):
    from PIL import Image
    from streamlit.testing.v1 import AppTest

    if not (store / "_entries/cnn-pngs.toml").exists():  # run on its own
        uploads.create_entry(store, "cnn-pngs", "digits.zip", _digits_zip(), family="cnn")
    run = _train_outside(store, "cnn-pngs", steps_per_execution=1)
    monkeypatch.setenv("ZOO_HOME", str(store))
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.run()
    at.switch_page("views/explain.py")
    at.query_params["model"] = run.ref
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.get("image")  # the test sample, drawn as an image
    at.radio(key="explain_source").set_value("your own input")
    at.run()
    png = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (20, 16), "uint8")).save(png, "PNG")
    at.file_uploader(key="upload").upload("mine.png", png.getvalue(), "image/png")
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any(m.value.startswith("Predicted **") for m in at.markdown)


def test_trained_table_entry_explains_raw_rows_uploaded_on_the_explain_page(monkeypatch, store):
    from streamlit.testing.v1 import AppTest

    # The columns of the user's own file (a text category, a blank), not model-space ones.
    uploads.create_entry(store, "mlp-wine-raw", "wine.csv", _wine_csv(), family="mlp",
                         target="target")  # fmt: skip
    run = _train_outside(store, "mlp-wine-raw")
    rows = _wine_csv().decode().splitlines()
    header = rows[0].split(",")
    keep = [i for i, name in enumerate(header) if name != "target"]
    picked = [rows[0], *rows[1:3]]
    upload = "\n".join(",".join(line.split(",")[i] for i in keep) for line in picked)
    upload = upload.replace("north", "").encode()  # a missing category: imputed
    monkeypatch.setenv("ZOO_HOME", str(store))
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.run()
    at.switch_page("views/explain.py")
    at.query_params["model"] = run.ref
    at.run()
    at.radio(key="explain_source").set_value("your own input")
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    shown = " ".join(c.value for c in at.caption)
    assert "region" in shown and "region_" not in shown  # the file's columns, not one-hot
    at.file_uploader(key="upload").upload("mine.csv", upload, "text/csv")
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any(m.value.startswith("Predicted **") for m in at.markdown)
    at.number_input(key="upload_row").set_value(1).run()
    assert not at.exception and not at.error, [e.value for e in at.error]


def test_viewers_cannot_add_data(data_page, monkeypatch, tmp_path):
    from dashboard import access

    monkeypatch.setenv(access.READ_ONLY_ENV, "1")
    at = data_page(tmp_path)
    assert not at.exception
    assert [e.value for e in at.error] == [
        "Adding your own data is off: this dashboard is served read-only (--read-only)."
    ]
    assert not at.get("file_uploader")
