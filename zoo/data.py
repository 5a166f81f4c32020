"""Datasets of the zoo: real data that ships inside packages, plus Keras' own (opt-in).

Every loader returns a `Dataset` with train / validation / test splits and the metadata
explanations and reports need (class names, feature names, a description). Splits are
deterministic for a given seed and fractions, so `zoo.dataset(name)` and a trained
model's `dataset()` give back exactly the splits its training used.
"""

from __future__ import annotations

import functools
import gzip
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from zoo.errors import DataError

INPUT_KINDS = ("image", "sequence", "tabular")
DATASETS = ("digits", "digits-rows", "digits-signed", "cancer", "co2", "mnist", "fashion-mnist")


@dataclass(frozen=True, eq=False)
class Dataset:
    """Train / validation / test splits of one dataset, with its metadata.

    `y_*` hold integer class indices for classification and float targets of shape
    (n, 1) for regression. `description` says where the data comes from and how it was
    split; `extra` holds arrays some tasks need (e.g. the forecaster's raw levels).

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
            >>> change = d.to_units(d.y_test[:3])  # next week's change in ppm
            >>> np.allclose(d.from_units(change), d.y_test[:3])
            True
            >>> float(d.to_units(0.0)) == float(d.extra["target_mean"])
            True
        """
        scale, offset = self.target_scaling
        return np.asarray(y, np.float64) * scale + offset

    def from_units(self, y: ArrayLike) -> np.ndarray:
        """Targets in data units (`unit`) in the model's (standardized) output space.

        Example:
            >>> d = load_dataset("co2")
            >>> float(d.from_units(d.extra["target_mean"]))
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
    if name not in DATASETS:
        raise DataError(f"unknown dataset {name!r}; expected one of {sorted(DATASETS)}")
    # Keras' datasets are files the user can replace: their folder is part of the key.
    source = str(keras_cache_dir()) if name in ("mnist", "fashion-mnist") else ""
    return _load_cached(name, validation_fraction, test_fraction, seed, window, download, source)


@functools.lru_cache(maxsize=16)
def _load_cached(
    name: str, val: float, test: float, seed: int, window: int, download: bool, source: str
) -> Dataset:
    loaders = {
        "digits": lambda: _digits(name, val, test, seed),
        "digits-rows": lambda: _digits(name, val, test, seed),
        "digits-signed": lambda: _digits(name, val, test, seed),
        "cancer": lambda: _cancer(val, test, seed),
        "co2": lambda: _co2(val, test, window),
        "mnist": lambda: _keras_images(name, val, seed, download),
        "fashion-mnist": lambda: _keras_images(name, val, seed, download),
    }
    data = loaders[name]()
    for arr in (data.x_train, data.y_train, data.x_val, data.y_val, data.x_test, data.y_test):
        arr.setflags(write=False)  # shared through the cache: nobody may edit it in place
    return data


def _stratified_split(
    y: np.ndarray, val: float, test: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(y))
    rest, test_idx = train_test_split(idx, test_size=test, random_state=seed, stratify=y)
    train_idx, val_idx = train_test_split(
        rest, test_size=val / (1 - test), random_state=seed, stratify=y[rest]
    )
    return train_idx, val_idx, test_idx


def _describe(source: str, url: str, n: int, splits: tuple[int, int, int], **more: Any) -> dict:
    return {
        "source": source,
        "url": url,
        "n_samples": n,
        "splits": {"train": splits[0], "val": splits[1], "test": splits[2]},
        **more,
    }


def _digits(name: str, val: float, test: float, seed: int) -> Dataset:
    from sklearn.datasets import load_digits

    raw = load_digits()
    x = (raw.images / 16.0).astype("float32")
    y = raw.target.astype("int64")
    tr, va, te = _stratified_split(y, val, test, seed)
    if name == "digits-rows":
        kind, shape_note = "sequence", "8 time steps (rows) x 8 features (pixels)"
        feature_names = tuple(f"col {i}" for i in range(8))
    else:
        x = x[..., None]
        kind, shape_note = "image", "8x8x1 grayscale images"
        feature_names = None
    if name == "digits-signed":
        x = x * 2.0 - 1.0
        scale = "[-1, 1]"
    else:
        scale = "[0, 1]"
    return Dataset(
        name=name,
        task="classification",
        input_kind=kind,
        x_train=x[tr],
        y_train=y[tr],
        x_val=x[va],
        y_val=y[va],
        x_test=x[te],
        y_test=y[te],
        class_names=tuple(str(c) for c in range(10)),
        feature_names=feature_names,
        description=_describe(
            "scikit-learn load_digits (UCI optical recognition of handwritten digits)",
            "https://archive.ics.uci.edu/dataset/80",
            len(y),
            (len(tr), len(va), len(te)),
            input=f"{shape_note}, pixel intensity 0..16 scaled to {scale}",
            split="stratified by class, shuffled with the run's seed",
            class_names=[str(c) for c in range(10)],
        ),
    )


def _cancer(val: float, test: float, seed: int) -> Dataset:
    from sklearn.datasets import load_breast_cancer

    raw = load_breast_cancer()
    x = raw.data.astype("float32")
    y = raw.target.astype("int64")
    tr, va, te = _stratified_split(y, val, test, seed)
    # Standardize with statistics of the training split only: no test leakage.
    mean, std = x[tr].mean(axis=0), x[tr].std(axis=0) + 1e-8
    x = (x - mean) / std
    names = tuple(str(n) for n in raw.feature_names)
    return Dataset(
        name="cancer",
        task="classification",
        input_kind="tabular",
        x_train=x[tr],
        y_train=y[tr],
        x_val=x[va],
        y_val=y[va],
        x_test=x[te],
        y_test=y[te],
        class_names=tuple(str(c) for c in raw.target_names),
        feature_names=names,
        description=_describe(
            "scikit-learn load_breast_cancer (Wisconsin diagnostic breast cancer)",
            "https://archive.ics.uci.edu/dataset/17",
            len(y),
            (len(tr), len(va), len(te)),
            input="30 real-valued features of cell nuclei, standardized with train-split "
            "mean and standard deviation",
            split="stratified by class, shuffled with the run's seed",
            class_names=[str(c) for c in raw.target_names],
            feature_names=list(names),
        ),
        extra={"feature_mean": mean, "feature_std": std},
        feature_scaling=(std, mean),
    )


def _co2(val: float, test: float, window: int) -> Dataset:
    import pandas as pd
    from statsmodels.datasets import co2

    series = co2.load_pandas().data["co2"]
    n_gaps = int(series.isna().sum())
    # Weekly record with missing weeks: fill by time interpolation (a gap never spans
    # more than a few weeks, so a straight line is a fair stand-in).
    levels = series.interpolate(method="time").bfill().to_numpy("float64")
    dates = pd.DatetimeIndex(series.index)
    changes = np.diff(levels)  # the trend makes levels non-stationary; changes are not
    n = len(changes) - window
    x_idx = np.arange(window)[None, :] + np.arange(n)[:, None]
    target_idx = np.arange(n) + window  # change predicted: levels[t+1] - levels[t]
    n_test = int(round(n * test))
    n_val = int(round(n * val))
    n_train = n - n_test - n_val
    # Chronological split; scale fitted on the changes the training windows can see.
    train_changes = changes[: target_idx[n_train - 1] + 1]
    mu, sigma = float(train_changes.mean()), float(train_changes.std())
    scaled = ((changes - mu) / sigma).astype("float32")
    x = scaled[x_idx][..., None]
    y = scaled[target_idx][:, None]
    last_level = levels[target_idx]  # level at the end of each window
    next_level = levels[target_idx + 1]
    sl = {
        "train": slice(0, n_train),
        "val": slice(n_train, n_train + n_val),
        "test": slice(n_train + n_val, n),
    }
    when = dates[target_idx + 1]
    return Dataset(
        name="co2",
        task="regression",
        input_kind="sequence",
        x_train=x[sl["train"]],
        y_train=y[sl["train"]],
        x_val=x[sl["val"]],
        y_val=y[sl["val"]],
        x_test=x[sl["test"]],
        y_test=y[sl["test"]],
        feature_names=("weekly change",),
        description=_describe(
            "statsmodels co2 (Mauna Loa weekly atmospheric CO2, ppm, 1958-2001)",
            "https://www.statsmodels.org/stable/datasets/generated/co2.html",
            len(series),
            (n_train, n_val, n - n_train - n_val),
            input=f"the last {window} weekly changes of the CO2 level, standardized with "
            "the training period's mean and standard deviation",
            target="next week's change (the forecast level is the last level plus it)",
            gaps_filled=n_gaps,
            split="chronological: train, then validation, then test; no shuffling",
            test_period=f"{when[n_train + n_val].date()} .. {when[-1].date()}",
            unit="ppm",
        ),
        extra={
            "target_mean": np.float64(mu),
            "target_std": np.float64(sigma),
            "last_level_test": last_level[sl["test"]],
            "next_level_test": next_level[sl["test"]],
            "dates_test": when[sl["test"]].to_numpy().astype("datetime64[D]"),
        },
        unit="ppm",
        feature_unit="ppm",
        # inputs and target are weekly changes, standardized with the same statistics
        target_scaling=(sigma, mu),
        feature_scaling=(sigma, mu),
    )


def keras_cache_dir() -> Path:
    """Where Keras keeps downloaded datasets (`$KERAS_HOME/datasets`, else ~/.keras).

    Example:
        >>> keras_cache_dir().name
        'datasets'
    """
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "datasets"


def _keras_images(name: str, val: float, seed: int, download: bool) -> Dataset:
    cache = keras_cache_dir()
    if name == "mnist":
        files = [cache / "mnist.npz"]
    else:
        folder = cache / "fashion-mnist"
        files = [
            folder / f
            for f in (
                "train-labels-idx1-ubyte.gz",
                "train-images-idx3-ubyte.gz",
                "t10k-labels-idx1-ubyte.gz",
                "t10k-images-idx3-ubyte.gz",
            )
        ]
    if not all(f.exists() for f in files):
        if not download:
            raise DataError(
                f"dataset {name!r} is not in Keras' cache ({', '.join(map(str, files))}) and "
                "downloading is off; pass download=True (CLI: --download) to fetch it once, "
                "or copy the file(s) there"
            )
        import keras

        module = keras.datasets.mnist if name == "mnist" else keras.datasets.fashion_mnist
        (x_tr, y_tr), (x_te, y_te) = module.load_data()
    elif name == "mnist":
        x_tr, y_tr, x_te, y_te = _read_mnist_npz(files[0])
    else:
        y_tr, x_tr, y_te, x_te = (_read_idx(f) for f in files)
    return _image_dataset(name, x_tr, y_tr, x_te, y_te, val, seed)


def _read_mnist_npz(path: Path) -> tuple[np.ndarray, ...]:
    try:
        with np.load(path, allow_pickle=False) as f:
            return f["x_train"], f["y_train"], f["x_test"], f["y_test"]
    except (OSError, KeyError, ValueError) as err:
        raise DataError(
            f"{path} is not a valid MNIST file ({err}); expected an .npz with x_train, "
            "y_train, x_test, y_test; delete it and load again with download=True"
        ) from None


def _read_idx(path: Path) -> np.ndarray:
    # Keras' fashion-mnist cache: gzip'd IDX files, 8-byte header for labels, 16 for images.
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except OSError as err:
        raise DataError(f"{path} is not a valid gzip IDX file ({err}); delete it") from None
    if "labels" in path.name:
        return np.frombuffer(raw, np.uint8, offset=8).astype("int64")
    images = np.frombuffer(raw, np.uint8, offset=16)
    return images.reshape(-1, 28, 28)


def _image_dataset(
    name: str,
    x_tr: np.ndarray,
    y_tr: np.ndarray,
    x_te: np.ndarray,
    y_te: np.ndarray,
    val: float,
    seed: int,
) -> Dataset:
    from sklearn.model_selection import train_test_split

    if len(x_tr) != len(y_tr) or len(x_te) != len(y_te):
        raise DataError(f"{name}: images and labels differ in length; the cache file is broken")
    x_tr = (np.asarray(x_tr, "float32") / 255.0)[..., None]
    x_te = (np.asarray(x_te, "float32") / 255.0)[..., None]
    y_tr, y_te = np.asarray(y_tr, "int64"), np.asarray(y_te, "int64")
    idx = np.arange(len(y_tr))
    counts = np.bincount(y_tr)
    stratify = y_tr if counts[counts > 0].min() >= 2 else None
    tr, va = train_test_split(idx, test_size=val, random_state=seed, stratify=stratify)
    names = (
        tuple(str(c) for c in range(10))
        if name == "mnist"
        else (
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
        )
    )
    return Dataset(
        name=name,
        task="classification",
        input_kind="image",
        x_train=x_tr[tr],
        y_train=y_tr[tr],
        x_val=x_tr[va],
        y_val=y_tr[va],
        x_test=x_te,
        y_test=y_te,
        class_names=names,
        description=_describe(
            f"keras.datasets.{name.replace('-', '_')} (read from Keras' cache)",
            "https://keras.io/api/datasets/",
            len(y_tr) + len(y_te),
            (len(tr), len(va), len(y_te)),
            input=f"{x_tr.shape[1]}x{x_tr.shape[2]}x1 grayscale images scaled to [0, 1]",
            split="Keras' own test split; validation drawn stratified from its train split",
            class_names=list(names),
        ),
    )
