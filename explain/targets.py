"""What is explained: the target (a TrainedModel or a keras.Model), its inputs and background.

Resolving a target (family, task, input kind, output names), checking inputs (shape,
dtype, NaNs, the training range), choosing outputs and labels, and drawing the background
(stratified training samples). No estimator lives here (:mod:`explain.estimators`).

The names without a leading underscore are shared inside the package; the public API is
what ``explain`` exports.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from zoo.errors import DataError, ZooError

from .caching import TRAIN_STATS

DEFAULT_BACKGROUND = 100
BACKGROUND_SEED = 0
RANGE_TOLERANCE = 1.0  # allowed: training range widened by this many spans each side

_RNN_NAMES = ("RNN", "LSTM", "GRU", "SimpleRNN", "ConvLSTM")


# --------------------------------------------------------------------------- target


@dataclasses.dataclass
class Target:
    """The model an explanation is about, and what is known of it.

    ``key`` names it in the in-process caches: ``"ref:<name@version> at <artifact
    folder>"`` for a stored model (two stores may hold the same ``name@version``), else
    ``"id:<id(model)>"``. ``trained`` is the ``TrainedModel`` (None for a plain
    keras.Model); ``model`` the keras model explained (a GAN's discriminator).

    Example:
        >>> t = resolve_target(zoo.load("mlp-cancer"))
        >>> t.ref, t.family, t.task, t.input_kind, t.input_shape, t.output_names
        ('mlp-cancer@1', 'mlp', 'classification', 'tabular', (30,), ('benign',))
        >>> t.key.startswith("ref:mlp-cancer@1 at /"), t.reuses(t.model)
        (True, True)
    """

    model: Any
    key: str
    ref: str | None
    family: str
    task: str
    input_kind: str
    input_shape: tuple[int, ...]
    n_outputs: int
    output_names: tuple[str, ...]
    class_names: tuple[str, ...] | None
    feature_names: tuple[str, ...] | None
    trained: Any | None
    path: Path | None

    def reuses(self, model: Any) -> bool:
        """May something built for ``model`` serve this target? (Cache hits check it.)

        A stored model is named by its artifact, so a reloaded copy may reuse what was
        built for an earlier one; a plain keras.Model is named by ``id()``, which Python
        recycles, so only the very same object may.
        """
        return self.ref is not None or model is self.model


def _is_keras_model(obj: Any) -> bool:
    import keras

    return isinstance(obj, keras.Model)


def recurrent_layers(model: Any) -> list[str]:
    """Names of recurrent layers anywhere in ``model`` (wrappers and nested models too).

    Example:
        >>> recurrent_layers(zoo.load("gru-digits").model)
        ['forward_gru0 (GRU)', 'backward_gru0 (GRU)', 'forward_gru1 (GRU)', 'backward_gru1 (GRU)']
        >>> recurrent_layers(zoo.load("mlp-cancer").model)
        []
    """
    import keras

    found: list[str] = []
    seen: set[int] = set()

    def walk(layer: Any) -> None:
        if id(layer) in seen:
            return
        seen.add(id(layer))
        cls = type(layer).__name__
        if isinstance(layer, keras.layers.RNN) or any(n in cls for n in _RNN_NAMES):
            found.append(f"{layer.name} ({cls})")
            return
        for attr in ("layer", "forward_layer", "backward_layer"):
            sub = getattr(layer, attr, None)
            if isinstance(sub, keras.layers.Layer):
                walk(sub)
        for sub in getattr(layer, "layers", None) or []:
            walk(sub)

    for layer in model.layers:
        walk(layer)
    return found


def _activation_name(model: Any) -> str:
    act = getattr(model.layers[-1], "activation", None) if model.layers else None
    return getattr(act, "__name__", "") or ""


def _shapes(model: Any, sample: Any = None) -> tuple[tuple[int, ...], int]:
    try:
        in_shape = model.input_shape
        out_shape = model.output_shape
    except (AttributeError, ValueError) as err:
        if sample is not None and np.ndim(sample) >= 2:
            # A subclassed model has no symbolic input: its shapes are those of a batch
            # it is called on (the background a plain model must come with).
            batch = np.asarray(sample[:1], np.float32)
            in_shape = (None, *batch.shape[1:])
            out_shape = (None, *np.shape(model(batch, training=False))[1:])
            return _checked_shapes(model, in_shape, out_shape)
        raise ZooError(
            f"cannot read the input/output shape of model {model.name!r} ({err}); expected "
            "a built functional or Sequential keras.Model; build it with keras.Input(...) "
            "or pass background= as an array"
        ) from err
    return _checked_shapes(model, in_shape, out_shape)


def _checked_shapes(model: Any, in_shape: Any, out_shape: Any) -> tuple[tuple[int, ...], int]:
    if isinstance(in_shape, list) or isinstance(out_shape, list) or isinstance(in_shape, dict):
        raise ZooError(
            f"model {model.name!r} has several inputs or outputs; expected one input tensor "
            "and one output tensor; wrap the part you want explained in a single-input, "
            "single-output keras.Model"
        )
    if len(out_shape) > 2:
        raise ZooError(
            f"model {model.name!r} outputs shape {out_shape}; expected (batch, outputs); "
            "add a Flatten/Dense head or explain a sub-model"
        )
    if any(d is None for d in in_shape[1:]):
        raise ZooError(
            f"model {model.name!r} has input shape {in_shape} with unknown sizes; expected "
            "fixed sizes after the batch axis; rebuild it with keras.Input(shape=(...))"
        )
    k = 1 if len(out_shape) == 1 else int(out_shape[1])
    return tuple(int(d) for d in in_shape[1:]), k


def _kind_for(shape: tuple[int, ...]) -> str:
    return {3: "image", 2: "sequence", 1: "tabular"}.get(len(shape), "")


def _default_output_names(
    task: str, k: int, class_names: Any, family: str, kind: str = ""
) -> tuple[str, ...]:
    if family == "gan":
        return ("real score",) if k == 1 else tuple(f"real score {i}" for i in range(k))
    if task == "regression":
        # A sequence model's output is a forecast; a table's is a prediction.
        word = "forecast" if kind == "sequence" else "prediction"
        return (word,) if k == 1 else tuple(f"{word} {i}" for i in range(k))
    if class_names:
        names = tuple(str(c) for c in class_names)
        if k == len(names):
            return names
        if k == 1 and len(names) == 2:
            return (names[1],)
    if k == 1:
        return ("output",)
    return tuple(f"output {i}" for i in range(k))


def resolve_target(
    target: Any,
    output_names: Sequence[str] | None = None,
    feature_names: Sequence[str] | None = None,
    sample: Any = None,
) -> Target:
    """The :class:`Target` of a ``TrainedModel`` or a plain keras.Model.

    ``output_names`` and ``feature_names`` name a plain model's outputs and tabular
    features (a TrainedModel's come from its dataset); ``sample``, a batch of inputs,
    gives the shapes of a subclassed model (which has no symbolic input). Raises
    ``ZooError`` for anything else, and for models with several inputs or outputs or
    unknown input sizes.

    Example:
        >>> t = resolve_target(zoo.load("cnn-digits").model)
        >>> t.key.startswith("id:"), t.family, t.task, t.input_kind, t.n_outputs
        (True, 'cnn', 'classification', 'image', 10)
        >>> resolve_target("cnn-digits")
        Traceback (most recent call last):
        zoo.errors.ZooError: cannot explain a str; expected a TrainedModel ...
    """
    if _is_keras_model(target):
        model, trained = target, None
        shape, k = _shapes(model, sample)
        kind = _kind_for(shape)
        if not kind:
            raise ZooError(
                f"model input shape {shape} is not supported; expected (H, W, C) images, "
                "(T, F) sequences or (F,) tabular features"
            )
        family = "rnn" if recurrent_layers(model) else "mlp" if kind == "tabular" else "cnn"
        task = (
            "classification" if _activation_name(model) in ("softmax", "sigmoid") else "regression"
        )
        names = (
            tuple(output_names)
            if output_names
            else _default_output_names(task, k, None, family, kind)
        )
        if len(names) != k:
            raise DataError(
                f"output_names has {len(names)} names but the model has {k} outputs; pass {k} names"
            )
        ref, path, class_names = None, None, None
    else:
        if not (hasattr(target, "model") and hasattr(target, "dataset")):
            raise ZooError(
                f"cannot explain a {type(target).__name__}; expected a TrainedModel from "
                "zoo.load(name) or a keras.Model (then pass background=...)"
            )
        trained, stored_family = target, str(getattr(target, "family", ""))
        model = target.discriminator if stored_family == "gan" else target.model
        if model is None or not _is_keras_model(model):
            raise ZooError(
                f"{getattr(target, 'ref', target)!r} has no keras model to explain "
                f"(family {stored_family!r}); expected a loaded TrainedModel; reload it with "
                "zoo.load()"
            )
        shape, k = _shapes(model)
        kind = _kind_for(shape)
        task = str(getattr(target, "task", "") or "")
        class_names = getattr(target, "class_names", None)
        feature_names = getattr(target, "feature_names", None)
        names = _default_output_names(task, k, class_names, stored_family, kind)
        family = stored_family or ("rnn" if recurrent_layers(model) else "cnn")
        ref = getattr(target, "ref", None)
        path = Path(target.path) if getattr(target, "path", None) else None
    if ref and path is not None:  # the artifact, not just its name: stores may share names
        key = f"ref:{ref} at {path.resolve()}"
    else:
        key = f"ref:{ref}" if ref else f"id:{id(model)}"
    return Target(
        model=model,
        key=key,
        ref=ref,
        family=family,
        task=task,
        input_kind=kind,
        input_shape=shape,
        n_outputs=k,
        output_names=names,
        class_names=tuple(class_names) if class_names else None,
        feature_names=tuple(feature_names) if feature_names else None,
        trained=trained,
        path=path,
    )


# --------------------------------------------------------------------------- data


@dataclasses.dataclass
class TrainStats:
    """A stored model's training range (per feature; one global range for images)."""

    lo: np.ndarray
    hi: np.ndarray
    gan_from_unit: bool  # dataset images in [0, 1] mapped to the discriminator's [-1, 1]


def range_axes(kind: str, ndim: int) -> tuple[int, ...]:
    """The axes a range is taken over: all for images, all but the features otherwise.

    Example:
        >>> range_axes("image", 4), range_axes("sequence", 3), range_axes("tabular", 2)
        ((0, 1, 2, 3), (0, 1), (0,))
    """
    return tuple(range(ndim)) if kind == "image" else tuple(range(ndim - 1))


def train_stats(t: Target) -> TrainStats:
    """The training range of a stored model's inputs, in model space (read once).

    Example:
        >>> stats = train_stats(resolve_target(zoo.load("gan-digits")))
        >>> float(stats.lo), float(stats.hi), stats.gan_from_unit  # stored in [-1, 1] already
        (-1.0, 1.0, False)
    """
    trained = t.trained
    assert trained is not None, "callers check first: a plain keras.Model has no splits"

    def build() -> TrainStats:
        x = np.asarray(trained.dataset().x_train, dtype=np.float32)
        gan_from_unit = t.family == "gan" and float(x.min()) >= 0.0
        if gan_from_unit:
            x = x * 2.0 - 1.0
        axes = range_axes(t.input_kind, x.ndim)
        return TrainStats(x.min(axis=axes), x.max(axis=axes), gan_from_unit)

    return TRAIN_STATS.get_or_create(t.key, build)


def to_model_space(t: Target, x: np.ndarray) -> np.ndarray:
    """Dataset space -> the explained model's input space (only the GAN differs).

    Example:
        >>> t = resolve_target(zoo.load("gan-digits"))
        >>> x = t.trained.dataset().x_test[:2]  # already the discriminator's [-1, 1]
        >>> to_model_space(t, x) is x
        True
    """
    if t.family == "gan" and t.trained is not None and train_stats(t).gan_from_unit:
        return x * 2.0 - 1.0
    return x


def model_inputs(t: Target, x: Any, seed: int) -> tuple[np.ndarray, bool]:
    """``x`` checked and in model space, and whether its range is worth checking.

    ``x`` may be a count for a GAN: that many samples drawn from its generator (seeded by
    ``seed``), which are in range by construction.

    Example:
        >>> t = resolve_target(zoo.load("gan-digits"))
        >>> xs, check = model_inputs(t, 3, seed=0)
        >>> xs.shape, check
        ((3, 8, 8, 1), False)
        >>> model_inputs(t, t.trained.dataset().x_test[:2], seed=0)[0].shape
        (2, 8, 8, 1)
    """
    if isinstance(x, (int, np.integer)) and not isinstance(x, bool):
        return _generate(t, int(x), seed), False
    return to_model_space(t, check_inputs(t, x)), True


def _generate(t: Target, n: int, seed: int) -> np.ndarray:
    gen = getattr(t.trained, "generator", None) if t.trained is not None else None
    if t.family != "gan" or gen is None:
        raise DataError(
            f"x={n} (a count) only works for a GAN, to explain generated samples; expected "
            "an array of inputs; pass x=dataset.x_test[:n]"
        )
    if n < 1:
        raise DataError(f"x={n}; expected a sample count >= 1")
    latent = tuple(int(d) for d in gen.input_shape[1:])
    z = np.random.default_rng(seed).standard_normal((n, *latent)).astype(np.float32)
    return np.asarray(gen(z, training=False), dtype=np.float32).reshape(n, *t.input_shape)


def _as_float_array(x: Any, what: str) -> np.ndarray:
    try:
        arr = np.asarray(x)
    except (ValueError, TypeError) as err:
        raise DataError(
            f"{what} could not be read as an array ({err}); expected a numeric numpy array; "
            "pass np.asarray(...) of equal-length rows"
        ) from err
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)
    ):
        raise DataError(
            f"{what} has dtype {arr.dtype}; expected floats or integers; "
            "convert it with x.astype('float32')"
        )
    return arr.astype(np.float32, copy=False)


