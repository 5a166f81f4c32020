"""Explanations of a stored model's test split, cached beside the artifact, and their
global aggregate (mean |SHAP| per input position)."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from zoo.errors import DataError, ZooError
from zoo.store import atomic_write_bytes

from .estimators import nsamples_for, resolve_method
from .explainers import (
    ExplanationInfo,
    additivity_error,
    explain,
    explain_prepared,
    info,
    make_explanation,
)
from .targets import (
    BACKGROUND_SEED,
    DEFAULT_BACKGROUND,
    Target,
    check_inputs,
    resolve_outputs,
    resolve_target,
    to_model_space,
)

if TYPE_CHECKING:  # pragma: no cover
    import shap

CACHE_FORMAT = 3  # 3: layerwise explains path segments (other values than 2)


# --------------------------------------------------------------------------- disk cache


def _test_split(t: Target) -> tuple[np.ndarray, Any]:
    # callers reject a plain keras.Model (no stored splits) before they get here
    assert t.trained is not None
    data = t.trained.dataset()
    x = to_model_space(t, check_inputs(t, data.x_test, "the test split"))
    y = None if t.family == "gan" else getattr(data, "y_test", None)
    return x, y


def _cache_path(t: Target, settings: dict[str, Any], x: np.ndarray) -> Path | None:
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
    # mypy matches the splat against allow_pickle (a bool); the keys are array names
    np.savez(buf, **arrays)  # type: ignore[arg-type]
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
        return make_explanation(z["values"], z["base_values"], data, meta)


def _split_settings(
    trained: Any,
    method: str,
    background: int | None,
    nsamples: int | None,
    seed: int,
    output: Any,
    limit: int | None,
) -> tuple[Target, np.ndarray, Any, dict[str, Any]]:
    # The test split (in the model's space) and the settings that key its disk cache.
    t = resolve_target(trained)
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
    resolved = resolve_method(t, method)
    outputs = resolve_outputs(t, output)
    settings = {
        "format": CACHE_FORMAT,
        "split": "test",
        "ref": t.ref,
        "method": resolved,
        "background": DEFAULT_BACKGROUND if background is None else int(background),
        "background_seed": BACKGROUND_SEED,
        "nsamples": nsamples_for(resolved, nsamples),
        "seed": seed,
        "outputs": list(outputs),
        "limit": limit,
    }
    return t, x, y, settings


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
    t, x, y, settings = _split_settings(trained, method, background, nsamples, seed, output, limit)
    resolved, outputs = settings["method"], tuple(settings["outputs"])
    path = _cache_path(t, settings, x)
    if path is not None and path.exists():
        try:
            cached = _load(path)
            if progress is not None:
                progress(len(x), len(x))
            return cached
        except Exception as err:  # a damaged cache file is recomputed, never fatal
            warnings.warn(f"ignoring unreadable explanation cache {path} ({err})", stacklevel=2)
    e = explain_prepared(
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


def test_split_row(
    trained: Any,
    index: int,
    *,
    method: str = "auto",
    background: int | None = None,
    nsamples: int | None = None,
    seed: int = 0,
    output: int | str | Sequence[int | str] | None = None,
) -> shap.Explanation | None:
    """Test sample `index`'s explanation, read from the test split's disk cache; None
    when :func:`explain_test_split` has not cached the split with these settings.

    Never computes anything: a dashboard click on a test sample costs a file read
    instead of an explainer call once the split is cached (the Explain page's global
    importance caches it). The row is the same explanation :func:`explain` gives for that one input
    with these settings (the methods attribute each sample on its own; a sampling
    method's draws come from the split's run); its additivity is that row's own, its
    ``seconds`` the split's time per sample, ``cached`` True.

    Example:
        >>> import explain
        >>> m = zoo.load("mlp-cancer")
        >>> _ = explain.explain_test_split(m)
        >>> row = explain.test_split_row(m, 3)
        >>> row.values.shape, explain.info(row).cached
        ((1, 30, 1), True)
        >>> direct = explain.explain(m, m.dataset().x_test[3:4])
        >>> bool(np.allclose(row.values, direct.values, atol=1e-5))
        True
    """
    t, x, _, settings = _split_settings(trained, method, background, nsamples, seed, output, None)
    if not 0 <= int(index) < len(x):
        raise DataError(f"test sample {index} does not exist: expected 0..{len(x) - 1}")
    path = _cache_path(t, settings, x)
    if path is None or not path.exists():
        return None
    try:
        split = _load(path)
    except Exception:  # a damaged cache file: the caller computes the row instead
        return None
    i = slice(int(index), int(index) + 1)
    src = info(split)
    rows = {
        n: None if getattr(src, n) is None else np.asarray(getattr(src, n))[i]
        for n in ("predictions", "predicted", "y_true")
    }
    values, base = np.asarray(split.values)[i], np.asarray(split.base_values)[i]
    add = src.additivity
    if rows["predictions"] is not None:
        spread = np.std(np.asarray(src.predictions), axis=0)
        add = additivity_error(values, base, rows["predictions"], spread)
    meta = dataclasses.replace(
        src,
        seconds=src.ms_per_sample / 1000,
        additivity=add,
        predictions=rows["predictions"],
        predicted=rows["predicted"],
        y_true=rows["y_true"],
    )
    data = None if split.data is None else np.asarray(split.data)[i]
    return make_explanation(values, base, data, meta)


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
    else:
        settings: dict[str, Any] = dict(
            method=method,
            background=background,
            nsamples=nsamples,
            seed=seed,
            output=output,
            progress=progress,
        )
        e = explain_test_split(target, **settings) if x is None else explain(target, x, **settings)
    src = info(e)
    values = np.abs(np.asarray(e.values)).mean(axis=0)
    meta = dataclasses.replace(src, scope="global", predictions=None, predicted=None, y_true=None)
    return make_explanation(values, np.asarray(e.base_values).mean(axis=0), None, meta)
