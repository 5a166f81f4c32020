"""The estimators behind :func:`explain.explain`: choosing one, building it once.

Four estimators sit behind one call, :func:`explain.explain`:

``"layerwise"`` (ours; the default wherever it applies)
    DeepSHAP written as a modified forward pass of the Keras graph
    (:mod:`explain.layerwise`): exact DeepLIFT rules for linear layers, elementwise
    activations, max pooling and the gates of LSTM/GRU cells, and path integrals of the
    Jacobian only inside smooth blocks (softmax, unknown layers), refined until the
    measured additivity error is within tolerance. Exactly additive on every zoo model —
    CNNs, MLPs, the GAN's discriminator and the recurrent models, where shap's
    DeepExplainer cannot run at all. Every reference's path is walked in a few
    segments (``nsamples``; default :data:`SEGMENTS`, :data:`RECURRENT_SEGMENTS` for
    recurrent models), each exactly additive, so the result approaches expected
    gradients' path integral. One compiled function over a batch, on TensorFlow or JAX
    (:mod:`zoo.backend`); no global state touched.
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

shap's two explainers are references that run on TensorFlow only; on another backend
asking for them is one clear :class:`zoo.ZooError` (:func:`shap_unavailable`).

``"auto"`` picks ``"layerwise"`` for every functional or Sequential model with one input
and output (every zoo entry) and ``"expected_gradients"`` otherwise. Figures (additivity
and milliseconds per sample against shap's explainers, same run) are in
``bench/results/explain_latency.json`` (``python bench/explain_latency.py``).

Each is a class behind one interface, :class:`Explainer`: ``attributions(x, seed) ->
(n, *input_shape, K)``, ``predict``, ``base_values``. :func:`resolve_method` picks the
method; :func:`get_explainer` builds an explainer once per (model, method, background,
nsamples, outputs) and keeps it in :data:`explain.caching.EXPLAINERS`.

The names without a leading underscore are shared inside the package; the public API is
what ``explain`` exports.
"""

from __future__ import annotations

import contextlib
import threading
import warnings
import weakref
from collections.abc import Iterator
from typing import Any

import numpy as np

from zoo.errors import ZooError

from .caching import EXPLAINERS
from .targets import (
    RANGE_TOLERANCE,
    Target,
    count_background_key,
    range_axes,
    recurrent_layers,
    resolve_background,
    train_stats,
)

METHODS: tuple[str, ...] = ("auto", "layerwise", "expected_gradients", "deep", "gradient")
DEFAULT_NSAMPLES = 200  # shap.GradientExplainer's samples per input
DEFAULT_EG_NSAMPLES = 4000  # expected gradients: gradient evaluations per input, at most
# layerwise: segments of every reference's path (one exact rule pass each). One segment is
# DeepLIFT's single step; more approach expected gradients' path integral, the closest to
# the true Shapley values measured here, while every count stays exactly additive. Full
# zoo, this machine (bench/explain_latency.py, 2026-11-27): on cnn-digits 4 segments agree
# with shap.GradientExplainer at 2,000 samples (Spearman 0.93) better than two such runs
# agree with each other (0.91), at 74 ms per sample for all 10 outputs against
# shap.DeepExplainer's 91; on gru-digits 2 segments reach 0.92 (1 segment: 0.79; two
# 2,000-sample runs: 0.94) at 252 ms against shap.GradientExplainer's 461.
SEGMENTS = 4
RECURRENT_SEGMENTS = 2  # each segment unrolls the cells again (~125 ms per sample there)
SCALE_FLOOR = 0.1  # normalized additivity: error / max(|f(x) - base|, 0.1 * std of f)
_FLOAT_BUDGET = 2_000_000  # floats in one (batch x nsamples x input) block: ~50 MB peak
_SHAP_LOCK = threading.RLock()  # shap's TF explainers patch global state; one at a time


# --------------------------------------------------------------------------- explainers


class Explainer:
    """One model + method + background; built once, reused for every batch.

    Subclasses set ``method`` and implement ``attributions``; ``lo``/``hi`` are the input
    range that explained inputs are checked against (``range_tolerance`` spans wide).
    """

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
        from keras import ops

        from zoo import backend

        self.model_ref = weakref.ref(model)
        self.model = model
        self.background = background
        self.outputs = outputs
        self.nsamples = nsamples
        self.lo, self.hi = lo, hi
        self.range_tolerance = RANGE_TOLERANCE
        shape = background.shape[1:]

        def forward(x: Any) -> Any:
            out = model(x, training=False)
            return ops.reshape(out, (ops.shape(x)[0], -1))

        # compiled once here (TensorFlow: a concrete function, never retraced, and no
        # retracing warnings when many explainers are built in one process)
        self.forward = backend.compiled(forward, [(None, *shape)])
        preds = np.concatenate(
            [self.predict(background[i : i + 256]) for i in range(0, len(background), 256)]
        )
        self.base_values = preds[:, list(outputs)].mean(axis=0).astype(np.float32)
        self.spread = preds[:, list(outputs)].std(axis=0).astype(np.float32)

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.forward(x))

    def batch_size(self) -> int:
        return 32

    def attributions(self, x: np.ndarray, seed: int) -> np.ndarray:
        raise NotImplementedError