def check_inputs(t: Target, x: Any, what: str = "x") -> np.ndarray:
    """``x`` as a float32 batch of ``t``'s input shape, or a DataError that says what to fix.

    One sample without its batch axis is accepted. ``what`` names ``x`` in the error.

    Example:
        >>> t = resolve_target(zoo.load("mlp-cancer"))
        >>> check_inputs(t, np.zeros(30)).shape
        (1, 30)
        >>> check_inputs(t, np.zeros((2, 29)))
        Traceback (most recent call last):
        zoo.errors.DataError: x has shape (2, 29); expected (n, 30) for mlp-cancer@1; ...
    """
    arr = _as_float_array(x, what)
    want = t.input_shape
    if arr.shape == want:
        arr = arr[None]
    if arr.ndim == len(want) + 1 and arr.shape[0] == 0:
        raise DataError(
            f"{what} is an empty batch (shape {arr.shape}); expected at least one sample of "
            f"shape {want}; pass x[:1] or more"
        )
    if arr.shape[1:] != want:
        hint = ""
        if t.input_kind == "image" and arr.shape[1:] == want[:-1]:
            hint = " (add the channel axis: x[..., None])"
        raise DataError(
            f"{what} has shape {arr.shape}; expected (n, {', '.join(map(str, want))}) for "
            f"{t.ref or t.model.name}{hint}; reshape it to that shape"
        )
    bad = ~np.isfinite(arr)
    if bad.any():
        rows = np.unique(np.nonzero(bad.reshape(len(arr), -1))[0])
        raise DataError(
            f"{what} contains {int(bad.sum())} NaN or infinite values (in samples "
            f"{rows[:5].tolist()}{'...' if len(rows) > 5 else ''}); expected finite numbers; "
            "drop or impute those samples"
        )
    return arr


