"""Keras models trained outside the zoo, stored as versions of an entry (`zoo import`).

`import_model(model_or_path, data)` takes a `.keras` file or a `keras.Model`, checks that
it is built from Keras' own layers only (a model that needs custom objects is refused
with the class that would need them, and nothing is stored), that its input and output
fit the data (a bundled dataset such as 'cancer' or 'digits', a zoo entry, or the user's
file as `zoo add` reads it), and stores it like every trained version: in a staging
folder, saved as `model.keras` and loaded back with `safe_mode=True`, evaluated on the
data's test split (metrics, bootstrap intervals, the classic baselines), a model card,
checksummed and renamed into place by `Store.commit`. The version's `config.json` holds
the data split and `origin` (what was imported) instead of training options; its
history is empty.

`store_version` is the writing path shared with ensembles (`zoo.ensembles`).

Example:
    >>> import tempfile, keras
    >>> net = keras.Sequential([keras.Input((30,)), keras.layers.Dense(2, "softmax")])
    >>> m = import_model(net, "cancer", store=tempfile.mkdtemp())
    >>> m.ref, m.origin["kind"], m.history, 0 <= m.metrics["accuracy"] <= 1
    ('imported-cancer@1', 'imported', {}, True)
    >>> from zoo.entries import forget; forget("imported-cancer")  # this process only
"""

from __future__ import annotations

import contextlib
import logging
import re
from pathlib import Path
from typing import Any

import numpy as np

from zoo import registry
from zoo.config import TrainConfig
from zoo.data import DATASETS, Dataset, dataset_info
from zoo.errors import ConfigError, DataError, ZooError
from zoo.store import Store, write_json

log = logging.getLogger("zoo")

# The config fields that decide which samples a version is tested on (and its baselines
# fitted on); an imported model's or an ensemble's config holds these and nothing else.
SPLIT_KEYS = ("validation_fraction", "test_fraction", "seed", "window", "download")
# Serialized objects named like "__tuple__" are Keras' own containers, not classes.
_CONTAINER = re.compile(r"__[a-z]+__")


def custom_objects(model: Any) -> list[str]:
    """The classes and functions in `model`'s saved config that are not part of Keras
    (a custom layer, a registered function, a lambda, a subclassed model): what
    `keras.saving.load_model(..., safe_mode=True)` cannot rebuild in a new process.

    Example:
        >>> import keras
        >>> custom_objects(keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)]))
        []
    """
    from keras.saving import serialize_keras_object

    try:
        config = serialize_keras_object(model)
    except (NotImplementedError, TypeError, ValueError) as err:
        return [f"{type(model).__name__} (cannot be serialized: {_first_line(err)})"]
    found: list[str] = []
    _walk(config, found)
    return sorted(set(found))


def _walk(value: Any, found: list[str]) -> None:
    if isinstance(value, dict):
        name = value.get("class_name")
        if isinstance(name, str) and "config" in value:
            module = value.get("module")
            registered = value.get("registered_name")
            if name == "__lambda__" or name == "Lambda":
                found.append(f"{name} (Python code, refused by safe_mode)")
            elif not _CONTAINER.fullmatch(name) and not (
                isinstance(module, str)
                and module.split(".")[0] == "keras"
                and registered in (None, name)
            ):
                found.append(str(registered or f"{module}.{name}"))
        for item in value.values():
            _walk(item, found)
    elif isinstance(value, list):
        for item in value:
            _walk(item, found)


def _first_line(err: BaseException) -> str:
    text = " ".join(str(err).split())
    return text if len(text) <= 200 else text[:197] + "..."


def read_model(model_or_path: Any) -> Any:
    """A `keras.Model` from a `.keras` file (loaded with `safe_mode=True`) or as given;
    a `ConfigError` line for anything that needs custom objects or is not a Keras model.

    Example:
        >>> read_model("/no/such/model.keras")
        Traceback (most recent call last):
        ...
        zoo.errors.ConfigError: model file /no/such/model.keras does not exist; check the path
    """
    from zoo._tf import keras

    k = keras()
    if isinstance(model_or_path, str | Path):
        path = Path(model_or_path).expanduser()
        if not path.is_file():
            raise ConfigError(f"model file {path} does not exist; check the path")
        if path.suffix != ".keras":
            raise ConfigError(
                f"{path} is not a .keras file; save the model in Keras 3's format with "
                "model.save('model.keras') and import that"
            )
        try:
            model = k.saving.load_model(path, safe_mode=True, compile=False)
        except Exception as err:  # Keras raises TypeError, ValueError, ... for bad files
            raise ConfigError(
                f"{path} cannot be loaded with safe_mode=True: {_first_line(err)}; the zoo "
                "imports models built from Keras' own layers only (no custom objects, no "
                "Lambda layers)"
            ) from None
    else:
        model = model_or_path
    if not isinstance(model, k.Model):
        raise ConfigError(
            f"expected a keras.Model or a .keras file, got {type(model).__name__}; "
            "pass the model or the path of its .keras file"
        )
    custom = custom_objects(model)
    if custom:
        raise ConfigError(
            f"the model needs custom objects: {', '.join(custom)}; the zoo stores only "
            "models that load with safe_mode=True from Keras' own layers, so it was not "
            "imported: rebuild it from built-in layers (or keep it outside the zoo)"
        )
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ConfigError(
            f"the model has {len(model.inputs)} inputs and {len(model.outputs)} outputs; "
            "the zoo imports models with one input and one output"
        )
    return model


