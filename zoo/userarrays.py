"""Image folders and NumPy files as datasets (the array kinds of `zoo.userdata`).

An image folder is read the way `keras.utils.image_dataset_from_directory` reads one (one
sub-folder per class, sorted; .png, .jpg, .jpeg, .bmp, .gif files), but with PIL and no
TensorFlow: each image converted to grayscale or RGB and resized bilinearly to one size.
An .npz holds `x` and `y` (or `x_train`, `y_train`, `x_test`, `y_test`), loaded with
`allow_pickle=False`. Both are laid out for the family that reads them (`arrange`).

Example:
    >>> read_image(np.full((2, 2), 255, np.uint8), None, "grayscale").tolist()
    [[[255], [255]], [[255], [255]]]
"""

from __future__ import annotations

import collections
from pathlib import Path
from typing import Any

import numpy as np

from zoo.data import Dataset, DatasetFacts
from zoo.errors import DataError
from zoo.preprocessing import arrange, category_values
from zoo.userdata import (
    MAX_INTEGER_CLASSES,
    Source,
    _check_classes,
    _check_path,
    _dataset,
    _same_classes,
    _sizes,
    _split,
)

IMAGE_SUFFIXES = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
# Images are held in memory as float32: refuse what would not fit on a laptop.
MAX_IMAGE_BYTES = 4_000_000_000


def scan_images(root: Path) -> tuple[tuple[str, ...], list[list[Path]]]:
    """Class names (sub-folders, sorted) and each class's image files, the way
    `keras.utils.image_dataset_from_directory` reads a folder.

    Example:
        >>> import tempfile
        >>> scan_images(Path(tempfile.mkdtemp()))  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        zoo.errors.DataError: image folder ... has no class sub-folders; ...
    """
    _check_path(root, "image folder", folder=True)
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise DataError(
            f"image folder {root} has no class sub-folders; expected one sub-folder per class "
            f"holding its images (e.g. {root}/cat/1.png), as image_dataset_from_directory "
            "reads them"
        )
    files = []
    for name in classes:
        found = sorted(
            p
            for p in (root / name).rglob("*")
            if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file() and not p.name.startswith(".")
        )
        if not found:
            raise DataError(
                f"class folder {root / name} has no images ({', '.join(IMAGE_SUFFIXES)}); add "
                "images or remove the folder"
            )
        files.append(found)
    if len(classes) < 2:
        raise DataError(
            f"image folder {root} has one class only ({classes[0]!r}); a classifier needs at "
            "least two class sub-folders"
        )
    return tuple(classes), files


def read_image(image: Any, size: tuple[int, ...] | None, color: str) -> np.ndarray:
    """One image (a file path, a PIL image or a uint8 array) as uint8 (height, width,
    channels), converted to `color` and resized (bilinear) to `size` (height, width).

    Example:
        >>> read_image(np.zeros((4, 6), np.uint8), (2, 3), "rgb").shape
        (2, 3, 3)
    """
    from PIL import Image

    mode = "L" if color == "grayscale" else "RGB"
    try:
        if isinstance(image, str | Path):
            with Image.open(image) as opened:
                opened.load()
                img = opened.convert(mode)
        elif isinstance(image, np.ndarray):
            arr = np.asarray(image)
            if arr.dtype != np.uint8:
                raise ValueError(f"an array image must be uint8 (0..255), got {arr.dtype}")
            img = Image.fromarray(arr.squeeze(-1) if arr.ndim == 3 and arr.shape[-1] == 1 else arr)
            img = img.convert(mode)
        else:
            img = image.convert(mode)
        if size is not None and img.size != (size[1], size[0]):
            img = img.resize((size[1], size[0]), Image.Resampling.BILINEAR)
        pixels = np.asarray(img, dtype=np.uint8)
    except (OSError, ValueError, TypeError, AttributeError, Image.DecompressionBombError) as err:
        message = " ".join(str(err).split())
        raise DataError(
            f"image {image if isinstance(image, str | Path) else type(image).__name__} cannot "
            f"be read ({type(err).__name__}: {message}); expected a PNG, JPEG, BMP or GIF "
            "image; replace or remove it"
        ) from None
    return pixels if pixels.ndim == 3 else pixels[..., None]


def _image_format(files: list[Path], s: Source) -> tuple[tuple[int, int], str]:
    # The size (most common, unless given) and colour (rgb if any image has colour).
    from PIL import Image

    sizes: collections.Counter[tuple[int, int]] = collections.Counter()
    colour = False
    for path in files:
        try:
            with Image.open(path) as img:
                sizes[(img.height, img.width)] += 1
                colour = colour or img.mode not in ("1", "L", "LA", "I", "I;16", "I;16B", "F")
        except (OSError, ValueError, Image.DecompressionBombError) as err:
            raise DataError(
                f"image {path} cannot be read ({type(err).__name__}: {err}); expected a PNG, "
                "JPEG, BMP or GIF image; replace or remove it"
            ) from None
    size = s.size or sizes.most_common(1)[0][0]
    return size, s.color or ("rgb" if colour else "grayscale")


