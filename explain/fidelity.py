"""How far to trust an explanation: additivity and a model-randomization sanity check.

*Additivity*: SHAP values of one output should sum to ``f(x) - E[f(background)]``.
``layerwise`` and shap's DeepExplainer meet it up to float error on feed-forward models;
``layerwise`` on recurrent models and ``expected_gradients`` up to their integration
tolerance (0.2 % of the output's scale); shap's GradientExplainer is a Monte-Carlo
estimate, 5-30 % off. The normalized error divides by ``max(|f(x) - base|, 0.1 * std
of f)`` so an output that barely moves does not divide by almost zero.

*Randomization* (Adebayo et al., "Sanity Checks for Saliency Maps", 2018): explain the
same inputs with a copy of the model whose weights are re-initialized. If the maps barely
change, they show the input, not what the model learned. We report the Spearman rank
correlation between trained and randomized maps next to the correlation between two
independent runs on the trained model (the noise floor of the estimator).
"""

from __future__ import annotations

import functools
import itertools
import weakref
from typing import Any

import numpy as np

from zoo.errors import DataError, ZooError

from .caching import RANDOMIZED
from .estimators import Explainer, get_explainer, resolve_method
from .explainers import additivity_error, explain_prepared, info
from .targets import Target, resolve_target

SANITY_MARGIN = 0.2


def _reseed(obj: Any, seed: int, counter: itertools.count, parent: str = "") -> None:
    """Give every initializer in a layer config its own fixed seed (in place)."""
    if isinstance(obj, dict):
        inner = obj.get("config")
        if parent.endswith("initializer") and isinstance(inner, dict) and "seed" in inner:
            inner["seed"] = seed + next(counter)
        for key, val in obj.items():
            _reseed(val, seed, counter, str(key))
    elif isinstance(obj, list):
        for val in obj:
            _reseed(val, seed, counter, parent)


def randomized_clone(model: Any, seed: int = 0) -> Any:
    """A copy of ``model`` with the same architecture and freshly initialized weights.

    Uses ``keras.models.clone_model``; every initializer gets a fixed seed derived from
    ``seed`` so the result is reproducible without touching the global random state.

    Example:
        >>> import keras
        >>> m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
        >>> r = randomized_clone(m, seed=1)
        >>> bool((r.layers[0].kernel.numpy() != m.layers[0].kernel.numpy()).any())
        True
    """
    import keras

    counter = itertools.count()

    def clone_layer(layer: Any) -> Any:
        cfg = layer.get_config()
        _reseed(cfg, seed, counter)
        return layer.__class__.from_config(cfg)

    try:
        clone = keras.models.clone_model(model, clone_function=clone_layer)
    except Exception as err:
        raise ZooError(
            f"cannot clone model {model.name!r} for the randomization check ({err}); expected "
            "a functional or Sequential keras.Model; skip it with randomization=False"
        ) from err
    if not clone.built:
        clone.build((None, *model.input_shape[1:]))
    return clone


def _randomized_explainer(
    t: Target,
    method: str,
    bg_arr: np.ndarray,
    bg_key: str,
    nsamples: int | None,
    outputs: tuple[int, ...],
    seed: int,
) -> tuple[Target, tuple[Explainer, str]]:
    """The randomized clone of ``t.model`` and its explainer, built once per setting.

    Cached in-process (:data:`explain.caching.RANDOMIZED`, a few entries, emptied by
    ``explain.clear_cache()``) under the model (its store ref, else its identity, checked
    through a weak reference so a new model at a recycled ``id`` never hits), the clone
    seed, method, background key, nsamples and explained outputs. The clone depends only
    on the architecture and the seed, the explainer on the clone and the background, so a
    hit gives the same attributions as a rebuild.
    """
    ns = None if method == "deep" else nsamples
    key = (t.key, seed, method, bg_key, ns, outputs)

    def build() -> tuple[Any, Target, tuple[Explainer, str]]:
        clone = randomized_clone(t.model, seed=seed)
        rt = resolve_target(clone, output_names=t.output_names)
        rt.input_kind, rt.family, rt.task = t.input_kind, t.family, t.task
        resolved = resolve_method(rt, method)
        prepared = get_explainer(rt, resolved, bg_arr, ns, outputs, use_cache=False)
        return weakref.ref(t.model), rt, prepared

    _, rt, prepared = RANDOMIZED.get_or_create(key, build, valid=lambda hit: t.reuses(hit[0]()))
    return rt, prepared


def _rank_rows(a: np.ndarray) -> np.ndarray:
    from scipy.stats import rankdata

    return rankdata(a, axis=1)


