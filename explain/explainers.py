"""The public API of explain: :func:`explain`, :func:`info`, :func:`additivity_error`.

Four estimators sit behind :func:`explain` (``"layerwise"``, ``"expected_gradients"``,
shap's ``"deep"`` and ``"gradient"``; ``"auto"`` picks ``"layerwise"`` wherever it
applies), described in :mod:`explain.estimators`.

The work is split by role: :mod:`explain.targets` (what is explained: the target, its
inputs and background), :mod:`explain.estimators` (choosing and building an estimator),
:mod:`explain.caching` (the in-process caches), :mod:`explain.fidelity` and
:mod:`explain.cached` (the disk cache). Heavy modules (tensorflow, keras, shap) are
imported inside the functions that need them.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from zoo import backend
from zoo.errors import DataError

from . import caching
from .estimators import METHODS as METHODS  # re-exported: part of the public API
from .estimators import SCALE_FLOOR, Explainer, get_explainer, resolve_method
from .targets import (
    Target,
    check_input_range,
    check_labels,
    model_inputs,
    resolve_outputs,
    resolve_target,
)

if TYPE_CHECKING:  # pragma: no cover
    import shap


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
    require_explanation(explanation)
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
    if meta.method == "layerwise" and meta.nsamples:
        samples = f", {meta.nsamples} path segment{'s' * (meta.nsamples > 1)} per reference"
    else:
        samples = f", {meta.nsamples} samples per input at most" if meta.nsamples else ""
    return f"{meta.method} ({note}){samples}, background of {meta.background_size} training samples"


def require_explanation(e: Any) -> None:
    """Raise a DataError unless ``e`` is a ``shap.Explanation``.

    Example:
        >>> require_explanation([1, 2])
        Traceback (most recent call last):
        zoo.errors.DataError: expected a shap.Explanation, got list; ...
    """
    import shap

    if not isinstance(e, shap.Explanation):
        raise DataError(
            f"expected a shap.Explanation, got {type(e).__name__}; "
            "create one with explain.explain(model, x)"
        )


def clear_cache() -> None:
    """Forget every in-process explainer and randomized clone (the disk cache stays).

    Example:
        >>> import explain
        >>> explain.clear_cache()
    """
    caching.clear_all()


# --------------------------------------------------------------------------- explain


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
        nsamples: ``"layerwise"``: segments of every reference's path, each one exact
            rule pass (default 4, 2 for recurrent models; 1 is DeepLIFT's single step,
            more approach expected gradients; exactly additive at every count);
            ``"expected_gradients"``: gradient evaluations per input at most
            (default 4000; the integration stops earlier once within tolerance);
            ``"gradient"``: shap's samples per input (default 200); ignored by
            ``"deep"``.
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
    sample = background if isinstance(background, np.ndarray) else None
    t = resolve_target(target, output_names, feature_names, sample=sample)
    xs, in_range_matters = model_inputs(t, x, seed)  # a count: GAN samples, else DataError
    return explain_prepared(
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
        check_range=check_range and in_range_matters,
    )


def explain_prepared(
    t: Target,
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
    prepared: tuple[Explainer, str] | None = None,
) -> shap.Explanation:
    """:func:`explain` on inputs already checked and in model space (``xs``).

    For :mod:`explain.cached` and :mod:`explain.fidelity`, which prepare their inputs
    themselves. ``use_cache=False`` builds an explainer that is not kept; ``prepared``
    is an ``(explainer, background key)`` the caller built (and caches) for ``t.model``.

    Example:
        >>> from explain.targets import resolve_target
        >>> m = zoo.load("mlp-cancer")
        >>> t = resolve_target(m)
        >>> e = explain_prepared(t, m.dataset().x_test[:2], background=None, method="auto",
        ...     nsamples=None, batch_size=None, seed=0, output=None, y=None, progress=None,
        ...     check_range=True)
        >>> e.values.shape, info(e).method
        ((2, 30, 1), 'layerwise')
    """
    outputs = resolve_outputs(t, output)
    labels = check_labels(t, y, len(xs))
    resolved = resolve_method(t, method)
    for label, val, low in (("batch_size", batch_size, 1), ("nsamples", nsamples, 1)):
        if val is not None and (
            isinstance(val, bool) or not isinstance(val, (int, np.integer)) or val < low
        ):
            raise DataError(
                f"{label}={val!r}; expected an integer >= {low}, or None for the default"
            )
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise DataError(f"seed={seed!r}; expected an integer >= 0")
    # On a GPU, float32 products run in TF32 unless told otherwise: explanations would
    # no longer add up (zoo.backend.full_precision). Building (base values) included.
    with backend.full_precision():
        if prepared is not None:  # an explainer the caller built (and caches) for t.model
            explainer, bg_key = prepared
        else:
            explainer, bg_key = get_explainer(t, resolved, background, nsamples, outputs, use_cache)
        if check_range:
            check_input_range(t, xs, explainer.lo, explainer.hi, explainer.range_tolerance)

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
    return make_explanation(values, base, xs, meta)


def make_explanation(
    values: np.ndarray, base: np.ndarray, data: np.ndarray | None, meta: ExplanationInfo
) -> shap.Explanation:
    """A ``shap.Explanation`` of these arrays that carries ``meta`` (see :func:`info`).

    Example:
        >>> m = zoo.load("mlp-cancer")
        >>> meta = info(explain(m, m.dataset().x_test[:1]))
        >>> e = make_explanation(np.zeros((1, 30, 1)), np.zeros((1, 1)), None, meta)
        >>> info(e) is meta, e.feature_names[0]
        (True, 'mean radius')
    """
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