class _Layerwise(Explainer):
    """DeepSHAP rules per layer and path segment (:mod:`explain.layerwise`).

    ``nsamples`` is the number of segments of every reference's path (default
    :data:`SEGMENTS`, :data:`RECURRENT_SEGMENTS` for recurrent models); it is recorded
    as the explanation's setting.
    """

    method = "layerwise"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from .layerwise import LayerwiseRules

        # the one resolver of the default (get_explainer's key uses it too); with a model
        # it always gives a count
        self.nsamples = nsamples_for(self.method, self.nsamples, self.model)
        self.rules = LayerwiseRules(
            self.model, self.background, self.outputs, segments=self.nsamples or 1
        )

    def batch_size(self) -> int:
        return self.rules.batch_size()

    def attributions(self, x: np.ndarray, seed: int) -> np.ndarray:
        f = self.predict(x)[:, list(self.outputs)]
        return self.rules.attributions(
            x, f=f, base=self.base_values, scale_floor=SCALE_FLOOR * self.spread
        )


class _ExpectedGradients(Explainer):
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


@contextlib.contextmanager
def keep_model_state(model: Any) -> Iterator[None]:
    """Restore ``model``'s non-trainable variables after the block.

    shap's TensorFlow explainers run the model in training mode: measured here,
    ``shap.GradientExplainer.shap_values`` updates BatchNormalization's moving statistics
    (and the augmentation layers' seed state), so the stored model predicted differently
    afterwards. Everything shap runs goes through this.

    Example:
        >>> import keras
        >>> m = keras.Sequential([keras.Input((2,)), keras.layers.BatchNormalization()])
        >>> with keep_model_state(m):
        ...     _ = m(np.ones((4, 2), np.float32) * 5, training=True)
        >>> float(m.layers[0].moving_mean.numpy()[0])
        0.0
    """
    saved = [v.numpy() for v in model.non_trainable_variables]
    try:
        yield
    finally:
        for var, value in zip(model.non_trainable_variables, saved, strict=True):
            var.assign(value)


@contextlib.contextmanager
def _shap_quietly() -> Iterator[None]:
    """One shap call at a time (its TF explainers patch global state), warnings off."""
    with _SHAP_LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


class _ShapBacked(Explainer):
    """An explainer that wraps one of shap's own (built under the shap lock)."""

    shap_class = ""  # name of the shap explainer class

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        why = shap_unavailable(self.method)
        if why:
            raise ZooError(why)
        super().__init__(*args, **kwargs)
        import shap

        with _shap_quietly():
            self._shap = getattr(shap, self.shap_class)(self.model, self.background)

    def batch_size(self) -> int:
        return 16


class _ShapDeep(_ShapBacked):
    method = "deep"
    shap_class = "DeepExplainer"

    def attributions(self, x: np.ndarray, seed: int) -> np.ndarray:
        from tensorflow.python.eager import execute as tf_execute

        with _shap_quietly():
            record = tf_execute.record_gradient
            try:
                with keep_model_state(self.model):
                    vals = self._shap.shap_values(x, check_additivity=False)
            finally:  # shap only restores this hook on success; never leave it patched
                tf_execute.record_gradient = record
        return _shap_to_array(vals, x.shape, self.outputs)


class _ShapGradient(_ShapBacked):
    method = "gradient"
    shap_class = "GradientExplainer"

    def attributions(self, x: np.ndarray, seed: int) -> np.ndarray:
        with _shap_quietly(), keep_model_state(self.model):
            ns = self.nsamples or DEFAULT_NSAMPLES
            vals = self._shap.shap_values(x, nsamples=ns, rseed=seed)
        return _shap_to_array(vals, x.shape, self.outputs)


def _shap_to_array(vals: Any, xshape: tuple[int, ...], outputs: tuple[int, ...]) -> np.ndarray:
    if isinstance(vals, list):  # older shap: one array per output
        vals = np.stack(vals, axis=-1)
    arr = np.asarray(vals, dtype=np.float32)
    if arr.shape == xshape:
        arr = arr[..., None]
    return arr[..., list(outputs)]