def rank_correlation(a: np.ndarray, b: np.ndarray, absolute: bool = False) -> float:
    """Mean Spearman correlation between matching attribution maps of ``a`` and ``b``.

    Both have shape ``(n, *features, K)``; one map is one sample's attributions for one
    output. ``absolute=True`` compares |attributions| (importance regardless of sign).

    Example:
        >>> import numpy as np
        >>> a = np.arange(12.0).reshape(2, 3, 2)
        >>> rank_correlation(a, a * 2)
        1.0
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape:
        raise DataError(f"attribution shapes differ: {a.shape} vs {b.shape}; expected equal")
    n, k = a.shape[0], a.shape[-1]
    a = np.moveaxis(a.reshape(n, -1, k), -1, 1).reshape(n * k, -1)
    b = np.moveaxis(b.reshape(n, -1, k), -1, 1).reshape(n * k, -1)
    if absolute:
        a, b = np.abs(a), np.abs(b)
    ra, rb = _rank_rows(a), _rank_rows(b)
    ra -= ra.mean(axis=1, keepdims=True)
    rb -= rb.mean(axis=1, keepdims=True)
    denom = np.sqrt((ra**2).sum(axis=1) * (rb**2).sum(axis=1))
    ok = denom > 0
    if not ok.any():
        return 0.0
    return float(((ra * rb).sum(axis=1)[ok] / denom[ok]).mean())


def fidelity(
    target: Any,
    explanation: Any,
    *,
    randomization: bool = True,
    max_samples: int = 32,
    background: np.ndarray | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Additivity error and the model-randomization sanity check of an explanation.

    Args:
        target: what was explained (TrainedModel or keras.Model).
        explanation: the result of ``explain.explain(target, ...)``.
        randomization: also run the randomization check (explains up to ``max_samples``
            inputs twice more; the method, background and nsamples are reused).
        background: the background array, required only if ``explain`` got an array.
        seed: seed of the re-initialization and of the second trained run.

    Returns:
        ``{"method", "n", "additivity_max", "additivity_mean", "additivity_relative"}``
        and, with randomization: ``"rank_corr_trained"`` (two trained runs, signed maps),
        ``"rank_corr_randomized"`` (trained vs re-initialized, signed), the same two with
        ``_abs`` for |attributions|, ``"sanity_passed"`` (|randomized| lower than trained
        by at least ``SANITY_MARGIN`` on signed maps) and ``"n_randomization"``. Expect
        the ``_abs`` randomized figure to stay high for images and sequences: expected
        gradients multiply by ``x - reference``, so |attributions| keep the input's shape
        even on a random model (Adebayo et al. found the same for gradient x input).

    The randomized clone and its explainer are built once per (model, seed, method,
    background, nsamples, outputs) and kept in-process (a few, least recently used
    first out; ``explain.clear_cache()`` drops them), so a repeated check on the same
    model only runs the attributions.

    Example:
        >>> import explain
        >>> m = zoo.load("mlp-cancer")
        >>> e = explain.explain(m, m.dataset().x_test[:4])
        >>> r = explain.fidelity(m, e)
        >>> r["method"], r["n_randomization"], r["sanity_passed"]
        ('layerwise', 4, True)
        >>> r["rank_corr_trained"] > 0.9, abs(r["rank_corr_randomized"]) < 0.5
        (True, True)
        >>> explain.fidelity(m, e)["rank_corr_randomized"] == r["rank_corr_randomized"]
        True
    """
    meta = info(explanation)
    if meta.scope != "local" or meta.predictions is None:
        raise DataError(
            "fidelity needs a per-sample explanation from explain.explain(); got a global "
            "importance summary; pass the Explanation it was computed from"
        )
    values = np.asarray(explanation.values)
    base = np.asarray(explanation.base_values)
    add = additivity_error(values, base, meta.predictions)
    # the normalized figures need the output's spread over the background: the explainer
    # recorded them; recomputed from this batch alone for explanations that lack them
    norm = meta.additivity if "p95" in (meta.additivity or {}) else add
    report: dict[str, Any] = {
        "method": meta.method,
        "n": int(len(values)),
        "additivity_max": add["max"],
        "additivity_mean": add["mean"],
        "additivity_relative": add["relative"],
        "additivity_p95": norm["p95"],
        "additivity_normalized_max": norm["normalized_max"],
    }
    if not randomization:
        return report
    if explanation.data is None:
        raise DataError("the explanation has no inputs (data); expected one from explain()")
    if meta.background.startswith("array") and background is None:
        raise DataError(
            "this explanation used a background array; expected the same array here; pass "
            "fidelity(target, e, background=that_array)"
        )
    bg: Any = background
    if bg is None:
        bg = int(meta.background_size)

    t = resolve_target(target)
    x = np.asarray(explanation.data, np.float32)[:max_samples]
    trained_a = values[:max_samples]
    # explain() as the checked explanation ran it: the same method, samples and outputs
    rerun = functools.partial(
        explain_prepared,
        method=meta.method,
        nsamples=meta.nsamples,
        batch_size=None,
        output=meta.output_indices,
        y=None,
        progress=None,
        check_range=False,
    )
    trained_b = rerun(t, x, background=bg, seed=meta.seed + 1 + seed).values

    # the randomized model explained against the very same background (in model space);
    # the clone and its explainer are cached, so repeated checks only run attributions
    trained_explainer, bg_key = get_explainer(
        t, meta.method, bg, meta.nsamples, meta.output_indices
    )
    rt, prepared = _randomized_explainer(
        t,
        meta.method,
        trained_explainer.background,
        bg_key,
        meta.nsamples,
        meta.output_indices,
        seed + 1234,
    )
    randomized = rerun(
        rt, x, background=trained_explainer.background, seed=meta.seed, prepared=prepared
    ).values

    report.update(
        {
            "n_randomization": int(len(x)),
            "rank_corr_trained": rank_correlation(trained_a, trained_b),
            "rank_corr_randomized": rank_correlation(trained_a, randomized),
            "rank_corr_trained_abs": rank_correlation(trained_a, trained_b, absolute=True),
            "rank_corr_randomized_abs": rank_correlation(trained_a, randomized, absolute=True),
        }
    )
    # |signed correlation|: a map that merely flips sign on a random model is input-driven too
    report["sanity_passed"] = bool(
        abs(report["rank_corr_randomized"]) < report["rank_corr_trained"] - SANITY_MARGIN
    )
    return report
