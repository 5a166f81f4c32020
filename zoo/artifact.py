"""What a stored version must contain, and the shape of each JSON file it holds.

`zoo.store` reads every JSON file of a version through these checks, so a file that is
truncated, edited into another type or left out of the manifest marks only its own
version corrupted (`Damage`, with the file and the reason) instead of raising somewhere
far away (`AttributeError` in `zoo list`, `JSONDecodeError` in `zoo evaluate`). The
checks are plain functions over parsed JSON: no TensorFlow, cheap enough for every
listing.

Example:
    >>> required_files("mlp", "ok")
    ('card.md', 'config.json', 'history.csv', 'history.json', 'metrics.json', 'model.keras')
    >>> check_history({"loss": [0.5, "x"]}, "history.json")
    Traceback (most recent call last):
    ...
    zoo.artifact.Damage: history.json: 'loss'[1] is 'x'; expected a number or null
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any, TypeGuard

MANIFEST = "manifest.json"
FORMAT_VERSION = 1
# Derived caches and logs (explanations; TensorBoard's event files, zoo.tracking): never
# checksummed, never code; a missing or damaged one never marks a version corrupted.
UNCHECKED_DIRS = ("explain", "tensorboard")
STATUSES = ("ok", "failed")
# A manifest lists a few dozen files; anything far larger is not one the zoo wrote.
MAX_MANIFEST_BYTES = 1 << 20

# Every version has these; a good one also has its model files (by family).
_ALWAYS = ("config.json",)
_GOOD = ("card.md", "config.json", "history.csv", "history.json", "metrics.json")
_MODEL_FILES = {
    "gan": ("discriminator.keras", "generator.keras", "samples.npz"),
}
_DEFAULT_MODEL_FILES = ("model.keras",)
_SHA256 = re.compile(r"[0-9a-f]{64}")
# Reasons that start with one of these are about the file itself and read on from its name.
_VERBS = ("is", "cannot", "fails", "lists", "names", "was", "does")


class Damage(Exception):
    """A file of a version is missing, unreadable or not shaped as the zoo writes it.

    `str(damage)` is the reason `zoo runs` shows: the file, then what is wrong with it.

    Example:
        >>> str(Damage("config.json", "'model' is missing"))
        "config.json: 'model' is missing"
    """

    def __init__(self, file: str | Path, reason: str) -> None:
        # "x.json is missing" reads as a sentence; "x.json: 'model' is missing" needs a colon.
        joiner = " " if reason.split(" ", 1)[0] in _VERBS else ": "
        super().__init__(f"{file}{joiner}{reason}")
        self.file = str(file)
        self.reason = reason


def required_files(family: str, status: str) -> tuple[str, ...]:
    """The files a version of `family` with `status` needs (its manifest must list them).

    A failed run keeps what it was tried with (`config.json`); a good one everything
    training writes: config, history, metrics, model card and the model file(s).

    Example:
        >>> [f for f in required_files("gan", "ok") if not f.endswith(".json")]
        ['card.md', 'discriminator.keras', 'generator.keras', 'history.csv', 'samples.npz']
        >>> required_files("cnn", "failed")
        ('config.json',)
    """
    if status != "ok":
        return _ALWAYS
    return tuple(sorted({*_GOOD, *_MODEL_FILES.get(family, _DEFAULT_MODEL_FILES)}))


def read_json(path: Path, *, limit: int | None = None) -> Any:
    """Parse a JSON file, or raise `Damage` naming it (missing, unreadable, not JSON).

    `limit` caps the bytes read (for files whose size no manifest vouches for).

    Example:
        >>> import tempfile
        >>> p = Path(tempfile.mkdtemp()) / "a.json"
        >>> _ = p.write_text('{"a": 1')
        >>> read_json(p)
        Traceback (most recent call last):
        ...
        zoo.artifact.Damage: ...a.json is not valid JSON (Expecting ',' delimiter: line 1 column 8)
    """
    try:
        with open(path, "rb") as fh:
            raw = fh.read(limit + 1) if limit is not None else fh.read()
    except FileNotFoundError:
        raise Damage(path, "is missing") from None
    except OSError as err:
        raise Damage(path, f"cannot be read ({err.strerror or err})") from None
    if limit is not None and len(raw) > limit:
        raise Damage(path, f"is larger than {limit} bytes; the zoo never writes one that large")
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise Damage(path, "is not UTF-8 text") from None
    except ValueError as err:
        raise Damage(path, f"is not valid JSON ({_short(err)})") from None
    except RecursionError:
        raise Damage(path, "is nested too deeply to be a file the zoo wrote") from None


def check_manifest(data: Any, file: str | Path, name: str) -> dict[str, Any]:
    """The manifest's fields, checked: format, name, status, and every file's checksum.

    Example:
        >>> check_manifest({"format": 1, "name": "mlp-cancer", "status": "ok",
        ...                 "files": []}, "manifest.json", "mlp-cancer")
        Traceback (most recent call last):
        ...
        zoo.artifact.Damage: manifest.json: 'files' is a list; expected an object ...
    """
    data = _object(data, file)
    fmt = data.get("format")
    if not _is_int(fmt):
        raise Damage(file, f"'format' is {_show(fmt)}; expected the integer {FORMAT_VERSION}")
    if fmt > FORMAT_VERSION:
        raise Damage(
            file,
            f"was written in format {fmt}, newer than this zoo reads ({FORMAT_VERSION}); "
            "upgrade keras-zoo",
        )
    if data.get("name") != name:
        raise Damage(file, f"names the entry {_show(data.get('name'))}, not {name!r}")
    if data.get("status") not in STATUSES:
        raise Damage(file, f"'status' is {_show(data.get('status'))}; expected 'ok' or 'failed'")
    for key in ("error", "created"):
        if not isinstance(data.get(key, ""), str):
            raise Damage(file, f"{key!r} is {_show(data[key])}; expected a string")
    if not isinstance(data.get("versions", {}), dict):
        raise Damage(file, f"'versions' is {_kind(data['versions'])}; expected an object")
    files = data.get("files")
    if not isinstance(files, dict):
        raise Damage(
            file, f"'files' is {_kind(files)}; expected an object of file -> sha256 and bytes"
        )
    for rel, meta in files.items():
        if not _safe_relative(rel):
            raise Damage(file, f"lists {rel!r}, which is not a path inside the version folder")
        meta = _object(meta, file, f"the entry of {rel!r}")
        if not (isinstance(meta.get("sha256"), str) and _SHA256.fullmatch(meta["sha256"])):
            raise Damage(file, f"the sha256 of {rel!r} is {_show(meta.get('sha256'))}")
        size = meta.get("bytes")
        if not (_is_int(size) and size >= 0):
            raise Damage(file, f"the size of {rel!r} is {_show(size)}; expected bytes >= 0")
    return data


def check_preprocessing(data: Any, file: str | Path) -> dict[str, Any]:
    """The fitted preprocessing of a version trained on the user's data
    (`preprocessing.json`, `zoo.preprocessing`): plain JSON of the shape the zoo writes.

    Example:
        >>> check_preprocessing({"kind": "pickle"}, "preprocessing.json")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        zoo.artifact.Damage: preprocessing.json: preprocessing: kind is 'pickle'; ...
    """
    from zoo.errors import DataError
    from zoo.preprocessing import check

    try:
        return check(data)
    except DataError as err:
        raise Damage(file, str(err)) from None


def check_config(data: Any, file: str | Path, name: str) -> dict[str, Any]:
    """A stored config: an object of options `TrainConfig.from_dict` can rebuild.

    Values are checked for their types (what loading needs), not against today's ranges,
    so versions trained under older limits still load.

    Example:
        >>> check_config({"model": "mlp-cancer", "epochs": "abc"}, "config.json", "mlp-cancer")
        Traceback (most recent call last):
        ...
        zoo.artifact.Damage: config.json: epochs='abc' has the wrong type: expected an integer
    """
    from zoo.config import TrainConfig
    from zoo.errors import ConfigError

    data = _object(data, file)
    if data.get("model") != name:
        raise Damage(file, f"'model' is {_show(data.get('model'))}; expected {name!r}")
    try:
        TrainConfig.from_dict(data)
    except (ConfigError, TypeError, ValueError) as err:
        raise Damage(file, str(err)) from None
    return data


# Metrics people compare runs by: numbers (or null where a metric is undefined).
_NUMBERS = (
    "accuracy",
    "precision_macro",
    "recall_macro",
    "f1_macro",
    "roc_auc",
    "mse",
    "naive_mse",
    "mae",
    "naive_mae",
    "r2",
    "skill",
    "fid_final",
    "fid_untrained",
    "fid_ratio",
    "n_test",
    "parameters",
)
_OBJECTS = ("per_class", "diagnosis", "timing", "dataset", "baselines", "intervals", "vs_baseline")


def check_metrics(data: Any, file: str | Path) -> dict[str, Any]:
    """Stored test metrics: numbers where numbers are read, objects where objects are.

    Example:
        >>> check_metrics([], "metrics.json")
        Traceback (most recent call last):
        ...
        zoo.artifact.Damage: metrics.json is a list; expected a JSON object
        >>> check_metrics({"accuracy": 0.9, "dataset": {"class_names": ["a", "b"]}}, "m")
        {'accuracy': 0.9, 'dataset': {'class_names': ['a', 'b']}}
    """
    data = _object(data, file)
    for key in _NUMBERS:
        if key in data and not (_is_number(data[key]) or data[key] is None):
            raise Damage(file, f"{key!r} is {_show(data[key])}; expected a number")
    for key in _OBJECTS:
        if key in data:
            _object(data[key], file, repr(key))
    for key in ("class_names", "feature_names"):
        value = data.get("dataset", {}).get(key)
        if value is not None and not _list_of(value, str):
            raise Damage(file, f"dataset.{key} is {_show(value)}; expected a list of names")
    matrix = data.get("confusion_matrix")
    if matrix is not None and not (
        isinstance(matrix, list) and all(_list_of(row, int) for row in matrix)
    ):
        raise Damage(file, "'confusion_matrix' is not a list of rows of counts")
    if not isinstance(data.get("error", ""), str):
        raise Damage(file, f"'error' is {_show(data['error'])}; expected a string")
    _check_comparison(data, file)
    return data


def _check_comparison(data: dict[str, Any], file: str | Path) -> None:
    # Baselines, intervals and model vs baseline (`zoo.baselines`); versions stored before
    # them have none of these keys and load as they are.
    def interval(value: Any, where: str) -> None:
        if value is not None and not (
            isinstance(value, list) and len(value) == 2 and all(_is_number(v) for v in value)
        ):
            raise Damage(file, f"{where} is {_show(value)}; expected [low, high] or null")

    def number(value: Any, where: str) -> None:
        if value is not None and not _is_number(value):
            raise Damage(file, f"{where} is {_show(value)}; expected a number")

    models = _object(data.get("baselines", {}).get("models", {}), file, "baselines.models")
    for name, record in models.items():
        record = _object(record, file, f"baselines.models.{name}")
        number(record.get("value"), f"baselines.models.{name}.value")
        interval(record.get("interval"), f"baselines.models.{name}.interval")
    metrics = _object(data.get("intervals", {}).get("metrics", {}), file, "intervals.metrics")
    for key, value in metrics.items():
        interval(value, f"intervals.metrics.{key}")
    vs = data.get("vs_baseline", {})
    for key in ("model", "baseline_value", "difference"):
        number(vs.get(key), f"vs_baseline.{key}")
    interval(vs.get("interval"), "vs_baseline.interval")
    for key in ("verdict", "label", "metric"):
        if not isinstance(vs.get(key, ""), str):
            raise Damage(file, f"vs_baseline.{key} is {_show(vs[key])}; expected a string")


def check_history(data: Any, file: str | Path) -> dict[str, list[float | None]]:
    """Per-epoch curves: an object of name -> list of numbers (null for a missing epoch).

    Example:
        >>> check_history({"loss": [0.5, 0.4]}, "history.json")
        {'loss': [0.5, 0.4]}
    """
    data = _object(data, file)
    for key, values in data.items():
        if not isinstance(values, list):
            raise Damage(file, f"{key!r} is {_kind(values)}; expected a list of numbers")
        for i, v in enumerate(values):
            if not (_is_number(v) or v is None):
                raise Damage(file, f"{key!r}[{i}] is {_show(v)}; expected a number or null")
    return data


def unexpected_files(folder: Path, listed: Mapping[str, Any]) -> list[str]:
    """Files in a version folder that its manifest does not list (outside `explain/`).

    The zoo never reads such a file, so it cannot change what a version loads; `zoo runs`
    reports it as a warning (someone or something put it there after the version was
    sealed).

    Example:
        >>> import tempfile
        >>> d = Path(tempfile.mkdtemp()); _ = (d / "evil.py").write_text("x")
        >>> unexpected_files(d, {})
        ['evil.py']
    """
    found = []
    for here, dirs, files in os.walk(folder):
        rel_dir = Path(here).relative_to(folder)
        if rel_dir == Path("."):
            dirs[:] = [d for d in dirs if d not in UNCHECKED_DIRS]
        for file in files:
            rel = (rel_dir / file).as_posix()
            if rel != MANIFEST and rel not in listed:
                found.append(rel)
    return sorted(found)


def _object(value: Any, file: str | Path, what: str = "") -> dict[str, Any]:
    if not isinstance(value, dict):
        where = f"{what} is" if what else "is"
        raise Damage(file, f"{where} {_kind(value)}; expected a JSON object")
    return value


def _safe_relative(rel: Any) -> bool:
    if not isinstance(rel, str) or not rel or "\\" in rel or "\x00" in rel:
        return False
    path = PurePosixPath(rel)
    return not path.is_absolute() and ".." not in path.parts and rel != MANIFEST


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _list_of(value: Any, kind: type) -> bool:
    if not isinstance(value, list):
        return False
    if kind is int:
        return all(_is_int(v) for v in value)
    return all(isinstance(v, kind) for v in value)


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    return names.get(type(value), "a number" if _is_number(value) else type(value).__name__)


def _show(value: Any, width: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def _short(err: Exception) -> str:
    # json's messages end with "(char N)"; the line and column are enough for a person.
    return re.sub(r"\s*\(char \d+\)$", "", str(err))
