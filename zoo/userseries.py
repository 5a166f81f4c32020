"""A series from the user's CSV file (one numeric column), windowed like `lstm-co2`.

The series kind of `zoo.userdata`: the column's levels (gaps filled linearly), their
changes standardized with the training period's mean and standard deviation, windows of
`window` changes with the next change as the target, split chronologically. The fitted
numbers are the version's preprocessing (`kind: series`).

Example:
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "s.csv")
    >>> _ = open(path, "w").write("v\\n" + "\\n".join(str(i) for i in range(30)))
    >>> read_series(Source("series", path, column="v"))[0][:3].tolist()
    [0.0, 1.0, 2.0]
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from zoo.data import Dataset, DatasetFacts
from zoo.errors import DataError
from zoo.preprocessing import numeric_values
from zoo.userdata import Source, _dataset, _missing_column, read_table


def read_series(s: Source) -> tuple[np.ndarray, Any, int]:
    """The series' levels with gaps filled (linear), its dates (or None) and the number
    of gaps filled; a `DataError` line for a missing column, text or too few values.

    Example:
        >>> read_series(Source("series", "/no/such.csv", column="ppm"))
        Traceback (most recent call last):
        ...
        zoo.errors.DataError: table /no/such.csv does not exist; check the path
    """
    import pandas as pd

    frame = read_table(s)
    if not s.column:
        raise DataError("a series needs its column; pass --column with one of the columns")
    if s.column not in frame.columns:
        raise _missing_column(s.column, frame, s.path, "--column")
    values = pd.Series(numeric_values(frame[s.column], s.column))
    dates = None
    if s.date_column:
        if s.date_column not in frame.columns:
            raise _missing_column(s.date_column, frame, s.path, "--date-column")
        dates = pd.to_datetime(frame[s.date_column], errors="coerce")
        if dates.isna().any():
            raise DataError(
                f"column {s.date_column!r} of {s.path} holds values that are not dates "
                f"(e.g. {frame[s.date_column][dates.isna()].iloc[0]!r}); fix them"
            )
    gaps = int(values.isna().sum())
    if values.notna().sum() < 20:
        raise DataError(
            f"column {s.column!r} of {s.path} has {int(values.notna().sum())} values; a "
            "series needs at least 20 to be windowed and split"
        )
    levels = values.interpolate(method="linear").bfill().ffill().to_numpy(np.float64)
    return levels, dates, gaps


def load_series(f: DatasetFacts, s: Source, val: float, test: float, window: int) -> Dataset:
    """The series' windows of `window` standardized changes and the next change as the
    target, split chronologically (train, validation, test), like `lstm-co2`.

    Example:
        >>> import tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "s.csv")
        >>> _ = open(path, "w").write("v\\n" + "\\n".join(str(i * i) for i in range(60)))
        >>> s = Source("series", path, column="v", layout="sequence")
        >>> d = load_series(DatasetFacts("demo", "forecast", None, source=s), s, 0.2, 0.2, 5)
        >>> d.x_train.shape, d.y_test.shape, d.preprocessing["window"]
        ((32, 5, 1), (11, 1), 5)
    """
    levels, dates, gaps = read_series(s)
    changes = np.diff(levels)  # like lstm-co2: changes are stationary where levels trend
    n = len(changes) - window
    n_test, n_val = int(round(n * test)), int(round(n * val))
    n_train = n - n_test - n_val
    if min(n_test, n_val, n_train) < 1:
        raise DataError(
            f"the series of {s.path} has {len(levels)} values: too few for windows of "
            f"{window} plus train, validation and test windows; lower window"
        )
    x_idx = np.arange(window)[None, :] + np.arange(n)[:, None]
    target_idx = np.arange(n) + window
    train_changes = changes[: target_idx[n_train - 1] + 1]
    mu, sigma = float(train_changes.mean()), float(train_changes.std()) or 1.0
    scaled = ((changes - mu) / sigma).astype(np.float32)
    x, y = scaled[x_idx][..., None], scaled[target_idx][:, None]
    parts = (slice(0, n_train), slice(n_train, n_train + n_val), slice(n_train + n_val, n))
    extra = {
        "last_level_test": levels[target_idx][parts[2]],
        "next_level_test": levels[target_idx + 1][parts[2]],
    }
    if dates is not None:
        when = np.asarray(dates)[target_idx + 1]
        extra["dates_test"] = when[parts[2]].astype("datetime64[D]")
    prep = {"kind": "series", "column": s.column, "window": window, "mean": mu, "std": sigma}
    return _dataset(
        f,
        x,
        y,
        parts,
        feature_names=(f"change of {s.column}",),
        description={
            "source": f"your series: column {s.column!r} of {s.path}",
            "url": Path(s.path).as_uri(),
            "n_samples": len(levels),
            "splits": {"train": n_train, "val": n_val, "test": n_test},
            "input": f"the last {window} changes of {s.column}, standardized with the "
            "training period's mean and standard deviation",
            "target": "the next change (the forecast level is the last level plus it)",
            "gaps_filled": gaps,
            "split": "chronological: train, then validation, then test; no shuffling",
        },
        extra=extra,
        target_scaling=(sigma, mu),
        feature_scaling=(sigma, mu),
        preprocessing=prep,
    )
