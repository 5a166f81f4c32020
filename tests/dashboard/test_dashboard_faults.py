"""Bad input, bad artifacts and bugs: a clear message on the page, never a traceback."""

from __future__ import annotations

import io

import numpy as np
import pytest

import zoo

PNG = "image/png"


def _png(array: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(array.astype("uint8")).save(buf, "PNG")
    return buf.getvalue()


def _digit_png() -> bytes:
    """A dark '1' on white, 64x64, the way a user would draw it."""
    img = np.full((64, 64), 255)
    img[8:56, 28:36] = 0
    return _png(img)


def _upload(open_page, model: str, name: str, content: bytes, mime: str):
    at = open_page("explain", model=model)
    at.radio(key="explain_source").set_value("your own input").run()
    at.file_uploader(key="upload").upload(name, content, mime).run()
    return at


# --------------------------------------------------------------------------- uploads


def test_upload_a_drawn_digit_and_explain_it(open_page, metric, texts):
    at = _upload(open_page, "cnn-digits@1", "one.png", _digit_png(), PNG)
    assert not at.exception and not at.error
    assert "Predicted" in texts(at)
    at.button(key="explain_go").click().run()
    assert not at.exception
    assert metric(at, "method") == "layerwise"


@pytest.mark.parametrize(
    "name, content, expected",
    [
        ("notes.png", b"this is not an image at all", "not an image"),
        ("cut.png", _digit_png()[:60], "damaged or truncated"),
        ("huge.png", _png(np.zeros((4200, 4200))), "MP"),
        ("blank.png", _png(np.full((20, 20), 255)), "blank"),
    ],
    ids=["not-an-image", "truncated", "huge", "blank"],
)
def test_bad_images_are_refused_with_a_message(open_page, name, content, expected):
    at = _upload(open_page, "gru-digits@1", name, content, PNG)
    assert not at.exception
    assert len(at.error) == 1 and expected in at.error[0].value
    assert at.title[0].value == "Explain"  # the rest of the page still works


def test_upload_a_csv_row_for_the_tabular_model(open_page, texts):
    d = zoo.dataset("mlp-cancer")
    raw = d.features_to_units(d.x_test[:2])
    header = ",".join(d.feature_names)
    lines = [header] + [",".join(f"{v:.6g}" for v in row) for row in raw]
    at = _upload(open_page, "mlp-cancer@1", "rows.csv", "\n".join(lines).encode(), "text/csv")
    assert not at.exception and not at.error
    assert "Predicted" in texts(at)


@pytest.mark.parametrize(
    "content, expected",
    [
        (b"a,b\n1,2\n", "lacks 30"),
        (None, "missing or non-numeric"),
        (b"", "empty"),
    ],
    ids=["wrong-columns", "nan", "empty"],
)
def test_bad_csv_rows_are_refused_with_a_message(open_page, content, expected):
    if content is None:  # every feature present, one value missing
        names = zoo.dataset("mlp-cancer").feature_names
        values = ["1.0"] * len(names)
        values[3] = ""
        content = (",".join(names) + "\n" + ",".join(values) + "\n").encode()
    at = _upload(open_page, "mlp-cancer@1", "rows.csv", content, "text/csv")
    assert not at.exception
    assert len(at.error) == 1 and expected in at.error[0].value


def test_a_series_window_of_the_wrong_length_is_refused(open_page):
    content = b"weekly change\n" + b"0.1\n" * 10
    at = _upload(open_page, "lstm-co2@1", "window.csv", content, "text/csv")
    assert not at.exception
    assert "exactly 52" in at.error[0].value


# --------------------------------------------------------------------------- store


def test_corrupted_artifact_is_named_and_the_rest_keeps_working(open_page, store_copy, frame):
    model_file = store_copy / "mlp-cancer" / "1" / "model.keras"
    model_file.write_bytes(model_file.read_bytes()[:100])  # truncated

    at = open_page("zoo", store=store_copy)
    assert not at.exception
    table = frame(at, "status").set_index("entry")
    assert table.loc["mlp-cancer", "status"] == "corrupted"
    assert "model.keras" in table.loc["mlp-cancer", "problem"]
    assert (table.drop("mlp-cancer")["status"] == "ok").all()
    assert any("mlp-cancer@1: corrupted" in w.value for w in at.warning)

    # Pickers list only good versions; asking for the bad one falls back to a good one.
    for page in ("model", "explain", "curves", "report"):
        at = open_page(page, store=store_copy, model="mlp-cancer@1")
        assert not at.exception, page
        picker = at.selectbox(key="model_picker")
        assert "mlp-cancer@1" not in picker.options
        assert picker.value != "mlp-cancer@1"


def test_a_file_the_manifest_does_not_list_is_shown_where_its_version_is(open_page, store_copy):
    (store_copy / "mlp-cancer" / "1" / "evil.py").write_text("print('hi')")

    at = open_page("zoo", store=store_copy)
    assert not at.exception
    (shown,) = [w.value for w in at.warning if "evil.py" in w.value]
    assert shown.startswith("mlp-cancer@1: ") and "is not in the manifest" in shown
    for page in ("model", "explain", "curves"):  # usable as before, with the warning on top
        at = open_page(page, store=store_copy, model="mlp-cancer@1")
        assert not at.exception, page
        assert at.selectbox(key="model_picker").value == "mlp-cancer@1"
        assert any("evil.py" in w.value for w in at.warning), page
    at = open_page("model", store=store_copy, model="cnn-digits@1")
    assert not any("evil.py" in w.value for w in at.warning)  # only where it is


def test_empty_store_offers_quick_training(open_page, tmp_path, texts):
    at = open_page("zoo", store=tmp_path / "empty")
    assert not at.exception
    assert at.button(key="train_default").label == "Train the default zoo (quick)"
    assert "no trained model yet" in texts(at)
    at = open_page("model", store=tmp_path / "empty")
    assert not at.exception
    assert "No usable trained model" in texts(at)


# --------------------------------------------------------------------------- bugs


def _failing_page(zoo_error: bool, message: str) -> None:
    # Run by AppTest as a script of its own: imports inside.
    from dashboard import ui
    from zoo.errors import ConfigError

    def body() -> None:
        raise (ConfigError if zoo_error else RuntimeError)(message)

    ui.run_page(body)


def _run_failing_page(zoo_error: bool, message: str) -> object:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(_failing_page, args=(zoo_error, message), default_timeout=30)
    at.run()
    assert not at.exception
    assert len(at.error) == 1
    return at.error[0].value


def test_an_unexpected_error_is_logged_not_shown(caplog):
    shown = _run_failing_page(False, "secret internal detail")
    assert "RuntimeError" in shown
    assert "secret internal detail" not in shown
    assert "secret internal detail" in caplog.text


def test_a_zoo_error_is_shown_as_its_message():
    assert _run_failing_page(True, "dropout=1.5 is out of range") == ("dropout=1.5 is out of range")
