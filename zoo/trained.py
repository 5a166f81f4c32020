"""`TrainedModel`: a stored zoo model loaded back, with everything it was trained with."""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from zoo import artifact
from zoo.config import TrainConfig
from zoo.data import Dataset, load_dataset
from zoo.errors import ArtifactError, DataError
from zoo.registry import get_spec
from zoo.store import RunInfo, Store, parse_ref

log = logging.getLogger(__name__)

PREDICT_BATCH = 1024


class TrainedModel:
    """A trained zoo model: the Keras model(s), config, history, metrics and data ref.

    Example:
        >>> m = load_trained("mlp-cancer")
        >>> m.name, m.family, m.model.name, 0 <= m.metrics["accuracy"] <= 1
        ('mlp-cancer', 'mlp', 'mlp', True)
    """

    def __init__(
        self,
        *,
        name: str,
        version: int,
        path: Path,
        config: TrainConfig,
        history: Mapping[str, Sequence[float | None]],
        metrics: dict[str, Any],
        model: Any = None,
        generator: Any = None,
        discriminator: Any = None,
        created: str = "",
        origin: dict[str, Any] | None = None,
    ) -> None:
        spec = get_spec(name)
        self.name = name
        self.version = version
        self.path = Path(path)
        self.family = spec.family
        self.task = spec.task
        self.config = config
        self.history = history
        self.metrics = metrics
        self.generator = generator
        self.discriminator = discriminator
        # For the GAN the "model" a user predicts with is the generator.
        self.model = model if model is not None else generator
        self.created = created
        # Versions the zoo did not train (`zoo import`, `zoo ensemble`): how they came to
        # be (kind 'imported' or 'ensemble'); None for trained ones. Their `history` is
        # empty and `config` holds the data split only.
        self.origin = origin
        data_info = metrics.get("dataset", {})
        self.class_names = _tuple_or_none(data_info.get("class_names"))
        self.feature_names = _tuple_or_none(data_info.get("feature_names"))

    def __repr__(self) -> str:
        return f"<TrainedModel {self.ref} {self.family}/{self.task} at {self.path}>"

    @property
    def ref(self) -> str:
        """`name@version`, the handle `zoo.load` takes."""
        return f"{self.name}@{self.version}"

    @property
    def spec(self) -> Any:
        """The zoo entry's `ModelSpec`."""
        return get_spec(self.name)

    @functools.cached_property
    def diagnosis(self) -> dict[str, Any]:
        """The overfitting diagnosis stored with the metrics."""
        return self.metrics.get("diagnosis", {})

    def dataset(self) -> Dataset:
        """The exact splits this model was trained and tested on.

        Example:
            >>> load_trained("mlp-cancer").dataset().x_test.shape
            (86, 30)
        """
        return dataset_for(self.config, get_spec(self.name).dataset)

    def samples(self) -> np.ndarray:
        """GAN only: fixed-noise sample grids per epoch, shape (epochs + 1, n, H, W, 1).

        Index 0 is the untrained generator; images are in [-1, 1].
        """
        if self.family != "gan":
            raise DataError(f"{self.ref} is a {self.family} model; only GANs record samples")
        with np.load(self.path / "samples.npz") as f:
            return f["samples"]

    def predict(self, x: Any) -> np.ndarray:
        """Predictions for `x`, after checking it against the model's input spec.

        Classification: the model's outputs (class probabilities; one sigmoid unit for a
        model trained with a binary loss). Regression: (n, 1) in the dataset's scaled
        units (`self.dataset().to_units(y)` gives data units, e.g. ppm). GAN: `x` is latent
        noise (n, latent_dim) and the result generated images.

        Example:
            >>> m = load_trained("cnn-digits")
            >>> m.predict(m.dataset().x_test[:2]).shape
            (2, 10)
        """
        x = validate_input(self.model, x, what=self.ref)
        model = self.model
        if len(x) <= PREDICT_BATCH:
            # Keras' compiled predict function, traced once per model: calling the model
            # eagerly cost 190-300 ms per call on the recurrent models (2.5-4 ms this way,
            # same values), which every dashboard click paid.
            return np.asarray(model.predict_on_batch(x))
        return model.predict(x, batch_size=PREDICT_BATCH, verbose=0)

    @functools.cached_property
    def preprocessing(self) -> dict[str, Any] | None:
        """The fitted preprocessing stored with this version (`preprocessing.json`), for
        entries on the user's data (`zoo add`); None for the bundled datasets.

        Read as JSON and checked against the version's manifest; never a pickle.

        Example:
            >>> load_trained("mlp-cancer").preprocessing is None
            True
        """
        from zoo import preprocessing

        return preprocessing.read(self.path)

    def predict_raw(self, raw: Any, *, labels: bool = False) -> Any:
        """Predictions from raw data, converted with this version's stored preprocessing
        (entries on the user's data; `zoo.preprocessing.to_model_input` says what is raw).

        Rows of a table (a pandas DataFrame, a list of dicts or one dict), the last values
        of a series, image files / PIL images / uint8 arrays of an image folder, or
        arrays shaped like an .npz's `x`. Classifiers give class probabilities, shape
        (n, classes), or with `labels=True` the class names; regression gives values in
        data units, shape (n,); a forecaster the next value of the series (its last value
        plus the predicted change). Works without the training data: only the stored JSON.

        Example:
            >>> load_trained("mlp-cancer").predict_raw([{"mean radius": 9.0}])
            Traceback (most recent call last):
            ...
            zoo.errors.DataError: mlp-cancer@1 was trained on a bundled dataset: ...
        """
        from zoo import preprocessing

        prep = self.preprocessing
        if prep is None:
            raise DataError(
                f"{self.ref} was trained on a bundled dataset: it has no stored preprocessing "
                "for raw data; pass model inputs to predict() (zoo.dataset(name) shows them)"
            )
        out = self.predict(preprocessing.to_model_input(prep, raw))
        if prep["kind"] == "series":
            return preprocessing.series_forecast(prep, raw, out)
        if self.task == "regression":
            scale, offset = prep.get("target_scaling", (1.0, 0.0))
            return np.ravel(out) * scale + offset
        proba = np.asarray(out, np.float64)
        if proba.shape[1] == 1:  # one sigmoid unit: P(second class)
            proba = np.concatenate([1 - proba, proba], axis=1)
        if labels:
            names = np.asarray(self.class_names or prep.get("class_names") or [], dtype=object)
            return names[proba.argmax(axis=1)].tolist()
        return proba

    def predict_rows(self, rows: Any, *, labels: bool = False) -> Any:
        """`predict_raw` for rows of a table (DataFrame, list of dicts, one dict) or the
        values of a series.

        Example:
            >>> import pandas as pd
            >>> load_trained("mlp-cancer").predict_rows(pd.DataFrame({"a": [1]}))
            Traceback (most recent call last):
            ...
            zoo.errors.DataError: mlp-cancer@1 was trained on a bundled dataset: ...
        """
        self._expect_raw("table rows or series values", ("table", "series"))
        return self.predict_raw(rows, labels=labels)

    def _expect_raw(self, what: str, kinds: tuple[str, ...]) -> None:
        # Rows given to an image model were read as file names ("image alcohol cannot be
        # read"): say what this model reads and which method takes it.
        kind = (self.preprocessing or {}).get("kind")
        if kind is not None and kind not in kinds:
            takes, method = {
                "table": ("table rows", "predict_rows"),
                "series": ("series values", "predict_rows"),
                "images": ("images", "predict_images"),
            }.get(kind, ("arrays shaped like its training x", "predict_raw"))
            raise DataError(f"{self.ref} reads {takes}, not {what}; use {method}(...)")

    def predict_images(self, images: Any, *, labels: bool = False) -> Any:
        """`predict_raw` for images: file paths, PIL images or uint8 arrays (one or many),
        converted and resized like the entry's training images.

        Example:
            >>> load_trained("cnn-digits").predict_images(["/no/such.png"])
            Traceback (most recent call last):
            ...
            zoo.errors.DataError: cnn-digits@1 was trained on a bundled dataset: ...
        """
        self._expect_raw("images", ("images",))
        return self.predict_raw(images, labels=labels)


