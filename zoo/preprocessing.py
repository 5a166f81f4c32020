"""The fitted preprocessing of a user's data, stored as JSON with every trained version.

A table's columns are imputed, standardized and one-hot encoded by a scikit-learn
`ColumnTransformer` fitted on the training split only (`TableTransform.fit`); what it
learned (medians, means, scales, most frequent values, categories) is kept as plain JSON,
never a pickle, and applied again from that JSON (`TableTransform.transform`), so a model
loaded in another process predicts from raw rows exactly as it was trained. Series,
image folders and NumPy files store the little they need the same way (window and
scaling, image size and colour, layout). `to_model_input` turns raw data into a model's
input with one version's `preprocessing.json`; `read` loads that file, checked against
the version's manifest.

Example:
    >>> import pandas as pd
    >>> train = pd.DataFrame({"size": [1.0, 3.0, None, 2.0],
    ...                       "colour": ["red", "blue", "red", None]})
    >>> t = TableTransform.fit(train, numeric=("size",), categorical=("colour",))
    >>> t.feature_names
    ('size', 'colour=blue', 'colour=red')
    >>> t.transform([{"size": 2.0, "colour": "green"}]).tolist()  # an unseen colour: all zeros
    [[0.0, 0.0, 0.0]]
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from zoo.errors import ArtifactError, DataError

FILE = "preprocessing.json"
KINDS = ("table", "series", "images", "npz")
LAYOUTS = ("tabular", "image", "sequence")


@dataclass(frozen=True)
class TableTransform:
    """Imputation, standardization and one-hot encoding of a table, as fitted numbers.

    Numeric columns: missing values become the training median, then `(x - mean) /
    scale`. Categorical columns: missing values become the training split's most frequent
    value, then one 0/1 column per category seen in training (an unseen value: all zeros).

    Example:
        >>> import pandas as pd
        >>> t = TableTransform.fit(pd.DataFrame({"a": [1.0, 3.0]}), numeric=("a",))
        >>> TableTransform.from_json(t.to_json()) == t
        True
    """

    numeric: tuple[str, ...] = ()
    fill: tuple[float, ...] = ()
    mean: tuple[float, ...] = ()
    scale: tuple[float, ...] = ()
    categorical: tuple[str, ...] = ()
    mode: tuple[str, ...] = ()
    categories: tuple[tuple[str, ...], ...] = ()

    @classmethod
    def fit(
        cls, frame: Any, numeric: Sequence[str] = (), categorical: Sequence[str] = ()
    ) -> TableTransform:
        """Fit scikit-learn's imputers, scaler and one-hot encoder on `frame` (training rows).

        Example:
            >>> import pandas as pd
            >>> t = TableTransform.fit(pd.DataFrame({"c": ["x", "y", "y"]}), categorical=("c",))
            >>> t.mode, t.categories
            (('y',), (('x', 'y'),))
        """
        from sklearn.compose import ColumnTransformer
        from sklearn.impute import SimpleImputer
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import OneHotEncoder, StandardScaler

        numeric, categorical = tuple(numeric), tuple(categorical)
        steps = []
        if numeric:
            steps.append(
                ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric)
            )
        if categorical:
            imputer = SimpleImputer(strategy="most_frequent")
            encoder = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
            steps.append(("cat", make_pipeline(imputer, encoder), categorical))
        if not steps:
            raise DataError("the table has no feature columns left; keep at least one column")
        table = _plain_frame(frame, numeric, categorical)
        fitted = ColumnTransformer([(n, p, list(c)) for n, p, c in steps]).fit(table)
        out: dict[str, Any] = {"numeric": numeric, "categorical": categorical}
        if numeric:
            imputer, scaler = fitted.named_transformers_["num"].steps
            out |= dict(
                fill=tuple(float(v) for v in imputer[1].statistics_),
                mean=tuple(float(v) for v in scaler[1].mean_),
                scale=tuple(float(v) for v in scaler[1].scale_),
            )
        if categorical:
            imputer, encoder = fitted.named_transformers_["cat"].steps
            out |= dict(
                mode=tuple(str(v) for v in imputer[1].statistics_),
                categories=tuple(tuple(str(v) for v in c) for c in encoder[1].categories_),
            )
        return cls(**out)

    @property
    def feature_names(self) -> tuple[str, ...]:
        """Names of the model's inputs: numeric columns, then `column=category`.

        Example:
            >>> t = TableTransform(categorical=("c",), mode=("x",), categories=(("x", "y"),))
            >>> t.feature_names
            ('c=x', 'c=y')
        """
        pairs = zip(self.categorical, self.categories, strict=True)
        onehot = (f"{c}={v}" for c, cats in pairs for v in cats)
        return (*self.numeric, *onehot)

    @property
    def columns(self) -> tuple[str, ...]:
        """The raw columns a row must have.

        Example:
            >>> TableTransform(numeric=("a",), fill=(0.0,), mean=(0.0,), scale=(1.0,)).columns
            ('a',)
        """
        return (*self.numeric, *self.categorical)

    def scaling(self) -> tuple[np.ndarray, np.ndarray]:
        """(scale, offset) per model input: raw value = scale * input + offset (one-hot: 1, 0).

        Example:
            >>> import pandas as pd
            >>> t = TableTransform.fit(pd.DataFrame({"a": [1.0, 3.0]}), numeric=("a",))
            >>> [v.tolist() for v in t.scaling()]
            [[1.0], [2.0]]
        """
        n_onehot = sum(len(c) for c in self.categories)
        scale = np.concatenate([np.asarray(self.scale, np.float64), np.ones(n_onehot)])
        offset = np.concatenate([np.asarray(self.mean, np.float64), np.zeros(n_onehot)])
        return scale, offset

    def transform(self, rows: Any) -> np.ndarray:
        """Raw rows (a pandas DataFrame, a list of dicts or one dict) as model inputs.

        Extra columns (the target, say) are ignored; a missing column, or text in a
        numeric column, is a `DataError` naming it.

        Example:
            >>> import pandas as pd
            >>> t = TableTransform.fit(pd.DataFrame({"a": [1.0, 3.0]}), numeric=("a",))
            >>> t.transform({"a": None}).tolist()  # missing: the training median
            [[0.0]]
        """
        frame = as_frame(rows)
        missing = [c for c in self.columns if c not in frame.columns]
        if missing:
            raise DataError(
                f"the rows lack the column(s) {', '.join(map(repr, missing))}; expected the "
                f"columns the model was trained on: {', '.join(self.columns)}"
            )
        parts: list[np.ndarray] = []
        for col, fill, mean, scale in zip(
            self.numeric, self.fill, self.mean, self.scale, strict=True
        ):
            values = numeric_values(frame[col], col).astype(np.float64)
            values = np.where(np.isnan(values), fill, values)
            parts.append(((values - mean) / scale)[:, None])
        for col, mode, cats in zip(self.categorical, self.mode, self.categories, strict=True):
            cells = category_values(frame[col])
            text = np.array([mode if v is None else v for v in cells], dtype=object)
            parts.append((text[:, None] == np.array(cats, dtype=object)[None, :]).astype(float))
        return np.concatenate(parts, axis=1).astype(np.float32)

    def to_json(self) -> dict[str, Any]:
        """The fitted numbers as plain JSON (what `preprocessing.json` holds).

        Example:
            >>> sorted(TableTransform(numeric=("a",), fill=(0.0,), mean=(0.0,),
            ...                       scale=(1.0,)).to_json())
            ['categorical', 'numeric']
        """
        return {
            "numeric": [
                {"name": c, "fill": f, "mean": m, "scale": s}
                for c, f, m, s in zip(self.numeric, self.fill, self.mean, self.scale, strict=True)
            ],
            "categorical": [
                {"name": c, "fill": f, "categories": list(cats)}
                for c, f, cats in zip(self.categorical, self.mode, self.categories, strict=True)
            ],
        }

    @classmethod
    def from_json(cls, data: Any) -> TableTransform:
        """Rebuild the transform from `to_json`'s output; a `DataError` if it is malformed.

        Example:
            >>> TableTransform.from_json({"numeric": [{"name": "a"}], "categorical": []})
            Traceback (most recent call last):
            ...
            zoo.errors.DataError: preprocessing: numeric column 1 lacks 'fill' (a finite number)
        """
        if not isinstance(data, Mapping):
            raise DataError("preprocessing: expected an object with numeric and categorical")
        numeric = _records(data.get("numeric"), "numeric")
        categorical = _records(data.get("categorical"), "categorical")
        for i, rec in enumerate(numeric, 1):
            for key in ("fill", "mean", "scale"):
                value = rec.get(key)
                if not (isinstance(value, int | float) and math.isfinite(value)):
                    raise DataError(
                        f"preprocessing: numeric column {i} lacks {key!r} (a finite number)"
                    )
            if rec["scale"] == 0:
                raise DataError(f"preprocessing: numeric column {i} has scale 0")
        for i, rec in enumerate(categorical, 1):
            cats = rec.get("categories")
            if not isinstance(rec.get("fill"), str) or not (
                isinstance(cats, list) and all(isinstance(c, str) for c in cats)
            ):
                raise DataError(
                    f"preprocessing: categorical column {i} needs 'fill' (text) and "
                    "'categories' (a list of text)"
                )
        return cls(
            numeric=tuple(r["name"] for r in numeric),
            fill=tuple(float(r["fill"]) for r in numeric),
            mean=tuple(float(r["mean"]) for r in numeric),
            scale=tuple(float(r["scale"]) for r in numeric),
            categorical=tuple(r["name"] for r in categorical),
            mode=tuple(r["fill"] for r in categorical),
            categories=tuple(tuple(r["categories"]) for r in categorical),
        )


def _records(value: Any, what: str) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(
        isinstance(r, dict) and isinstance(r.get("name"), str) for r in value
    ):
        raise DataError(f"preprocessing: {what!r} must be a list of columns with a 'name'")
    return value


def as_frame(rows: Any) -> Any:
    """Rows as a pandas DataFrame: a DataFrame, a list of dicts, or one dict (one row).

    Example:
        >>> as_frame({"a": 1}).shape
        (1, 1)
    """
    import pandas as pd

    if isinstance(rows, pd.DataFrame):
        return rows
    if isinstance(rows, Mapping):
        rows = [rows]
    try:
        frame = pd.DataFrame(list(rows))
    except (TypeError, ValueError) as err:
        raise DataError(
            f"rows must be a pandas DataFrame, a list of dicts or one dict ({err})"
        ) from None
    if frame.empty:
        raise DataError("no rows given; pass at least one row")
    return frame


def numeric_values(series: Any, name: str) -> np.ndarray:
    """A column as float64 with NaN for missing values; text is a `DataError`.

    Example:
        >>> import pandas as pd
        >>> numeric_values(pd.Series(["1", None, 2.5]), "a").tolist()
        [1.0, nan, 2.5]
    """
    import pandas as pd

    values = pd.to_numeric(series, errors="coerce")
    bad = values.isna() & ~series.isna()
    if bad.any():
        first = series[bad].iloc[0]
        raise DataError(
            f"column {name!r} is numeric but holds {first!r} ({int(bad.sum())} such value(s)); "
            "expected numbers or empty cells; fix the values, or declare the column "
            "categorical (--categorical)"
        )
    return np.asarray(values, dtype=np.float64)


def category_values(series: Any) -> list[str | None]:
    """A column as text per cell (None where missing); whole floats lose their '.0'.

    Example:
        >>> import pandas as pd
        >>> category_values(pd.Series([1.0, None, "a"]))
        ['1', None, 'a']
    """
    import pandas as pd

    out: list[str | None] = []
    for v in series.tolist():
        if v is None or (not isinstance(v, str) and pd.isna(v)):
            out.append(None)
        elif isinstance(v, float) and v.is_integer():
            out.append(str(int(v)))
        else:
            out.append(str(v))
    return out


def _plain_frame(frame: Any, numeric: tuple[str, ...], categorical: tuple[str, ...]) -> Any:
    # Float columns with NaN, object columns of text with NaN: what SimpleImputer reads
    # the same way in every pandas version (pandas 3 has its own string dtype).
    import pandas as pd

    data: dict[str, Any] = {c: numeric_values(frame[c], c) for c in numeric}
    for c in categorical:
        data[c] = np.array(
            [np.nan if v is None else v for v in category_values(frame[c])], dtype=object
        )
    return pd.DataFrame(data, index=range(len(frame)))


# --- raw data -> model input ------------------------------------------------------------


def to_model_input(prep: Mapping[str, Any], raw: Any) -> np.ndarray:
    """Raw data as the model input of the version whose preprocessing is `prep`.

    - table: rows (DataFrame, list of dicts, one dict) -> one input per row;
    - series: the last values of the series (a list, an array, or rows holding the
      column), at least `window + 1` of them -> one input: the window ending at the last;
    - images: image files (paths), PIL images or uint8 arrays -> one input per image,
      converted and resized like the training images;
    - npz: arrays shaped like the file's `x` (one sample or a batch).

    Example:
        >>> prep = {"kind": "series", "column": "v", "window": 3, "mean": 0.0, "std": 2.0}
        >>> to_model_input(prep, [1.0, 3.0, 5.0, 9.0]).ravel().tolist()  # changes / 2
        [1.0, 1.0, 2.0]
    """
    kind = prep.get("kind")
    if kind == "table":
        return TableTransform.from_json(prep.get("transform")).transform(raw)
    if kind == "series":
        return _series_input(prep, raw)
    if kind == "images":
        from zoo.userarrays import read_image

        size = tuple(prep["size"])
        items = [raw] if _is_single_image(raw) else list(raw)
        if not items:
            raise DataError("no images given; pass at least one image file or array")
        pixels = np.stack([read_image(item, size, prep["color"]) for item in items])
        return arrange(pixels.astype(np.float32) / 255.0, prep["layout"])
    if kind == "npz":
        x = np.asarray(raw)
        shape = tuple(prep["sample_shape"])
        if x.shape == shape:
            x = x[None]
        if x.shape[1:] != shape:
            raise DataError(
                f"input has shape {x.shape}; expected (n, {', '.join(map(str, shape))}), "
                "shaped like the x array of the .npz the model was trained on"
            )
        if x.dtype.kind not in "biuf":
            raise DataError(f"input has dtype {x.dtype}; expected numbers")
        x = x.astype(np.float64)
        if prep.get("scaling") == "unit255":
            x = x / 255.0
        elif prep.get("scaling") == "standard":
            x = (x - np.asarray(prep["mean"])) / np.asarray(prep["scale"])
        return arrange(x.astype(np.float32), prep["layout"])
    raise DataError(f"preprocessing kind {kind!r} is not one of {KINDS}")


def arrange(x: np.ndarray, layout: str) -> np.ndarray:
    """A batch of samples laid out for a family: image (h, w, c), sequence (steps,
    features) or tabular (flat features).

    Example:
        >>> arrange(np.zeros((2, 4, 4, 3)), "sequence").shape
        (2, 4, 12)
    """
    if layout == "image":
        return x if x.ndim == 4 else x[..., None]
    if layout == "sequence":
        return x if x.ndim == 3 else x.reshape(len(x), x.shape[1], -1)
    return x.reshape(len(x), -1)


def _is_single_image(raw: Any) -> bool:
    if isinstance(raw, str | Path):
        return True
    if isinstance(raw, np.ndarray):  # (h, w) or (h, w, 3|4): one image; more: a batch
        return raw.ndim == 2 or (raw.ndim == 3 and raw.shape[-1] in (3, 4))
    return type(raw).__module__.startswith("PIL.")


def _series_input(prep: Mapping[str, Any], raw: Any) -> np.ndarray:
    import pandas as pd

    column = prep["column"]
    if isinstance(raw, pd.DataFrame) or (
        isinstance(raw, list) and raw and isinstance(raw[0], Mapping)
    ):
        frame = as_frame(raw)
        if column not in frame.columns:
            raise DataError(f"the rows lack the series column {column!r}")
        raw = numeric_values(frame[column], column)
    values = np.asarray(raw, dtype=np.float64).ravel()
    window = int(prep["window"])
    if len(values) < window + 1:
        raise DataError(
            f"the series needs its last {window + 1} values (no gaps) to forecast the next "
            f"one; got {len(values)}"
        )
    gaps = np.flatnonzero(~np.isfinite(values[-window - 1 :]))
    if gaps.size:
        where = len(values) - window - 1 + gaps  # positions in what was given
        raise DataError(
            f"the series' last {window + 1} values must all be numbers, but value "
            f"{int(where[0])} of {len(values)} (0-based) is {values[where[0]]}"
            + (f" ({gaps.size} such)" if gaps.size > 1 else "")
            + "; fill the gap (e.g. interpolate) or pass values up to before it"
        )
    changes = np.diff(values[-window - 1 :])
    return ((changes - prep["mean"]) / prep["std"]).astype(np.float32)[None, :, None]


def series_forecast(prep: Mapping[str, Any], raw: Any, change: np.ndarray) -> np.ndarray:
    """The forecast level: the series' last value plus the predicted change (data units).

    Example:
        >>> prep = {"kind": "series", "column": "v", "window": 2, "mean": 0.0, "std": 2.0}
        >>> series_forecast(prep, [1.0, 2.0, 4.0], np.array([[0.5]])).tolist()
        [5.0]
    """
    import pandas as pd

    if isinstance(raw, pd.DataFrame) or (
        isinstance(raw, list) and raw and isinstance(raw[0], Mapping)
    ):
        raw = numeric_values(as_frame(raw)[prep["column"]], prep["column"])
    last = float(np.asarray(raw, dtype=np.float64).ravel()[-1])
    return last + np.ravel(change) * prep["std"] + prep["mean"]


# --- the stored file ----------------------------------------------------------------------


def read(folder: Path) -> dict[str, Any] | None:
    """The `preprocessing.json` of one version folder (None when it has none), checked
    against the version's manifest (listed, same sha256) and for its shape.

    Example:
        >>> import tempfile
        >>> read(Path(tempfile.mkdtemp()))  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        zoo.errors.ArtifactError: ...manifest.json is missing; ...
    """
    from zoo import artifact
    from zoo.store import sha256

    try:
        manifest = artifact.read_json(folder / artifact.MANIFEST, limit=artifact.MAX_MANIFEST_BYTES)
        meta = manifest.get("files", {}).get(FILE) if isinstance(manifest, dict) else None
        if meta is None:
            return None
        path = folder / FILE
        if not path.is_file() or sha256(path) != meta.get("sha256"):
            raise artifact.Damage(path, "fails its checksum: it was edited after it was written")
        data = artifact.read_json(path)
        check(data)
    except (artifact.Damage, DataError) as err:
        raise ArtifactError(
            f"{err}; the version's fitted preprocessing cannot be used. Train it again"
        ) from None
    return data


def check(data: Any) -> dict[str, Any]:
    """Raise `DataError` unless `data` is a preprocessing record the zoo writes.

    Example:
        >>> check({"kind": "pickle"})
        Traceback (most recent call last):
        ...
        zoo.errors.DataError: preprocessing: kind is 'pickle'; expected one of ('table', ...
    """
    if not isinstance(data, dict) or data.get("kind") not in KINDS:
        kind = data.get("kind") if isinstance(data, dict) else type(data).__name__
        raise DataError(f"preprocessing: kind is {kind!r}; expected one of {KINDS}")
    kind = data["kind"]
    if kind == "table":
        TableTransform.from_json(data.get("transform"))
    if kind == "series":
        if not isinstance(data.get("column"), str) or not isinstance(data.get("window"), int):
            raise DataError("preprocessing: a series needs 'column' (text) and 'window'")
        for key in ("mean", "std"):
            if not isinstance(data.get(key), int | float) or not math.isfinite(data[key]):
                raise DataError(f"preprocessing: a series needs {key!r} (a finite number)")
    if kind in ("images", "npz") and data.get("layout") not in LAYOUTS:
        raise DataError(f"preprocessing: layout must be one of {LAYOUTS}")
    if (
        kind == "images"
        and not (isinstance(data.get("size"), list) and len(data["size"]) == 2)
        or (kind == "images" and data.get("color") not in ("grayscale", "rgb"))
    ):
        raise DataError("preprocessing: images need 'size' [height, width] and 'color'")
    if kind == "npz" and not isinstance(data.get("sample_shape"), list):
        raise DataError("preprocessing: an npz needs 'sample_shape'")
    return data
