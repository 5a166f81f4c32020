"""Custom entries: the user's own data as zoo entries that persist in the store.

`add_entry` (CLI: `zoo add`) reads the data once (`zoo.userdata.inspect`: every problem
with the file is one line, and nothing is written), picks family defaults that fit the
data's shape (input size, classes, task), validates them, and writes one declarative
TOML file, `<store>/_entries/<name>.toml`: family, the data source (kind, absolute path,
target / column / image options), the facts read from the data and the default options.
Entry names start with a letter, so `_entries` can never be a model's folder, and the
store's listing ignores it (it holds no version folders).

`sync(root)` registers the entries of a store (`zoo.registry.register` plus the dataset's
facts in `zoo.data`); every `Store` calls it for its folder and the registry for the
default store, so after a restart `zoo list`, `zoo describe`, `zoo train` and `zoo.load`
see them. A damaged entry file is skipped (with a warning) instead of breaking the
listing; asking for that entry names the file and what is wrong.

Example:
    >>> import tempfile, os
    >>> folder = tempfile.mkdtemp()
    >>> path = os.path.join(folder, "t.csv")
    >>> rows = [f"{i},{'ab'[i % 2]},{i % 2}" for i in range(40)]
    >>> _ = open(path, "w").write("\\n".join(["size,kind,label", *rows]))
    >>> spec = add_entry("mlp-demo", family="mlp", csv=path, target="label",
    ...                  store=os.path.join(folder, "store"), epochs=3)
    >>> spec.task, spec.dataset, zoo.TrainConfig.for_model("mlp-demo").epochs
    ('classification', 'user:mlp-demo', 3)
    >>> sorted(os.listdir(os.path.join(folder, "store", "_entries")))
    ['mlp-demo.toml']
    >>> forget("mlp-demo")
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from zoo import registry
from zoo.data import DATASETS, DatasetFacts, facts, register_facts, unregister_facts
from zoo.entryfile import FAMILIES, dataset_name, entry_text, read_entry
from zoo.entryfile import FORMAT as FORMAT  # re-exported: the entry file format
from zoo.errors import ConfigError, DataError, ZooError
from zoo.userarrays import read_npz
from zoo.userdata import Source, inspect

log = logging.getLogger("zoo")

ENTRIES_DIR = "_entries"
# What each kind of data can be read by, and how (the layout of one sample).
_KIND_NAMES = {"csv": "table", "series": "series", "images": "image folder", "npz": "NumPy file"}

# path -> (mtime_ns, size) of the entry files registered, and names whose file is broken.
_SEEN: dict[str, tuple[int, int]] = {}
_BROKEN: dict[str, str] = {}


def entry_path(root: str | Path, name: str) -> Path:
    """Where custom entry `name` is stored in the store `root`.

    Example:
        >>> entry_path("/s", "mlp-wine").as_posix()
        '/s/_entries/mlp-wine.toml'
    """
    return Path(root) / ENTRIES_DIR / f"{name}.toml"


def parse_size(size: Any) -> tuple[int, int] | None:
    """An image size as (height, width): from 'WIDTHxHEIGHT' text, one number, or a pair.

    Example:
        >>> parse_size("32x24"), parse_size(16), parse_size(None)
        ((24, 32), (16, 16), None)
    """
    if size is None or size == "":
        return None
    try:
        if isinstance(size, str):
            parts = [int(p) for p in size.lower().split("x")]
            width, height = (parts[0], parts[0]) if len(parts) == 1 else parts
            pair = (height, width)
        elif isinstance(size, int):
            pair = (size, size)
        else:
            height, width = size
            pair = (int(height), int(width))
    except (ValueError, TypeError):
        pair = (0, 0)
    if not all(1 <= v <= 4096 for v in pair):
        raise ConfigError(
            f"image size {size!r} is not valid; expected WIDTHxHEIGHT in pixels, each 1..4096 "
            "(e.g. --size 32x32)"
        )
    return pair


def source_from(
    *,
    family: str,
    csv: str | Path | None = None,
    target: str | None = None,
    images: str | Path | None = None,
    npz: str | Path | None = None,
    series: str | Path | None = None,
    column: str | None = None,
    task: str | None = None,
    categorical: Any = (),
    numeric: Any = (),
    drop: Any = (),
    sep: str | None = None,
    date_column: str | None = None,
    size: Any = None,
    color: str | None = None,
) -> Source:
    """The `Source` the `zoo add` arguments describe, with the layout `family` reads.

    Exactly one of csv, images, npz, series; a table is read by mlp, a series by rnn,
    images by cnn (or rnn row by row, or mlp as pixels).

    Example:
        >>> source_from(family="cnn", csv="/t.csv", target="y")
        Traceback (most recent call last):
        ...
        zoo.errors.ConfigError: family 'cnn' cannot read a table; use --family mlp
    """
    given = {k: v for k, v in dict(csv=csv, images=images, npz=npz, series=series).items() if v}
    if len(given) != 1:
        raise ConfigError(
            "name exactly one data source: --csv FILE --target COL, --images DIR, --npz FILE "
            f"or --series FILE --column COL (got {', '.join(given) or 'none'})"
        )
    if family not in FAMILIES:
        raise ConfigError(f"family {family!r} is not one of {FAMILIES} for your own data")
    kind, raw_path = next(iter(given.items()))
    path = os.path.abspath(os.path.expanduser(str(raw_path)))
    layout = _layout(family, kind, path)
    for flag, value, kinds in (
        ("--target", target, ("csv",)),
        ("--column", column, ("series",)),
        ("--size", size, ("images",)),
        ("--color", color, ("images",)),
        ("--task", task, ("csv", "npz")),
    ):
        if value and kind not in kinds:
            raise ConfigError(f"{flag} applies to --{' / --'.join(kinds)} data, not --{kind}")
    if kind == "csv" and not target:
        raise ConfigError("--csv needs --target COL: the column the model predicts")
    if kind == "series" and not column:
        raise ConfigError("--series needs --column COL: the numeric column to forecast")
    source = Source(
        kind=kind,
        path=path,
        target=target or "",
        task=task or "",
        categorical=_names(categorical),
        numeric=_names(numeric),
        drop=_names(drop),
        sep=sep or "",
        column=column or "",
        date_column=date_column or "",
        size=parse_size(size),
        color=color or "",
        layout=layout,
    )
    source.check()
    return source


def _names(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = value.split(",")
    return tuple(str(v).strip() for v in value or () if str(v).strip())


def _layout(family: str, kind: str, path: str) -> str:
    if kind == "csv":
        if family != "mlp":
            raise ConfigError(f"family {family!r} cannot read a table; use --family mlp")
        return "tabular"
    if kind == "series":
        if family != "rnn":
            raise ConfigError(f"family {family!r} cannot read a series; use --family rnn")
        return "sequence"
    if kind == "images":
        return {"cnn": "image", "rnn": "sequence", "mlp": "tabular"}[family]
    arrays = read_npz(Source("npz", path))
    x_ndim = arrays["x"].ndim if "x" in arrays else arrays["x_train"].ndim
    if x_ndim == 2 and family != "mlp":
        raise ConfigError(
            f"the samples of {path} are flat feature vectors (x has 2 axes); family "
            f"{family!r} needs images or sequences; use --family mlp"
        )
    if x_ndim not in (2, 3, 4):
        raise DataError(
            f"x of {path} has {x_ndim} axes; expected (n, features), (n, height, width), "
            "(n, steps, features) or (n, height, width, channels)"
        )
    return {"cnn": "image", "rnn": "sequence", "mlp": "tabular"}[family]


def family_defaults(family: str, f: DatasetFacts) -> tuple[dict[str, Any], dict[str, Any]]:
    """Default and `--quick` options of a `family` entry, sized for the data's facts.

    The loss follows the task; the network's width follows the input size (dense units
    near the number of features, capped; fewer conv filters on tiny images, a kernel no
    wider than the image); a forecaster's window fits its series.

    Example:
        >>> f = DatasetFacts("user:x", "tabular", ("a", "b", "c"), input_shape=(13,))
        >>> family_defaults("mlp", f)[0]["dense_units"], family_defaults("mlp", f)[0]["loss"]
        ((16,), 'sparse_categorical_crossentropy')
    """
    regression = f.task == "regression"
    out: dict[str, Any] = dict(
        loss="mean_squared_error" if regression else "sparse_categorical_crossentropy",
        epochs=60,
        early_stopping=10,
        batch_size=32,
        learning_rate=1e-3,
    )
    shape = f.input_shape or ()
    if family == "mlp":
        features = math.prod(shape) if shape else 1
        width = int(min(256, max(16, 2 ** math.ceil(math.log2(max(features, 1))))))
        out |= dict(dense_units=(width,) if features <= 64 else (width, width // 4), epochs=100)
        out |= dict(dropout=0.1, early_stopping=15)
    elif family == "cnn":
        side = min(shape[0], shape[1]) if len(shape) >= 2 else 8
        out |= dict(
            filters=(16, 32) if side <= 16 else (32, 64) if side <= 64 else (32, 64, 128),
            kernel_size=3 if side >= 3 else 1,
            dense_units=(64,),
            dropout=0.25,
            batch_norm=True,
            learning_rate=2e-3,
        )
    elif f.kind == "forecast":
        steps = f.series_length or 100
        out |= dict(cell="lstm", units=32, dense_units=(32,), window=min(52, max(2, steps // 10)))
    else:
        features = shape[-1] if shape else 1
        out |= dict(cell="gru", units=int(min(128, max(16, 4 * features))), dense_units=(64,))
    return out, dict(epochs=20, early_stopping=6)


def add_entry(
    name: str,
    *,
    family: str,
    csv: str | Path | None = None,
    target: str | None = None,
    images: str | Path | None = None,
    npz: str | Path | None = None,
    series: str | Path | None = None,
    column: str | None = None,
    task: str | None = None,
    categorical: Any = (),
    numeric: Any = (),
    drop: Any = (),
    sep: str | None = None,
    date_column: str | None = None,
    size: Any = None,
    color: str | None = None,
    summary: str = "",
    store: Any = None,
    replace: bool = False,
    **options: Any,
) -> registry.ModelSpec:
    """Add the user's data as zoo entry `name` of `family` (mlp, cnn or rnn), stored in
    the store as `<store>/_entries/<name>.toml`; returns its spec.

    One data source: `csv` + `target` (a table), `images` (a folder with one sub-folder
    per class; `size` 'WxH' and `color` grayscale/rgb, detected when left out), `npz`
    (x/y or x_train/y_train/x_test/y_test) or `series` + `column` (a numeric CSV column;
    `window` in `options`). `options` are training options that become the entry's
    defaults. The data is read once first: any problem raises one `DataError` /
    `ConfigError` line and nothing is written. An existing custom entry of that name is
    replaced only with `replace=True`; a built-in entry never is.

    Example:
        >>> add_entry("cnn-digits", family="cnn", images="/tmp")
        Traceback (most recent call last):
        ...
        zoo.errors.ConfigError: 'cnn-digits' is a built-in zoo entry; pick another name ...
    """
    from zoo.config import TrainConfig
    from zoo.store import Store, atomic_write_text

    registry.check_name(name)
    current = registry._REGISTRY.get(name)
    if current is not None and not current.custom:
        raise ConfigError(
            f"{name!r} is a built-in zoo entry; pick another name for your entry (e.g. mlp-mydata)"
        )
    store = store if isinstance(store, Store) else Store(store)
    current = registry._REGISTRY.get(name)  # the store's own entry of that name, if any
    path = entry_path(store.root, name)
    if path.exists() and not replace:
        raise ConfigError(
            f"entry {name!r} already exists in {store.root} ({path}); pass --replace "
            "(replace=True) to overwrite it, or pick another name"
        )
    source = source_from(
        family=family,
        csv=csv,
        target=target,
        images=images,
        npz=npz,
        series=series,
        column=column,
        task=task,
        categorical=categorical,
        numeric=numeric,
        drop=drop,
        sep=sep,
        date_column=date_column,
        size=size,
        color=color,
    )
    window = options.get("window") or 52
    try:
        window = int(window)
    except (TypeError, ValueError):
        raise ConfigError(f"window={window!r} must be an integer") from None
    f = inspect(source, dataset_name(name), window=window)
    defaults, quick = family_defaults(family, f)
    previous_facts = _user_facts(f.name)
    spec = _register(name, family, f, defaults, quick, summary, str(path))
    try:
        cfg = TrainConfig.for_model(name, **options)
    except BaseException:
        _restore(name, f.name, current, previous_facts)
        raise
    values = cfg.to_dict()
    defaults |= {k: values[k] for k in options if k in values}
    spec = _register(name, family, f, defaults, quick, summary, str(path))
    store.ensure_root()
    text = entry_text(spec, f, source)
    try:
        atomic_write_text(path, text)
    except OSError:
        _restore(name, f.name, current, previous_facts)
        raise
    st = path.stat()
    _SEEN[str(path)] = (st.st_mtime_ns, st.st_size)
    _BROKEN.pop(name, None)
    return spec


def _user_facts(dataset: str) -> DatasetFacts | None:
    try:
        return facts(dataset)
    except DataError:
        return None


def _restore(
    name: str, dataset: str, spec: registry.ModelSpec | None, f: DatasetFacts | None
) -> None:
    registry.unregister(name)
    unregister_facts(dataset)
    if spec is not None:
        registry._REGISTRY[name] = spec
    if f is not None:
        register_facts(f)


def _register(
    name: str,
    family: str,
    f: DatasetFacts,
    defaults: Mapping[str, Any],
    quick: Mapping[str, Any],
    summary: str,
    origin: str,
) -> registry.ModelSpec:
    register_facts(f)
    source = f.source
    about = f"target {source.target!r}" if source.target else f"column {source.column!r}"
    if source.kind in ("images", "npz"):
        about = f"{len(f.class_names)} classes" if f.class_names else "regression"
    return registry.register(
        name,
        family=family,
        task=f.task,
        dataset=f.name,
        summary=summary
        or f"{family.upper()} on your {_KIND_NAMES[source.kind]} {Path(source.path).name} "
        f"({about})",
        defaults=dict(defaults),
        quick=dict(quick),
        limits=f.limits,
        origin=origin,
        replace=True,
    )


def forget(name: str) -> None:
    """Unregister custom entry `name` in this process (its file stays in the store).

    Example:
        >>> forget("no-such-entry")
    """
    spec = registry._REGISTRY.get(name)
    if spec is not None and spec.custom:
        registry.unregister(name)
        unregister_facts(spec.dataset)
        _SEEN.pop(spec.origin, None)


def sync(root: str | Path) -> list[str]:
    """Register the custom entries stored in `root` (new or changed files only); returns
    their names. A broken file is skipped with a warning; entries whose file was removed
    are forgotten. Never raises for a store's content.

    Example:
        >>> import tempfile
        >>> sync(tempfile.mkdtemp())
        []
    """
    folder = Path(root).expanduser() / ENTRIES_DIR
    try:
        paths = sorted(folder.glob("*.toml")) if folder.is_dir() else []
    except OSError:
        paths = []
    names = []
    for path in paths:
        try:
            st = path.stat()
        except OSError:
            continue
        key, stem = (st.st_mtime_ns, st.st_size), path.stem
        names.append(stem)
        if _SEEN.get(str(path)) == key:
            continue
        try:
            spec, f = read_entry(path)
            current = registry._REGISTRY.get(stem)
            if current is not None and not current.custom:
                raise ConfigError(f"{stem!r} is a built-in entry; an entry file cannot replace it")
            if f is not None:
                register_facts(f)
            registry.register(**spec, origin=str(path), replace=True)
        except (ZooError, ValueError) as err:
            _BROKEN[stem] = str(err)
            names.remove(stem)
            log.warning("skipped %s: %s", path, err)
            continue
        _SEEN[str(path)] = key
        _BROKEN.pop(stem, None)
    here = str(folder)
    for name, known in list(registry._REGISTRY.items()):
        gone = known.custom and not Path(known.origin).exists()
        if gone and os.path.dirname(known.origin) == here:
            forget(name)
    return names


def broken_entry(name: str) -> str:
    """Why the entry file of `name` could not be read ('' when it was not broken).

    Example:
        >>> broken_entry("mlp-cancer")
        ''
    """
    return _BROKEN.get(name, "")


def describe_source(name: str) -> dict[str, Any] | None:
    """The data source of custom entry `name` as plain values (None for built-in ones).

    Example:
        >>> describe_source("mlp-cancer") is None
        True
    """
    spec = registry.get_spec(name)
    if not spec.custom:
        return None
    source = facts(spec.dataset).source
    if source is None:  # an entry on a bundled dataset (an import or an ensemble)
        return {"dataset": spec.dataset, "entry_file": spec.origin}
    return {**source.to_dict(), "entry_file": spec.origin}


def link_entry(
    name: str, *, like: str, store: Any = None, summary: str = "", family: str = ""
) -> registry.ModelSpec:
    """A custom entry `name` that reads the same data, with the same defaults, as entry
    `like`: where imported models and ensembles (`zoo.imports`, `zoo.ensembles`) store
    their versions. An existing entry of that name that reads the same data is returned
    as it is; one that reads other data, or a built-in entry, is a `ConfigError`.

    The file names the bundled dataset (`dataset = "cancer"`) when `like` is built in,
    else it repeats `like`'s data source and facts under its own dataset name.

    Example:
        >>> import tempfile
        >>> spec = link_entry("imported-demo", like="mlp-cancer", store=tempfile.mkdtemp())
        >>> spec.family, spec.dataset, spec.custom
        ('mlp', 'cancer', True)
        >>> forget("imported-demo")
    """
    from zoo.store import Store, atomic_write_text

    registry.check_name(name)
    base = registry.get_spec(like)
    store = store if isinstance(store, Store) else Store(store)
    current = registry._REGISTRY.get(name)
    if current is not None:
        if not current.custom:
            raise ConfigError(
                f"{name!r} is a built-in zoo entry; pick another name for the new entry "
                f"(e.g. imported-{name})"
            )
        if not same_data(current.name, like):
            raise ConfigError(
                f"entry {name!r} reads other data ({current.dataset}) than {like} "
                f"({base.dataset}); pick another name"
            )
        return current
    if base.task == "generation" or base.family not in FAMILIES:
        raise ConfigError(
            f"{like} is a {base.family} ({base.task}) entry; imported models and ensembles "
            "are classifiers or forecasters"
        )
    path = entry_path(store.root, name)
    own = None if base.dataset in DATASETS else facts(base.dataset)
    f = None if own is None else dataclasses.replace(own, name=dataset_name(name))
    if f is not None:
        register_facts(f)
    spec = registry.register(
        name,
        family=family or base.family,
        task=base.task,
        dataset=base.dataset if f is None else f.name,
        summary=summary or f"on the data of {like}",
        defaults=dict(base.defaults),
        quick=dict(base.quick),
        limits=base.limits,
        origin=str(path),
        replace=True,
    )
    store.ensure_root()
    try:
        atomic_write_text(path, entry_text(spec, f, None if f is None else f.source))
    except OSError:
        _restore(name, spec.dataset, None, None)
        raise
    st = path.stat()
    _SEEN[str(path)] = (st.st_mtime_ns, st.st_size)
    _BROKEN.pop(name, None)
    return spec


def same_data(a: str, b: str) -> bool:
    """Whether entries `a` and `b` read the same dataset (the same bundled one, or the
    same source of the user's data).

    Example:
        >>> same_data("cnn-digits", "mlp-cancer"), same_data("mlp-cancer", "mlp-cancer")
        (False, True)
    """
    da, db = registry.get_spec(a).dataset, registry.get_spec(b).dataset
    if da == db:
        return True
    fa, fb = facts(da), facts(db)
    return fa.source is not None and fa.source == fb.source and fa.kind == fb.kind
