"""Choose, build, cache and run the SHAP explainer for a zoo model.

Four estimators sit behind one call, :func:`explain`:

``"layerwise"`` (ours; the default wherever it applies)
    DeepSHAP written as a modified forward pass of the Keras graph
    (:mod:`explain.layerwise`): exact DeepLIFT rules for linear layers, elementwise
    activations and max pooling, and path integrals of the Jacobian only inside smooth
    blocks (softmax, LSTM/GRU, unknown layers), refined until the measured additivity
    error is within tolerance. Exactly additive on CNNs, MLPs and the GAN's
    discriminator, within 0.2 % on recurrent models — where shap's DeepExplainer cannot
    run at all. One ``tf.function`` over a batch; no global TensorFlow state touched.
``"expected_gradients"`` (ours; the fallback for graphs ``layerwise`` cannot walk)
    Expected gradients over the whole background with adaptive Simpson integration of
    every reference's path, refined where each segment's exact error is large
    (:mod:`explain.paths`).
``"deep"``
    ``shap.DeepExplainer`` (DeepLIFT rules; exactly additive on the ops it knows). It
    swaps entries of TensorFlow's process-wide gradient registry while it runs, cannot
    handle recurrent layers and leaves the registry broken if it fails on them, so it is
    refused up front for any model with recurrent layers or ``While``/``TensorList`` ops
    and never tried as a fallback.
``"gradient"``
    ``shap.GradientExplainer`` as shap ships it (a sampled reference, ~30 % off in
    additivity at its default sample count).

``"auto"`` picks ``"layerwise"`` for every functional or Sequential model with one input
and output (every zoo entry) and ``"expected_gradients"`` otherwise. Figures (additivity
and milliseconds per sample against shap's explainers, same run) are in
``bench/results/explain_latency.json`` (``python bench/explain_latency.py``).

Heavy modules (tensorflow, keras, shap) are imported inside the functions that need them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import threading
import time
import warnings
import weakref
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from zoo.errors import DataError, ZooError
from zoo.store import atomic_write_bytes

if TYPE_CHECKING:  # pragma: no cover
    import shap

METHODS: tuple[str, ...] = ("auto", "layerwise", "expected_gradients", "deep", "gradient")
DEFAULT_BACKGROUND = 100
DEFAULT_NSAMPLES = 200  # shap.GradientExplainer's samples per input
DEFAULT_EG_NSAMPLES = 4000  # expected gradients: gradient evaluations per input, at most
SCALE_FLOOR = 0.1  # normalized additivity: error / max(|f(x) - base|, 0.1 * std of f)
BACKGROUND_SEED = 0
RANGE_TOLERANCE = 1.0  # allowed: training range widened by this many spans each side
CACHE_FORMAT = 2
_FLOAT_BUDGET = 2_000_000  # floats in one (batch x nsamples x input) block: ~50 MB peak
_MAX_EXPLAINERS = 16
_MAX_RANDOMIZED = 4  # randomized clones (+ their explainers) kept for explain.fidelity

_SHAP_LOCK = threading.RLock()  # shap's TF explainers patch global state; one at a time
_CACHE_LOCK = threading.RLock()
_EXPLAINERS: OrderedDict[tuple, _Explainer] = OrderedDict()
# explain.fidelity's randomized clones: key -> (weakref to the trained model, clone target,
# its explainer, background key); an LRU of _MAX_RANDOMIZED entries, see fidelity.py
_RANDOMIZED: OrderedDict[tuple, tuple[Any, Any, Any, str]] = OrderedDict()
_TRAIN_STATS: dict[str, _TrainStats] = {}

_RNN_NAMES = ("RNN", "LSTM", "GRU", "SimpleRNN", "ConvLSTM")


# --------------------------------------------------------------------------- info


@dataclasses.dataclass
class ExplanationInfo:
    """What produced an Explanation: attached to it as ``explanation.zoo_info``.

    Read it with :func:`info`. ``predictions`` holds the model outputs for the explained
    outputs (shape ``(n, K)``), so ``values.sum() + base_values`` can be checked against
    it; ``additivity`` holds that check (``max``, ``mean`` and ``relative`` = mean error /
    mean ``|f(x) - base|``). ``predicted`` is the predicted class index over *all* outputs
    for classifiers, ``y_true`` the labels when known.
    """

    method: str
    requested_method: str
    family: str
    task: str
    input_kind: str
    ref: str | None
    output_names: tuple[str, ...]
    output_indices: tuple[int, ...]
    class_names: tuple[str, ...] | None
    feature_names: tuple[str, ...] | None
    nsamples: int | None
    background: str
    background_size: int
    seed: int
    seconds: float
    ms_per_sample: float
    additivity: dict[str, float]
    predictions: np.ndarray | None = None
    predicted: np.ndarray | None = None
    y_true: np.ndarray | None = None
    scope: str = "local"
    cache_file: str | None = None
    cached: bool = False

    def to_json(self) -> str:
        """The scalar fields as JSON (arrays are stored beside it)."""
        skip = {"predictions", "predicted", "y_true"}
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in skip}
        return json.dumps(d)


def info(explanation: Any) -> ExplanationInfo:
    """Return the :class:`ExplanationInfo` that :func:`explain` attached to an Explanation.

    Example:
        >>> import explain
        >>> m = zoo.load("mlp-cancer")
        >>> e = explain.explain(m, m.dataset().x_test[:2])
        >>> meta = explain.info(e)
        >>> meta.method, meta.output_names, meta.predictions.shape
        ('layerwise', ('benign',), (2, 1))
        >>> meta.additivity["relative"] < 0.5
        True
    """
    _require_explanation(explanation)
    meta = getattr(explanation, "zoo_info", None)
    if not isinstance(meta, ExplanationInfo):
        raise DataError(
            "this Explanation carries no zoo information (it was sliced or made by shap "
            "directly); expected one returned by explain.explain(); pass the unsliced "
            "Explanation and use index=... in the plot functions"
        )
    return meta


_METHOD_NOTES = {
    "layerwise": "DeepSHAP rules per layer; path integrals refined inside LSTM/GRU/softmax",
    "expected_gradients": "expected gradients, every reference path integrated adaptively",
    "deep": "shap.DeepExplainer",
    "gradient": "shap.GradientExplainer",
}


def describe_method(meta: ExplanationInfo) -> str:
    """One line for people: the method, its settings and the background.

    Example:
        >>> import explain
        >>> m = zoo.load("mlp-cancer")
        >>> line = describe_method(explain.info(explain.explain(m, m.dataset().x_test[:1])))
        >>> line.startswith("layerwise (DeepSHAP"), line.endswith("100 training samples")
        (True, True)
    """
    note = _METHOD_NOTES.get(meta.method, meta.method)
    samples = f", {meta.nsamples} samples per input at most" if meta.nsamples else ""
    return f"{meta.method} ({note}){samples}, background of {meta.background_size} training samples"


def _require_explanation(e: Any) -> None:
    import shap

    if not isinstance(e, shap.Explanation):
        raise DataError(
            f"expected a shap.Explanation, got {type(e).__name__}; "
            "create one with explain.explain(model, x)"
        )


# --------------------------------------------------------------------------- target


@dataclasses.dataclass
class _Target:
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


def _is_keras_model(obj: Any) -> bool:
    import keras

    return isinstance(obj, keras.Model)


def _recurrent_layers(model: Any) -> list[str]:
    """Names of recurrent layers anywhere in ``model`` (wrappers and nested models too)."""
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


def _graph_op_types(model: Any, input_shape: tuple[int, ...]) -> set[str]:
    """Op types of the model's inference graph (traced once, nothing executed)."""
    import tensorflow as tf

    @tf.autograph.experimental.do_not_convert
    def call(x: Any) -> Any:
        return model(x, training=False)

    spec = tf.TensorSpec((None, *input_shape), tf.float32)
    graph = tf.function(call).get_concrete_function(spec).graph
    ops = {op.type for op in graph.get_operations()}
    return ops