def resolve_data(data: str) -> str:
    """The zoo entry whose data and split `data` names: a zoo entry itself, or the
    built-in entry that reads a bundled dataset ('cancer' -> 'mlp-cancer').

    Example:
        >>> resolve_data("cancer"), resolve_data("digits"), resolve_data("lstm-co2")
        ('mlp-cancer', 'cnn-digits', 'lstm-co2')
    """
    if not isinstance(data, str) or not data:
        raise ConfigError(f"data={data!r}: name a bundled dataset, a zoo entry or a file")
    if data in DATASETS:
        for name in registry.list_models(include_optional=True):
            spec = registry.get_spec(name)
            if spec.dataset == data and not spec.custom and spec.task != "generation":
                return name
        raise ConfigError(f"no zoo entry reads dataset {data!r} as a classifier or forecaster")
    try:
        registry.get_spec(data)
    except ZooError:
        import difflib

        known = [*DATASETS, *registry.list_models(include_optional=True)]
        close = difflib.get_close_matches(data, known, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ConfigError(
            f"data {data!r} is not a bundled dataset, a zoo entry or an existing file.{hint} "
            f"Bundled datasets: {', '.join(DATASETS)}; entries: `zoo list`"
        ) from None
    return data


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug if slug[:1].isalpha() else f"m-{slug}".rstrip("-")


def import_model(
    model_or_path: Any,
    data: str | Path,
    name: str | None = None,
    store: Store | str | Path | None = None,
    *,
    target: str | None = None,
    column: str | None = None,
    summary: str = "",
) -> Any:
    """Store a Keras model trained outside the zoo as a new version of entry `name` and
    return it loaded back (a `TrainedModel`, `safe_mode=True`).

    `data` is a bundled dataset ('cancer', 'digits', 'co2', ...: the split of the
    built-in entry that reads it), a zoo entry (its data and split), or the user's file
    as `zoo add` reads it (a CSV with `target`, a series CSV with `column`, an .npz, an
    image folder). `name` defaults to `imported-<data>`; an existing entry must read the
    same data. The model's input must match one sample of the data and its output the
    task (class probabilities, one sigmoid unit for two classes, or one forecast value);
    anything wrong is one `ZooError` line and nothing is stored.

    Example:
        >>> import keras
        >>> net = keras.Sequential([keras.Input((64,)), keras.layers.Dense(10)])
        >>> import_model(net, "digits", store="/tmp/never-written")
        Traceback (most recent call last):
        ...
        zoo.errors.ConfigError: the model's input is (64,) but ... of digits ... is (8, 8, 1); ...
    """
    store = store if isinstance(store, Store) else Store(store)
    model = read_model(model_or_path)
    source = (
        str(model_or_path) if isinstance(model_or_path, str | Path) else "a keras.Model in memory"
    )
    path = Path(str(data)).expanduser()
    made: list[str] = []  # entries this call adds: removed again if it fails
    try:
        if isinstance(data, Path) or (data not in DATASETS and path.exists()):
            like = _entry_for_file(model, path, name, store, made, target=target, column=column)
            name = like
        else:
            like = resolve_data(str(data))
            name = name or _slug(f"imported-{data}")
        config = _split_config(name, like)
        from zoo.trained import dataset_for

        base = registry.get_spec(like)
        dataset = dataset_for(TrainConfig.from_dict(config), base.dataset)
        check_fits(model, dataset, base.task, what=f"{data} ({like}'s split)")
        _entry(name, like, store, summary or f"imported Keras model on the data of {like}", made)
        origin = {"kind": "imported", "source": source, "keras_name": model.name, "data": str(data)}
        return store_version(
            name, model, config={**config, "origin": origin}, data=dataset, store=store
        )
    except BaseException:
        # A refused import stores nothing: not even the entry it made for the file.
        from zoo.deleting import delete_entry

        for entry in made:
            # One that got a version (a failure after the commit) stays, with it.
            with contextlib.suppress(ZooError):
                delete_entry(entry, store=store)
        raise


def _entry(name: str, like: str, store: Store, summary: str, made: list[str] | None = None) -> Any:
    # `made` collects the name when this links a new entry (the caller removes it again
    # if what follows fails).
    from zoo.entries import link_entry, same_data

    current = registry._REGISTRY.get(name)
    if current is not None and not current.custom:
        if not same_data(name, like):
            raise ConfigError(
                f"{name!r} is a built-in entry on {current.dataset}, not the data of {like}; "
                "pick another --name"
            )
        return current
    linked = link_entry(name, like=like, store=store, summary=summary)
    if current is None and made is not None:
        made.append(name)
    return linked


def _entry_for_file(
    model: Any, path: Path, name: str | None, store: Store, made: list[str], **source: Any
) -> str:
    # The user's file: a custom entry as `zoo add` makes it, its family from the model's
    # input (features -> mlp, steps x features -> rnn, images -> cnn).
    from zoo.entries import add_entry

    family = {2: "mlp", 3: "rnn", 4: "cnn"}.get(len(model.input_shape))
    if family is None:
        raise ConfigError(
            f"the model's input {model.input_shape} is not a table, sequence or image"
        )
    name = name or _slug(f"imported-{path.stem}")
    kind = "images" if path.is_dir() else "npz" if path.suffix == ".npz" else ""
    if not kind:
        kind = "series" if source.get("column") else "csv"
    if kind == "csv" and not source.get("target"):
        raise ConfigError(f"{path} is a table: pass --target COL (target=), the column it predicts")
    if name in registry._REGISTRY:  # only an entry on this very file
        from zoo.data import facts

        own = facts(registry.get_spec(name).dataset).source
        if own is None or Path(own.path) != path.resolve():
            raise ConfigError(f"entry {name!r} reads other data than {path}; pick another --name")
        return name
    kwargs: dict[str, Any] = {k: v for k, v in source.items() if v}
    kwargs[kind] = path
    add_entry(name, family=family, store=store, **kwargs)
    made.append(name)
    return name


def _split_config(name: str, like: str) -> dict[str, Any]:
    full = TrainConfig.for_model(like).to_dict()
    return {"model": name, **{k: full[k] for k in SPLIT_KEYS}}


def check_fits(model: Any, data: Dataset, task: str, *, what: str = "the data") -> None:
    """Raise a one-line `ConfigError` unless `model`'s input takes one sample of `data`
    and its output fits the task (K class probabilities or one sigmoid unit; one value
    for a forecaster).

    Example:
        >>> import keras
        >>> from zoo.data import load_dataset
        >>> net = keras.Sequential([keras.Input((30,)), keras.layers.Dense(3)])
        >>> check_fits(net, load_dataset("cancer"), "classification", what="cancer")
        Traceback (most recent call last):
        ...
        zoo.errors.ConfigError: the model's output is (3,) but cancer has 2 classes; ...
    """
    sample = tuple(data.x_test.shape[1:])
    given = tuple(model.input_shape[1:])
    if given != sample:
        raise ConfigError(
            f"the model's input is {given} but one sample of {what} is {sample}; build the "
            f"model with keras.Input({sample}) (zoo.dataset(entry).x_test shows the format)"
        )
    out = tuple(model.output_shape[1:])
    if task == "classification":
        k = data.n_classes or 0
        if out not in ((k,), (1,) if k == 2 else (k,)):
            raise ConfigError(
                f"the model's output is {out} but {what} has {k} classes; end the model with "
                f"Dense({k}, activation='softmax')" + (" or one sigmoid unit" if k == 2 else "")
            )
    elif out != (1,):
        raise ConfigError(
            f"the model's output is {out}; a forecaster of {what} outputs one value, (1,)"
        )


def _check_probabilities(raw: np.ndarray, what: str) -> None:
    if raw.ndim != 2 or not np.isfinite(raw).all():
        raise DataError(f"{what} gives NaN or infinite outputs on the test split; not stored")
    if raw.min() < -1e-4 or raw.max() > 1 + 1e-4:
        raise ConfigError(
            f"{what} outputs values outside [0, 1] ({raw.min():.3g} to {raw.max():.3g}): they "
            "are not class probabilities; end the model with a softmax (or one sigmoid unit)"
        )
    sums = raw.sum(axis=1)
    if raw.shape[1] > 1 and np.abs(sums - 1).max() > 1e-3:
        raise ConfigError(
            f"{what}'s outputs sum to {sums.min():.3g}..{sums.max():.3g} per sample, not 1: "
            "they are not class probabilities; end the model with a softmax"
        )


def store_version(
    name: str,
    model: Any,
    *,
    config: dict[str, Any],
    data: Dataset,
    store: Store,
    outputs: Any = None,
    extra_metrics: dict[str, Any] | None = None,
) -> Any:
    """Store `model` (not trained by the zoo) as the next version of `name`: the
    writing path of every trained version (staging folder, `model.keras` loaded back
    with `safe_mode=True`, test metrics with intervals and baselines, model card,
    manifest, `Store.commit`), with an empty history. `config` is the split and
    `origin`; `outputs(model)`, when given, computes the test outputs the metrics are
    scored on (an ensemble's majority vote). Returns the stored version, loaded.

    Example:
        >>> import tempfile, keras
        >>> from zoo.data import load_dataset
        >>> net = keras.Sequential([keras.Input((30,)), keras.layers.Dense(2, "softmax")])
        >>> store, data = Store(tempfile.mkdtemp()), load_dataset("cancer")
        >>> cfg = {"model": "mlp-cancer", "origin": {"kind": "imported", "source": "demo"}}
        >>> m = store_version("mlp-cancer", net, config=cfg, data=data, store=store)
        >>> m.ref, (m.path / "card.md").read_text().count("imported from demo")
        ('mlp-cancer@1', 1)
    """
    from zoo._tf import keras
    from zoo.card import model_card, origin_text
    from zoo.evaluation import test_split_metrics
    from zoo.trained import load_trained

    spec = registry.get_spec(name)
    cfg = TrainConfig.from_dict(config)
    what = f"the model for {name}"
    with store.staging(name) as folder:
        model.save(folder / "model.keras")
        try:
            stored = keras().saving.load_model(
                folder / "model.keras", safe_mode=True, compile=False
            )
        except Exception as err:  # what Keras cannot load back is never published
            raise ConfigError(
                f"{what} does not load back with safe_mode=True ({_first_line(err)}); "
                "nothing was stored"
            ) from None
        raw = np.asarray(
            outputs(stored) if outputs else stored.predict(data.x_test, batch_size=1024, verbose=0)
        )
        if spec.task == "classification":
            _check_probabilities(raw, what)
        elif not np.isfinite(raw).all():
            raise DataError(f"{what} gives NaN or infinite outputs on the test split; not stored")
        metrics = test_split_metrics(data, spec.task, raw)
        metrics.update(_baselines(cfg, data, spec.task, raw))
        metrics["diagnosis"] = {
            "verdict": "unknown",
            "message": "not trained here: no per-epoch history to diagnose",
        }
        metrics["dataset"] = dataset_info(data)
        metrics["parameters"] = int(stored.count_params())
        metrics.update(extra_metrics or {})
        write_json(folder, "config.json", config)
        write_json(folder, "history.json", {})
        (folder / "history.csv").write_text("epoch\n")
        write_json(folder, "metrics.json", metrics)
        if data.preprocessing:  # the user's data: its fitted preprocessing, as JSON
            write_json(folder, "preprocessing.json", data.preprocessing)
        card = model_card(name, cfg, data, metrics, origin=origin_text(config))
        (folder / "card.md").write_text(card)
        version = store.commit(name, folder)
    log.info("stored %s@%d in %s", name, version, store.root)
    return load_trained(f"{name}@{version}", store)


def _baselines(cfg: TrainConfig, data: Dataset, task: str, raw: np.ndarray) -> dict[str, Any]:
    # `zoo.baselines.compare_run` on given outputs (an ensemble's vote is not the model's
    # predict); a data problem is recorded, never allowed to lose the version.
    from zoo import baselines
    from zoo.training import train_split

    try:
        x_train, y_train = train_split(cfg, data)
        fit = baselines.fit_split(x_train, y_train, data.x_val, data.y_val)
        test = (data.x_test, data.y_test)
        if task == "classification":
            return baselines.compare_classifier(
                fit, test, raw, n_classes=data.n_classes or 2, seed=cfg.seed,
                standardize=data.input_kind == "tabular",
            )  # fmt: skip
        from zoo.evaluation import naive_baseline

        return baselines.compare_forecaster(
            fit, test, raw, to_units=data.to_units, naive=naive_baseline(data), seed=cfg.seed
        )
    except (ValueError, ZooError, np.linalg.LinAlgError) as err:
        log.warning("no baselines for %s: %s", cfg.model, err)
        return {"baselines": {"error": f"{type(err).__name__}: {err}"}}