ESTIMATORS: dict[str, type[Explainer]] = {
    "layerwise": _Layerwise,
    "expected_gradients": _ExpectedGradients,
    "deep": _ShapDeep,
    "gradient": _ShapGradient,
}


# --------------------------------------------------------------------------- choosing


def resolve_method(t: Target, method: str) -> str:
    """The estimator that ``method`` means for ``t`` (``"auto"`` resolved), or a ZooError.

    ``"auto"`` is ``"layerwise"`` wherever it can walk the graph, else
    ``"expected_gradients"``; ``"deep"`` is refused up front for models shap's
    DeepExplainer would fail on half-way (recurrent layers, ops it has no rule for).

    Example:
        >>> from explain.targets import resolve_target
        >>> t = resolve_target(zoo.load("gru-digits"))
        >>> resolve_method(t, "auto"), resolve_method(t, "expected_gradients")
        ('layerwise', 'expected_gradients')
        >>> def outcome(method):  # the estimator, or what its refusal starts with
        ...     try:
        ...         return resolve_method(t, method)
        ...     except ZooError as err:
        ...         return str(err).split(":")[0]
        >>> expected = {
        ...     # shap's explainers run on TensorFlow, but Deep not on a recurrent model
        ...     "tensorflow": ("gradient", "method='deep' cannot explain gru-digits@1"),
        ...     # and on JAX neither runs (shap_unavailable)
        ...     "jax": (
        ...         "method='gradient' (shap.GradientExplainer) is unavailable on the jax backend",
        ...         "method='deep' (shap.DeepExplainer) is unavailable on the jax backend",
        ...     ),
        ... }
        >>> from zoo import backend
        >>> (outcome("gradient"), outcome("deep")) == expected[backend.name()]
        True
    """
    if method not in METHODS:
        raise ZooError(f"unknown method {method!r}; expected one of {list(METHODS)}")
    why = shap_unavailable(method)
    if why:
        raise ZooError(why)
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
            recurrent = t.family == "rnn" or recurrent_layers(t.model)
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


def shap_unavailable(method: str) -> str | None:
    """Why shap's own explainer behind ``method`` cannot run here (None: it can).

    shap's DeepExplainer and GradientExplainer work on TensorFlow models only; on
    another Keras backend they are unavailable, said in one line.

    Example:
        >>> shap_unavailable("layerwise") is None
        True
        >>> from zoo import backend
        >>> expected = {  # nothing in the way on TensorFlow; one line elsewhere
        ...     "tensorflow": None,
        ...     "jax": "method='deep' (shap.DeepExplainer) is unavailable on the jax backend",
        ... }
        >>> why = shap_unavailable("deep")
        >>> (why and why.split(":")[0]) == expected[backend.name()]
        True
    """
    shap_class = {"deep": "DeepExplainer", "gradient": "GradientExplainer"}.get(method)
    if shap_class is None:
        return None
    from zoo import backend

    current = backend.name()
    if current == "tensorflow":
        return None
    return (
        f"method={method!r} (shap.{shap_class}) is unavailable on the {current} backend: shap "
        "runs it on TensorFlow only; use method='layerwise' or 'expected_gradients', or run "
        "with KERAS_BACKEND=tensorflow"
    )


def _graph_op_types(model: Any, input_shape: tuple[int, ...]) -> set[str]:
    """Op types of the model's inference graph (traced once, nothing executed)."""
    import tensorflow as tf

    @tf.autograph.experimental.do_not_convert
    def call(x: Any) -> Any:
        return model(x, training=False)

    spec = tf.TensorSpec((None, *input_shape), tf.float32)
    graph = tf.function(call).get_concrete_function(spec).graph
    return {op.type for op in graph.get_operations()}


# keyed weakly by model: a verdict lives as long as its model (no id() recycling)
_DEEP_CHECKS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_DEEP_CHECKS_LOCK = threading.Lock()
_GRAPH_OPS_WITHOUT_ATTRIBUTION = {"Const", "NoOp", "Placeholder", "ReadVariableOp", "VarHandleOp"}