def dataset_for(config: TrainConfig, dataset: str) -> Dataset:
    """The dataset splits a config trains on.

    Example:
        >>> dataset_for(TrainConfig.for_model("mlp-cancer"), "cancer").name
        'cancer'
    """
    return load_dataset(
        dataset,
        validation_fraction=config.validation_fraction,
        test_fraction=config.test_fraction,
        seed=config.seed,
        window=config.window,
        download=config.download,
    )


def validate_input(model: Any, x: Any, *, what: str = "the model") -> np.ndarray:
    """`x` as a float32 batch the model accepts, or a `DataError` saying what is wrong.

    A single sample (no batch axis) is accepted and given one; grayscale images without
    the channel axis get it.

    Example:
        >>> from zoo.models.mlp import build_mlp
        >>> validate_input(build_mlp((3,), 2), [1.0, 2.0, 3.0]).shape
        (1, 3)
    """
    expected = tuple(model.input_shape[1:])
    try:
        arr = np.asarray(x)
    except (ValueError, TypeError) as err:
        raise DataError(f"input to {what} is not an array ({err}); pass a numpy array") from None
    if arr.dtype == object or arr.dtype.kind not in "biuf":
        raise DataError(
            f"input to {what} has dtype {arr.dtype}; expected numbers (float32) of shape "
            f"(n, {', '.join(map(str, expected))}); convert it with np.asarray(x, 'float32')"
        )
    if arr.shape == expected:
        arr = arr[None]
    elif arr.shape[1:] + (1,) == expected:
        arr = arr[..., None]
    elif arr.shape + (1,) == expected:
        arr = arr[None, ..., None]
    if arr.shape[1:] != expected:
        raise DataError(
            f"input to {what} has shape {arr.shape}; expected (n, "
            f"{', '.join(map(str, expected))}) -- a batch of samples shaped like the "
            "training data; reshape it (zoo.dataset(name).x_test shows the format)"
        )
    if len(arr) == 0:
        raise DataError(f"input to {what} is an empty batch; pass at least one sample")
    arr = arr.astype("float32", copy=False)
    if not np.isfinite(arr).all():
        bad = int((~np.isfinite(arr)).sum())
        raise DataError(
            f"input to {what} contains {bad} NaN or infinite value(s); fill or drop them first"
        )
    return arr


