"""Datasets of the zoo: real data that ships inside packages, plus Keras' own (opt-in).

Every loader returns a `Dataset` with train / validation / test splits and the metadata
explanations and reports need (class names, feature names, a description). Splits are
deterministic for a given seed and fractions, so `zoo.dataset(name)` and a trained
model's `dataset()` give back exactly the splits its training used.

What is known about a dataset without loading it (its classes, kind, units, limits and
loader) is one row of one table, read with `facts(name)`: cheap, no TensorFlow, no data.
"""

from __future__ import annotations

import functools
import importlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from zoo.errors import DataError

INPUT_KINDS = ("image", "sequence", "tabular")
KINDS = ("image", "sequence", "tabular", "forecast")


@dataclass(frozen=True)
class DatasetFacts:
    """A dataset's facts, known without loading it: one row of the table `facts` reads.

    `kind` is image, sequence, tabular or forecast (a sequence whose target is the
    series' next value); `class_names` is None for regression; `unit` is the target's
    unit in data units and `feature_unit` the inputs' where they share one. The numbers
    that convert model values to those units are fitted on each training split, so they
    live on the loaded `Dataset` (`to_units`, `features_to_units`). `limits` says what
    the data does not cover (model cards quote it).

    Example:
        >>> f = facts("co2")
        >>> f.kind, f.task, f.input_kind, f.unit, f.n_classes
        ('forecast', 'regression', 'sequence', 'ppm', None)
    """

    name: str
    kind: str
    class_names: tuple[str, ...] | None
    unit: str = ""
    feature_unit: str = ""
    limits: str = ""
    # Read from Keras' cache folder (a file the user can replace); downloaded on request.
    keras_cache: bool = False
    # The "module:function" that reads and splits it, imported only when it is loaded.
    loader: str = field(default="", repr=False)
    # Sizes config validation checks against before any data is loaded: one sample's
    # shape (None where a setting decides it, as a forecaster's window) and the time steps
    # a forecaster's windows are cut from.
    input_shape: tuple[int, ...] | None = None
    series_length: int | None = None
    # A user's dataset: the `zoo.userdata.Source` its loader reads (None: bundled data).
    source: Any = field(default=None, repr=False, compare=False)

    @property
    def task(self) -> str:
        """'classification' for datasets with classes, else 'regression'."""
        return "regression" if self.class_names is None else "classification"

    @property
    def n_classes(self) -> int | None:
        """Number of classes (None for regression)."""
        return None if self.class_names is None else len(self.class_names)

    @property
    def input_kind(self) -> str:
        """How a model reads one sample: image, sequence or tabular."""
        return "sequence" if self.kind == "forecast" else self.kind


