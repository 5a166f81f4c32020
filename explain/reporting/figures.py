"""The report's own matplotlib figures (training curves, confusion matrix, forecast, GAN
curves and sample grids) and :func:`png`, which embeds any figure as a ``data:`` URI.

Explanation figures come from :mod:`explain.plots`. Every figure here is built with the
object API (``matplotlib.figure.Figure``), never pyplot, so nothing global is touched.

Example:
    >>> fig = confusion_matrix(np.array([[5, 1], [0, 4]]), ["a", "b"])
    >>> png(fig, "confusion matrix")["src"].startswith("data:image/png;base64,")
    True
"""

from __future__ import annotations

import base64
import io
from typing import Any

import numpy as np

DPI = 90


def png(fig: Any, alt: str, caption: str = "") -> dict[str, str]:
    """The figure as an embedded PNG (``src``, ``alt``, ``caption``); the figure is closed.

    Example:
        >>> from matplotlib.figure import Figure
        >>> img = png(Figure(figsize=(1, 1)), "nothing", "an empty figure")
        >>> img["src"][:22], img["alt"], img["caption"]
        ('data:image/png;base64,', 'nothing', 'an empty figure')
    """
    buf = io.BytesIO()
    try:
        fig.savefig(buf, format="png", dpi=DPI)
    finally:
        manager = getattr(fig.canvas, "manager", None)
        fig.clear()
        if manager is not None:  # made through pyplot: drop it from pyplot's registry
            import matplotlib.pyplot as plt

            plt.close(fig)
    src = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
    return {"src": src, "alt": alt, "caption": caption}


def training_curves(history: dict[str, list[float]], diagnosis: dict[str, Any]) -> Any:
    """Train vs validation loss and metrics per epoch, best epoch and early stop marked.

    One axes per quantity that has a ``val_`` twin (loss first). Built with the matplotlib
    object API (no pyplot). Epochs are 1-based, like the diagnosis.

    Example:
        >>> fig = training_curves({"loss": [1.0, 0.5], "val_loss": [1.1, 0.7]},
        ...                       {"best_epoch": 2})
        >>> [ax.get_ylabel() for ax in fig.axes]
        ['loss']
    """
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    skip = ("epoch_time", "lr")
    keys = [k for k in history if not k.startswith("val_") and k not in skip and history[k]]
    keys.sort(key=lambda k: k != "loss")  # loss first, then the metrics in stored order
    fig = Figure(figsize=(4.2 * max(1, len(keys)) + 0.4, 3.2), layout="constrained")
    axes = fig.subplots(1, max(1, len(keys)), squeeze=False)[0]
    best = diagnosis.get("best_epoch")
    stop = diagnosis.get("early_stopped_at")
    overfit = diagnosis.get("overfit_from")
    for ax, key in zip(axes, keys, strict=False):
        train = np.asarray(history[key], float)
        epochs = np.arange(1, len(train) + 1)
        ax.plot(epochs, train, marker="o", ms=3, label=f"train {key}")
        val = history.get(f"val_{key}")
        if val:
            ax.plot(np.arange(1, len(val) + 1), val, marker="o", ms=3, label=f"val {key}")
        if best:
            ax.axvline(best, color="tab:green", ls="--", lw=1, label=f"best epoch {best}")
            if val and 1 <= best <= len(val):
                ax.plot([best], [val[best - 1]], marker="*", ms=12, color="tab:green")
        if stop:
            ax.axvline(stop, color="0.3", ls=":", lw=1, label=f"early stop {stop}")
        if overfit and overfit <= len(train):
            # Named in the legend like the lines: no text at the lines to print over each other.
            ax.axvspan(
                overfit - 0.5,
                len(train) + 0.5,
                color="tab:red",
                alpha=0.08,
                lw=0,
                label=f"overfitting from {overfit}",
            )
        ax.set_xlabel("epoch")
        ax.set_ylabel(key)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return fig