def load_trained(ref: str, store: Store | str | Path | None = None) -> TrainedModel:
    """Load `name` (latest good version) or `name@version` from the store.

    Checksums are verified first; Keras files are read with `safe_mode=True`.

    Example:
        >>> load_trained("cnn-digits@1")
        <TrainedModel cnn-digits@1 cnn/classification at ...>
    """
    store = store if isinstance(store, Store) else Store(store)
    info = store.resolve(ref)
    try:
        return _from_info(info)
    except ArtifactError as first:
        if parse_ref(ref)[1] is not None:
            raise  # the version asked for: no other will do
        # The latest good version passed its checksums yet Keras cannot read it (a file
        # replaced with one that matches a re-signed manifest, say): the one before it,
        # as for a corrupted version, with a warning naming why.
        older = [i for i in store.runs(info.name) if i.status == "ok" and i.version < info.version]
        for candidate in reversed(older):
            try:
                loaded = _from_info(candidate)
            except ArtifactError:
                continue
            log.warning("%s; loaded %s instead", first, candidate.ref)
            return loaded
        raise


def _from_info(info: RunInfo) -> TrainedModel:
    keras = _keras()
    folder = info.path

    def read(file: str) -> Any:
        try:
            return keras.saving.load_model(folder / file, safe_mode=True, compile=False)
        except Exception as err:  # a checksum-valid file Keras still rejects
            import zipfile

            try:
                written = artifact.read_json(folder / artifact.MANIFEST).get("versions")
            except (artifact.Damage, AttributeError):
                written = "unknown library versions"
            # Keras says "File not found" for a file that is there but no zip archive.
            why = (
                f"{type(err).__name__}: {err}"
                if zipfile.is_zipfile(folder / file)
                else "not a .keras (zip) archive"
            )
            raise ArtifactError(
                f"{folder / file} could not be loaded by Keras ({why}); it was written with "
                f"{written}. Retrain with `zoo train {info.name}`"
            ) from None

    spec = get_spec(info.name)
    models: dict[str, Any] = {}
    if spec.family == "gan":
        models["generator"] = read("generator.keras")
        models["discriminator"] = read("discriminator.keras")
    else:
        models["model"] = read("model.keras")
    try:
        # Checked by `Store.verify` already; read again through the same check, since the
        # file could change between the two reads.
        path = folder / "history.json"
        history = artifact.check_history(artifact.read_json(path), path)
    except artifact.Damage as damage:
        raise ArtifactError(
            f"{info.ref} is corrupted: {damage}. Delete {folder} and train again with "
            f"`zoo train {info.name}`, or load another version (`zoo runs {info.name}`)"
        ) from None
    return TrainedModel(
        name=info.name,
        version=info.version,
        path=folder,
        config=TrainConfig.from_dict(info.config),
        history=history,
        metrics=info.metrics,
        created=info.created,
        origin=info.config.get("origin") if isinstance(info.config.get("origin"), dict) else None,
        **models,
    )


def _keras() -> Any:
    from zoo._tf import keras

    return keras()


def _tuple_or_none(value: Any) -> tuple[str, ...] | None:
    return None if value is None else tuple(str(v) for v in value)
