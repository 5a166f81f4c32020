"""The custom entry file: `<store>/_entries/<name>.toml`, written and read back, checked.

A declarative TOML file per entry (format 1): name, family, task, summary, then the
data source (`[data]`: kind, absolute path, target / column / image options) and the
facts read from it (`[facts]`), or for an entry on a bundled dataset (an imported model
or an ensemble, `zoo.imports`) just `dataset = "cancer"`; then the default and `--quick`
options. `zoo.entries` writes and registers these files; every way one can be wrong is
one `ConfigError` naming the file.

Example:
    >>> spec = registry.ModelSpec("mlp-x", "mlp", "classification", "cancer", "demo")
    >>> tomllib.loads(entry_text(spec))["dataset"]
    'cancer'
"""

from __future__ import annotations

import json
import math
import tomllib
from pathlib import Path
from typing import Any

from zoo import registry
from zoo.data import DATASETS, DatasetFacts, facts
from zoo.errors import ConfigError, ZooError
from zoo.userdata import Source

FORMAT = 1
FAMILIES = ("mlp", "cnn", "rnn")


def dataset_name(name: str) -> str:
    """The dataset key of custom entry `name` (never a bundled dataset's name).

    Example:
        >>> dataset_name("mlp-wine")
        'user:mlp-wine'
    """
    return f"user:{name}"


def entry_text(
    spec: registry.ModelSpec, f: DatasetFacts | None = None, source: Source | None = None
) -> str:
    """The TOML text of a custom entry: family, data source, facts and default options.

    An entry on a bundled dataset (an imported model's or an ensemble's, `zoo.imports`)
    has no source: `f` and `source` are None and the file names `dataset` instead.

    Example:
        >>> f = DatasetFacts("user:mlp-x", "tabular", ("a", "b"), input_shape=(3,),
        ...                  source=Source("csv", "/d/x.csv", target="t"))
        >>> spec = registry.ModelSpec("mlp-x", "mlp", "classification", "user:mlp-x", "demo")
        >>> text = entry_text(spec, f, f.source)
        >>> tomllib.loads(text)["data"]
        {'kind': 'csv', 'path': '/d/x.csv', 'target': 't', 'layout': 'tabular'}
    """
    head = {
        "format": FORMAT,
        "name": spec.name,
        "family": spec.family,
        "task": spec.task,
        "summary": spec.summary,
    }
    tables: dict[str, dict[str, Any]] = {}
    if f is None or source is None:
        head["dataset"] = spec.dataset
    else:
        fact_values: dict[str, Any] = {"kind": f.kind, "limits": f.limits}
        if f.class_names is not None:
            fact_values["class_names"] = list(f.class_names)
        if f.input_shape is not None:
            fact_values["input_shape"] = list(f.input_shape)
        if f.series_length is not None:
            fact_values["series_length"] = f.series_length
        tables = {"data": source.to_dict(), "facts": fact_values}
    lines = [
        "# A custom zoo entry, written by `zoo add` (zoo.entries); `zoo describe "
        f"{spec.name}` shows it.",
        *(f"{k} = {_toml(v)}" for k, v in head.items()),
    ]
    tables |= {"defaults": dict(spec.defaults), "quick": dict(spec.quick)}
    for table, values in tables.items():
        lines += ["", f"[{table}]", *(f"{k} = {_toml(v)}" for k, v in values.items())]
    text = "\n".join(lines) + "\n"
    tomllib.loads(text)  # what is written must read back
    return text


def _toml(value: Any) -> str:
    # Strings, booleans, numbers and flat lists of them: JSON's spelling is TOML's.
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{value!r} cannot be stored in an entry file; use a finite number")
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, bool | int | float | str):
        return json.dumps(value, ensure_ascii=False)
    raise ConfigError(f"{value!r} cannot be stored in an entry file")