_DEEP_CHECKS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_GRAPH_OPS_WITHOUT_ATTRIBUTION = {"Const", "NoOp", "Placeholder", "ReadVariableOp", "VarHandleOp"}


def _deep_check(model: Any, input_shape: tuple[int, ...]) -> list[str]:
    """Why shap.DeepExplainer must not run on ``model`` ([] if it may), from the model alone.

    Recurrent layers, loop ops, and any op on the input-to-output path for which shap has
    no DeepLIFT rule (e.g. ``LeakyRelu``) make DeepExplainer fail half-way — and a failure
    leaves TensorFlow's gradient recording patched for the rest of the process.
    """
    with _CACHE_LOCK:
        hit = _DEEP_CHECKS.get(model)
    if hit is not None:
        return hit
    blockers = _recurrent_layers(model)
    if not blockers:
        from shap.explainers._deep.deep_tf import op_handlers

        ops = _graph_op_types(model, input_shape)
        loops = sorted(o for o in ops if "While" in o or o.startswith("TensorList"))
        unknown = sorted(ops - set(op_handlers) - _GRAPH_OPS_WITHOUT_ATTRIBUTION)
        if loops:
            blockers = [f"recurrent loop ops {', '.join(loops)}"]
        elif unknown:
            blockers = [f"ops without a DeepLIFT rule in shap: {', '.join(unknown)}"]
    with _CACHE_LOCK:
        _DEEP_CHECKS[model] = blockers
    return blockers


def _activation_name(model: Any) -> str:
    act = getattr(model.layers[-1], "activation", None) if model.layers else None
    return getattr(act, "__name__", "") or ""


def _shapes(model: Any) -> tuple[tuple[int, ...], int]:
    try:
        in_shape = model.input_shape
        out_shape = model.output_shape
    except (AttributeError, ValueError) as err:
        raise ZooError(
            f"cannot read the input/output shape of model {model.name!r} ({err}); expected "
            "a built functional or Sequential keras.Model; build it with keras.Input(...) "
            "or call it once on a batch"
        ) from err
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


