"""Choose, build, cache and run the SHAP explainer for a zoo model.

Four estimators sit behind one call, :func:`explain`:

``"layerwise"`` (ours; the default wherever it applies)
    DeepSHAP written as a modified forward pass of the Keras graph
    (:mod:`explain.layerwise`): exact DeepLIFT rules for linear layers, elementwise
    activations, max pooling and the gates of LSTM/GRU cells, and path integrals of the
    Jacobian only inside smooth blocks (softmax, unknown layers), refined until the
    measured additivity error is within tolerance. Exactly additive on every zoo model —
    CNNs, MLPs, the GAN's discriminator and the recurrent models, where shap's
    DeepExplainer cannot run at all. One ``tf.function`` over a batch; no global
    TensorFlow state touched.
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
import json
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from zoo.errors import DataError, ZooError

from .estimators import (
    _CLASSES,
    DEFAULT_EG_NSAMPLES,
    DEFAULT_NSAMPLES,
    SCALE_FLOOR,
    _Explainer,
)
from .targets import (
    _CACHE_LOCK,
    _TRAIN_STATS,
    BACKGROUND_SEED,
    DEFAULT_BACKGROUND,
    RANGE_TOLERANCE,
    _background,
    _check_inputs,
    _check_range,
    _deep_check,
    _labels,
    _range_axes,
    _recurrent_layers,
    _resolve_outputs,
    _resolve_target,
    _Target,
    _to_model_space,
    _train_stats,
)

if TYPE_CHECKING:  # pragma: no cover
    import shap

METHODS: tuple[str, ...] = ("auto", "layerwise", "expected_gradients", "deep", "gradient")
_MAX_EXPLAINERS = 16
_MAX_RANDOMIZED = 4  # randomized clones (+ their explainers) kept for explain.fidelity

_EXPLAINERS: OrderedDict[tuple, _Explainer] = OrderedDict()
# explain.fidelity's randomized clones: key -> (weakref to the trained model, clone target,
# its explainer, background key); an LRU of _MAX_RANDOMIZED entries, see fidelity.py
_RANDOMIZED: OrderedDict[tuple, tuple[Any, Any, Any, str]] = OrderedDict()


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
    "layerwise": "exact DeepSHAP rules per layer, LSTM/GRU gates included",
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
        >>> line.startswith("layerwise (exact DeepSHAP"), line.endswith("100 training samples")
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
