"""Per-sample plots: one explained input each (``index=`` picks it from the batch).

``image`` (per-pixel overlays), ``gan_sample`` (the discriminator's real-vs-fake logit),
``sequence_heatmap`` (time step x feature) and ``waterfall`` (any kind), plus
:func:`for_explanation`, which picks the one that fits the explanation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from zoo.errors import DataError

from ..explainers import ExplanationInfo
from ._base import (
    CMAP,
    COLORBAR_STRIP,
    check_index,
    class_label,
    default_output,
    flat_feature_names,
    gray,
    input_kind,
    output_names,
    panel_figure,
    prediction,
    resolve_output,
    resolve_outputs,
    shap_label,
    shown_data,
    symmetric_limit,
    text_width,
    units_of,
    with_unit,
    zoo_meta,
)


def _sample(
    e: Any, index: int, needs: tuple[str, str, str] | None = None, advice: str = ""
) -> tuple[ExplanationInfo | None, str, int, list[str]]:
    """What every per-sample plot reads first: the zoo info, the input kind, sample
    ``index`` checked against the batch, and the output names.

    ``needs=(kind, plot, layout)``: a DataError unless the inputs are of that kind,
    naming the plot and the values' layout and ending with ``advice``.
    """
    meta = zoo_meta(e)
    kind = input_kind(e, meta)
    if needs is not None and kind != needs[0]:
        wanted, plot, layout = needs
        raise DataError(
            f"{plot} needs {wanted} explanations{layout}; got values of shape "
            f"{np.shape(e.values)}; {advice}"
        )
    return meta, kind, check_index(e, index), output_names(e, meta)


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
    meta, _, i, names = _sample(
        e,
        index,
        needs=("image", "plots.image", " (n, H, W, C, K)"),
        advice="use plots.sequence_heatmap or plots.waterfall instead",
    )
    values = np.asarray(e.values)[i]  # (H, W, C, K)
    if classes is None:
        order: list[int] = [default_output(meta, names, i)]
        if meta is not None and meta.y_true is not None:
            true = int(meta.y_true[i])
            if true in meta.output_indices:
                order.append(meta.output_indices.index(true))
        if meta is not None and meta.predictions is not None:
            order += [int(k) for k in np.argsort(-meta.predictions[i])]
        order += list(range(len(names)))
        shown = list(dict.fromkeys(order))[: max(1, max_classes)]
    else:
        shown = resolve_outputs(names, classes)
    data = np.asarray(e.data)[i] if e.data is not None else None
    maps = values.sum(axis=2)[..., shown]  # (H, W, len(shown))
    vmax = symmetric_limit(maps)

    title = "input" if label is None else str(label)
    if meta is not None and meta.y_true is not None:
        title += f"\ntrue: {class_label(meta, int(meta.y_true[i]))}"
    titles = [title]
    for k in shown:
        p = prediction(meta, i, k)
        is_pred = (
            meta is not None
            and meta.predicted is not None
            and (meta.output_indices[k] == int(meta.predicted[i]))
        )
        head = "predicted " if is_pred else ""
        titles.append(f"{head}{names[k]}" + (f"\nscore {p:.3g}" if p is not None else ""))
    # Two-line titles above, no tick labels: fixed margins (panel_figure's docstring); a
    # panel is as wide as its widest title line (a user's long class names) or 2.3 in.
    lines = [line for t in titles for line in t.split("\n")]
    panel = max(2.3, text_width(lines, 9) + 0.15)
    width = panel * len(titles) + 0.15 + COLORBAR_STRIP
    fig, grid, cax = panel_figure(
        width, 2.8, 1, len(titles), left=0.1, right=0.05, top=0.5, bottom=0.1, space=0.08
    )
    axes = list(grid[0])
    if data is not None:
        axes[0].imshow(gray(data), cmap="gray_r")
    im = None
    for ax, k in zip(axes[1:], shown, strict=True):
        if data is not None:
            ax.imshow(gray(data), cmap="gray_r", alpha=0.35)
        im = ax.imshow(maps[..., shown.index(k)], cmap=CMAP, vmin=-vmax, vmax=vmax, alpha=0.8)
    for ax, text in zip(axes, titles, strict=True):
        ax.set_title(text, fontsize=9)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(im, cax=cax, label="SHAP (red supports)")
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
    meta, _, i, _ = _sample(
        e,
        index,
        needs=("image", "plots.gan_sample", ""),
        advice="explain the GAN with explain.explain(gan, x)",
    )
    attr = np.asarray(e.values)[i].sum(axis=2)[..., 0]
    data = np.asarray(e.data)[i] if e.data is not None else np.zeros(attr.shape)
    vmax = symmetric_limit(attr)
    fig, grid, cax = panel_figure(5.4, 2.9, 1, 2, left=0.1, right=0.05, top=0.35, bottom=0.1)
    ax_img, ax_attr = grid[0]
    signed = float(data.min()) < 0  # discriminator inputs live in [-1, 1]
    ax_img.imshow(gray(data), cmap="gray_r", vmin=-1.0 if signed else 0.0, vmax=1.0)
    ax_img.set_title("sample" if label is None else str(label), fontsize=9)
    ax_attr.imshow(gray(data), cmap="gray_r", alpha=0.35)
    im = ax_attr.imshow(attr, cmap=CMAP, vmin=-vmax, vmax=vmax, alpha=0.8)
    score = prediction(meta, i, 0)
    if score is not None:
        prob = 1.0 / (1.0 + np.exp(-score))
        ax_attr.set_title(f"real score {score:.2f} (p_real {prob:.2f})", fontsize=9)
    else:
        ax_attr.set_title("real score attribution", fontsize=9)
    for ax in (ax_img, ax_attr):
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(im, cax=cax, label="SHAP (red: looks real)")
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
    meta, _, i, names = _sample(
        e,
        index,
        needs=("sequence", "plots.sequence_heatmap", " (n, T, F, K)"),
        advice="use plots.image or plots.waterfall instead",
    )
    k = default_output(meta, names, i) if output is None else resolve_output(names, output)
    attr = np.asarray(e.values)[i, ..., k]  # (T, F)
    shown = shown_data(e)
    data = shown[i] if shown is not None else np.zeros_like(attr)
    t_steps, feats = attr.shape
    vmax = symmetric_limit(attr)
    p = prediction(meta, i, k)
    base = float(np.asarray(e.base_values)[i, k])
    units = units_of(e)
    u = f" {units.output}" if units.output else ""
    title = f"{names[k]}" + (f" = {p:.3g}{u}" if p is not None else "") + f" (base {base:.3g}{u})"
    if label is not None:
        title = f"{label}: {title}"
    fn = meta.feature_names if meta is not None and meta.feature_names else None

    if feats == 1:
        # Numeric y tick labels: the left margin from the widest value written to 4 digits
        # (at least as wide as matplotlib's own ticks, which round or move an offset above
        # the axis; its minus is U+2212), plus the y label; one-line titles: fixed margins.
        # Only the longest few strings are measured: digits share one width, and measuring
        # all 100+ values cost 35 ms a figure, on every Explain click of a forecaster.
        values = {f"{v:.4g}".replace("-", "\u2212") for v in (*data[:, 0], *attr[:, 0])}
        longest = sorted(values, key=len)[-4:]
        left = max(0.85, text_width(longest, 10) + 0.45)
        fig, grid, cax = panel_figure(
            7.5, 4.2, 2, 1, left=left, right=0.05, top=0.35, bottom=0.55, space=0.08,
            sharex=True,
        )  # fmt: skip
        ax_series, ax_bars = grid[:, 0]
        steps = np.arange(t_steps)
        ax_series.plot(steps, data[:, 0], color="0.6", lw=1)
        sc = ax_series.scatter(
            steps, data[:, 0], c=attr[:, 0], cmap=CMAP, vmin=-vmax, vmax=vmax, s=18, zorder=3
        )
        what = str(fn[0]) if fn and units.features else "input"
        ax_series.set_ylabel(with_unit(what, units.features))
        ax_series.set_title(title, fontsize=10)
        colors = np.where(attr[:, 0] >= 0, "tab:red", "tab:blue")
        ax_bars.bar(steps, attr[:, 0], color=colors)
        ax_bars.axhline(0, color="0.3", lw=0.8)
        ax_bars.set_ylabel(with_unit("SHAP", units.output))
        ax_bars.set_xlabel("time step (oldest → newest)")
        fig.colorbar(sc, cax=cax, label=shap_label(units.output, "red raises"))
        return fig

    named = fn is not None and len(fn) == feats and feats <= 20
    # The y axis carries "feature" and either step numbers or the feature names (7 pt):
    # margins from the widest name by the font's metrics (text_width), not a layout pass.
    ticks = text_width([str(f) for f in fn], 7) if named and fn else 0.2
    left, gap = ticks + 0.4, ticks + 0.5  # the second panel's y axis sits in the gap
    # Long feature names widen the figure rather than squeeze the panels (2.6 in each).
    width = max(8.5, left + gap + 0.05 + COLORBAR_STRIP + 2 * 2.6)
    panel = (width - left - 0.05 - COLORBAR_STRIP - gap) / 2
    fig, grid, cax = panel_figure(
        width, 3.4, 1, 2, left=left, right=0.05, top=0.35, bottom=0.5, space=gap / panel
    )
    ax_in, ax_attr = grid[0]
    ax_in.imshow(data.T, cmap="gray_r", aspect="auto")
    ax_in.set_title("input", fontsize=10)
    im = ax_attr.imshow(attr.T, cmap=CMAP, vmin=-vmax, vmax=vmax, aspect="auto")
    ax_attr.set_title(title, fontsize=10)
    for ax in (ax_in, ax_attr):
        ax.set_xlabel("time step")
        ax.set_ylabel("feature")
        if named and fn:
            ax.set_yticks(range(feats), [str(f) for f in fn], fontsize=7)
    fig.colorbar(im, cax=cax, label=shap_label(units.output, "red supports"))
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
    meta, kind, i, names = _sample(e, index)
    k = default_output(meta, names, i) if output is None else resolve_output(names, output)
    if max_display < 2:
        raise DataError(f"max_display={max_display}; expected at least 2")
    vals = np.asarray(e.values)[i, ..., k].ravel()
    shown = shown_data(e)
    data = shown[i].ravel() if shown is not None else None
    labels = flat_feature_names(e, meta, kind)
    base = float(np.asarray(e.base_values)[i, k])
    units = units_of(e)
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

    # Fixed margins (panel_figure): the y labels' width from the font, not a layout pass.
    left = text_width([r[0] for r in rows], 8) + 0.2
    fig, grid, _ = panel_figure(
        max(7.0, left + 3.5), 0.38 * len(rows) + 1.6, 1, 1, left=left, right=0.2, top=0.35,
        bottom=0.55, colorbar=False,
    )  # fmt: skip
    ax = grid[0, 0]
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
    fx = prediction(meta, i, k)
    out = fx if fx is not None else pos
    ax.set_xlabel(f"{names[k]}:  base {base:.3g}{u}  →  f(x) {out:.3g}{u}")
    who = f"sample {i}" if label is None else str(label)
    ax.set_title(f"{who}: contributions to {names[k]}", fontsize=10)
    return fig


# --------------------------------------------------------------------------- by kind


def for_explanation(
    e: Any, index: int = 0, *, label: str | None = None, max_display: int = 12
) -> Any:
    """The plot that fits the explanation: the one figure the report, ``zoo explain`` and
    the dashboard show for sample ``index``.

    The GAN's discriminator: :func:`gan_sample`; images: :func:`image`; sequences:
    :func:`sequence_heatmap`; tabular inputs: :func:`waterfall` with ``max_display``
    features. ``label`` names the sample in the title. A plain ``shap.Explanation``
    (no zoo info) is told apart by the shape of its values.

    Example:
        >>> import explain
        >>> from explain import plots
        >>> m = zoo.load("mlp-cancer")
        >>> e = explain.explain(m, m.dataset().x_test[:2])
        >>> fig = plots.for_explanation(e, index=1, label="test #1", max_display=6)
        >>> fig.axes[0].get_title(), len(fig.axes[0].get_yticklabels())
        ('test #1: contributions to benign', 6)
    """
    meta = zoo_meta(e)
    if meta is not None and meta.family == "gan":
        return gan_sample(e, index=index, label=label)
    kind = input_kind(e, meta)
    if kind == "image":
        return image(e, index=index, label=label)
    if kind == "sequence":
        return sequence_heatmap(e, index=index, label=label)
    return waterfall(e, index=index, max_display=max_display, label=label)