def _deep_check(model: Any, input_shape: tuple[int, ...]) -> list[str]:
    """Why shap.DeepExplainer must not run on ``model`` ([] if it may), from the model alone.

    Recurrent layers, loop ops, and any op on the input-to-output path for which shap has
    no DeepLIFT rule (e.g. ``LeakyRelu``) make DeepExplainer fail half-way — and a failure
    leaves TensorFlow's gradient recording patched for the rest of the process.
    """
    with _DEEP_CHECKS_LOCK:
        hit = _DEEP_CHECKS.get(model)
    if hit is not None:
        return hit
    blockers = recurrent_layers(model)
    if not blockers:
        from shap.explainers._deep.deep_tf import op_handlers

        ops = _graph_op_types(model, input_shape)
        loops = sorted(o for o in ops if "While" in o or o.startswith("TensorList"))
        unknown = sorted(ops - set(op_handlers) - _GRAPH_OPS_WITHOUT_ATTRIBUTION)
        if loops:
            blockers = [f"recurrent loop ops {', '.join(loops)}"]
        elif unknown:
            blockers = [f"ops without a DeepLIFT rule in shap: {', '.join(unknown)}"]
    with _DEEP_CHECKS_LOCK:
        _DEEP_CHECKS[model] = blockers
    return blockers


def default_segments(model: Any) -> int:
    """The default path segments of ``layerwise`` for ``model``.

    Example:
        >>> [default_segments(zoo.load(name).model) for name in ("cnn-digits", "gru-digits")]
        [4, 2]
    """
    return RECURRENT_SEGMENTS if recurrent_layers(model) else SEGMENTS


def nsamples_for(method: str, nsamples: int | None, model: Any = None) -> int | None:
    """The sample setting a method uses (None: the method takes none).

    ``"layerwise"`` without a setting: its default for ``model``
    (:func:`default_segments`), or None when no model is given (a disk cache's key: the
    default is fixed per model, which the key names).

    Example:
        >>> nsamples_for("layerwise", 8), nsamples_for("expected_gradients", None)
        (8, 4000)
        >>> nsamples_for("deep", 50), nsamples_for("layerwise", None)
        (None, None)
    """
    if method == "deep":
        return None
    if method == "layerwise":
        if nsamples:
            return int(nsamples)
        return None if model is None else default_segments(model)
    default = DEFAULT_EG_NSAMPLES if method == "expected_gradients" else DEFAULT_NSAMPLES
    return int(nsamples or default)


# --------------------------------------------------------------------------- building


def get_explainer(
    t: Target,
    method: str,
    background: Any,
    nsamples: int | None,
    outputs: tuple[int, ...],
    use_cache: bool = True,
) -> tuple[Explainer, str]:
    """The explainer for (model, method, background, nsamples, outputs), and its background key.

    ``method`` is a resolved one (:func:`resolve_method`). Built at most once per setting
    and kept in :data:`explain.caching.EXPLAINERS` (``use_cache=False``: built afresh
    and not kept). The build runs outside the cache's lock, so a model being traced
    never holds up another model's explanation.

    Example:
        >>> from explain.targets import resolve_target
        >>> t = resolve_target(zoo.load("mlp-cancer"))
        >>> explainer, bg_key = get_explainer(t, "layerwise", None, None, (0,))
        >>> explainer.method, bg_key, explainer.background.shape
        ('layerwise', 'train100s0', (100, 30))
        >>> get_explainer(t, "layerwise", 100, None, (0,))[0] is explainer
        True
    """
    bg: np.ndarray | None = None
    bg_key = count_background_key(background)
    if bg_key is None:  # an array: its key hashes its contents
        bg, bg_key = resolve_background(t, background)
    # the default spelled out, so that an explicit default (a sanity check repeating an
    # explanation's recorded settings) finds the same explainer
    ns = nsamples_for(method, nsamples, t.model)

    def build() -> Explainer:
        arr = bg if bg is not None else resolve_background(t, background)[0]
        return _build(t, method, arr, ns, outputs)

    if not use_cache:
        return build(), bg_key
    key = (t.key, method, bg_key, ns, outputs)
    reusable = EXPLAINERS.get_or_create(key, build, valid=lambda e: t.reuses(e.model_ref()))
    return reusable, bg_key


def _build(
    t: Target, method: str, bg: np.ndarray, ns: int | None, outputs: tuple[int, ...]
) -> Explainer:
    if t.trained is not None:
        stats = train_stats(t)
        lo, hi, tolerance = stats.lo, stats.hi, RANGE_TOLERANCE
    else:  # only the background is known: a few samples, so allow a wider margin
        axes = range_axes(t.input_kind, bg.ndim)
        lo, hi, tolerance = bg.min(axis=axes), bg.max(axis=axes), 3 * RANGE_TOLERANCE
    explainer = ESTIMATORS[method](t.model, bg, outputs, ns, lo, hi)
    explainer.range_tolerance = tolerance
    return explainer