def load_images(f: DatasetFacts, s: Source, val: float, test: float, seed: int) -> Dataset:
    """An image folder as a `Dataset`: stratified splits, pixels in [0, 1], laid out as
    `s.layout`; `extra["files_test"]` names the test split's files.

    Example:
        >>> import tempfile
        >>> from PIL import Image
        >>> root = Path(tempfile.mkdtemp())
        >>> for label in ("a", "b"):
        ...     (root / label).mkdir()
        ...     for i in range(5):
        ...         Image.new("L", (4, 4), 60 * i).save(root / label / f"{i}.png")
        >>> d = load_images(DatasetFacts("", "image", None), Source("images", str(root),
        ...                 layout="image"), 0.2, 0.2, 0)
        >>> d.x_train.shape, sorted(d.preprocessing.items())[:2]
        ((6, 4, 4, 1), [('color', 'grayscale'), ('kind', 'images')])
    """
    root = Path(s.path)
    class_names, per_class = scan_images(root)
    if f.name:
        _same_classes(f, class_names)
    files = [p for found in per_class for p in found]
    y = np.concatenate([np.full(len(found), i, np.int64) for i, found in enumerate(per_class)])
    _check_classes(list(class_names), y, f"image folder {root}")
    size, color = _image_format(files, s)
    channels = 1 if color == "grayscale" else 3
    if len(files) * size[0] * size[1] * channels * 4 > MAX_IMAGE_BYTES:
        raise DataError(
            f"{len(files)} images of {size[1]}x{size[0]}x{channels} need "
            f"{len(files) * size[0] * size[1] * channels * 4 / 1e9:.1f} GB as float32; the "
            f"limit is {MAX_IMAGE_BYTES / 1e9:.0f} GB; pass a smaller --size"
        )
    pixels = np.stack([read_image(p, size, color) for p in files])
    x = arrange(pixels.astype(np.float32) / 255.0, s.layout)
    parts = _split(y, val, test, seed, stratify=True)
    prep = {"kind": "images", "size": list(size), "color": color, "layout": s.layout}
    names = tuple(f"col {i}" for i in range(x.shape[-1])) if s.layout == "sequence" else None
    return _dataset(
        f,
        x,
        y,
        parts,
        feature_names=names,
        description={
            "source": f"your image folder {root}",
            "url": root.as_uri(),
            "n_samples": len(y),
            "splits": _sizes(*parts),
            "input": f"{size[1]}x{size[0]} {color} images (resized bilinearly where needed), "
            f"pixels scaled to [0, 1], read as {s.layout}",
            "split": "stratified by class, shuffled with the run's seed",
            "class_names": list(class_names),
        },
        preprocessing=prep,
        extra={"files_test": np.array([str(p) for p in files])[parts[2]]},
    )


def read_npz(source: Source) -> dict[str, np.ndarray]:
    """The arrays of an .npz: x and y, or x_train, y_train, x_test, y_test (no pickles).

    Example:
        >>> read_npz(Source("npz", "/no/such.npz"))
        Traceback (most recent call last):
        ...
        zoo.errors.DataError: NumPy file /no/such.npz does not exist; check the path
    """
    path = Path(source.path)
    _check_path(path, "NumPy file")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (OSError, ValueError, EOFError) as err:
        message = " ".join(str(err).split())
        raise DataError(
            f"NumPy file {path} cannot be read ({message}); expected an .npz of numeric "
            "arrays saved with np.savez (object arrays are refused)"
        ) from None
    keys: tuple[str, ...]
    if {"x", "y"} <= set(arrays):
        keys = ("x", "y")
    elif {"x_train", "y_train", "x_test", "y_test"} <= set(arrays):
        keys = ("x_train", "y_train", "x_test", "y_test")
    else:
        raise DataError(
            f"NumPy file {path} holds {sorted(arrays)}; expected arrays x and y, or x_train, "
            "y_train, x_test and y_test; save it with np.savez(path, x=x, y=y)"
        )
    for k in keys:
        if arrays[k].dtype.kind not in "biuf":
            raise DataError(f"array {k!r} of {path} has dtype {arrays[k].dtype}; expected numbers")
        if not np.isfinite(arrays[k]).all():
            raise DataError(f"array {k!r} of {path} has NaN or infinite values; fill them first")
    for xk, yk in zip(keys[::2], keys[1::2], strict=True):
        if len(arrays[xk]) != len(arrays[yk]) or arrays[yk].ndim > 2:
            raise DataError(
                f"{path}: {xk} has {len(arrays[xk])} samples and {yk} {len(arrays[yk])} "
                f"(shape {arrays[yk].shape}); expected one label or value per sample"
            )
    if "x_test" in keys and arrays["x_train"].shape[1:] != arrays["x_test"].shape[1:]:
        raise DataError(f"{path}: x_train and x_test samples differ in shape")
    return {k: arrays[k] for k in keys}


