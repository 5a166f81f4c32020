"""Keras Zoo: train, compare, load and explain Keras models on real data.

The public API. Importing `zoo` is cheap: TensorFlow loads only when a model is
trained, loaded or built.

Example:
    >>> import zoo
    >>> "cnn-digits" in zoo.list_models()
    True
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo.config import TrainConfig
from zoo.deleting import Deleted, delete, delete_entry
from zoo.entries import add_entry
from zoo.errors import ArtifactError, ConfigError, DataError, UnknownModelError, ZooError
from zoo.registry import ModelSpec, get_spec, list_models, register
from zoo.store import RunInfo, Store
from zoo.sweeps import SweepResult, list_sweeps, load_sweep, sweep

if TYPE_CHECKING:
    from zoo.data import Dataset
    from zoo.trained import TrainedModel

__version__ = "0.1.0"

__all__ = [
    "ArtifactError",
    "ConfigError",
    "DataError",
    "Deleted",
    "ModelSpec",
    "RunInfo",
    "Store",
    "SweepResult",
    "TrainConfig",
    "UnknownModelError",
    "ZooError",
    "add_entry",
    "dataset",
    "delete",
    "delete_entry",
    "describe",
    "ensemble",
    "get_spec",
    "import_model",
    "list_models",
    "list_sweeps",
    "load",
    "load_sweep",
    "register",
    "runs",
    "sweep",
    "train",
]


def describe(name: str, *, store: Store | str | Path | None = None) -> dict[str, Any]:
    """An entry's family, task, dataset, summary and default options; for an entry on
    your own data (`add_entry`) also its `source` (kind, path, target, ...).

    Example:
        >>> describe("lstm-co2")["task"]
        'regression'
    """
    if store is not None and not isinstance(store, Store):
        Store(store)  # reads the custom entries stored there
    from zoo.entries import describe_source

    spec = get_spec(name)
    return {
        "name": spec.name,
        "family": spec.family,
        "task": spec.task,
        "dataset": spec.dataset,
        "summary": spec.summary,
        "defaults": TrainConfig.for_model(name).to_dict(),
        "quick": dict(spec.quick),
        "needs": list(spec.needs),
        "source": describe_source(name),
    }


def train(name: str, *, store: Store | str | Path | None = None, **options: Any) -> TrainedModel:
    """Train entry `name` with `TrainConfig` options and store it as a new version.

    Example:
        >>> import tempfile
        >>> run = train("mlp-cancer", epochs=2, store=tempfile.mkdtemp())
        >>> run.ref, 0.5 < run.metrics["accuracy"] <= 1
        ('mlp-cancer@1', True)
    """
    from zoo.training import train as _train

    # The store first: its custom entries (`add_entry`) must be known before the config.
    return _train(name, store=store if isinstance(store, Store) else Store(store), **options)


def load(ref: str, *, store: Store | str | Path | None = None) -> TrainedModel:
    """Load `name` (latest good version) or `name@version`; verified, `safe_mode=True`.

    Example:
        >>> m = load("cnn-digits")
        >>> m.model.output_shape
        (None, 10)
    """
    from zoo.trained import load_trained

    return load_trained(ref, store if isinstance(store, Store) else Store(store))


def runs(name: str | None = None, *, store: Store | str | Path | None = None) -> list[RunInfo]:
    """Stored versions (of `name`, or all), with status, config and test metrics.

    Example:
        >>> runs("cnn-digits", store="/tmp/empty-zoo-store")
        []
    """
    store = store if isinstance(store, Store) else Store(store)
    if name is not None:
        get_spec(name)
    return store.runs(name)


def dataset(name: str, **options: Any) -> Dataset:
    """The splits entry `name` trains on (with its default config, or `options`).

    Example:
        >>> d = dataset("cnn-digits")
        >>> d.x_train.shape[1:], len(d.class_names)
        ((8, 8, 1), 10)
    """
    from zoo.trained import dataset_for

    return dataset_for(TrainConfig.for_model(name, **options), get_spec(name).dataset)


def import_model(
    model_or_path: Any,
    data: str | Path,
    name: str | None = None,
    store: Store | str | Path | None = None,
    **source: Any,
) -> TrainedModel:
    """Store a Keras model trained outside the zoo (a `keras.Model` or a `.keras` file)
    as a new version, evaluated on `data`'s test split; returns it loaded (`safe_mode`).

    `data`: a bundled dataset ('cancer', 'digits', ...), a zoo entry, or your file
    (`target=` for a CSV, `column=` for a series). Custom objects, or an input or output
    that does not fit the data, are one-line errors and nothing is stored
    (`zoo.imports.import_model`).

    Example:
        >>> import tempfile, keras
        >>> net = keras.Sequential([keras.Input((30,)), keras.layers.Dense(2, "softmax")])
        >>> import_model(net, "cancer", name="mlp-mine", store=tempfile.mkdtemp()).ref
        'mlp-mine@1'
        >>> from zoo.entries import forget; forget("mlp-mine")  # this process only
    """
    from zoo.imports import import_model as _import

    return _import(model_or_path, data, name=name, store=store, **source)


def ensemble(
    name: str,
    members: str | list[str],
    *,
    method: str = "mean",
    store: Store | str | Path | None = None,
) -> TrainedModel:
    """Store an ensemble of stored versions ('a@1,b@2' or a list) as a new version of
    `name`: one Keras model averaging their outputs, scored by its mean or majority
    `method` on their shared test split, with each member's score and the gain over the
    best in `metrics['ensemble']` (`zoo.ensembles.ensemble`).

    Example:
        >>> ensemble("ens-demo", "mlp-cancer@1")
        Traceback (most recent call last):
        ...
        zoo.errors.ConfigError: an ensemble needs at least two members, got ['mlp-cancer@1']; ...
    """
    from zoo.ensembles import ensemble as _ensemble

    return _ensemble(name, members, method=method, store=store)