def _default_output_names(task: str, k: int, class_names: Any, family: str) -> tuple[str, ...]:
    if family == "gan":
        return ("real score",) if k == 1 else tuple(f"real score {i}" for i in range(k))
    if task == "regression":
        return ("forecast",) if k == 1 else tuple(f"forecast {i}" for i in range(k))
    if class_names:
        names = tuple(str(c) for c in class_names)
        if k == len(names):
            return names
        if k == 1 and len(names) == 2:
            return (names[1],)
    if k == 1:
        return ("output",)
    return tuple(f"output {i}" for i in range(k))


def _resolve_target(
    target: Any,
    output_names: Sequence[str] | None = None,
    feature_names: Sequence[str] | None = None,
) -> _Target:
    if _is_keras_model(target):
        model = target
        shape, k = _shapes(model)
        kind = _kind_for(shape)
        if not kind:
            raise ZooError(
                f"model input shape {shape} is not supported; expected (H, W, C) images, "
                "(T, F) sequences or (F,) tabular features"
            )
        family = (
            "rnn"
            if _recurrent_layers(model)
            else {"image": "cnn", "sequence": "cnn", "tabular": "mlp"}[kind]
        )
        task = (
            "classification" if _activation_name(model) in ("softmax", "sigmoid") else "regression"
        )
        names = (
            tuple(output_names) if output_names else _default_output_names(task, k, None, family)
        )
        if len(names) != k:
            raise DataError(
                f"output_names has {len(names)} names but the model has {k} outputs; pass {k} names"
            )
        return _Target(
            model=model,
            key=f"id:{id(model)}",
            ref=None,
            family=family,
            task=task,
            input_kind=kind,
            input_shape=shape,
            n_outputs=k,
            output_names=names,
            class_names=None,
            feature_names=tuple(feature_names) if feature_names else None,
            trained=None,
            path=None,
        )
    if not (hasattr(target, "model") and hasattr(target, "dataset")):
        raise ZooError(
            f"cannot explain a {type(target).__name__}; expected a TrainedModel from "
            "zoo.load(name) or a keras.Model (then pass background=...)"
        )
    family = str(getattr(target, "family", ""))
    model = target.discriminator if family == "gan" else target.model
    if model is None or not _is_keras_model(model):
        raise ZooError(
            f"{getattr(target, 'ref', target)!r} has no keras model to explain "
            f"(family {family!r}); expected a loaded TrainedModel; reload it with zoo.load()"
        )
    shape, k = _shapes(model)
    kind = _kind_for(shape)
    task = str(getattr(target, "task", "") or "")
    class_names = getattr(target, "class_names", None)
    feature_names = getattr(target, "feature_names", None)
    ref = getattr(target, "ref", None)
    return _Target(
        model=model,
        key=f"ref:{ref}" if ref else f"id:{id(model)}",
        ref=ref,
        family=family or ("rnn" if _recurrent_layers(model) else "cnn"),
        task=task,
        input_kind=kind,
        input_shape=shape,
        n_outputs=k,
        output_names=_default_output_names(task, k, class_names, family),
        class_names=tuple(class_names) if class_names else None,
        feature_names=tuple(feature_names) if feature_names else None,
        trained=target,
        path=Path(target.path) if getattr(target, "path", None) else None,
    )


# --------------------------------------------------------------------------- data


@dataclasses.dataclass
class _TrainStats:
    lo: np.ndarray
    hi: np.ndarray
    gan_from_unit: bool  # dataset images in [0, 1] mapped to the discriminator's [-1, 1]


def _range_axes(kind: str, ndim: int) -> tuple[int, ...]:
    # images: one global range; sequences and tables: one range per feature (last axis)
    return tuple(range(ndim)) if kind == "image" else tuple(range(ndim - 1))


def _train_stats(t: _Target) -> _TrainStats:
    with _CACHE_LOCK:
        hit = _TRAIN_STATS.get(t.key)
    if hit is not None and t.trained is not None:
        return hit
    x = np.asarray(t.trained.dataset().x_train, dtype=np.float32)
    gan_from_unit = t.family == "gan" and float(x.min()) >= 0.0
    if gan_from_unit:
        x = x * 2.0 - 1.0
    axes = _range_axes(t.input_kind, x.ndim)
    stats = _TrainStats(x.min(axis=axes), x.max(axis=axes), gan_from_unit)
    with _CACHE_LOCK:
        _TRAIN_STATS[t.key] = stats
    return stats


def _to_model_space(t: _Target, x: np.ndarray) -> np.ndarray:
    """Dataset space -> the explained model's input space (only the GAN differs)."""
    if t.family == "gan" and t.trained is not None and _train_stats(t).gan_from_unit:
        return x * 2.0 - 1.0
    return x


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


def _check_inputs(t: _Target, x: Any, what: str = "x") -> np.ndarray:
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


def _check_range(
    t: _Target, x: np.ndarray, lo: np.ndarray, hi: np.ndarray, tolerance: float
) -> None:
    span = np.maximum(hi - lo, 1e-6)
    lo_ok, hi_ok = lo - tolerance * span, hi + tolerance * span
    axes = _range_axes(t.input_kind, x.ndim)
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


def _resolve_outputs(t: _Target, output: Any) -> tuple[int, ...]:
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


def _labels(t: _Target, y: Any, n: int) -> np.ndarray | None:
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