def check_input_range(
    t: Target, x: np.ndarray, lo: np.ndarray, hi: np.ndarray, tolerance: float
) -> None:
    """Raise a DataError if ``x`` reaches past [lo, hi] widened by ``tolerance`` spans.

    Example:
        >>> t = resolve_target(zoo.load("cnn-digits"))
        >>> check_input_range(t, np.full((1, 8, 8, 1), 1.5), np.zeros(()), np.ones(()), 1.0)
        >>> check_input_range(t, np.full((1, 8, 8, 1), 255.0), np.zeros(()), np.ones(()), 1.0)
        Traceback (most recent call last):
        zoo.errors.DataError: the images span [255, 255], far outside the training range ...
    """
    span = np.maximum(hi - lo, 1e-6)
    lo_ok, hi_ok = lo - tolerance * span, hi + tolerance * span
    axes = range_axes(t.input_kind, x.ndim)
    xmin, xmax = x.min(axis=axes), x.max(axis=axes)
    out = (xmin < lo_ok) | (xmax > hi_ok)
    if np.any(out):
        j = int(np.flatnonzero(np.atleast_1d(out))[0])
        pick = (lambda a: float(np.atleast_1d(a)[j])) if np.ndim(out) else float
        if t.input_kind == "image":
            where = "the images"
        else:
            name = t.feature_names[j] if t.feature_names and j < len(t.feature_names) else j
            where = f"feature {name!r}"
        raise DataError(
            f"{where} span [{pick(xmin):.3g}, {pick(xmax):.3g}], far outside the training "
            f"range [{pick(lo):.3g}, {pick(hi):.3g}]; expected inputs preprocessed like the "
            "training data (same scaling); rescale them, or pass check_range=False if that "
            "is intended"
        )


