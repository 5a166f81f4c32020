"""Datasets from the user's own files: a CSV/TSV table, a series, an image folder, an .npz.

A `Source` says where the data is and how to read it (kind, absolute path, target or
column, image size and colour, and the `layout` its family reads: tabular, image or
sequence). `inspect` reads it once and returns its `DatasetFacts` (task, classes, input
shape, series length), which `zoo.entries` records in the entry file, so validation knows
them without reading the data again; `load_source` is the facts table's loader: it reads
and splits the data like the bundled datasets (stratified for classes, chronological for
a series), fits every statistic on the training split only, and returns a `Dataset`
whose `preprocessing` holds the fitted numbers as JSON (`zoo.preprocessing`), stored
with each trained version.

Tables are read here, series in `zoo.userseries`, image folders and .npz files in
`zoo.userarrays`.
Whatever is wrong with a file is one `DataError` line: what was wrong, what was
expected, how to fix it.

Example:
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "t.csv")
    >>> rows = ["size,colour,label"] + [f"{i},{'red' if i % 3 else 'blue'},{i % 2}"
    ...                                  for i in range(40)]
    >>> _ = open(path, "w").write("\\n".join(rows))
    >>> f = inspect(Source("csv", path, target="label"), "demo")
    >>> f.kind, f.class_names, f.input_shape
    ('tabular', ('0', '1'), (3,))
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from zoo.data import Dataset, DatasetFacts
from zoo.errors import ConfigError, DataError
from zoo.preprocessing import TableTransform, category_values, numeric_values

SOURCE_KINDS = ("csv", "series", "images", "npz")
COLORS = ("grayscale", "rgb")
# A numeric target with at most this many distinct whole values is a class label.
MAX_INTEGER_CLASSES = 20
# Text columns with more distinct values than this are free text or ids, not categories.
MAX_CATEGORIES = 100
MAX_CLASSES = 1000
LOADER = "zoo.userdata:load_source"


@dataclass(frozen=True)
class Source:
    """Where a user's dataset is and how to read it (recorded in the entry file).

    `kind` is csv (a table with a `target` column), series (one numeric `column` of a
    CSV), images (a folder with one sub-folder per class) or npz. `task` is '' (detect),
    'classification' or 'regression'; `categorical`, `numeric` and `drop` override the
    detected column types of a table; `size` is (height, width) and `color` grayscale or
    rgb for images ('' / None: detected); `layout` is how the family reads one sample.

    Example:
        >>> s = Source("images", "/data/pets", size=(32, 32), color="rgb", layout="image")
        >>> Source.from_dict(s.to_dict()) == s
        True
    """

    kind: str
    path: str
    target: str = ""
    task: str = ""
    categorical: tuple[str, ...] = ()
    numeric: tuple[str, ...] = ()
    drop: tuple[str, ...] = ()
    sep: str = ""
    column: str = ""
    date_column: str = ""
    size: tuple[int, int] | None = None
    color: str = ""
    layout: str = "tabular"

    def to_dict(self) -> dict[str, Any]:
        """Plain values for the entry file (empty options left out).

        Example:
            >>> Source("npz", "/d/x.npz").to_dict()
            {'kind': 'npz', 'path': '/d/x.npz', 'layout': 'tabular'}
        """
        out = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}
        return {k: v for k, v in out.items() if v not in ("", (), [], None)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Source:
        """Rebuild from `to_dict`; unknown keys or wrong types are a `ConfigError`.

        Example:
            >>> Source.from_dict({"kind": "csv", "path": "/t.csv", "colour": "red"})
            Traceback (most recent call last):
            ...
            zoo.errors.ConfigError: unknown data option(s) ['colour']; expected some of ...
        """
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown data option(s) {unknown}; expected some of {sorted(known)}")
        values = dict(data)
        for key in ("categorical", "numeric", "drop"):
            value = values.get(key, ())
            if not (isinstance(value, list | tuple) and all(isinstance(v, str) for v in value)):
                raise ConfigError(f"data option {key} must be a list of column names")
            values[key] = tuple(value)
        if values.get("size") is not None:
            size = values["size"]
            if not (
                isinstance(size, list | tuple)
                and len(size) == 2
                and all(isinstance(v, int) and 1 <= v <= 4096 for v in size)
            ):
                raise ConfigError(f"image size must be [height, width] in 1..4096, got {size!r}")
            values["size"] = (int(size[0]), int(size[1]))
        for key in ("kind", "path", "target", "task", "sep", "column", "date_column", "color"):
            if not isinstance(values.get(key, ""), str):
                raise ConfigError(f"data option {key} must be text, got {values[key]!r}")
        source = cls(**values)
        source.check()
        return source

    def check(self) -> None:
        """Raise `ConfigError` for an unknown kind, task, colour or layout, or a relative path.

        Example:
            >>> Source("xls", "/t.xls").check()
            Traceback (most recent call last):
            ...
            zoo.errors.ConfigError: data kind 'xls' is not one of ('csv', 'series', 'images', 'npz')
        """
        if self.kind not in SOURCE_KINDS:
            raise ConfigError(f"data kind {self.kind!r} is not one of {SOURCE_KINDS}")
        if self.task not in ("", "classification", "regression"):
            raise ConfigError(
                f"task={self.task!r}; expected 'classification' or 'regression' (or leave it "
                "out to detect it)"
            )
        if self.color not in ("", *COLORS):
            raise ConfigError(f"color={self.color!r}; expected 'grayscale' or 'rgb'")
        if self.layout not in ("tabular", "image", "sequence"):
            raise ConfigError(f"layout={self.layout!r}; expected tabular, image or sequence")
        if not os.path.isabs(self.path):
            raise ConfigError(f"data path {self.path!r} must be absolute")


def fingerprint(source: Source) -> str:
    """A key that changes when the source's files change (size, time), for caching.

    Example:
        >>> fingerprint(Source("csv", "/no/such/file.csv", target="y")).endswith(":missing")
        True
    """
    path = Path(source.path)
    digest = hashlib.sha256(repr(source).encode())
    try:
        if path.is_dir():
            for here, _, files in sorted(os.walk(path)):
                for name in sorted(files):
                    st = os.stat(os.path.join(here, name))
                    digest.update(f"{here}/{name}:{st.st_size}:{st.st_mtime_ns}".encode())
        else:
            st = path.stat()
            digest.update(f"{st.st_size}:{st.st_mtime_ns}".encode())
    except OSError:
        return digest.hexdigest() + ":missing"
    return digest.hexdigest()


# --- reading ------------------------------------------------------------------------------


def _check_path(path: Path, what: str, folder: bool = False) -> None:
    if not path.exists():
        raise DataError(f"{what} {path} does not exist; check the path")
    if folder and not path.is_dir():
        raise DataError(f"{what} {path} is a file; expected a folder with one sub-folder per class")
    if not folder and path.is_dir():
        raise DataError(f"{what} {path} is a folder; expected a file")


def read_table(source: Source) -> Any:
    """The source's CSV/TSV file as a pandas DataFrame (TSV by suffix, or `source.sep`).

    Example:
        >>> read_table(Source("csv", "/no/such.csv", target="y"))
        Traceback (most recent call last):
        ...
        zoo.errors.DataError: table /no/such.csv does not exist; check the path
    """
    import pandas as pd

    path = Path(source.path)
    _check_path(path, "table")
    sep = source.sep or ("\t" if path.suffix.lower() in (".tsv", ".tab") else ",")
    try:
        frame = pd.read_csv(path, sep=sep)
    except pd.errors.EmptyDataError:
        raise DataError(f"table {path} is empty; expected a header line and rows") from None
    except UnicodeDecodeError as err:
        raise DataError(
            f"table {path} is not UTF-8 text (byte {err.start}); save it as UTF-8 CSV"
        ) from None
    except (pd.errors.ParserError, ValueError, OSError) as err:
        message = " ".join(str(err).split())
        raise DataError(
            f"table {path} cannot be read as CSV ({message}); expected comma-separated "
            "values with a header line (tab-separated for .tsv; --sep to name another)"
        ) from None
    if frame.empty:
        raise DataError(f"table {path} has a header but no rows; add rows")
    if len(sep) == 1:
        _check_fields(path, sep)
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def _check_fields(path: Path, sep: str) -> None:
    # pandas reads rows longer than the header by turning their first fields into an
    # index (every value shifted one column or more) and fills short rows with NaN: both
    # silently. Every row must have the header's number of fields, as uploads must.
    import csv

    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh, delimiter=sep)
        width = None
        try:
            for row in reader:
                if not row:  # blank lines, as pandas skips them
                    continue
                if width is None:
                    width = len(row)
                elif len(row) != width:
                    what = "comma" if sep == "," else "tab" if sep == "\t" else repr(sep)
                    raise DataError(
                        f"table {path}: line {reader.line_num} has {len(row)} fields but the "
                        f"header has {width}; every row needs exactly one value per column "
                        f"(quote a value that holds a {what})"
                    )
        except csv.Error as err:  # a field over csv's 128 KB limit, which pandas read
            raise DataError(
                f"table {path}: line {reader.line_num} cannot be read as CSV ({err}); "
                "expected one value per column and header field"
            ) from None


def _missing_column(name: str, frame: Any, path: str, flag: str) -> DataError:
    import difflib

    columns = [str(c) for c in frame.columns]
    close = difflib.get_close_matches(name, columns, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return DataError(
        f"column {name!r} is not in {path}.{hint} Its columns are: {', '.join(columns)}; "
        f"pass {flag} with one of them"
    )


def _target(frame: Any, source: Source) -> tuple[Any, np.ndarray, tuple[str, ...] | None, Any]:
    # (rows with a target, y, class names or None, their row numbers in the file)
    import pandas as pd

    if not source.target:
        raise DataError("a table needs a target column; pass --target with one of its columns")
    if source.target not in frame.columns:
        raise _missing_column(source.target, frame, source.path, "--target")
    raw = frame[source.target]
    keep = ~raw.isna()
    rows = np.flatnonzero(np.asarray(keep))
    frame, raw = frame[keep].reset_index(drop=True), raw[keep].reset_index(drop=True)
    if frame.empty:
        raise DataError(f"target column {source.target!r} of {source.path} has no values")
    numeric = pd.api.types.is_numeric_dtype(raw) and not pd.api.types.is_bool_dtype(raw)
    task = source.task
    if not task:
        whole = numeric and bool(np.all(np.mod(np.asarray(raw, np.float64), 1) == 0))
        few = raw.nunique() <= MAX_INTEGER_CLASSES
        task = "classification" if not numeric or (whole and few) else "regression"
    if task == "regression":
        if not numeric:
            raise DataError(
                f"target column {source.target!r} is not numeric (e.g. {raw.iloc[0]!r}); "
                "regression needs numbers; leave out --task regression to classify it"
            )
        return frame, np.asarray(raw, np.float64), None, rows
    if numeric:
        values = sorted(set(np.asarray(raw, np.float64).tolist()))
        labels = [str(v) for v in category_values(pd.Series(values))]
        index = {v: i for i, v in enumerate(values)}
        y = np.array([index[v] for v in np.asarray(raw, np.float64).tolist()], np.int64)
    else:
        text = [str(v) for v in raw.tolist()]
        labels = sorted(set(text))
        where = {v: i for i, v in enumerate(labels)}
        y = np.array([where[v] for v in text], np.int64)
    _check_classes(labels, y, f"target column {source.target!r} of {source.path}")
    return frame, y, tuple(str(v) for v in labels), rows


def _check_classes(labels: list[Any], y: np.ndarray, what: str) -> None:
    if len(labels) < 2:
        raise DataError(
            f"{what} has one class only ({labels[0]!r}); a classifier needs at least two; "
            "pick another target, or pass --task regression for a numeric one"
        )
    if len(labels) > MAX_CLASSES:
        raise DataError(
            f"{what} has {len(labels)} distinct values: too many classes (at most "
            f"{MAX_CLASSES}); pass --task regression for a numeric target"
        )
    counts = np.bincount(y, minlength=len(labels))
    if counts.min() < 3:
        rare = labels[int(counts.argmin())]
        raise DataError(
            f"{what}: class {str(rare)!r} has {int(counts.min())} sample(s); every class needs "
            "at least 3 (train, validation and test); add samples or remove that class"
        )


def _columns(frame: Any, source: Source) -> tuple[tuple[str, ...], tuple[str, ...]]:
    # (numeric, categorical) feature columns: detected, then the overrides.
    import pandas as pd

    named = (*source.categorical, *source.numeric, *source.drop)
    for col in named:
        if col not in frame.columns:
            raise _missing_column(col, frame, source.path, "--categorical/--numeric/--drop")
    both = set(source.categorical) & set(source.numeric)
    if both:
        raise ConfigError(f"column(s) {sorted(both)} are declared both numeric and categorical")
    numeric: list[str] = []
    categorical: list[str] = []
    for col in frame.columns:
        if col == source.target or col in source.drop:
            continue
        series = frame[col]
        if series.isna().all():
            raise DataError(
                f"column {col!r} of {source.path} is empty (every value missing); nothing can "
                f"be imputed from it; drop it with --drop {col}"
            )
        if col in source.numeric:
            numeric_values(series, col)  # text in it is an error naming the column
            numeric.append(col)
        elif col in source.categorical:
            categorical.append(col)
        elif pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
            numeric.append(col)
        else:
            n = series.nunique()
            if n > MAX_CATEGORIES:
                raise DataError(
                    f"column {col!r} of {source.path} is text with {n} distinct values (e.g. "
                    f"{series.dropna().iloc[0]!r}); it cannot be one-hot encoded (at most "
                    f"{MAX_CATEGORIES} categories): drop it with --drop {col}, or make it "
                    "numeric"
                )
            categorical.append(col)
    if not numeric and not categorical:
        raise DataError(f"table {source.path} has no feature columns besides the target")
    return tuple(numeric), tuple(categorical)


def _split(
    y: np.ndarray, val: float, test: float, seed: int, stratify: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(y))
    try:
        rest, te = train_test_split(
            idx, test_size=test, random_state=seed, stratify=y if stratify else None
        )
        tr, va = train_test_split(
            rest,
            test_size=val / (1 - test),
            random_state=seed,
            stratify=y[rest] if stratify else None,
        )
    except ValueError as err:
        raise DataError(
            f"{len(y)} samples cannot be split into train, validation and test ({err}); add "
            "samples, or raise validation_fraction / test_fraction"
        ) from None
    return tr, va, te


def _sizes(*parts: np.ndarray) -> dict[str, int]:
    return dict(zip(("train", "val", "test"), (len(p) for p in parts), strict=True))


def _dataset(f: DatasetFacts, x: np.ndarray, y: np.ndarray, parts: tuple, **kw: Any) -> Dataset:
    tr, va, te = parts
    return Dataset(
        name=f.name,
        task=f.task,
        input_kind=f.input_kind,
        x_train=x[tr],
        y_train=y[tr],
        x_val=x[va],
        y_val=y[va],
        x_test=x[te],
        y_test=y[te],
        class_names=f.class_names,
        unit=f.unit,
        feature_unit=f.feature_unit,
        **kw,
    )


def _same_classes(f: DatasetFacts, class_names: tuple[str, ...] | None) -> None:
    if f.class_names != class_names:
        raise DataError(
            f"{f.source.path if f.source else f.name} changed since its entry was added: its "
            f"classes are now {list(class_names or [])}, the entry recorded "
            f"{list(f.class_names or [])}; add the entry again (zoo add ... --replace)"
        )


def _load_table(f: DatasetFacts, s: Source, val: float, test: float, seed: int) -> Dataset:
    table = read_table(s)
    frame, y, class_names, rows = _target(table, s)
    numeric, categorical = _columns(frame, s)
    if f.name:
        _same_classes(f, class_names)
    parts = _split(y, val, test, seed, stratify=class_names is not None)
    transform = TableTransform.fit(frame.iloc[parts[0]], numeric, categorical)
    x = transform.transform(frame)
    target_scaling = (1.0, 0.0)
    if class_names is None:
        mu, sd = float(y[parts[0]].mean()), float(y[parts[0]].std()) or 1.0
        target_scaling = (sd, mu)
        y = ((y - mu) / sd).astype(np.float32)[:, None]
    prep = {
        "kind": "table",
        "target": s.target,
        "transform": transform.to_json(),
        "class_names": list(class_names) if class_names else None,
        "target_scaling": list(target_scaling),
    }
    return _dataset(
        f,
        x,
        y,
        parts,
        feature_names=transform.feature_names,
        description={
            "source": f"your table {s.path}",
            "url": Path(s.path).as_uri(),
            "n_samples": len(y),
            "splits": _sizes(*parts),
            "input": f"{len(numeric)} numeric column(s) (missing values: the training "
            "median; standardized with training mean and standard deviation) and "
            f"{len(categorical)} categorical column(s) (missing values: the most frequent "
            "training value; one-hot encoded, unseen values all zeros); every statistic "
            "fitted on the training split only (scikit-learn ColumnTransformer)",
            "target": s.target,
            "rows_without_target_dropped": len(table) - len(rows),
            "split": "stratified by class, shuffled with the run's seed"
            if class_names
            else "shuffled with the run's seed",
            "numeric_columns": list(numeric),
            "categorical_columns": list(categorical),
        },
        target_scaling=target_scaling,
        feature_scaling=transform.scaling(),
        preprocessing=prep,
        # Which data rows of the file (0-based) each split holds.
        extra={f"rows_{k}": rows[p] for k, p in zip(("train", "val", "test"), parts, strict=True)},
    )


def load_source(
    f: DatasetFacts, *, val: float, test: float, seed: int, window: int = 52, **_: Any
) -> Dataset:
    """The facts table's loader of a user's dataset (`f.source` says what to read).

    Example:
        >>> import tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "t.csv")
        >>> _ = open(path, "w").write("a,y\\n" + "\\n".join(f"{i},{i % 2}" for i in range(30)))
        >>> f = inspect(Source("csv", path, target="y"), "demo")
        >>> d = load_source(f, val=0.2, test=0.2, seed=0)
        >>> d.x_train.shape, d.class_names, d.preprocessing["kind"]
        ((18, 1), ('0', '1'), 'table')
    """
    from zoo.userarrays import load_images, load_npz
    from zoo.userseries import load_series

    s = f.source
    if not isinstance(s, Source):
        raise DataError(f"dataset {f.name!r} has no source to read")
    if s.kind == "csv":
        return _load_table(f, s, val, test, seed)
    if s.kind == "series":
        return load_series(f, s, val, test, window)
    if s.kind == "images":
        return load_images(f, s, val, test, seed)
    return load_npz(f, s, val, test, seed)


# --- facts, read once when an entry is added ----------------------------------------------


def inspect(source: Source, name: str, *, window: int = 52) -> DatasetFacts:
    """Read `source` once and return its facts (dataset `name`): task, classes, input shape.

    Every problem with the data is raised here, as one `DataError` line, before anything
    is written. The facts' `source` is `source`; its loader is `load_source`.

    Example:
        >>> inspect(Source("csv", "/no/such.csv", target="y"), "demo")
        Traceback (most recent call last):
        ...
        zoo.errors.DataError: table /no/such.csv does not exist; check the path
    """
    source.check()
    kind = {"tabular": "tabular", "image": "image", "sequence": "sequence"}[source.layout]
    if source.kind == "series":
        kind = "forecast"
    blank = DatasetFacts("", kind, None, source=source)
    if source.kind == "series":
        from zoo.userseries import load_series, read_series

        levels, _, _ = read_series(source)
        data = load_series(blank, source, 0.15, 0.15, min(window, max(2, len(levels) // 4)))
        class_names, shape, steps = None, None, len(levels) - 1
    else:
        data = load_source(blank, val=0.15, test=0.15, seed=0)
        class_names, shape, steps = _classes_of(source, data), data.input_shape, None
    where = Path(source.path).name
    limits = (
        f"Trained on your data ({where}); it has not seen data from other sources or "
        "periods, and will still answer confidently on them."
    )
    unit = ""
    return DatasetFacts(
        name,
        kind,
        class_names,
        unit=unit,
        feature_unit=unit,
        limits=limits,
        loader=LOADER,
        input_shape=shape,
        series_length=steps,
        source=source,
    )


def _classes_of(source: Source, data: Dataset) -> tuple[str, ...] | None:
    # The blank facts carry no classes: the loader computed them; read them back.
    from zoo.userarrays import scan_images

    prep = data.preprocessing or {}
    if source.kind == "images":
        return scan_images(Path(source.path))[0]
    names = prep.get("class_names")
    return tuple(names) if names else None