def _stratified_indices(y: np.ndarray | None, n: int, size: int, seed: int) -> np.ndarray:
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


def _background(t: _Target, background: Any) -> tuple[np.ndarray, str]:
    """The background array in model space and a short key that identifies it."""
    if background is None or isinstance(background, (int, np.integer)):
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
        idx = _stratified_indices(y, len(x), size, BACKGROUND_SEED)
        return _to_model_space(t, x[idx]), f"train{size}s{BACKGROUND_SEED}"
    arr = _check_inputs(t, background, "background")
    digest = hashlib.sha1(np.ascontiguousarray(arr).tobytes()).hexdigest()[:12]
    return arr, f"array{len(arr)}-{digest}"


# --------------------------------------------------------------------------- explainers


class _Explainer:
    """One model + method + background; built once, reused for every batch."""

    method = ""

    def __init__(
        self,
        model: Any,
        background: np.ndarray,
        outputs: tuple[int, ...],
        nsamples: int | None,
        lo: np.ndarray,
        hi: np.ndarray,
    ) -> None:
        import tensorflow as tf

        self.model_ref = weakref.ref(model)
        self.model = model
        self.background = background
        self.outputs = outputs
        self.nsamples = nsamples
        self.lo, self.hi = lo, hi
        self.range_tolerance = RANGE_TOLERANCE
        shape = background.shape[1:]
        spec = tf.TensorSpec((None, *shape), tf.float32)

        @tf.autograph.experimental.do_not_convert
        def forward(x: Any) -> Any:
            out = model(x, training=False)
            return tf.reshape(out, (tf.shape(x)[0], -1))

        # a concrete function: traced once here, never retraced (and no retracing warnings
        # when many explainers are built in one process)
        self.forward = tf.function(forward).get_concrete_function(spec)
        preds = np.concatenate(
            [self.predict(background[i : i + 256]) for i in range(0, len(background), 256)]
        )
        self.base_values = preds[:, list(outputs)].mean(axis=0).astype(np.float32)
        self.spread = preds[:, list(outputs)].std(axis=0).astype(np.float32)

    def predict(self, x: np.ndarray) -> np.ndarray:
        import tensorflow as tf

        return self.forward(tf.constant(x)).numpy()

    def batch_size(self) -> int:
        return 32

    def attributions(self, x: np.ndarray, seed: int) -> np.ndarray:
        raise NotImplementedError


class _Layerwise(_Explainer):
    """DeepSHAP rules per layer (:mod:`explain.layerwise`), refined to the tolerance."""

    method = "layerwise"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from .layerwise import LayerwiseRules

        self.rules = LayerwiseRules(self.model, self.background, self.outputs)

    def batch_size(self) -> int:
        return self.rules.batch_size()

    def attributions(self, x: np.ndarray, seed: int) -> np.ndarray:
        f = self.predict(x)[:, list(self.outputs)]
        return self.rules.attributions(
            x, f=f, base=self.base_values, scale_floor=SCALE_FLOOR * self.spread
        )