def load_npz(f: DatasetFacts, s: Source, val: float, test: float, seed: int) -> Dataset:
    """An .npz as a `Dataset`: its own test split when it has one, uint8 scaled to [0, 1],
    other numbers standardized on the training split; `extra["rows_test"]` are the test
    samples' positions in the file's x (x_train first).

    Example:
        >>> import tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "d.npz")
        >>> np.savez(path, x=np.arange(40.0).reshape(20, 2), y=np.arange(20) % 2)
        >>> d = load_npz(DatasetFacts("", "tabular", None), Source("npz", path), 0.2, 0.2, 0)
        >>> d.x_train.shape, d.preprocessing["scaling"], d.preprocessing["class_names"]
        ((12, 2), 'standard', ['0', '1'])
    """
    arrays = read_npz(s)
    if "x" in arrays:
        x_all, y_all = arrays["x"], np.ravel(arrays["y"])
        n_given_test = 0
    else:
        x_all = np.concatenate([arrays["x_train"], arrays["x_test"]])
        y_all = np.concatenate([np.ravel(arrays["y_train"]), np.ravel(arrays["y_test"])])
        n_given_test = len(arrays["x_test"])
    task = s.task or (
        "classification"
        if y_all.dtype.kind in "biu"
        or (np.all(np.mod(y_all, 1) == 0) and len(np.unique(y_all)) <= MAX_INTEGER_CLASSES)
        else "regression"
    )
    class_names: tuple[str, ...] | None = None
    if task == "classification":
        values, y = np.unique(y_all, return_inverse=True)
        class_names = tuple(str(v) for v in category_values(_series(values.tolist())))
        _check_classes(list(class_names), y[: len(y) - n_given_test], f"labels y of {s.path}")
        y = y.astype(np.int64)
    else:
        y = y_all.astype(np.float64)
    if f.name:
        _same_classes(f, class_names)
    n = len(y)
    if n_given_test:
        from sklearn.model_selection import train_test_split

        idx = np.arange(n - n_given_test)
        strat = y[idx] if class_names else None
        tr, va = train_test_split(idx, test_size=val, random_state=seed, stratify=strat)
        parts: tuple[np.ndarray, ...] = (tr, va, np.arange(n - n_given_test, n))
    else:
        parts = _split(y, val, test, seed, stratify=class_names is not None)
    x = x_all.astype(np.float64)
    sample_shape = list(x_all.shape[1:])
    prep: dict[str, Any] = {"kind": "npz", "layout": s.layout, "sample_shape": sample_shape}
    feature_scaling: tuple[Any, Any] = (1.0, 0.0)
    if x_all.dtype == np.uint8:
        prep["scaling"], x = "unit255", x / 255.0
    else:
        # Features one by one; images and sequences as a whole (one mean and scale).
        axis = 0 if x_all.ndim == 2 else None
        mean, scale = x[parts[0]].mean(axis=axis), x[parts[0]].std(axis=axis)
        scale = np.where(scale > 0, scale, 1.0)
        prep |= {"scaling": "standard", "mean": mean.tolist(), "scale": scale.tolist()}
        x = (x - mean) / scale
        feature_scaling = (
            arrange(np.broadcast_to(scale, x.shape)[:1], s.layout)[0],
            arrange(np.broadcast_to(mean, x.shape)[:1], s.layout)[0],
        )
    x = arrange(x.astype(np.float32), s.layout)
    target_scaling = (1.0, 0.0)
    targets: np.ndarray = y
    if class_names is None:
        mu, sd = float(y[parts[0]].mean()), float(y[parts[0]].std()) or 1.0
        target_scaling, targets = (sd, mu), ((y - mu) / sd).astype(np.float32)[:, None]
    prep["class_names"] = list(class_names) if class_names else None
    prep["target_scaling"] = list(target_scaling)
    names = tuple(f"x{i}" for i in range(x.shape[-1])) if s.layout != "image" else None
    return _dataset(
        f,
        x,
        targets,
        parts,
        feature_names=names,
        description={
            "source": f"your NumPy file {s.path}",
            "url": Path(s.path).as_uri(),
            "n_samples": n,
            "splits": _sizes(*parts),
            "input": f"samples of shape {tuple(sample_shape)} read as {s.layout}"
            + _SCALING_TEXT.get(prep.get("scaling", ""), ""),
            "split": "the file's own test split; validation drawn from its train split"
            if n_given_test
            else "stratified by class, shuffled with the run's seed"
            if class_names
            else "shuffled with the run's seed",
        },
        target_scaling=target_scaling,
        feature_scaling=feature_scaling,
        preprocessing=prep,
        extra={"rows_test": np.asarray(parts[2])},  # samples of the file's x (x_train first)
    )


_SCALING_TEXT = {
    "unit255": ", uint8 scaled to [0, 1]",
    "standard": ", standardized with the training split's mean and standard deviation",
}


def _series(values: list[Any]) -> Any:
    import pandas as pd

    return pd.Series(values, dtype=object)
