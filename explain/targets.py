"""What is explained: the target (a TrainedModel or a keras.Model), its inputs and background.

Resolving a target (family, task, input kind, output names), checking inputs (shape,
dtype, NaNs, the training range), choosing outputs and labels, and drawing the background
(stratified training samples). No estimator lives here.
"""

from __future__ import annotations

import dataclasses
import hashlib
import threading
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from zoo.errors import DataError, ZooError

DEFAULT_BACKGROUND = 100
BACKGROUND_SEED = 0
RANGE_TOLERANCE = 1.0  # allowed: training range widened by this many spans each side

_CACHE_LOCK = threading.RLock()  # guards every in-process cache of explain
_TRAIN_STATS: dict[str, _TrainStats] = {}
_RNN_NAMES = ("RNN", "LSTM", "GRU", "SimpleRNN", "ConvLSTM")


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