class _ExpectedGradients(_Explainer):
    """Expected gradients, every reference's path integrated adaptively (explain.paths)."""

    method = "expected_gradients"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from .paths import AdaptivePaths, gradient_function

        shape = tuple(self.background.shape[1:])
        fn = gradient_function(self.model, self.outputs, shape)
        per_ref = max(1, int(self.nsamples or DEFAULT_EG_NSAMPLES) // len(self.background))
        self.paths = AdaptivePaths(fn, self.background, budget=per_ref)

    def batch_size(self) -> int:
        per = len(self.background) * 8 * int(np.prod(self.background.shape[1:]))
        return int(np.clip(_FLOAT_BUDGET // max(per * len(self.outputs), 1), 1, 32))

    def attributions(self, x: np.ndarray, seed: int) -> np.ndarray:
        phi, _, _ = self.paths.attributions(x)
        return phi.reshape(*x.shape, len(self.outputs))


class _ShapBacked(_Explainer):
    """An explainer that wraps one of shap's own (built under the shap lock)."""

    shap_class = ""  # name of the shap explainer class

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        import shap

        with _SHAP_LOCK, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self._shap = getattr(shap, self.shap_class)(self.model, self.background)

    def batch_size(self) -> int:
        return 16


class _ShapDeep(_ShapBacked):
    method = "deep"
    shap_class = "DeepExplainer"

    def attributions(self, x: np.ndarray, seed: int) -> np.ndarray:
        from tensorflow.python.eager import execute as tf_execute

        with _SHAP_LOCK, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            record = tf_execute.record_gradient
            try:
                vals = self._shap.shap_values(x, check_additivity=False)
            finally:  # shap only restores this hook on success; never leave it patched
                tf_execute.record_gradient = record
        return _shap_to_array(vals, x.shape, self.outputs)


class _ShapGradient(_ShapBacked):
    method = "gradient"
    shap_class = "GradientExplainer"

    def attributions(self, x: np.ndarray, seed: int) -> np.ndarray:
        with _SHAP_LOCK, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            vals = self._shap.shap_values(x, nsamples=self.nsamples or DEFAULT_NSAMPLES, rseed=seed)
        return _shap_to_array(vals, x.shape, self.outputs)


def _shap_to_array(vals: Any, xshape: tuple[int, ...], outputs: tuple[int, ...]) -> np.ndarray:
    if isinstance(vals, list):  # older shap: one array per output
        vals = np.stack(vals, axis=-1)
    arr = np.asarray(vals, dtype=np.float32)
    if arr.shape == xshape:
        arr = arr[..., None]
    return arr[..., list(outputs)]


_CLASSES: dict[str, type[_Explainer]] = {
    "layerwise": _Layerwise,
    "expected_gradients": _ExpectedGradients,
    "deep": _ShapDeep,
    "gradient": _ShapGradient,
}


def _resolve_method(t: _Target, method: str) -> str:
    if method not in METHODS:
        raise ZooError(f"unknown method {method!r}; expected one of {list(METHODS)}")
    if method in ("auto", "layerwise"):
        from .layerwise import unsupported

        why = unsupported(t.model)
        if why is None:
            return "layerwise"
        if method == "layerwise":
            raise ZooError(
                f"method='layerwise' cannot explain {t.ref or t.model.name}: {why}; expected "
                "a functional or Sequential keras.Model with one input and one output; use "
                "method='expected_gradients' (any differentiable model)"
            )
        return "expected_gradients"
    if method == "deep":
        blockers = _deep_check(t.model, t.input_shape)
        if blockers:
            recurrent = t.family == "rnn" or _recurrent_layers(t.model)
            why = (
                "shap.DeepExplainer has no rules for TensorFlow's recurrent loop ops"
                if recurrent
                else "shap.DeepExplainer cannot propagate attributions through them"
            )
            raise ZooError(
                f"method='deep' cannot explain {t.ref or t.model.name}: it contains "
                f"{'recurrent parts' if recurrent else 'unsupported parts'} "
                f"({'; '.join(blockers)}). {why}, and a failed attempt leaves TensorFlow's "
                "gradient recording patched, breaking later training in this process. Use "
                "method='layerwise' (the same DeepLIFT idea, exact on these layers too) or "
                "method='expected_gradients'"
            )
    return method


def _nsamples(method: str, nsamples: int | None) -> int | None:
    """The sample setting a method uses (None: the method takes none)."""
    if method in ("deep", "layerwise"):
        return None
    default = DEFAULT_EG_NSAMPLES if method == "expected_gradients" else DEFAULT_NSAMPLES
    return int(nsamples or default)


def _get_explainer(
    t: _Target,
    method: str,
    background: Any,
    nsamples: int | None,
    outputs: tuple[int, ...],
    use_cache: bool = True,
) -> tuple[_Explainer, str]:
    """The explainer for (model, method, background, nsamples, outputs), built at most once."""
    if background is None or isinstance(background, (int, np.integer)):
        size = DEFAULT_BACKGROUND if background is None else int(background)
        bg, bg_key = None, f"train{size}s{BACKGROUND_SEED}"
    else:
        bg, bg_key = _background(t, background)
    ns = _nsamples(method, nsamples)
    key = (t.key, method, bg_key, ns, outputs)
    with _CACHE_LOCK:
        hit = _EXPLAINERS.get(key) if use_cache else None
        if hit is not None and (t.ref is not None or hit.model_ref() is t.model):
            _EXPLAINERS.move_to_end(key)
            return hit, bg_key
    if bg is None:
        bg, bg_key = _background(t, background)
    if t.trained is not None:
        stats = _train_stats(t)
        lo, hi, tolerance = stats.lo, stats.hi, RANGE_TOLERANCE
    else:  # only the background is known: a few samples, so allow a wider margin
        axes = _range_axes(t.input_kind, bg.ndim)
        lo, hi, tolerance = bg.min(axis=axes), bg.max(axis=axes), 3 * RANGE_TOLERANCE
    explainer = _CLASSES[method](t.model, bg, outputs, ns, lo, hi)
    explainer.range_tolerance = tolerance
    if use_cache:
        with _CACHE_LOCK:
            _EXPLAINERS[key] = explainer
            while len(_EXPLAINERS) > _MAX_EXPLAINERS:
                _EXPLAINERS.popitem(last=False)
    return explainer, bg_key


def clear_cache() -> None:
    """Forget every in-process explainer and randomized clone (the disk cache stays).

    Example:
        >>> import explain
        >>> explain.clear_cache()
    """
    with _CACHE_LOCK:
        _EXPLAINERS.clear()
        _RANDOMIZED.clear()
        _TRAIN_STATS.clear()


# --------------------------------------------------------------------------- explain


def _generate(t: _Target, n: int, seed: int) -> np.ndarray:
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


def explain(
    target: Any,
    x: Any,
    *,
    background: np.ndarray | int | None = None,
    method: str = "auto",
    nsamples: int | None = None,
    batch_size: int | None = None,
    seed: int = 0,
    output: int | str | Sequence[int | str] | None = None,
    y: Any = None,
    progress: Callable[[int, int], None] | None = None,
    check_range: bool = True,
    output_names: Sequence[str] | None = None,
    feature_names: Sequence[str] | None = None,
) -> shap.Explanation:
    """Explain a model's outputs on ``x`` with SHAP values.

    Args:
        target: a ``TrainedModel`` from ``zoo.load(name)`` or a plain ``keras.Model``
            (then ``background`` must be an array). For a GAN the *discriminator's*
            real-vs-fake logit is explained; ``x`` is in the dataset's image space
            ([0, 1] images are mapped to the discriminator's [-1, 1]), or an int ``n`` to
            explain ``n`` samples drawn from the generator (seeded by ``seed``).
        x: inputs, shape ``(n, *input_shape)`` (one sample without the batch axis is
            accepted), finite, scaled like the training data.
        background: reference inputs — an array, or a count of training samples
            (default 100, stratified by class for classifiers, fixed seed).
        method: ``"auto"`` (``"layerwise"`` for functional/Sequential models, else
            ``"expected_gradients"``), ``"layerwise"``, ``"expected_gradients"``,
            ``"deep"`` (shap.DeepExplainer; refused for recurrent models) or ``"gradient"``
            (shap.GradientExplainer).
        nsamples: ``"expected_gradients"``: gradient evaluations per input at most
            (default 4000; the integration stops earlier once within tolerance);
            ``"gradient"``: shap's samples per input (default 200); ignored by
            ``"layerwise"`` and ``"deep"``.
        batch_size: inputs per batch (default: sized to ~16 MB of gradients).
        seed: seed of shap's sampling (``"gradient"``; ours are deterministic; an
            input's result never depends on its
            batch).
        output: which outputs to explain (names or indices; default all).
        y: true labels (indices or class names), recorded for the plots.
        progress: called as ``progress(done, total)`` after each batch.
        check_range: reject inputs far outside the training range.
        output_names, feature_names: names for a plain keras.Model.

    Returns:
        A ``shap.Explanation``. ``values`` always ends with an output axis, even for one
        output: images ``(n, H, W, C, K)``, sequences ``(n, T, F, K)``, tabular
        ``(n, F, K)`` (shap's multi-output convention; ``e[i, ..., k]`` is one output).
        ``base_values`` ``(n, K)`` is the mean model output over the background;
        ``data`` the inputs in the model's input space; ``output_names`` the K names
        (class names, ``"forecast"`` or ``"real score"``); ``feature_names`` set for
        tabular models. ``explanation.zoo_info`` (see :func:`info`) records the method,
        settings, model outputs, additivity error and timing.

    Raises:
        DataError: bad inputs (shape, dtype, NaN/inf, empty, out of range, unknown output
            or class name).
        ZooError: an unusable target or method (e.g. ``"deep"`` on an LSTM).

    Example:
        >>> import explain, zoo
        >>> m = zoo.load("cnn-digits")
        >>> e = explain.explain(m, m.dataset().x_test[:2], y=m.dataset().y_test[:2])
        >>> e.values.shape, e.base_values.shape
        ((2, 8, 8, 1, 10), (2, 10))
        >>> e.output_names[:3], explain.info(e).method
        (['0', '1', '2'], 'layerwise')
    """
    t = _resolve_target(target, output_names, feature_names)
    if isinstance(x, (int, np.integer)) and not isinstance(x, bool):
        xs = _generate(t, int(x), seed)  # GAN only; a helpful DataError otherwise
        check_range = False
    else:
        xs = _to_model_space(t, _check_inputs(t, x))
    return _explain_prepared(
        t,
        xs,
        background=background,
        method=method,
        nsamples=nsamples,
        batch_size=batch_size,
        seed=seed,
        output=output,
        y=y,
        progress=progress,
        check_range=check_range,
    )


def _explain_prepared(
    t: _Target,
    xs: np.ndarray,
    *,
    background: Any,
    method: str,
    nsamples: int | None,
    batch_size: int | None,
    seed: int,
    output: Any,
    y: Any,
    progress: Callable[[int, int], None] | None,
    check_range: bool,
    use_cache: bool = True,
    prepared: tuple[_Explainer, str] | None = None,
) -> shap.Explanation:
    outputs = _resolve_outputs(t, output)
    labels = _labels(t, y, len(xs))
    resolved = _resolve_method(t, method)
    for label, val, low in (("batch_size", batch_size, 1), ("nsamples", nsamples, 1)):
        if val is not None and (
            isinstance(val, bool) or not isinstance(val, (int, np.integer)) or val < low
        ):
            raise DataError(
                f"{label}={val!r}; expected an integer >= {low}, or None for the default"
            )
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise DataError(f"seed={seed!r}; expected an integer >= 0")
    if prepared is not None:  # an explainer the caller built (and caches) for t.model
        explainer, bg_key = prepared
    else:
        explainer, bg_key = _get_explainer(t, resolved, background, nsamples, outputs, use_cache)
    if check_range:
        _check_range(t, xs, explainer.lo, explainer.hi, explainer.range_tolerance)

    n, k = len(xs), len(outputs)
    bs = int(batch_size or explainer.batch_size())
    values = np.empty((*xs.shape, k), np.float32)
    all_preds = np.empty((n, t.n_outputs), np.float32)
    start = time.perf_counter()
    for i in range(0, n, bs):
        chunk = np.ascontiguousarray(xs[i : i + bs])
        values[i : i + len(chunk)] = explainer.attributions(chunk, seed)
        all_preds[i : i + len(chunk)] = explainer.predict(chunk)
        if progress is not None:
            progress(min(i + bs, n), n)
    seconds = time.perf_counter() - start

    preds = all_preds[:, list(outputs)]
    base = np.broadcast_to(explainer.base_values, (n, k)).copy()
    predicted = None
    if t.task == "classification":
        predicted = (
            all_preds.argmax(axis=1) if t.n_outputs > 1 else (all_preds[:, 0] > 0.5).astype(int)
        )
    meta = ExplanationInfo(
        method=resolved,
        requested_method=method,
        family=t.family,
        task=t.task,
        input_kind=t.input_kind,
        ref=t.ref,
        output_names=tuple(t.output_names[j] for j in outputs),
        output_indices=outputs,
        class_names=t.class_names,
        feature_names=t.feature_names,
        nsamples=explainer.nsamples,
        background=bg_key,
        background_size=len(explainer.background),
        seed=seed,
        seconds=seconds,
        ms_per_sample=1000.0 * seconds / n,
        additivity=additivity_error(values, base, preds, getattr(explainer, "spread", None)),
        predictions=preds,
        predicted=predicted,
        y_true=labels,
    )
    return _make_explanation(values, base, xs, meta)


def _make_explanation(
    values: np.ndarray, base: np.ndarray, data: np.ndarray | None, meta: ExplanationInfo
) -> shap.Explanation:
    import shap

    tabular = meta.input_kind == "tabular"
    e = shap.Explanation(
        values=values,
        base_values=base,
        data=data,
        output_names=list(meta.output_names),
        feature_names=list(meta.feature_names) if tabular and meta.feature_names else None,
    )
    e.zoo_info = meta
    return e


def additivity_error(
    values: np.ndarray,
    base: np.ndarray,
    outputs: np.ndarray,
    spread: np.ndarray | None = None,
) -> dict[str, float]:
    """|sum of attributions + base value - model output| over samples and outputs.

    Returns ``max``, ``mean``, ``relative`` (mean error / mean |output - base|) and the
    *normalized* error per sample and output, ``|sum + base - f| / max(|f - base|,
    0.1 * spread)`` (``spread``: the output's standard deviation, default the spread
    of ``outputs``), as ``p50``, ``p95`` and ``normalized_max``. The floor keeps an
    output that barely moves from the base from dividing by almost zero.

    Example:
        >>> import numpy as np
        >>> add = additivity_error(np.ones((2, 3, 1)), np.zeros((2, 1)), np.full((2, 1), 3.1))
        >>> round(add["max"], 6), round(add["p95"], 4)
        (0.1, 0.0323)
    """
    n, k = base.shape
    total = values.reshape(n, -1, k).sum(axis=1, dtype=np.float64) + base
    err = np.abs(total - outputs)
    scale = float(np.abs(outputs - base).mean())
    if spread is None:
        spread = np.std(outputs, axis=0)
    denom = np.maximum(np.abs(outputs - base), SCALE_FLOOR * np.asarray(spread, np.float64))
    norm = np.where(denom > 0, err / np.where(denom > 0, denom, 1.0), 0.0)
    return {
        "max": float(err.max()),
        "mean": float(err.mean()),
        "relative": float(err.mean() / scale) if scale > 0 else 0.0,
        "p50": float(np.percentile(norm, 50)),
        "p95": float(np.percentile(norm, 95)),
        "normalized_max": float(norm.max()),
    }


# --------------------------------------------------------------------------- disk cache


def _test_split(t: _Target) -> tuple[np.ndarray, Any]:
    data = t.trained.dataset()
    x = _to_model_space(t, _check_inputs(t, data.x_test, "the test split"))
    y = None if t.family == "gan" else getattr(data, "y_test", None)
    return x, y


def _cache_path(t: _Target, settings: dict[str, Any], x: np.ndarray) -> Path | None:
    if t.path is None:
        return None
    blob = json.dumps(settings, sort_keys=True).encode()
    digest = hashlib.sha1(blob + np.ascontiguousarray(x).tobytes()).hexdigest()[:16]
    return t.path / "explain" / f"{settings['split']}-{settings['method']}-{digest}.npz"


def _save(path: Path, e: shap.Explanation) -> None:
    meta: ExplanationInfo = e.zoo_info
    arrays: dict[str, np.ndarray] = {
        "values": np.asarray(e.values),
        "base_values": np.asarray(e.base_values),
        "info": np.array(meta.to_json()),
    }
    if e.data is not None:
        arrays["data"] = np.asarray(e.data)
    for name in ("predictions", "predicted", "y_true"):
        val = getattr(meta, name)
        if val is not None:
            arrays[name] = np.asarray(val)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    atomic_write_bytes(path, buf.getvalue())


def _load(path: Path) -> shap.Explanation:
    with np.load(path, allow_pickle=False) as z:
        raw = json.loads(str(z["info"]))
        for name in ("output_names", "output_indices", "class_names", "feature_names"):
            if raw.get(name) is not None:
                raw[name] = tuple(raw[name])
        extra = {n: z[n] for n in ("predictions", "predicted", "y_true") if n in z.files}
        meta = ExplanationInfo(**raw, **extra)
        meta.cached, meta.cache_file = True, str(path)
        data = z["data"] if "data" in z.files else None
        return _make_explanation(z["values"], z["base_values"], data, meta)


def explain_test_split(
    trained: Any,
    *,
    method: str = "auto",
    background: int | None = None,
    nsamples: int | None = None,
    seed: int = 0,
    output: int | str | Sequence[int | str] | None = None,
    limit: int | None = None,
    batch_size: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> shap.Explanation:
    """Explain the test split of a stored model, cached on disk beside the artifact.

    The result is written once to ``trained.path / "explain" / "test-<method>-<key>.npz"``
    (atomically: temp file + ``os.replace``), where ``<key>`` hashes the settings
    (method, background, nsamples, seed, outputs, limit, cache format) and the test
    inputs; later calls with the same settings only read that file
    (``info(e).cached`` is True). A store that cannot be written is not an error: the
    explanation is computed and returned uncached.

    Example:
        >>> import explain
        >>> m = zoo.load("lstm-co2")
        >>> e = explain.explain_test_split(m, limit=4, nsamples=20)
        >>> e.values.shape, explain.info(e).cache_file
        ((4, 52, 1, 1), '.../lstm-co2/.../explain/test-layerwise-....npz')
        >>> explain.info(explain.explain_test_split(m, limit=4, nsamples=20)).cached
        True
    """
    t = _resolve_target(trained)
    if t.trained is None:
        raise ZooError(
            "explain_test_split needs a TrainedModel (it reads the test split and caches "
            "under its artifact folder); got a plain keras.Model; use explain.explain(model, "
            "x, background=...) instead"
        )
    if background is not None and not isinstance(background, (int, np.integer)):
        raise DataError("background must be a count here; use explain.explain() for arrays")
    x, y = _test_split(t)
    if limit is not None:
        x = x[: int(limit)]
        y = None if y is None else np.asarray(y)[: int(limit)]
    resolved = _resolve_method(t, method)
    outputs = _resolve_outputs(t, output)
    settings = {
        "format": CACHE_FORMAT,
        "split": "test",
        "ref": t.ref,
        "method": resolved,
        "background": DEFAULT_BACKGROUND if background is None else int(background),
        "background_seed": BACKGROUND_SEED,
        "nsamples": _nsamples(resolved, nsamples),
        "seed": seed,
        "outputs": list(outputs),
        "limit": limit,
    }
    path = _cache_path(t, settings, x)
    if path is not None and path.exists():
        try:
            cached = _load(path)
            if progress is not None:
                progress(len(x), len(x))
            return cached
        except Exception as err:  # a damaged cache file is recomputed, never fatal
            warnings.warn(f"ignoring unreadable explanation cache {path} ({err})", stacklevel=2)
    e = _explain_prepared(
        t,
        x,
        background=background,
        method=resolved,
        nsamples=nsamples,
        batch_size=batch_size,
        seed=seed,
        output=outputs,
        y=y,
        progress=progress,
        check_range=False,
    )
    if path is not None:
        try:
            _save(path, e)
            e.zoo_info.cache_file = str(path)
        except OSError as err:
            warnings.warn(f"could not cache the explanation at {path} ({err})", stacklevel=2)
    return e


def global_importance(
    target: Any,
    x: Any = None,
    *,
    method: str = "auto",
    background: int | np.ndarray | None = None,
    nsamples: int | None = None,
    seed: int = 0,
    output: int | str | Sequence[int | str] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> shap.Explanation:
    """Mean |SHAP| per pixel / time step x feature / feature, for each output.

    Uses the test split (disk-cached, see :func:`explain_test_split`) unless ``x`` is
    given; ``x`` may also be an Explanation from :func:`explain` to aggregate it directly.
    Returns a ``shap.Explanation`` without a sample axis: ``values`` has shape
    ``(*input_shape, K)``, ``base_values`` ``(K,)``; ``info(e).scope == "global"``.

    Example:
        >>> import explain
        >>> g = explain.global_importance(zoo.load("mlp-cancer"))
        >>> g.values.shape, g.base_values.shape, explain.info(g).scope
        ((30, 1), (1,), 'global')
    """
    import shap

    if isinstance(x, shap.Explanation):
        e = x
    elif x is None:
        e = explain_test_split(
            target,
            method=method,
            background=background,
            nsamples=nsamples,
            seed=seed,
            output=output,
            progress=progress,
        )
    else:
        e = explain(
            target,
            x,
            method=method,
            background=background,
            nsamples=nsamples,
            seed=seed,
            output=output,
            progress=progress,
        )
    src = info(e)
    values = np.abs(np.asarray(e.values)).mean(axis=0)
    meta = dataclasses.replace(src, scope="global", predictions=None, predicted=None, y_true=None)
    return _make_explanation(values, np.asarray(e.base_values).mean(axis=0), None, meta)