def resolve_outputs(t: Target, output: Any) -> tuple[int, ...]:
    """The output indices that ``output`` (None, a name, an index or a list) names.

    Example:
        >>> t = resolve_target(zoo.load("cnn-digits"))
        >>> resolve_outputs(t, ["3", 7, "3"]), len(resolve_outputs(t, None))
        ((3, 7), 10)
    """
    if output is None:
        return tuple(range(t.n_outputs))
    items = [output] if isinstance(output, (str, int, np.integer)) else list(output)
    if not items:
        raise DataError(f"output is empty; expected names from {list(t.output_names)}")
    idx: list[int] = []
    for item in items:
        if isinstance(item, (int, np.integer)) and not isinstance(item, bool):
            if not 0 <= int(item) < t.n_outputs:
                raise DataError(
                    f"output index {item} is out of range; expected 0..{t.n_outputs - 1} "
                    f"({', '.join(t.output_names)})"
                )
            idx.append(int(item))
        elif isinstance(item, str) and item in t.output_names:
            idx.append(t.output_names.index(item))
        else:
            raise DataError(
                f"unknown output {item!r}; expected one of {list(t.output_names)} or an index "
                f"0..{t.n_outputs - 1}"
            )
    return tuple(dict.fromkeys(idx))


def check_labels(t: Target, y: Any, n: int) -> np.ndarray | None:
    """``n`` true labels as class indices (names accepted), or floats for regression.

    Example:
        >>> t = resolve_target(zoo.load("cnn-digits"))
        >>> check_labels(t, ["3", "7"], 2).tolist(), check_labels(t, None, 2)
        ([3, 7], None)
    """
    if y is None:
        return None
    arr = np.asarray(y)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.shape != (n,):
        raise DataError(f"y has shape {arr.shape}; expected ({n},), one label per sample")
    if t.task != "classification":
        return arr.astype(np.float32)
    names = t.class_names or t.output_names
    if arr.dtype.kind in "US":
        unknown = sorted({str(v) for v in arr} - set(names))
        if unknown:
            raise DataError(
                f"unknown class name(s) {unknown}; expected labels from {list(names)}; "
                "fix the labels or pass class indices"
            )
        return np.array([names.index(str(v)) for v in arr], dtype=np.int64)
    if not np.issubdtype(arr.dtype, np.integer):
        raise DataError(f"y has dtype {arr.dtype}; expected integer class indices or names")
    return arr.astype(np.int64)


