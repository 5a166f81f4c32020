"""Explanations in the data's units, for showing them to a person (:func:`in_units`).

The model explains in its own, standardized space; a person reads raw feature values
and, for the forecaster, ppm. The conversion is the dataset's (``Dataset.to_units``,
``features_to_units``); the plots, ``zoo explain``, the report and the dashboard all use
this one function. Re-exported as ``explain.plots.in_units``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from zoo.errors import DataError

from .explainers import ExplanationInfo, require_explanation

_ABSOLUTE_ERRORS = ("max", "mean")  # additivity figures in output units (the rest are ratios)


def _meta(e: Any) -> ExplanationInfo | None:
    meta = getattr(e, "zoo_info", None)
    return meta if isinstance(meta, ExplanationInfo) else None


@dataclasses.dataclass(frozen=True)
class Units:
    """The units of an Explanation made by :func:`in_units` (``explanation.zoo_units``).

    ``output``: of the values, base values and predictions (``"ppm"``; ``""`` for class
    scores); ``features``: of ``display_data`` when all features share one (``"ppm"`` for
    the forecaster's weekly changes; ``""`` for tabular measurements, each in its own).
    """

    output: str = ""
    features: str = ""


def in_units(e: Any, data: Any) -> Any:
    """The explanation in the data's units, for showing it to a person.

    ``data`` is the model's ``Dataset`` (``m.dataset()``), whose conversions are used:
    ``display_data`` becomes ``data.features_to_units(e.data)`` (raw feature values; ``data``
    stays the model's input); SHAP values are multiplied by ``data.target_scale`` and base
    values and predictions go through ``data.to_units``. The conversion is affine, so the
    attributions stay exactly as additive as before (the additivity errors scale with it).
    Classifiers keep their scores (the target conversion is the identity). ``e`` itself is
    not changed (fidelity checks and caches use the model's space); converting twice is a
    no-op. Plots label values with the unit (``explanation.zoo_units``, see :class:`Units`).

    Example:
        >>> import explain
        >>> from explain import plots
        >>> m = zoo.load("lstm-co2")
        >>> d = m.dataset()
        >>> e = explain.explain(m, d.x_test[:2])
        >>> u = plots.in_units(e, d)
        >>> u.zoo_units, bool(np.allclose(u.values, e.values * d.target_scale))
        (Units(output='ppm', features='ppm'), True)
        >>> total = u.values.sum(axis=(1, 2)) + u.base_values  # additive, now in ppm
        >>> err = np.abs(total - explain.info(u).predictions).max()
        >>> bool(np.isclose(err, explain.info(e).additivity["max"] * d.target_scale, atol=1e-4))
        True
        >>> c = zoo.load("mlp-cancer")
        >>> t = plots.in_units(explain.explain(c, c.dataset().x_test[:1]), c.dataset())
        >>> f"{t.feature_names[0]} = {t.display_data[0, 0]:.4g}"
        'mean radius = 9.567'
    """
    import shap

    require_explanation(e)
    if isinstance(getattr(e, "zoo_units", None), Units):
        return e
    meta = _meta(e)
    values = np.asarray(e.values)
    local = meta is None or meta.scope != "global"
    shape = tuple(getattr(data, "input_shape", ()))
    got = np.shape(values)[1:-1] if local else np.shape(values)[:-1]
    if got != shape:
        raise DataError(
            f"the explanation's inputs have shape {got} but dataset {getattr(data, 'name', '?')!r} "
            f"has {shape}; pass the explained model's own dataset (m.dataset())"
        )
    scale = float(data.target_scale)
    if local:
        shown_values = values * scale
    else:  # global: mean |SHAP|, which scales with |scale|
        shown_values = values * abs(scale)
    raw = np.asarray(e.data) if e.data is not None else None
    out = shap.Explanation(
        values=shown_values,
        base_values=data.to_units(e.base_values),
        data=e.data,
        display_data=None if raw is None else data.features_to_units(raw),
        feature_names=e.feature_names,
        output_names=e.output_names,
    )
    if meta is not None:
        changes: dict[str, Any] = {
            "additivity": {  # absolute errors scale; ratios (relative, p50, ...) do not
                key: (v * abs(scale) if key in _ABSOLUTE_ERRORS else v)
                for key, v in (meta.additivity or {}).items()
            }
        }
        if meta.predictions is not None:
            changes["predictions"] = data.to_units(meta.predictions)
        out.zoo_info = dataclasses.replace(meta, **changes)
    out.zoo_units = Units(output=str(data.unit or ""), features=str(data.feature_unit or ""))
    return out


def tidy_inputs(values: Any, data: Any) -> np.ndarray:
    """Input values in data units as a person should read them: 6 significant digits,
    and float32 noise around a true 0 (-4.4e-10, left by converting back from the
    standardized inputs) as 0, below a millionth of each feature's own scale
    (`data.feature_scaling`; `data` a loaded `Dataset`). Same shape as `values`.

    Example:
        >>> from types import SimpleNamespace
        >>> d = SimpleNamespace(feature_scaling=(np.array([0.05, 2.0]), np.array([0.1, 300.0])))
        >>> tidy_inputs(np.array([[-4.4e-10, 301.23456789]]), d).tolist()
        [[0.0, 301.235]]
    """
    scale, offset = getattr(data, "feature_scaling", (1.0, 0.0))
    noise = 1e-6 * (np.abs(np.asarray(scale, np.float64)) + np.abs(np.asarray(offset, np.float64)))
    v = np.asarray(values, np.float64)
    try:
        noise = np.broadcast_to(noise, v.shape)
    except ValueError:  # a scaling shaped otherwise than these values: its largest
        noise = np.full(v.shape, float(np.max(noise)))
    v = np.where(np.abs(v) < noise, 0.0, v)
    return np.vectorize(lambda x: float(f"{x:.6g}"), otypes=[np.float64])(v)
