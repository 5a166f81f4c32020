"""What every plot shares: reading an Explanation's zoo info, units and indices.

Private to :mod:`explain.plots`; the names carry no underscore because this module
itself is the private part.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from zoo.errors import DataError

from ..explainers import ExplanationInfo, require_explanation
from ..units import Units

CMAP = "bwr"  # blue = opposes, red = supports


# --------------------------------------------------------------------------- data units


def units_of(e: Any) -> Units:
    units = getattr(e, "zoo_units", None)
    return units if isinstance(units, Units) else Units()


def with_unit(text: str, unit: str) -> str:
    return f"{text} ({unit})" if unit else text


def shap_label(unit: str, note: str) -> str:
    return f"SHAP ({unit}; {note})" if unit else f"SHAP ({note})"


def shown_data(e: Any) -> np.ndarray | None:
    """The input values to show: raw values (``display_data``) when present."""
    shown = getattr(e, "display_data", None)
    if shown is None:
        shown = e.data
    return None if shown is None else np.asarray(shown)


# --------------------------------------------------------------------------- helpers


def new_figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def text_width(texts: Sequence[str], size: float) -> float:
    """The widest of `texts` at font `size` points, in inches, from the font's metrics
    (no drawing: a layout engine's measurement draws the whole figure).

    Example:
        >>> text_width(["a", "a longer label"], 8) > text_width(["a"], 8) > 0
        True
    """
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextToPath

    font, measure = FontProperties(size=size), TextToPath()
    widths = [measure.get_text_width_height_descent(t, font, ismath=False)[0] for t in texts]
    return max(widths, default=0.0) / 72.0


# The colorbar strip of `panel_figure`, in inches: the gap before the bar, the bar, then
# room for its tick labels and its rotated label.
COLORBAR_GAP, COLORBAR_WIDTH, COLORBAR_STRIP = 0.15, 0.14, 1.25


def panel_figure(
    width: float,
    height: float,
    rows: int,
    cols: int,
    *,
    left: float,
    right: float,
    top: float,
    bottom: float,
    space: float = 0.1,
    colorbar: bool = True,
    sharex: bool = False,
) -> tuple[Any, np.ndarray, Any]:
    """A figure of `rows` x `cols` panels laid out once, in inches, plus a colorbar axes.

    Constrained layout measures every text's extent in two passes before the figure is
    drawn: two thirds of a sample plot's time (0.31 s against 0.10 s without it,
    cnn-digits at 144 dpi), paid on every Explain click of the dashboard. Sample plots
    know their texts (short titles, no tick labels, or labels measured by `text_width`),
    so their margins are fixed here instead: `left`/`right`/`top`/`bottom` in inches
    around the panels, `space` between panels as a fraction of a panel, and a strip of
    `COLORBAR_STRIP` inches on the right holding a colorbar (80 % of the panels' height)
    and its label. Returns the figure, the axes as a (rows, cols) array and the
    colorbar's axes (None without).

    Example:
        >>> fig, axes, cax = panel_figure(5.0, 2.5, 1, 2, left=0.1, right=0.05, top=0.4, bottom=0.1)
        >>> axes.shape, fig.get_layout_engine() is None, round(float(cax.get_position().x0) * 5, 2)
        ((1, 2), True, 3.85)
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    strip = COLORBAR_STRIP if colorbar else 0.0
    axes = fig.subplots(
        rows,
        cols,
        squeeze=False,
        sharex=sharex,
        gridspec_kw={
            "left": left / width,
            "right": 1 - (right + strip) / width,
            "top": 1 - top / height,
            "bottom": bottom / height,
            "wspace": space,
            "hspace": space,
        },
    )
    cax = None
    if colorbar:
        tall = (height - top - bottom) * 0.8
        x0 = width - right - strip + COLORBAR_GAP
        y0 = bottom + (height - top - bottom - tall) / 2
        cax = fig.add_axes((x0 / width, y0 / height, COLORBAR_WIDTH / width, tall / height))
    return fig, axes, cax


def zoo_meta(e: Any) -> ExplanationInfo | None:
    require_explanation(e)
    meta = getattr(e, "zoo_info", None)
    return meta if isinstance(meta, ExplanationInfo) else None


def input_kind(e: Any, meta: ExplanationInfo | None) -> str:
    """The explanation's input kind; without zoo info, told by the rank of the values."""
    if meta is not None:
        return meta.input_kind
    nd = np.ndim(e.values)
    kinds = {5: "image", 4: "sequence", 3: "tabular"}
    if nd not in kinds:
        raise DataError(
            f"cannot tell the input kind of values with shape {np.shape(e.values)}; expected an "
            "Explanation from explain.explain() (n, ..., outputs)"
        )
    return kinds[nd]


def output_names(e: Any, meta: ExplanationInfo | None) -> list[str]:
    if meta is not None:
        return list(meta.output_names)
    k = np.shape(e.values)[-1]
    names = e.output_names
    return (
        [str(n) for n in names]
        if names is not None and len(names) == k
        else [str(i) for i in range(k)]
    )


def resolve_output(names: list[str], output: Any) -> int:
    if isinstance(output, (int, np.integer)) and not isinstance(output, bool):
        if 0 <= int(output) < len(names):
            return int(output)
        raise DataError(f"output index {output} out of range; expected 0..{len(names) - 1}")
    if isinstance(output, str) and output in names:
        return names.index(output)
    raise DataError(f"unknown output {output!r}; expected one of {names} or an index")


def resolve_outputs(names: list[str], output: Any) -> list[int]:
    if output is None:
        return list(range(len(names)))
    items = [output] if isinstance(output, (str, int, np.integer)) else list(output)
    return [resolve_output(names, o) for o in items]


def check_index(e: Any, index: int) -> int:
    n = np.shape(e.values)[0]
    if not isinstance(index, (int, np.integer)) or not -n <= int(index) < n:
        raise DataError(f"index {index!r} is out of range; expected 0..{n - 1}")
    return int(index) % n


def prediction(meta: ExplanationInfo | None, index: int, k: int) -> float | None:
    if meta is None or meta.predictions is None:
        return None
    return float(meta.predictions[index, k])


def default_output(meta: ExplanationInfo | None, names: list[str], index: int) -> int:
    """The predicted class when it was explained, else the output with the highest score."""
    if meta is not None and meta.predicted is not None:
        cls = int(meta.predicted[index])
        if cls in meta.output_indices and len(meta.output_indices) > 1:
            return meta.output_indices.index(cls)
    if meta is not None and meta.predictions is not None and len(names) > 1:
        return int(np.argmax(meta.predictions[index]))
    return 0


def symmetric_limit(values: np.ndarray) -> float:
    vmax = float(np.max(np.abs(values))) if np.size(values) else 0.0
    return vmax if vmax > 0 else 1.0


def class_label(meta: ExplanationInfo | None, cls: int) -> str:
    names = (meta.class_names if meta is not None else None) or ()
    return str(names[cls]) if cls < len(names) else str(cls)


def flat_feature_names(e: Any, meta: ExplanationInfo | None, kind: str) -> list[str]:
    shape = np.shape(e.values)[1:-1]
    if kind == "tabular":
        names = (meta.feature_names if meta is not None else None) or e.feature_names
        if names is not None and len(names) == shape[0]:
            return [str(n) for n in names]
        return [f"feature {i}" for i in range(shape[0])]
    if kind == "sequence":
        t_steps, feats = shape
        fn = (meta.feature_names if meta is not None else None) or ()
        fname = [str(fn[f]) if f < len(fn) else f"f{f}" for f in range(feats)]
        if feats == 1:
            return [f"t-{t_steps - t}" for t in range(t_steps)]
        return [f"t{t} {fname[f]}" for t in range(t_steps) for f in range(feats)]
    h, w, c = shape
    if c == 1:
        return [f"pixel ({r}, {q})" for r in range(h) for q in range(w)]
    return [f"pixel ({r}, {q}) ch{ch}" for r in range(h) for q in range(w) for ch in range(c)]


def gray(data: np.ndarray) -> np.ndarray:
    img = np.asarray(data, np.float64)
    return img.mean(axis=-1) if img.ndim == 3 else img