def stratified_indices(y: np.ndarray | None, n: int, size: int, seed: int) -> np.ndarray:
    """``size`` sorted indices of ``n`` samples, each class of ``y`` in proportion.

    Rounding gives the largest remainders one more; without labels the draw is uniform.

    Example:
        >>> y = np.array([0] * 6 + [1] * 3)
        >>> idx = stratified_indices(y, len(y), 3, seed=0)
        >>> np.bincount(y[idx]).tolist()
        [2, 1]
    """
    rng = np.random.default_rng(seed)
    if size >= n:
        return np.arange(n)
    if y is None:
        return np.sort(rng.choice(n, size, replace=False))
    classes, counts = np.unique(y, return_counts=True)
    exact = counts / counts.sum() * size
    quota = np.minimum(np.floor(exact).astype(int), counts)
    for c in np.argsort(-(exact - quota)):  # largest remainder first
        if quota.sum() >= size:
            break
        if quota[c] < counts[c]:
            quota[c] += 1
    picks = [
        rng.choice(np.flatnonzero(y == c), q, replace=False)
        for c, q in zip(classes, quota, strict=True)
    ]
    return np.sort(np.concatenate(picks))


def count_background_key(background: Any) -> str | None:
    """The key of a background given as a count (None: the default), without drawing it.

    None for an array, whose key needs its contents (:func:`resolve_background`).

    Example:
        >>> count_background_key(None), count_background_key(50), count_background_key([[0.0]])
        ('train100s0', 'train50s0', None)
    """
    if background is None or isinstance(background, (int, np.integer)):
        size = DEFAULT_BACKGROUND if background is None else int(background)
        return f"train{size}s{BACKGROUND_SEED}"
    return None


