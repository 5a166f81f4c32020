"""Plots over many samples: ``beeswarm`` (per-sample SHAP values of the top features)
and ``global_importance`` (mean |SHAP| per pixel / time step / feature).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ._base import (
    flat_feature_names,
    input_kind,
    new_figure,
    output_names,
    resolve_output,
    resolve_outputs,
    shown_data,
    units_of,
    with_unit,
    zoo_meta,
)


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
    meta = zoo_meta(e)
    kind = input_kind(e, meta)
    names = output_names(e, meta)
    k = 0 if output is None else resolve_output(names, output)
    if output is None and len(names) > 1 and meta is not None and meta.predictions is not None:
        k = int(np.argmax(np.abs(meta.predictions).mean(axis=0)))
    n = np.shape(e.values)[0]
    vals = np.asarray(e.values)[..., k].reshape(n, -1)
    shown = shown_data(e)
    data = shown.reshape(n, -1) if shown is not None else None
    labels = flat_feature_names(e, meta, kind)
    top = np.argsort(-np.abs(vals).mean(axis=0))[:max_display][::-1]
    units = units_of(e)
    in_data_units = getattr(e, "display_data", None) is not None
    ticks = []

    fig = new_figure(7.0, 0.4 * len(top) + 1.6)
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
    ax.set_xlabel(f"SHAP value (impact on {with_unit(names[k], units.output)})")
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
    from ..cached import global_importance as aggregate

    meta = zoo_meta(e=g)
    units = units_of(g)
    if meta is None or meta.scope != "global":
        g = aggregate(None, g)  # mean |SHAP| of values already in data units stays in them
        meta = zoo_meta(g)
    assert meta is not None
    mean_abs = with_unit("mean |SHAP|", units.output)
    kind = meta.input_kind
    names = list(meta.output_names)
    shown = resolve_outputs(names, output)
    vals = np.asarray(g.values)  # (*S, K)

    if kind == "tabular" or (kind == "sequence" and vals.shape[1] == 1):
        if kind == "sequence":
            fig = new_figure(7.5, 3.2)
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
        fig = new_figure(7.0, 0.35 * len(top) + 1.4)
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
    fig = new_figure(2.2 * cols + 0.8, 2.3 * rows + 0.3)
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
