"""Turn a user's uploaded file into model input, or a `DataError` saying what is wrong.

Images (PNG / JPEG) become one 8x8 grayscale digit in [0, 1], the format of the zoo's
digits data (ink bright on a dark background). CSV files become rows of a tabular
model's features or one window of a series model's input, as written (the data's own
units); `Dataset.features_from_units` turns them into model input (standardized like the
training data).
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np

from zoo.errors import DataError

MAX_PIXELS = 4096 * 4096  # ~16.8 megapixels: larger uploads are refused before decoding
MAX_CSV_ROWS = 1000
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

    if not raw:
        raise DataError("the uploaded CSV file is empty; expected a header row and values")
    try:
        frame = pd.read_csv(io.BytesIO(raw))
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as err:
        raise DataError(f"the file is not a readable CSV ({err}); save it as CSV") from None
    if frame.empty:
        raise DataError("the CSV has a header but no rows; add at least one row of values")
    if len(frame) > MAX_CSV_ROWS:
        raise DataError(f"the CSV has {len(frame)} rows; the limit is {MAX_CSV_ROWS}")
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


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