def confusion_matrix(cm: np.ndarray, names: list[str]) -> Any:
    """The test split's confusion matrix (rows: true class, columns: predicted), counted.

    ``names`` label the classes when there is one per row, else the indices do.

    Example:
        >>> fig = confusion_matrix(np.array([[5, 1], [0, 4]]), ["a", "b"])
        >>> [t.get_text() for t in fig.axes[0].get_xticklabels()], fig.axes[0].get_ylabel()
        (['a', 'b'], 'true')
    """
    from matplotlib.figure import Figure

    k = len(cm)
    size = min(6.0, 1.8 + 0.38 * k)
    fig = Figure(figsize=(size + 0.8, size), layout="constrained")
    ax = fig.subplots()
    im = ax.imshow(cm, cmap="Blues")
    hi = cm.max() if cm.size else 0
    for (r, c), v in np.ndenumerate(cm):
        if v:
            ax.text(c, r, str(v), ha="center", va="center", fontsize=8,
                    color="white" if v > hi / 2 else "black")  # fmt: skip
    labels = names if len(names) == k else [str(i) for i in range(k)]
    ax.set_xticks(range(k), labels, fontsize=8, rotation=45 if k > 2 else 0)
    ax.set_yticks(range(k), labels, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    fig.colorbar(im, ax=ax, shrink=0.8, label="test samples")
    return fig


def forecast(y: np.ndarray, pred: np.ndarray, unit: str, dates: Any = None) -> Any:
    """Forecast vs actual in time order (left, with the naive no-change line) and as a
    scatter (right); ``dates`` label the time axis when there is one per value.

    Example:
        >>> fig = forecast(np.array([0.1, -0.2, 0.3]), np.array([0.0, -0.1, 0.2]), "ppm")
        >>> fig.axes[0].get_ylabel(), fig.axes[1].get_xlabel()
        ('target (ppm)', 'actual')
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10.0, 3.2), layout="constrained")
    ax, ax2 = fig.subplots(1, 2, width_ratios=[2.4, 1])
    x = np.asarray(dates) if dates is not None and len(dates) == len(y) else np.arange(len(y))
    ax.plot(x, y, lw=1, color="0.3", label="actual")
    ax.plot(x, pred, lw=1, color="tab:red", label="forecast")
    ax.axhline(0, color="0.6", lw=0.6, ls="--", label="naive (no change)")
    ax.set_ylabel(f"target ({unit})" if unit else "target")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    ax2.scatter(y, pred, s=6, alpha=0.6)
    lo, hi = float(min(y.min(), pred.min())), float(max(y.max(), pred.max()))
    ax2.plot([lo, hi], [lo, hi], color="0.5", lw=0.8, ls="--")
    ax2.set_xlabel("actual")
    ax2.set_ylabel("forecast")
    return fig


def predicted_vs_actual(y: np.ndarray, pred: np.ndarray, unit: str) -> Any:
    """A regression's predictions against the actual values, one point per sample, with
    the diagonal where they agree (a table's rows have no time order to plot along).

    Example:
        >>> fig = predicted_vs_actual(np.array([1.0, 2.0, 3.0]), np.array([1.2, 1.9, 2.5]), "")
        >>> fig.axes[0].get_xlabel(), fig.axes[0].get_ylabel()
        ('actual', 'predicted')
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4.2, 3.6), layout="constrained")
    ax = fig.subplots()
    ax.scatter(y, pred, s=8, alpha=0.6)
    lo, hi = float(min(y.min(), pred.min())), float(max(y.max(), pred.max()))
    ax.plot([lo, hi], [lo, hi], color="0.5", lw=0.8, ls="--")
    suffix = f" ({unit})" if unit else ""
    ax.set_xlabel("actual" + suffix)
    ax.set_ylabel("predicted" + suffix)
    ax.grid(alpha=0.3)
    return fig


def gan_curves(history: dict[str, list[float]], metrics: dict[str, Any]) -> Any:
    """A GAN's Fréchet distance per epoch (left, epoch 0 = untrained, best starred) and its
    discriminator and generator losses (right).

    Example:
        >>> fig = gan_curves({"d_loss": [0.7, 0.6], "g_loss": [0.8, 0.9]},
        ...                  {"fid_by_epoch": [100.0, 40.0, 20.0]})
        >>> [ax.get_ylabel() for ax in fig.axes]
        ['Fréchet distance', 'loss']
    """
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    h, m = history, metrics
    fid = m.get("fid_by_epoch") or ([m["fid_untrained"], *h.get("fid", [])] if h.get("fid") else [])
    fig = Figure(figsize=(9.0, 3.2), layout="constrained")
    ax_fid, ax_loss = fig.subplots(1, 2)
    if fid:
        ax_fid.plot(range(len(fid)), fid, marker="o", ms=3, color="tab:purple")
        best = int(np.argmin(fid))
        ax_fid.plot([best], [fid[best]], marker="*", ms=12, color="tab:green", label="best")
        ax_fid.legend(fontsize=7)
    ax_fid.set_xlabel("epoch (0 = untrained)")
    ax_fid.set_ylabel("Fréchet distance")
    for key, color in (("d_loss", "tab:blue"), ("g_loss", "tab:orange")):
        if h.get(key):
            vals = h[key]
            ax_loss.plot(range(1, len(vals) + 1), vals, marker="o", ms=3, color=color, label=key)
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("loss")
    ax_loss.legend(fontsize=7)
    for ax in (ax_fid, ax_loss):
        ax.grid(alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    return fig


def gan_sample_grids(grids: np.ndarray, epochs: list[int], grid: int) -> Any:
    """One panel per epoch in ``epochs``: its first ``grid`` x ``grid`` samples as a mosaic.

    ``grids`` holds the samples recorded per epoch, ``(epochs + 1, n, H, W, C)`` in
    [-1, 1] (epoch 0: the untrained generator).

    Example:
        >>> fig = gan_sample_grids(np.zeros((3, 16, 8, 8, 1)), [0, 2], grid=4)
        >>> [ax.get_title() for ax in fig.axes]
        ['untrained', 'epoch 2']
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(2.1 * len(epochs) + 0.2, 2.4), layout="constrained")
    axes = fig.subplots(1, len(epochs), squeeze=False)[0]
    for ax, ep in zip(axes, epochs, strict=True):
        imgs = grids[ep, : grid * grid].mean(axis=-1)  # (grid*grid, H, W)
        h, w = imgs.shape[1:]
        mosaic = imgs.reshape(grid, grid, h, w).transpose(0, 2, 1, 3).reshape(grid * h, grid * w)
        ax.imshow(mosaic, cmap="gray_r", vmin=-1, vmax=1)
        ax.set_title("untrained" if ep == 0 else f"epoch {ep}", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    return fig