_DIGIT_CLASSES = tuple(str(c) for c in range(10))
_DIGITS_LIMITS = (
    "Trained on small, centred 8x8 scans of handwritten digits; it has not seen other "
    "resolutions, stroke widths or backgrounds, and will still answer confidently on them."
)
_FACTS = {
    f.name: f
    for f in (
        DatasetFacts(
            "digits",
            "image",
            _DIGIT_CLASSES,
            limits=_DIGITS_LIMITS,
            loader="zoo._loaders:digits",
            input_shape=(8, 8, 1),
        ),
        DatasetFacts(
            "digits-rows",
            "sequence",
            _DIGIT_CLASSES,
            limits=_DIGITS_LIMITS,
            loader="zoo._loaders:digits",
            input_shape=(8, 8),
        ),
        DatasetFacts(
            "digits-signed",
            "image",
            _DIGIT_CLASSES,
            limits=_DIGITS_LIMITS,
            loader="zoo._loaders:digits",
            input_shape=(8, 8, 1),
        ),
        DatasetFacts(
            "cancer",
            "tabular",
            ("malignant", "benign"),
            limits="A research demo on 569 cases from one hospital; not a medical device and "
            "not validated for diagnosis.",
            loader="zoo._loaders:cancer",
            input_shape=(30,),
        ),
        DatasetFacts(
            "co2",
            "forecast",
            None,
            unit="ppm",
            feature_unit="ppm",
            limits="Reads fixed-length sequences shaped like its training windows; outside "
            "that range of values (another station, another era of CO2 growth) its forecasts "
            "are untested.",
            loader="zoo._loaders:co2",
            series_length=2283,  # weekly changes of the 2,284-week series
        ),
        DatasetFacts(
            "mnist",
            "image",
            _DIGIT_CLASSES,
            limits="Trained on centred 28x28 scans of handwritten digits (MNIST); it has not "
            "seen other resolutions, stroke widths or backgrounds, and will still answer "
            "confidently on them.",
            keras_cache=True,
            loader="zoo._loaders:keras_images",
            input_shape=(28, 28, 1),
        ),
        DatasetFacts(
            "fashion-mnist",
            "image",
            (
                "T-shirt/top",
                "Trouser",
                "Pullover",
                "Dress",
                "Coat",
                "Sandal",
                "Shirt",
                "Sneaker",
                "Bag",
                "Ankle boot",
            ),
            limits="Trained on 28x28 grayscale photos of ten kinds of clothing, shoes and bags "
            "(Fashion-MNIST), one centred item on a plain background; it has not seen colour, "
            "other backgrounds or other kinds of items, and will still answer confidently on "
            "them.",
            keras_cache=True,
            loader="zoo._loaders:keras_images",
            input_shape=(28, 28, 1),
        ),
    )
}
DATASETS = tuple(_FACTS)
# Datasets from the user's files (`zoo.userdata`), added by their entries (`zoo.entries`).
_USER_FACTS: dict[str, DatasetFacts] = {}


def register_facts(f: DatasetFacts) -> DatasetFacts:
    """Add (or replace) the facts of a user's dataset; a bundled dataset's name is refused.

    Example:
        >>> register_facts(DatasetFacts("digits", "image", None))
        Traceback (most recent call last):
        ...
        zoo.errors.DataError: dataset name 'digits' is a bundled dataset; pick another name
    """
    if f.name in _FACTS:
        raise DataError(f"dataset name {f.name!r} is a bundled dataset; pick another name")
    _USER_FACTS[f.name] = f
    return f


def unregister_facts(name: str) -> None:
    """Forget a user's dataset (a no-op for unknown names and bundled datasets).

    Example:
        >>> unregister_facts("user:nothing")
    """
    _USER_FACTS.pop(name, None)


def facts(name: str) -> DatasetFacts:
    """The facts of dataset `name`: classes, kind, units, limits (no data is loaded).

    Example:
        >>> facts("cancer").n_classes, facts("cancer").class_names
        (2, ('malignant', 'benign'))
        >>> facts("fashion-mnist").class_names[9]
        'Ankle boot'
    """
    found = _FACTS.get(name) or _USER_FACTS.get(name)
    if found is None:
        known = sorted([*DATASETS, *_USER_FACTS])
        raise DataError(f"unknown dataset {name!r}; expected one of {known}")
    return found