def resolve_background(t: Target, background: Any) -> tuple[np.ndarray, str]:
    """The background array in model space and a short key that identifies it.

    ``background`` is a count of training samples (None: 100), stratified by class with
    a fixed seed, or an array of inputs (required for a plain keras.Model).

    Example:
        >>> t = resolve_target(zoo.load("cnn-digits"))
        >>> bg, key = resolve_background(t, 50)
        >>> bg.shape, key
        ((50, 8, 8, 1), 'train50s0')
        >>> resolve_background(t, bg[:4])[1]
        'array4-...'
    """
    key = count_background_key(background)
    if key is not None:
        size = DEFAULT_BACKGROUND if background is None else int(background)
        if isinstance(background, bool) or size < 1:
            raise DataError(f"background={background!r}; expected a count >= 1 or an array")
        if t.trained is None:
            raise ZooError(
                "background is required when explaining a plain keras.Model; expected an "
                "array of typical inputs; pass background=x_train[:100]"
            )
        data = t.trained.dataset()
        x = np.asarray(data.x_train, dtype=np.float32)
        y = None
        if t.task == "classification" and data.y_train is not None:
            y = np.asarray(data.y_train).reshape(len(x), -1)[:, 0]
        idx = stratified_indices(y, len(x), size, BACKGROUND_SEED)
        return to_model_space(t, x[idx]), key
    arr = check_inputs(t, background, "background")
    digest = hashlib.sha1(np.ascontiguousarray(arr).tobytes()).hexdigest()[:12]
    return arr, f"array{len(arr)}-{digest}"