def read_entry(path: Path) -> tuple[dict[str, Any], DatasetFacts | None]:
    """The `register` arguments and dataset facts an entry file holds, checked; every
    way it can be wrong is one `ConfigError` naming the file. The facts are None for an
    entry on a bundled dataset (its file names `dataset`).

    Example:
        >>> import tempfile
        >>> p = Path(tempfile.mkdtemp()) / "mlp-x.toml"
        >>> _ = p.write_text('format = 1\\nname = "mlp-y"\\n')
        >>> read_entry(p)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        zoo.errors.ConfigError: entry file ...mlp-x.toml: it names 'mlp-y' but is called ...
    """
    from zoo.validation import read_toml

    data = read_toml(path)
    try:
        return _parse_entry(data, path.stem)
    except ZooError as err:
        raise ConfigError(f"entry file {path}: {err}") from None


def _parse_entry(data: dict[str, Any], stem: str) -> tuple[dict[str, Any], DatasetFacts | None]:
    if data.get("format") != FORMAT:
        raise ConfigError(f"format is {data.get('format')!r}; this zoo reads format {FORMAT}")
    name = data.get("name")
    if name != stem:
        raise ConfigError(f"it names {name!r} but is called {stem}.toml; rename one of them")
    registry.check_name(name)
    family = data.get("family")
    if family not in FAMILIES:
        raise ConfigError(f"family is {family!r}; expected one of {FAMILIES}")
    tables = {}
    for key in ("data", "facts", "defaults", "quick"):
        value = data.get(key, {})
        if not isinstance(value, dict):
            raise ConfigError(f"[{key}] must be a table")
        tables[key] = value
    if "dataset" in data:
        return _parse_bundled(data, name, family, tables), None
    source = Source.from_dict(tables["data"])
    raw = tables["facts"]
    kind = raw.get("kind")
    if kind not in ("tabular", "image", "sequence", "forecast"):
        raise ConfigError(f"facts.kind is {kind!r}; expected tabular, image, sequence or forecast")
    classes = raw.get("class_names")
    if classes is not None and not (
        isinstance(classes, list) and len(classes) >= 2 and all(isinstance(c, str) for c in classes)
    ):
        raise ConfigError("facts.class_names must be a list of at least two names")
    shape = raw.get("input_shape")
    if shape is not None and not (
        isinstance(shape, list) and shape and all(isinstance(v, int) and v > 0 for v in shape)
    ):
        raise ConfigError("facts.input_shape must be a list of positive integers")
    steps = raw.get("series_length")
    if steps is not None and not (isinstance(steps, int) and steps > 0):
        raise ConfigError("facts.series_length must be a positive integer")
    if data.get("task") != ("regression" if classes is None else "classification"):
        raise ConfigError(f"task {data.get('task')!r} does not match facts.class_names")
    f = DatasetFacts(
        dataset_name(name),
        kind,
        tuple(classes) if classes is not None else None,
        limits=str(raw.get("limits", "")),
        loader="zoo.userdata:load_source",
        input_shape=tuple(shape) if shape else None,
        series_length=steps,
        source=source,
    )
    summary = data.get("summary", "")
    spec = dict(
        name=name,
        family=family,
        task=f.task,
        dataset=f.name,
        summary=summary if isinstance(summary, str) else "",
        defaults=tables["defaults"],
        quick=tables["quick"],
        limits=f.limits,
    )
    return spec, f


def _parse_bundled(
    data: dict[str, Any], name: str, family: str, tables: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    # An entry on a bundled dataset: no source, no facts of its own.
    dataset = data["dataset"]
    if dataset not in DATASETS:
        raise ConfigError(f"dataset is {dataset!r}; expected a bundled dataset {DATASETS}")
    if tables["data"] or tables["facts"]:
        raise ConfigError("an entry naming a bundled dataset has no [data] or [facts] table")
    if data.get("task") != facts(dataset).task:
        raise ConfigError(f"task {data.get('task')!r} does not match dataset {dataset!r}")
    summary = data.get("summary", "")
    return dict(
        name=name,
        family=family,
        task=facts(dataset).task,
        dataset=dataset,
        summary=summary if isinstance(summary, str) else "",
        defaults=tables["defaults"],
        quick=tables["quick"],
    )
