"""Turn a user's uploaded file into model input, or a `DataError` saying what is wrong.

Images (PNG / JPEG) become one 8x8 grayscale digit in [0, 1], the format of the zoo's
digits data (ink bright on a dark background). CSV files become rows of a tabular
model's features or one window of a series model's input, as written (the data's own
units); `Dataset.features_from_units` turns them into model input (standardized like the
training data).

A CSV is checked before it is parsed, with cheap counts on the raw bytes (size, the
header's column count, line length), so a huge or 600,000-column upload is refused in
milliseconds; then every row must have exactly as many fields as the header, because a
row with more would otherwise shift its values into the wrong columns.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

import numpy as np

from zoo.errors import DataError

MAX_PIXELS = 4096 * 4096  # ~16.8 megapixels: larger uploads are refused before decoding
MAX_CSV_ROWS = 1000
# 1000 rows of the widest zoo model's 30 features plus an id and a label take ~300 KB;
# these limits leave room for that and refuse what no zoo model reads.
MAX_CSV_BYTES = 2 * 1024 * 1024
MAX_CSV_COLUMNS = 1000
MAX_CSV_LINE = 64 * 1024
IMAGE_FORMATS = ("PNG", "JPEG")


def image_to_digit(raw: bytes, *, size: tuple[int, int] = (8, 8), ink: str = "auto") -> np.ndarray:
    """An uploaded PNG/JPEG as a (H, W) grayscale digit in [0, 1], bright ink.

    The image is composited over white (transparent PNGs), converted to grayscale,
    averaged down to `size` (area averaging, like the 4x4 blocks of scikit-learn's
    digits), inverted when the ink is dark (`ink`: 'auto' decides by the border
    brightness, 'dark' or 'light' force it) and stretched to [0, 1].

    Example:
        >>> from PIL import Image
        >>> buf = io.BytesIO(); Image.new("L", (32, 32), 255).save(buf, "PNG")
        >>> image_to_digit(buf.getvalue())
        Traceback (most recent call last):
        ...
        zoo.errors.DataError: the image is blank (every pixel has the same brightness); ...
    """
    from PIL import Image, UnidentifiedImageError

    if not raw:
        raise DataError("the uploaded file is empty; upload a PNG or JPEG image of a digit")
    if ink not in ("auto", "dark", "light"):
        raise DataError(f"ink={ink!r}; expected 'auto', 'dark' or 'light'")
    try:
        img = Image.open(io.BytesIO(raw))
    except Image.DecompressionBombError:
        raise DataError(
            f"the image has too many pixels (more than {MAX_PIXELS / 1e6:.1f} MP); crop or "
            "shrink it (the model sees 8x8 pixels)"
        ) from None
    except (UnidentifiedImageError, OSError, ValueError):
        raise DataError(
            "the uploaded file is not an image Pillow can read; upload a PNG or JPEG file"
        ) from None
    if img.format not in IMAGE_FORMATS:
        raise DataError(
            f"the uploaded image is {img.format or 'of an unknown format'}; expected PNG or "
            "JPEG; convert it first"
        )
    width, height = img.size
    if width * height > MAX_PIXELS:
        raise DataError(
            f"the image is {width}x{height} pixels ({width * height / 1e6:.1f} MP); the limit "
            f"is {MAX_PIXELS / 1e6:.1f} MP; crop or shrink it (the model sees 8x8 pixels)"
        )
    if width < 1 or height < 1:
        raise DataError("the image has no pixels; upload a PNG or JPEG image of a digit")
    try:
        img.load()
    except (OSError, ValueError, Image.DecompressionBombError) as err:
        raise DataError(
            f"the image file is damaged or truncated ({err}); upload the file again or save it anew"
        ) from None
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        img = img.convert("RGBA")
        white = Image.new("RGBA", img.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, img)
    gray = np.asarray(img.convert("L").resize(size, Image.Resampling.BOX), "float64") / 255.0
    if ink == "auto":
        border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
        dark_ink = border.mean() > 0.5
    else:
        dark_ink = ink == "dark"
    if dark_ink:
        gray = 1.0 - gray
    lo, hi = float(gray.min()), float(gray.max())
    if hi - lo < 1e-6:
        raise DataError(
            "the image is blank (every pixel has the same brightness); upload a picture "
            "with a digit on a plain background"
        )
    return ((gray - lo) / (hi - lo)).astype("float32")


def _read_csv(raw: bytes) -> object:
    import pandas as pd

    header, rows = csv_table(raw)
    return pd.DataFrame(rows, columns=header)


def csv_table(raw: bytes) -> tuple[list[str], list[list[str]]]:
    """The header and rows of an uploaded CSV, as strings, after every cheap check.

    Refused with a `DataError`: an empty, too large, non-UTF-8 or binary file; a header
    with too many columns, a blank or duplicate name; a line too long; a row whose number
    of fields differs from the header's (a longer row would shift its values); more than
    `MAX_CSV_ROWS` rows; a header without rows.

    Example:
        >>> csv_table(b"a,b\\n1,2\\n")
        (['a', 'b'], [['1', '2']])
        >>> csv_table(b"a,b,c\\n1,2,3,4,5\\n")
        Traceback (most recent call last):
        ...
        zoo.errors.DataError: line 2 of the CSV has 5 fields but its header has 3; ...
    """
    if not raw:
        raise DataError("the uploaded CSV file is empty; expected a header row and values")
    if len(raw) > MAX_CSV_BYTES:
        raise DataError(
            f"the CSV is {len(raw) / 2**20:.1f} MB; the limit is {MAX_CSV_BYTES / 2**20:.0f} MB "
            f"({MAX_CSV_ROWS} rows); upload fewer rows"
        )
    # Counted on the raw bytes, before anything is decoded or parsed.
    first = raw.split(b"\n", 1)[0]
    if first.count(b",") + 1 > MAX_CSV_COLUMNS:
        raise DataError(
            f"the CSV header has {first.count(b',') + 1} columns; the limit is "
            f"{MAX_CSV_COLUMNS}; keep the model's feature columns only"
        )
    longest = max(len(line) for line in raw.split(b"\n"))
    if longest > MAX_CSV_LINE:
        raise DataError(
            f"the CSV has a line of {longest} bytes; the limit is {MAX_CSV_LINE}; expected one "
            "row of values per line"
        )
    if b"\x00" in raw:
        raise DataError("the file is not a readable CSV (it holds binary data); save it as CSV")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise DataError(
            f"the file is not a readable CSV (byte {err.start} is not UTF-8 text); save it as "
            "CSV in UTF-8"
        ) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] = []
    rows: list[list[str]] = []
    try:
        for row in reader:
            if not row:  # blank lines, as pandas skips them
                continue
            if not header:
                header = _check_header(row)
                continue
            if len(row) != len(header):
                raise DataError(
                    f"line {reader.line_num} of the CSV has {len(row)} fields but its header "
                    f"has {len(header)}; every row needs exactly one value per column (quote "
                    "a value that holds a comma)"
                )
            rows.append(row)
            if len(rows) > MAX_CSV_ROWS:
                raise DataError(
                    f"the CSV has more than {MAX_CSV_ROWS} rows; the limit is {MAX_CSV_ROWS}"
                )
    except csv.Error as err:
        raise DataError(f"the file is not a readable CSV ({err}); save it as CSV") from None
    if not header:
        raise DataError("the uploaded CSV file is empty; expected a header row and values")
    if not rows:
        raise DataError("the CSV has a header but no rows; add at least one row of values")
    return header, rows


def _check_header(row: list[str]) -> list[str]:
    header = [name.strip() for name in row]
    blank = [i + 1 for i, name in enumerate(header) if not name]
    if blank:
        raise DataError(f"column {blank[0]} of the CSV header has no name; name every column")
    seen: set[str] = set()
    for name in header:
        if name in seen:
            raise DataError(
                f"the CSV header names column {name!r} twice; every column needs its own name"
            )
        seen.add(name)
    return header


def _numbers(frame: object, columns: Sequence[str]) -> np.ndarray:
    import pandas as pd

    values = frame[list(columns)].apply(pd.to_numeric, errors="coerce")  # type: ignore[index]
    bad = values.isna()
    if bad.any().any():
        cols = [c for c in columns if bad[c].any()]
        rows = sorted({int(i) + 2 for i in np.where(bad.to_numpy().any(axis=1))[0]})
        raise DataError(
            f"the CSV has missing or non-numeric values in column(s) {', '.join(cols[:5])}"
            f"{' ...' if len(cols) > 5 else ''} (line(s) {', '.join(map(str, rows[:5]))}); "
            "fill them with numbers"
        )
    arr = values.to_numpy("float64")
    if not np.isfinite(arr).all():
        raise DataError("the CSV has infinite values; replace them with finite numbers")
    return arr


def csv_rows(raw: bytes, feature_names: Sequence[str]) -> np.ndarray:
    """Rows of a tabular model's features from a CSV whose header names every feature.

    Extra columns (an id, the label) are ignored; a missing feature is an error that
    names it. The values are returned as written (raw measurements, float64).

    Example:
        >>> csv_rows(b"a,b\\n1,2\\n", ["a", "b"]).tolist()
        [[1.0, 2.0]]
    """
    frame = _read_csv(raw)
    names = [str(f) for f in feature_names]
    missing = [f for f in names if f not in frame.columns]  # type: ignore[attr-defined]
    if missing:
        raise DataError(
            f"the CSV lacks {len(missing)} of the model's {len(names)} feature column(s): "
            f"{', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}; the header must "
            "name every feature (download the example CSV for the format)"
        )
    return _numbers(frame, names)


def csv_window(raw: bytes, column: str, length: int) -> np.ndarray:
    """One input window (length, 1) of a series model from a CSV column, oldest first.

    The column must hold exactly `length` numbers, returned as written (the data's own
    units, float64).

    Example:
        >>> csv_window(b"v\\n1\\n2\\n", "v", 2).shape
        (2, 1)
    """
    frame = _read_csv(raw)
    if column not in frame.columns:  # type: ignore[attr-defined]
        cols = ", ".join(map(str, frame.columns))  # type: ignore[attr-defined]
        raise DataError(
            f"the CSV has no column {column!r} (it has: {cols}); name the column {column!r}"
        )
    x = _numbers(frame, [column])[:, 0]
    if len(x) != length:
        raise DataError(
            f"the CSV has {len(x)} value(s) in {column!r}; the model reads a window of exactly "
            f"{length}, oldest first"
        )
    return x[:, None]