@dataclass(frozen=True, eq=False)
class Dataset:
    """Train / validation / test splits of one dataset, with its metadata.

    `y_*` hold integer class indices for classification and float targets of shape
    (n, 1) for regression. `description` says where the data comes from and how it was
    split; `extra` holds arrays some tasks need (the forecaster's raw levels and dates of
    its test split). Name, task, kind, classes and units come from the dataset's `facts`.

    Models see standardized data; people read data units. The conversion lives here and
    nowhere else: `to_units` / `from_units` for targets (model output <-> data units, in
    `unit`), `features_to_units` / `features_from_units` for inputs (model input <-> raw
    values, in `feature_unit` where the features share one). Both are affine,
    `data = scale * model + offset` (`target_scaling`, `feature_scaling`); the identity for
    data that is not standardized (digits, class probabilities).

    Example:
        >>> d = load_dataset("digits")
        >>> d.x_train.shape[1:], d.class_names[:3]
        ((8, 8, 1), ('0', '1', '2'))
    """

    name: str
    task: str
    input_kind: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple[str, ...] | None = None
    feature_names: tuple[str, ...] | None = None
    description: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, np.ndarray] = field(default_factory=dict)
    unit: str = ""
    feature_unit: str = ""
    target_scaling: tuple[float, float] = (1.0, 0.0)
    feature_scaling: tuple[Any, Any] = (1.0, 0.0)
    # A user's data: the fitted preprocessing as JSON (`zoo.preprocessing`), stored with
    # every version trained on it as preprocessing.json; empty for bundled data.
    preprocessing: dict[str, Any] = field(default_factory=dict)

    @property
    def target_scale(self) -> float:
        """How much one model-output unit is in data units (`to_units(y) = scale * y + offset`).

        Attributions of a regression target convert with it: a SHAP value `phi` of the
        model output is `target_scale * phi` in `unit`, and the base value converts like a
        prediction (`to_units(base)`), so attributions stay exactly additive.

        Example:
            >>> d = load_dataset("co2")
            >>> bool(np.isclose(d.to_units(1.0) - d.to_units(0.0), d.target_scale))
            True
            >>> load_dataset("cancer").target_scale  # class probabilities: not scaled
            1.0
        """
        return float(self.target_scaling[0])

    def to_units(self, y: ArrayLike) -> np.ndarray:
        """Model outputs (targets, predictions, base values) in data units (`unit`).

        The inverse of `from_units`; the identity for classifiers.

        Example:
            >>> d = load_dataset("co2")
            >>> d.unit
            'ppm'
            >>> change = d.to_units(d.y_test)  # next week's change in ppm
            >>> np.allclose(change.ravel(), d.extra["next_level_test"] - d.extra["last_level_test"])
            True
            >>> np.allclose(d.from_units(change), d.y_test)
            True
        """
        scale, offset = self.target_scaling
        return np.asarray(y, np.float64) * scale + offset

    def from_units(self, y: ArrayLike) -> np.ndarray:
        """Targets in data units (`unit`) in the model's (standardized) output space.

        Example:
            >>> d = load_dataset("co2")
            >>> float(d.from_units(d.to_units(0.0)))
            0.0
        """
        scale, offset = self.target_scaling
        return (np.asarray(y, np.float64) - offset) / scale

    def features_to_units(self, x: ArrayLike) -> np.ndarray:
        """Model inputs (one sample or a batch) as raw data values.

        Standardized tabular features become the measurements (mean radius in its own
        units), the forecaster's inputs become weekly changes in ppm; images stay as they
        are.

        Example:
            >>> from sklearn.datasets import load_breast_cancer
            >>> d = load_dataset("cancer")
            >>> raw = d.features_to_units(d.x_test[0])
            >>> f"{d.feature_names[0]} = {raw[0]:.3f} (model input {d.x_test[0, 0]:.2f})"
            'mean radius = 9.567 (model input -1.29)'
            >>> original = load_breast_cancer().data  # the row sklearn ships
            >>> np.allclose(original[np.abs(original - raw).max(axis=1).argmin()], raw)
            True
            >>> np.allclose(d.features_from_units(raw), d.x_test[0], atol=1e-5)
            True
            >>> x = load_dataset("digits").x_test[:1]
            >>> load_dataset("digits").features_to_units(x) is x  # identity: not scaled
            True
        """
        scale, offset = self.feature_scaling
        if _is_identity(scale, offset):
            return x if isinstance(x, np.ndarray) else np.asarray(x)
        return np.asarray(x, np.float64) * scale + offset

    def features_from_units(self, x: ArrayLike) -> np.ndarray:
        """Raw data values (e.g. a CSV row of measurements) as model inputs (float32).

        Example:
            >>> d = load_dataset("co2")
            >>> np.allclose(d.features_from_units(d.features_to_units(d.x_test[:1])),
            ...             d.x_test[:1], atol=1e-5)
            True
        """
        scale, offset = self.feature_scaling
        if _is_identity(scale, offset):
            return np.asarray(x, np.float32)
        return ((np.asarray(x, np.float64) - offset) / scale).astype(np.float32)

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one input sample."""
        return tuple(self.x_train.shape[1:])

    @property
    def n_classes(self) -> int | None:
        """Number of classes (None for regression)."""
        return None if self.class_names is None else len(self.class_names)

    def split(self, which: str) -> tuple[np.ndarray, np.ndarray]:
        """`(x, y)` of 'train', 'val' or 'test'.

        Example:
            >>> x, y = load_dataset("cancer").split("test")
            >>> len(x) == len(y)
            True
        """
        if which not in ("train", "val", "test"):
            raise DataError(f"split must be 'train', 'val' or 'test', got {which!r}")
        return getattr(self, f"x_{which}"), getattr(self, f"y_{which}")


def _is_identity(scale: Any, offset: Any) -> bool:
    return np.ndim(scale) == 0 and np.ndim(offset) == 0 and scale == 1.0 and offset == 0.0


def load_dataset(
    name: str,
    *,
    validation_fraction: float = 0.15,
    test_fraction: float = 0.15,
    seed: int = 0,
    window: int = 52,
    download: bool = False,
) -> Dataset:
    """Load dataset `name` with deterministic splits (cached per process).

    Names: digits (8x8x1 images in [0, 1]), digits-rows (8 rows of 8 pixels as a
    sequence), digits-signed (images in [-1, 1], for the GAN), cancer (30 standardized
    features), co2 (weekly CO2 changes in windows), mnist and fashion-mnist (Keras'
    datasets: read from Keras' cache, downloaded only with `download=True`).

    Example:
        >>> load_dataset("co2").x_train.shape[1:]
        (52, 1)
    """
    # Keras' datasets and the user's files can be replaced: where they are and (for the
    # user's) their sizes and times are part of the key.
    f = facts(name)
    source = str(keras_cache_dir()) if f.keras_cache else ""
    if f.source is not None:
        from zoo.userdata import fingerprint

        source = fingerprint(f.source)
    return _load_cached(name, validation_fraction, test_fraction, seed, window, download, source)


@functools.lru_cache(maxsize=16)
def _load_cached(
    name: str, val: float, test: float, seed: int, window: int, download: bool, source: str
) -> Dataset:
    f = facts(name)
    module, _, function = f.loader.partition(":")
    loader = getattr(importlib.import_module(module), function)
    data = loader(f, val=val, test=test, seed=seed, window=window, download=download)
    for arr in (data.x_train, data.y_train, data.x_val, data.y_val, data.x_test, data.y_test):
        arr.setflags(write=False)  # shared through the cache: nobody may edit it in place
    return data


def keras_cache_dir() -> Path:
    """Where Keras keeps downloaded datasets (`$KERAS_HOME/datasets`, else ~/.keras).

    Example:
        >>> keras_cache_dir().name
        'datasets'
    """
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "datasets"


def dataset_info(data: Dataset) -> dict[str, Any]:
    """The `dataset` block of a version's metrics: name, input, classes, features, source.

    Example:
        >>> from zoo.data import load_dataset
        >>> dataset_info(load_dataset("cancer"))["class_names"]
        ['malignant', 'benign']
    """
    return {
        "name": data.name,
        "input_kind": data.input_kind,
        "input_shape": list(data.input_shape),
        "class_names": list(data.class_names) if data.class_names else None,
        "feature_names": list(data.feature_names) if data.feature_names else None,
        "description": data.description,
    }
