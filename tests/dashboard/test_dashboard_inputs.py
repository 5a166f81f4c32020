"""Uploads turned into model input: the happy paths and every refusal, without Streamlit."""

from __future__ import annotations

import io

import numpy as np
import pytest

from dashboard import inputs
from zoo.errors import DataError


def _encode(img, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt)
    return buf.getvalue()


def _stroke(mode: str = "L", ink: int = 0, paper: int = 255):
    from PIL import Image

    arr = np.full((40, 40), paper, "uint8")
    arr[5:35, 18:22] = ink
    return Image.fromarray(arr).convert(mode)


def test_dark_ink_on_white_becomes_bright_ink_in_unit_range():
    x = inputs.image_to_digit(_encode(_stroke()))
    assert x.shape == (8, 8) and x.dtype == np.float32
    assert x.min() == 0.0 and x.max() == 1.0
    assert x[:, 3:5].mean() > 0.5 > x[:, :2].mean()  # the stroke is bright, the paper dark


def test_light_ink_jpeg_and_forced_ink_agree():
    light = _encode(_stroke("RGB", ink=255, paper=0), "JPEG")
    auto = inputs.image_to_digit(light)
    forced = inputs.image_to_digit(light, ink="light")
    np.testing.assert_allclose(auto, forced)
    assert auto[:, 3:5].mean() > auto[:, :2].mean()


def test_transparent_png_is_drawn_on_white():
    from PIL import Image

    img = Image.new("RGBA", (32, 32), (0, 0, 0, 0))  # transparent black paper
    img.paste((0, 0, 0, 255), (14, 4, 18, 28))  # opaque black stroke
    x = inputs.image_to_digit(_encode(img))
    assert x[:, 3:5].mean() > x[:, :2].mean()


@pytest.mark.parametrize(
    "raw, expected",
    [
        (b"", "empty"),
        (b"GIF89a not really", "not an image"),
        ("gif", "expected PNG or JPEG"),
        ("huge", "MP"),
    ],
    ids=["empty", "garbage", "gif", "huge"],
)
def test_images_that_are_refused(raw, expected):
    from PIL import Image

    if raw == "gif":
        raw = _encode(_stroke(), "GIF")
    elif raw == "huge":
        raw = _encode(Image.new("L", (5000, 4000)))
    with pytest.raises(DataError, match=expected):
        inputs.image_to_digit(raw)


def test_csv_rows_ignore_extra_columns_and_keep_raw_values():
    raw = b"id,b,a,label\n7,4,1,x\n8,6,3,y\n"
    np.testing.assert_allclose(inputs.csv_rows(raw, ["a", "b"]), [[1.0, 4.0], [3.0, 6.0]])


def test_csv_rows_of_measurements_become_the_models_inputs():
    import zoo

    d = zoo.dataset("mlp-cancer")
    raw = d.features_to_units(d.x_test[:2])
    text = ",".join(d.feature_names) + "\n"
    text += "\n".join(",".join(repr(float(v)) for v in row) for row in raw)
    x = d.features_from_units(inputs.csv_rows(text.encode(), d.feature_names))
    np.testing.assert_allclose(x, d.x_test[:2], atol=1e-5)


@pytest.mark.parametrize(
    "raw, expected",
    [
        (b"a\n1\n", "lacks 1 of the model's 2"),
        (b"a,b\n1,\n", "missing or non-numeric values in column\\(s\\) b \\(line\\(s\\) 2\\)"),
        (b"a,b\n1,inf\n", "infinite"),
        (b"a,b\n", "no rows"),
        (b"a,b\n" + b"1,2\n" * 1001, "limit is 1000"),
        (b"\xff\xfe\x00garbage", "not a readable CSV|lacks"),
    ],
    ids=["missing-column", "nan", "inf", "no-rows", "too-many", "binary"],
)
def test_csv_rows_that_are_refused(raw, expected):
    with pytest.raises(DataError, match=expected):
        inputs.csv_rows(raw, ["a", "b"])


def test_csv_window_is_one_column_of_exact_length():
    x = inputs.csv_window(b"v\n1\n2\n3\n", "v", 3)
    np.testing.assert_allclose(x[:, 0], [1.0, 2.0, 3.0])
    with pytest.raises(DataError, match="no column 'w'"):
        inputs.csv_window(b"v\n1\n", "w", 1)


def test_a_row_with_more_fields_than_the_header_is_refused_not_shifted():
    # pandas made the two extra leading fields an index and returned [[3, 4, 5]].
    with pytest.raises(DataError, match="line 2 of the CSV has 5 fields but its header has 3"):
        inputs.csv_rows(b"a,b,c\n1,2,3,4,5\n", ["a", "b", "c"])
    with pytest.raises(DataError, match="line 3 of the CSV has 2 fields"):
        inputs.csv_rows(b"a,b,c\n1,2,3\n1,2\n", ["a", "b", "c"])
    with pytest.raises(DataError, match="line 4 of the CSV has 4 fields"):
        inputs.csv_window(b"v\n1\n\n1,2,3,4\n", "v", 2)  # blank lines keep their numbers
    quoted = inputs.csv_rows(b'name,a\n"Smith, J",1.5\n', ["a"])
    np.testing.assert_allclose(quoted, [[1.5]])


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            b"x," * 600_000 + b"x\n" + b"1," * 600_000 + b"1\n",
            "the CSV is 2.3 MB; the limit is 2 MB",
        ),
        (b"x," * 5_000 + b"x\n" + b"1," * 5_000 + b"1\n", "header has 5001 columns; the limit is"),
        (b"a\n" + b"1" * 70_000 + b"\n", "a line of 70000 bytes"),
        (b"a,\n1,2\n", "column 2 of the CSV header has no name"),
        (b"a,a\n1,2\n", "names column 'a' twice"),
        (b"a,b\n1,\x002\n", "binary data"),
        (b"a,b\n" + b"1,2\n" * 5000, "more than 1000 rows"),
    ],
    ids=["huge", "wide", "long-line", "blank-name", "duplicate", "nul", "many-rows"],
)
def test_wide_or_huge_csv_is_refused_before_parsing(raw, expected, monkeypatch):
    def no_pandas(*args, **kwargs):
        raise AssertionError("pandas parsed a file that should have been refused first")

    monkeypatch.setattr("pandas.read_csv", no_pandas)
    with pytest.raises(DataError, match=expected):
        inputs.csv_rows(raw, ["a", "b"])
