"""How each dataset in `zoo.data`'s facts table is read and split.

One function per `loader` named in the table: it reads the raw data, splits it
deterministically, fits any scaling on the training split only, and returns a `Dataset`
whose name, task, kind, classes and units come from the dataset's facts.
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import numpy as np

from zoo.data import Dataset, DatasetFacts, keras_cache_dir
from zoo.errors import DataError

Split = tuple[np.ndarray, np.ndarray]


def _dataset(
    f: DatasetFacts,
    train: Split,
    val: Split,
    test: Split,
    *,
    description: dict[str, Any],
    feature_names: tuple[str, ...] | None = None,
    extra: dict[str, np.ndarray] | None = None,
    target_scaling: tuple[float, float] = (1.0, 0.0),
    feature_scaling: tuple[Any, Any] = (1.0, 0.0),
) -> Dataset:
    # Everything a loader does not compute comes from the facts table.
    return Dataset(
        name=f.name,
        task=f.task,
        input_kind=f.input_kind,
        x_train=train[0],
        y_train=train[1],
        x_val=val[0],
        y_val=val[1],
        x_test=test[0],
        y_test=test[1],
        class_names=f.class_names,
        feature_names=feature_names,
        description=description,
        extra=extra or {},
        unit=f.unit,
        feature_unit=f.feature_unit,
        target_scaling=target_scaling,
        feature_scaling=feature_scaling,
    )


def _take(x: np.ndarray, y: np.ndarray, parts: tuple[Any, ...]) -> tuple[Split, ...]:
    # (train, val, test) pairs from index arrays or slices into x and y.
    return tuple((x[part], y[part]) for part in parts)


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


def _sizes(parts: tuple[Split, ...]) -> tuple[int, int, int]:
    train, val, test = (len(y) for _, y in parts)
    return train, val, test


def digits(f: DatasetFacts, *, val: float, test: float, seed: int, **_: Any) -> Dataset:
    from sklearn.datasets import load_digits

    raw = load_digits()
    x = (raw.images / 16.0).astype("float32")
    y = raw.target.astype("int64")
    if f.input_kind == "sequence":
        shape_note = "8 time steps (rows) x 8 features (pixels)"
        feature_names = tuple(f"col {i}" for i in range(8))
    else:
        x = x[..., None]
        shape_note = "8x8x1 grayscale images"
        feature_names = None
    if f.name == "digits-signed":  # the GAN's tanh output range
        x = x * 2.0 - 1.0
        scale = "[-1, 1]"
    else:
        scale = "[0, 1]"
    parts = _take(x, y, _stratified_split(y, val, test, seed))
    return _dataset(
        f,
        *parts,
        feature_names=feature_names,
        description=_describe(
            "scikit-learn load_digits (UCI optical recognition of handwritten digits)",
            "https://archive.ics.uci.edu/dataset/80",
            len(y),
            _sizes(parts),
            input=f"{shape_note}, pixel intensity 0..16 scaled to {scale}",
            split="stratified by class, shuffled with the run's seed",
            class_names=list(f.class_names or ()),
        ),
    )


def cancer(f: DatasetFacts, *, val: float, test: float, seed: int, **_: Any) -> Dataset:
    from sklearn.datasets import load_breast_cancer

    raw = load_breast_cancer()
    if tuple(str(c) for c in raw.target_names) != f.class_names:
        raise DataError(
            f"scikit-learn's breast-cancer classes are {list(raw.target_names)}, not "
            f"{f.class_names}; update the zoo's dataset table (zoo/data.py)"
        )
    x = raw.data.astype("float32")
    y = raw.target.astype("int64")
    tr, va, te = _stratified_split(y, val, test, seed)
    # Standardize with statistics of the training split only: no test leakage.
    mean, std = x[tr].mean(axis=0), x[tr].std(axis=0) + 1e-8
    x = (x - mean) / std
    names = tuple(str(n) for n in raw.feature_names)
    parts = _take(x, y, (tr, va, te))
    return _dataset(
        f,
        *parts,
        feature_names=names,
        description=_describe(
            "scikit-learn load_breast_cancer (Wisconsin diagnostic breast cancer)",
            "https://archive.ics.uci.edu/dataset/17",
            len(y),
            _sizes(parts),
            input="30 real-valued features of cell nuclei, standardized with train-split "
            "mean and standard deviation",
            split="stratified by class, shuffled with the run's seed",
            class_names=list(f.class_names or ()),
            feature_names=list(names),
        ),
        feature_scaling=(std, mean),
    )


def co2(f: DatasetFacts, *, val: float, test: float, window: int, **_: Any) -> Dataset:
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
    in_test = slice(n_train + n_val, n)
    parts = _take(x, y, (slice(0, n_train), slice(n_train, n_train + n_val), in_test))
    when = dates[target_idx + 1]
    return _dataset(
        f,
        *parts,
        feature_names=("weekly change",),
        description=_describe(
            "statsmodels co2 (Mauna Loa weekly atmospheric CO2, ppm, 1958-2001)",
            "https://www.statsmodels.org/stable/datasets/generated/co2.html",
            len(series),
            _sizes(parts),
            input=f"the last {window} weekly changes of the CO2 level, standardized with "
            "the training period's mean and standard deviation",
            target="next week's change (the forecast level is the last level plus it)",
            gaps_filled=n_gaps,
            split="chronological: train, then validation, then test; no shuffling",
            test_period=f"{when[n_train + n_val].date()} .. {when[-1].date()}",
            unit=f.unit,
        ),
        extra={
            "last_level_test": last_level[in_test],
            "next_level_test": next_level[in_test],
            "dates_test": when[in_test].to_numpy().astype("datetime64[D]"),
        },
        # inputs and target are weekly changes, standardized with the same statistics
        target_scaling=(sigma, mu),
        feature_scaling=(sigma, mu),
    )


def keras_images(f: DatasetFacts, *, val: float, seed: int, download: bool, **_: Any) -> Dataset:
    name = f.name
    cache = keras_cache_dir()
    if name == "mnist":
        files = [cache / "mnist.npz"]
    else:
        folder = cache / "fashion-mnist"
        files = [
            folder / file
            for file in (
                "train-labels-idx1-ubyte.gz",
                "train-images-idx3-ubyte.gz",
                "t10k-labels-idx1-ubyte.gz",
                "t10k-images-idx3-ubyte.gz",
            )
        ]
    if not all(file.exists() for file in files):
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
        y_tr, x_tr, y_te, x_te = (_read_idx(file) for file in files)
    return _image_dataset(f, x_tr, y_tr, x_te, y_te, val, seed)


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
    f: DatasetFacts,
    x_tr: np.ndarray,
    y_tr: np.ndarray,
    x_te: np.ndarray,
    y_te: np.ndarray,
    val: float,
    seed: int,
) -> Dataset:
    from sklearn.model_selection import train_test_split

    if len(x_tr) != len(y_tr) or len(x_te) != len(y_te):
        raise DataError(f"{f.name}: images and labels differ in length; the cache file is broken")
    x_tr = (np.asarray(x_tr, "float32") / 255.0)[..., None]
    x_te = (np.asarray(x_te, "float32") / 255.0)[..., None]
    y_tr, y_te = np.asarray(y_tr, "int64"), np.asarray(y_te, "int64")
    idx = np.arange(len(y_tr))
    counts = np.bincount(y_tr)
    stratify = y_tr if counts[counts > 0].min() >= 2 else None
    tr, va = train_test_split(idx, test_size=val, random_state=seed, stratify=stratify)
    parts = (*_take(x_tr, y_tr, (tr, va)), (x_te, y_te))
    return _dataset(
        f,
        *parts,
        description=_describe(
            f"keras.datasets.{f.name.replace('-', '_')} (read from Keras' cache)",
            "https://keras.io/api/datasets/",
            len(y_tr) + len(y_te),
            _sizes(parts),
            input=f"{x_tr.shape[1]}x{x_tr.shape[2]}x1 grayscale images scaled to [0, 1]",
            split="Keras' own test split; validation drawn stratified from its train split",
            class_names=list(f.class_names or ()),
        ),
    )
