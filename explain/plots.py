"""Figures from explanations made by :func:`explain.explain`.

Every function takes a ``shap.Explanation`` (unsliced, as ``explain`` returns it; pick
the sample with ``index=``), returns a ``matplotlib.figure.Figure`` and never touches
pyplot's global state, so it works under the ``Agg`` backend, in threads, and in the
dashboard (``st.pyplot(fig)``). Colours: red supports the explained output, blue
opposes it. The per-sample plots (``image``, ``gan_sample``, ``sequence_heatmap``,
``waterfall``) take ``label=`` to name the sample in the title (e.g. ``"test #17"``) where
its position in the explained batch says little.

What a person reads is in the data's units: pass the explanation through
:func:`in_units` first (``plots.waterfall(plots.in_units(e, m.dataset()))``) and the
plots show raw feature values (``mean radius = 9.567``, not the standardized ``-1.29``)
and, for the forecaster, attributions, base value and forecast in ppm. Without it they
show the model's own (standardized) space.

Example:
    >>> import explain
    >>> from explain import plots
    >>> m = zoo.load("cnn-digits")
    >>> e = explain.explain(m, m.dataset().x_test[:2])
    >>> fig = plots.image(e, index=0)
    >>> fig.savefig("digit.png")
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from zoo.errors import DataError

from .explainers import ExplanationInfo, _require_explanation
from .units import Units, in_units  # noqa: F401  (re-exported: plots.in_units)

_CMAP = "bwr"  # blue = opposes, red = supports


# --------------------------------------------------------------------------- data units


def _units(e: Any) -> Units:
    units = getattr(e, "zoo_units", None)
    return units if isinstance(units, Units) else Units()


def _with_unit(text: str, unit: str) -> str:
    return f"{text} ({unit})" if unit else text


def _shap_label(unit: str, note: str) -> str:
    return f"SHAP ({unit}; {note})" if unit else f"SHAP ({note})"


def _shown_data(e: Any) -> np.ndarray | None:
    """The input values to show: raw values (``display_data``) when present."""
    shown = getattr(e, "display_data", None)
    if shown is None:
        shown = e.data
    return None if shown is None else np.asarray(shown)


# --------------------------------------------------------------------------- helpers


def _figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _meta(e: Any) -> ExplanationInfo | None:
    _require_explanation(e)
    meta = getattr(e, "zoo_info", None)
    return meta if isinstance(meta, ExplanationInfo) else None


def _kind(e: Any, meta: ExplanationInfo | None, local: bool = True) -> str:
    if meta is not None:
        return meta.input_kind
    nd = np.ndim(e.values) - (0 if local else -1)
    kinds = {5: "image", 4: "sequence", 3: "tabular"}
    if nd not in kinds:
        raise DataError(
            f"cannot tell the input kind of values with shape {np.shape(e.values)}; expected an "
            "Explanation from explain.explain() (n, ..., outputs)"
        )
    return kinds[nd]


def _output_names(e: Any, meta: ExplanationInfo | None) -> list[str]:
    if meta is not None:
        return list(meta.output_names)
    k = np.shape(e.values)[-1]
    names = e.output_names
    return (
        [str(n) for n in names]
        if names is not None and len(names) == k
        else [str(i) for i in range(k)]
    )


def _resolve_output(names: list[str], output: Any) -> int:
    if isinstance(output, (int, np.integer)) and not isinstance(output, bool):
        if 0 <= int(output) < len(names):
            return int(output)
        raise DataError(f"output index {output} out of range; expected 0..{len(names) - 1}")
    if isinstance(output, str) and output in names:
        return names.index(output)
    raise DataError(f"unknown output {output!r}; expected one of {names} or an index")


def _resolve_outputs(names: list[str], output: Any) -> list[int]:
    if output is None:
        return list(range(len(names)))
    items = [output] if isinstance(output, (str, int, np.integer)) else list(output)
    return [_resolve_output(names, o) for o in items]


def _check_index(e: Any, index: int) -> int:
    n = np.shape(e.values)[0]
    if not isinstance(index, (int, np.integer)) or not -n <= int(index) < n:
        raise DataError(f"index {index!r} is out of range; expected 0..{n - 1}")
    return int(index) % n


def _prediction(meta: ExplanationInfo | None, index: int, k: int) -> float | None:
    if meta is None or meta.predictions is None:
        return None
    return float(meta.predictions[index, k])


def _default_output(meta: ExplanationInfo | None, names: list[str], index: int) -> int:
    """The predicted class when it was explained, else the output with the highest score."""
    if meta is not None and meta.predicted is not None:
        cls = int(meta.predicted[index])
        if cls in meta.output_indices and len(meta.output_indices) > 1:
            return meta.output_indices.index(cls)
    if meta is not None and meta.predictions is not None and len(names) > 1:
        return int(np.argmax(meta.predictions[index]))
    return 0


def _sym(values: np.ndarray) -> float:
    vmax = float(np.max(np.abs(values))) if np.size(values) else 0.0
    return vmax if vmax > 0 else 1.0


def _class_label(meta: ExplanationInfo | None, cls: int) -> str:
    names = (meta.class_names if meta is not None else None) or ()
    return str(names[cls]) if cls < len(names) else str(cls)


def _flat_feature_names(e: Any, meta: ExplanationInfo | None, kind: str) -> list[str]:
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


def _gray(data: np.ndarray) -> np.ndarray:
    img = np.asarray(data, np.float64)
    return img.mean(axis=-1) if img.ndim == 3 else img


# --------------------------------------------------------------------------- images


def image(
    e: Any,
    index: int = 0,
    classes: Sequence[int | str] | None = None,
    max_classes: int = 3,
    label: str | None = None,
) -> Any:
    """The input image next to one attribution overlay per class.

    Default classes: the predicted class first, then the true class (when known and
    different), then the next highest-scoring outputs, ``max_classes`` in all. Axes: the
    input, one per class, one colorbar (``len(classes) + 2``). ``label`` names the sample
    in the input's title (default ``"input"``).

    Example:
        >>> import explain
        >>> from explain import plots
        >>> m = zoo.load("cnn-digits")
        >>> d = m.dataset()
        >>> e = explain.explain(m, d.x_test[:2], y=d.y_test[:2])
        >>> fig = plots.image(e, index=1, label="test #1")
        >>> len(fig.axes), fig.axes[0].get_title().startswith("test #1\\ntrue: ")
        (5, True)
        >>> len(plots.image(e, index=0, classes=["3", 8]).axes)
        4
    """
    meta = _meta(e)
    if _kind(e, meta) != "image":
        raise DataError(
            f"plots.image needs image explanations (n, H, W, C, K); got values of shape "
            f"{np.shape(e.values)}; use plots.sequence_heatmap or plots.waterfall instead"
        )
    i = _check_index(e, index)
    names = _output_names(e, meta)
    values = np.asarray(e.values)[i]  # (H, W, C, K)
    if classes is None:
        order: list[int] = [_default_output(meta, names, i)]
        if meta is not None and meta.y_true is not None:
            true = int(meta.y_true[i])
            if true in meta.output_indices:
                order.append(meta.output_indices.index(true))
        if meta is not None and meta.predictions is not None:
            order += [int(k) for k in np.argsort(-meta.predictions[i])]
        order += list(range(len(names)))
        shown = list(dict.fromkeys(order))[: max(1, max_classes)]
    else:
        shown = _resolve_outputs(names, classes)
    data = np.asarray(e.data)[i] if e.data is not None else None
    maps = values.sum(axis=2)[..., shown]  # (H, W, len(shown))
    vmax = _sym(maps)

    fig = _figure(2.3 * (len(shown) + 1) + 0.6, 2.8)
    axes = fig.subplots(1, len(shown) + 1)
    ax0 = axes[0]
    if data is not None:
        ax0.imshow(_gray(data), cmap="gray_r")
    title = "input" if label is None else str(label)
    if meta is not None and meta.y_true is not None:
        title += f"\ntrue: {_class_label(meta, int(meta.y_true[i]))}"
    ax0.set_title(title, fontsize=9)
    im = None
    for ax, k in zip(axes[1:], shown, strict=True):
        if data is not None:
            ax.imshow(_gray(data), cmap="gray_r", alpha=0.35)
        im = ax.imshow(maps[..., shown.index(k)], cmap=_CMAP, vmin=-vmax, vmax=vmax, alpha=0.8)
        label = names[k]
        p = _prediction(meta, i, k)
        is_pred = (
            meta is not None
            and meta.predicted is not None
            and (meta.output_indices[k] == int(meta.predicted[i]))
        )
        head = "predicted " if is_pred else ""
        ax.set_title(f"{head}{label}" + (f"\nscore {p:.3g}" if p is not None else ""), fontsize=9)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(im, ax=list(axes[1:]), shrink=0.8, label="SHAP (red supports)")
    return fig


def gan_sample(e: Any, index: int = 0, label: str | None = None) -> Any:
    """A (generated or real) sample next to what drives the discriminator's verdict.

    Axes: the sample, its attribution overlay for the real-vs-fake logit, a colorbar (3).
    ``label`` titles the sample (default ``"sample"``).

    Example:
        >>> import explain
        >>> from explain import plots
        >>> e = explain.explain(zoo.load("gan-digits"), 2)  # 2 generated samples
        >>> fig = plots.gan_sample(e, index=1, label="generated #1")
        >>> len(fig.axes), fig.axes[0].get_title(), "real score" in fig.axes[1].get_title()
        (3, 'generated #1', True)
    """
    meta = _meta(e)
    if _kind(e, meta) != "image":
        raise DataError(
            f"plots.gan_sample needs image explanations; got values of shape "
            f"{np.shape(e.values)}; explain the GAN with explain.explain(gan, x)"
        )
    i = _check_index(e, index)
    attr = np.asarray(e.values)[i].sum(axis=2)[..., 0]
    data = np.asarray(e.data)[i] if e.data is not None else np.zeros(attr.shape)
    vmax = _sym(attr)
    fig = _figure(5.4, 2.9)
    ax_img, ax_attr = fig.subplots(1, 2)
    signed = float(data.min()) < 0  # discriminator inputs live in [-1, 1]
    ax_img.imshow(_gray(data), cmap="gray_r", vmin=-1.0 if signed else 0.0, vmax=1.0)
    ax_img.set_title("sample" if label is None else str(label), fontsize=9)
    ax_attr.imshow(_gray(data), cmap="gray_r", alpha=0.35)
    im = ax_attr.imshow(attr, cmap=_CMAP, vmin=-vmax, vmax=vmax, alpha=0.8)
    score = _prediction(meta, i, 0)
    if score is not None:
        prob = 1.0 / (1.0 + np.exp(-score))
        ax_attr.set_title(f"real score {score:.2f} (p_real {prob:.2f})", fontsize=9)
    else:
        ax_attr.set_title("real score attribution", fontsize=9)
    for ax in (ax_img, ax_attr):
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(im, ax=ax_attr, shrink=0.8, label="SHAP (red: looks real)")
    return fig


# --------------------------------------------------------------------------- sequences


def sequence_heatmap(
    e: Any, index: int = 0, output: int | str | None = None, label: str | None = None
) -> Any:
    """Attributions over the input sequence for one output (default: the predicted one).

    Several features per step: the input and the attributions as time x feature heatmaps
    plus a colorbar (3 axes). One feature per step (the forecaster): the input series with
    each step coloured by its attribution, bars of attribution per step, a colorbar (3).
    ``label`` prefixes the title with the sample's name (``"test #5: forecast = ..."``).

    Example:
        >>> import explain
        >>> from explain import plots
        >>> m = zoo.load("lstm-co2")
        >>> e = explain.explain(m, m.dataset().x_test[:2])
        >>> fig = plots.sequence_heatmap(e, index=1, label="test #1")
        >>> len(fig.axes), fig.axes[0].get_title()
        (3, 'test #1: forecast = ... (base ...)')
    """
    meta = _meta(e)
    if _kind(e, meta) != "sequence":
        raise DataError(
            f"plots.sequence_heatmap needs sequence explanations (n, T, F, K); got values of "
            f"shape {np.shape(e.values)}; use plots.image or plots.waterfall instead"
        )
    i = _check_index(e, index)
    names = _output_names(e, meta)
    k = _default_output(meta, names, i) if output is None else _resolve_output(names, output)
    attr = np.asarray(e.values)[i, ..., k]  # (T, F)
    shown = _shown_data(e)
    data = shown[i] if shown is not None else np.zeros_like(attr)
    t_steps, feats = attr.shape
    vmax = _sym(attr)
    p = _prediction(meta, i, k)
    base = float(np.asarray(e.base_values)[i, k])
    units = _units(e)
    u = f" {units.output}" if units.output else ""
    title = f"{names[k]}" + (f" = {p:.3g}{u}" if p is not None else "") + f" (base {base:.3g}{u})"
    if label is not None:
        title = f"{label}: {title}"
    fn = meta.feature_names if meta is not None and meta.feature_names else None

    if feats == 1:
        fig = _figure(7.5, 4.2)
        ax_series, ax_bars = fig.subplots(2, 1, sharex=True)
        steps = np.arange(t_steps)
        ax_series.plot(steps, data[:, 0], color="0.6", lw=1)
        sc = ax_series.scatter(
            steps, data[:, 0], c=attr[:, 0], cmap=_CMAP, vmin=-vmax, vmax=vmax, s=18, zorder=3
        )
        what = str(fn[0]) if fn and units.features else "input"
        ax_series.set_ylabel(_with_unit(what, units.features))
        ax_series.set_title(title, fontsize=10)
        colors = np.where(attr[:, 0] >= 0, "tab:red", "tab:blue")
        ax_bars.bar(steps, attr[:, 0], color=colors)
        ax_bars.axhline(0, color="0.3", lw=0.8)
        ax_bars.set_ylabel(_with_unit("SHAP", units.output))
        ax_bars.set_xlabel("time step (oldest → newest)")
        fig.colorbar(
            sc,
            ax=[ax_series, ax_bars],
            shrink=0.8,
            label=_shap_label(units.output, "red raises"),
        )
        return fig

    fig = _figure(8.5, 3.4)
    ax_in, ax_attr = fig.subplots(1, 2)
    ax_in.imshow(data.T, cmap="gray_r", aspect="auto")
    ax_in.set_title("input", fontsize=10)
    im = ax_attr.imshow(attr.T, cmap=_CMAP, vmin=-vmax, vmax=vmax, aspect="auto")
    ax_attr.set_title(title, fontsize=10)
    for ax in (ax_in, ax_attr):
        ax.set_xlabel("time step")
        ax.set_ylabel("feature")
        if fn is not None and len(fn) == feats and feats <= 20:
            ax.set_yticks(range(feats), [str(f) for f in fn], fontsize=7)
    fig.colorbar(im, ax=ax_attr, shrink=0.8, label=_shap_label(units.output, "red supports"))
    return fig


# --------------------------------------------------------------------------- any kind


def waterfall(
    e: Any,
    index: int = 0,
    output: int | str | None = None,
    max_display: int = 12,
    label: str | None = None,
) -> Any:
    """How each feature moves one prediction from the base value to the model output.

    Works for every kind (pixels and time steps are features). The smallest features
    are pooled into one bar. One axes, titled ``"sample {index}: contributions to ..."``
    or, with ``label``, ``"{label}: contributions to ..."``.

    Example:
        >>> import explain
        >>> from explain import plots
        >>> m = zoo.load("mlp-cancer")
        >>> e = explain.explain(m, m.dataset().x_test[:4])
        >>> fig = plots.waterfall(e, index=3, max_display=8)
        >>> len(fig.axes), len(fig.axes[0].get_yticklabels()), fig.axes[0].get_title()
        (1, 8, 'sample 3: contributions to benign')
        >>> plots.waterfall(e, index=3, label="test #3").axes[0].get_title()
        'test #3: contributions to benign'
    """
    meta = _meta(e)
    kind = _kind(e, meta)
    i = _check_index(e, index)
    names = _output_names(e, meta)
    k = _default_output(meta, names, i) if output is None else _resolve_output(names, output)
    if max_display < 2:
        raise DataError(f"max_display={max_display}; expected at least 2")
    vals = np.asarray(e.values)[i, ..., k].ravel()
    shown = _shown_data(e)
    data = shown[i].ravel() if shown is not None else None
    labels = _flat_feature_names(e, meta, kind)
    base = float(np.asarray(e.base_values)[i, k])
    units = _units(e)
    u = f" {units.output}" if units.output else ""

    order = np.argsort(-np.abs(vals))
    top = order[: max_display - 1] if len(vals) > max_display else order
    rest = np.setdiff1d(order, top)
    rows = [
        (labels[j] + (f" = {data[j]:.4g}" if data is not None else ""), float(vals[j])) for j in top
    ]
    if len(rest):
        rows.append((f"{len(rest)} other features", float(vals[rest].sum())))
    rows = rows[::-1]  # largest at the top

    fig = _figure(7.0, 0.38 * len(rows) + 1.6)
    ax = fig.subplots()
    pos = base
    ends = [base]
    for y, (_, v) in enumerate(rows):
        ax.barh(y, v, left=pos, color="tab:red" if v >= 0 else "tab:blue", height=0.7)
        ax.text(max(pos, pos + v), y, f" {v:+.3g}", va="center", ha="left", fontsize=7)
        pos += v
        ends.append(pos)
    lo, hi = min(ends), max(ends)
    pad = 0.08 * (hi - lo) if hi > lo else 1.0
    ax.set_xlim(lo - pad, hi + 2 * pad)  # room for the value labels
    ax.axvline(base, color="0.5", ls="--", lw=0.8)
    ax.axvline(pos, color="0.2", ls="-", lw=0.8)
    ax.set_yticks(range(len(rows)), [r[0] for r in rows], fontsize=8)
    fx = _prediction(meta, i, k)
    out = fx if fx is not None else pos
    ax.set_xlabel(f"{names[k]}:  base {base:.3g}{u}  →  f(x) {out:.3g}{u}")
    who = f"sample {i}" if label is None else str(label)
    ax.set_title(f"{who}: contributions to {names[k]}", fontsize=10)
    return fig


def beeswarm(e: Any, output: int | str | None = None, max_display: int = 12) -> Any:
    """SHAP values of the most important features over all samples, coloured by value.

    Axes: the swarm and (when the Explanation has data) a feature-value colorbar.

    Example:
        >>> import explain
        >>> from explain import plots
        >>> m = zoo.load("mlp-cancer")
        >>> fig = plots.beeswarm(explain.explain(m, m.dataset().x_test[:8]), max_display=5)
        >>> len(fig.axes), len(fig.axes[0].get_yticklabels())
        (2, 5)
    """
    meta = _meta(e)
    kind = _kind(e, meta)
    names = _output_names(e, meta)
    k = 0 if output is None else _resolve_output(names, output)
    if output is None and len(names) > 1 and meta is not None and meta.predictions is not None:
        k = int(np.argmax(np.abs(meta.predictions).mean(axis=0)))
    n = np.shape(e.values)[0]
    vals = np.asarray(e.values)[..., k].reshape(n, -1)
    shown = _shown_data(e)
    data = shown.reshape(n, -1) if shown is not None else None
    labels = _flat_feature_names(e, meta, kind)
    top = np.argsort(-np.abs(vals).mean(axis=0))[:max_display][::-1]
    units = _units(e)
    in_data_units = getattr(e, "display_data", None) is not None
    ticks = []

    fig = _figure(7.0, 0.4 * len(top) + 1.6)
    ax = fig.subplots()
    rng = np.random.default_rng(0)
    sc = None
    for y, j in enumerate(top):
        jitter = rng.uniform(-0.3, 0.3, n)
        tick = labels[j]
        if data is not None:
            col = data[:, j]
            lo, hi = np.percentile(col, [5, 95])
            shade = np.clip((col - lo) / (hi - lo), 0, 1) if hi > lo else np.full(n, 0.5)
            sc = ax.scatter(vals[:, j], y + jitter, c=shade, cmap="coolwarm", vmin=0, vmax=1, s=8)
            if in_data_units:  # what "low" and "high" mean for this feature, in its units
                tick += f"  [{lo:.3g} … {hi:.3g}]"
        else:
            ax.scatter(vals[:, j], y + jitter, color="0.4", s=8)
        ticks.append(tick)
    ax.axvline(0, color="0.5", lw=0.8)
    ax.set_yticks(range(len(top)), ticks, fontsize=8)
    ax.set_xlabel(f"SHAP value (impact on {_with_unit(names[k], units.output)})")
    if sc is not None:
        cb = fig.colorbar(sc, ax=ax, shrink=0.8, ticks=[0, 1])
        cb.ax.set_yticklabels(["low", "high"])
        cb.set_label("feature value (5th … 95th percentile)" if in_data_units else "feature value")
    return fig


def global_importance(
    g: Any, output: int | str | Sequence[int | str] | None = None, max_display: int = 15
) -> Any:
    """Mean |SHAP| per pixel / time step / feature, per output.

    ``g`` is the result of ``explain.global_importance`` (or a per-sample Explanation,
    aggregated here). Images and multi-feature sequences: one heatmap per output plus a
    colorbar (K + 1 axes). One-feature sequences: mean |SHAP| per time step, one line per
    output (1 axes). Tabular: horizontal bars of the top features, stacked per output (1).

    Example:
        >>> import explain
        >>> from explain import plots
        >>> m = zoo.load("mlp-cancer")
        >>> fig = plots.global_importance(explain.global_importance(m), max_display=5)
        >>> len(fig.axes), len(fig.axes[0].get_yticklabels())
        (1, 5)
    """
    from .cached import global_importance as aggregate

    meta = _meta(e=g)
    units = _units(g)
    if meta is None or meta.scope != "global":
        g = aggregate(None, g)  # mean |SHAP| of values already in data units stays in them
        meta = _meta(g)
    assert meta is not None
    mean_abs = _with_unit("mean |SHAP|", units.output)
    kind = meta.input_kind
    names = list(meta.output_names)
    shown = _resolve_outputs(names, output)
    vals = np.asarray(g.values)  # (*S, K)

    if kind == "tabular" or (kind == "sequence" and vals.shape[1] == 1):
        if kind == "sequence":
            fig = _figure(7.5, 3.2)
            ax = fig.subplots()
            for k in shown:
                ax.plot(vals[:, 0, k], marker="o", ms=3, label=names[k])
            ax.set_xlabel("time step (oldest → newest)")
            ax.set_ylabel(mean_abs)
            if len(shown) > 1:
                ax.legend(fontsize=7)
            return fig
        feats = [str(f) for f in (meta.feature_names or [f"feature {i}" for i in range(len(vals))])]
        total = vals[:, shown].sum(axis=1)
        top = np.argsort(-total)[:max_display][::-1]
        fig = _figure(7.0, 0.35 * len(top) + 1.4)
        ax = fig.subplots()
        left = np.zeros(len(top))
        for k in shown:
            ax.barh(range(len(top)), vals[top, k], left=left, label=names[k])
            left += vals[top, k]
        ax.set_yticks(range(len(top)), [feats[j] for j in top], fontsize=8)
        ax.set_xlabel(mean_abs)
        if len(shown) > 1:
            ax.legend(fontsize=7)
        return fig

    maps = [vals[..., k].sum(axis=2) if kind == "image" else vals[..., k].T for k in shown]
    vmax = max(float(np.max(m)) for m in maps) or 1.0
    cols = min(5, len(shown))
    rows = -(-len(shown) // cols)
    fig = _figure(2.2 * cols + 0.8, 2.3 * rows + 0.3)
    im = None
    axes = []
    for pos, (k, m) in enumerate(zip(shown, maps, strict=True)):
        ax = fig.add_subplot(rows, cols, pos + 1)
        im = ax.imshow(
            m, cmap="magma_r", vmin=0, vmax=vmax, aspect="auto" if kind != "image" else None
        )
        ax.set_title(names[k], fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        axes.append(ax)
    fig.colorbar(im, ax=axes, shrink=0.8, label=mean_abs)
    return fig
