"""A self-contained HTML explainability report of one stored zoo model.

One file that opens offline: every figure is a PNG embedded as a ``data:`` URI, the CSS
is inline, there is no script, and a Content-Security-Policy tells the browser to fetch
nothing. It is rendered from ``explain/templates/report.html`` by Jinja2 with
autoescaping on, so text from the artifact or the caller (a title, the model card) can
never become markup.

Sections (stable ``id``s, in order): ``overview``, ``card``, ``dataset``, ``config``,
``metrics``, ``curves``, ``samples`` (GAN only), ``importance``, ``explanations``,
``provenance``.

``explain.report`` is both this module and a function: ``explain.report(m, out=...)``
calls :func:`report`, ``explain.report.build_report(m)`` works too.

Example:
    >>> import explain
    >>> callable(explain.report), explain.report.SECTIONS[0][0]
    (True, 'overview')
"""

from __future__ import annotations

import base64
import datetime as _dt
import importlib.metadata
import io
import json
import os
import platform
import re
import sys
import time
import types
from pathlib import Path
from typing import Any

import numpy as np

from zoo.errors import DataError, ZooError
from zoo.store import atomic_write_bytes

from .explainers import describe_method as explain_describe

DEFAULT_SAMPLES = 6
MAX_SAMPLES = 48
# The global importance averages the first GLOBAL_LIMIT test samples, explained with the
# same settings as the chosen samples, so both share one explainer (building one costs
# seconds for a recurrent model) and the result is cached on disk beside the artifact.
GLOBAL_LIMIT = 64
DPI = 90
GAN_EPOCH_PANELS = 5
GAN_GRID = 4  # a GAN panel shows GAN_GRID x GAN_GRID samples

SECTIONS: tuple[tuple[str, str], ...] = (
    ("overview", "Overview"),
    ("card", "Model card"),
    ("dataset", "Dataset and split"),
    ("config", "Training configuration"),
    ("metrics", "Test metrics"),
    ("curves", "Training curves"),
    ("samples", "Generated samples"),
    ("importance", "Global importance"),
    ("explanations", "Explained predictions"),
    ("provenance", "Method and versions"),
)

_VERDICT_CLASS = {"good fit": "good", "overfitting": "bad", "underfitting": "warn"}
_TAG_ORDER = (
    "correct",
    "wrong",
    "least confident",
    "largest error",
    "typical",
    "real",
    "generated",
)


# --------------------------------------------------------------------------- public API


def build_report(
    trained: Any,
    *,
    samples: int = DEFAULT_SAMPLES,
    method: str = "auto",
    title: str | None = None,
) -> str:
    """The HTML report of a loaded zoo model, as one self-contained string.

    Args:
        trained: a ``TrainedModel`` from ``zoo.load(name)``.
        samples: test predictions to explain (1..48). Classifiers: correct, wrong and
            least-confident ones in turn; forecasters: the largest errors and typical
            ones; GANs: real test images and generated ones.
        method: the explanation method (see ``explain.METHODS``).
        title: the page title (escaped; default "Explainability report: <ref>").

    Example:
        >>> html = build_report(zoo.load("mlp-cancer"), samples=1, title="Cancer")
        >>> html.startswith("<!DOCTYPE html>"), "<title>Cancer</title>" in html
        (True, True)
    """
    start = time.perf_counter()
    _check_args(trained, samples, method, title)

    data = trained.dataset()
    ctx: dict[str, Any] = {
        "title": title if title is not None else f"Explainability report: {trained.ref}",
        "ref": trained.ref,
        "name": trained.name,
        "family": trained.family,
        "task": trained.task,
        "summary": getattr(trained.spec, "summary", ""),
        "created": trained.created,
        "card": _card(trained),
        "dataset": _dataset_section(trained, data),
        "config": _config_section(trained),
        "metrics": _metrics_section(trained, data),
        "curves": _curves_section(trained),
        "samples": _samples_section(trained) if trained.family == "gan" else None,
    }
    ctx["importance"], used = _importance_section(trained, method)
    ctx["explanations"] = _explanations_section(trained, data, samples, method)
    meta = ctx["explanations"]["meta"] or used
    ctx["method"] = {
        "requested": method,
        "used": meta.method,
        "nsamples": meta.nsamples,
        "background": meta.background_size,
        "seed": meta.seed,
    }
    ctx["headline"] = _headline(trained)
    ctx["sections"] = [(sid, label) for sid, label in SECTIONS if ctx.get(sid, True) is not None]
    ctx["versions"] = _versions(trained)
    ctx["generated"] = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    ctx["build_seconds"] = time.perf_counter() - start
    return _template().render(**ctx)


def write_report(trained: Any, out: str | Path, **kw: Any) -> Path:
    """Build the report and write it to ``out`` atomically (temp file + ``os.replace``).

    ``out`` may be a folder: the file is then ``<name>-<version>-report.html`` in it.
    Missing parent folders are created. Keywords go to :func:`build_report`.

    Example:
        >>> write_report(zoo.load("mlp-cancer"), "reports/", samples=1).as_posix()
        'reports/mlp-cancer-...-report.html'
    """
    folder_like = str(out).endswith(("/", os.sep))
    out = Path(out)
    if out.is_dir() or folder_like:
        out = out / default_filename(trained)
    html = build_report(trained, **kw)
    try:
        atomic_write_bytes(out, html.encode("utf-8"))
    except OSError as err:
        raise ZooError(
            f"cannot write the report to {out} ({err.strerror or err}); expected a writable "
            "folder; pass another --out path"
        ) from None
    return out


def report(
    trained: Any,
    out: str | Path | None = None,
    *,
    store: Any = None,
    samples: int = DEFAULT_SAMPLES,
    method: str = "auto",
    title: str | None = None,
) -> Path:
    """Write the HTML report of a model (a ``TrainedModel`` or a ref such as ``"cnn-digits@2"``).

    ``out`` defaults to ``<name>-<version>-report.html`` in the current folder; ``store``
    is used only to load a ref. Returns the path written. Also reachable as
    ``explain.report(...)``.

    Example:
        >>> import explain
        >>> explain.report("mlp-cancer", out="cancer.html", samples=1).name
        'cancer.html'
    """
    if isinstance(trained, str):
        import zoo

        trained = zoo.load(trained, store=store)
    target = Path(out) if out is not None else Path.cwd() / default_filename(trained)
    return write_report(trained, target, samples=samples, method=method, title=title)


def default_filename(trained: Any) -> str:
    """``<name>-<version>-report.html``.

    Example:
        >>> default_filename(zoo.load("cnn-digits@1"))
        'cnn-digits-1-report.html'
    """
    return f"{trained.name}-{trained.version}-report.html"


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


# --------------------------------------------------------------------------- helpers


def _check_args(trained: Any, samples: Any, method: Any, title: Any) -> None:
    import explain

    if not (hasattr(trained, "dataset") and hasattr(trained, "ref")):
        raise ZooError(
            f"cannot report on a {type(trained).__name__}; expected a TrainedModel from "
            "zoo.load(name); load it first (or pass the name to explain.report)"
        )
    if isinstance(samples, bool) or not isinstance(samples, (int, np.integer)):
        raise DataError(f"samples={samples!r}; expected an integer 1..{MAX_SAMPLES}")
    if not 1 <= int(samples) <= MAX_SAMPLES:
        raise DataError(f"samples={samples}; expected 1..{MAX_SAMPLES} test predictions")
    if method not in explain.METHODS:
        raise ZooError(f"unknown method {method!r}; expected one of {list(explain.METHODS)}")
    if title is not None and not isinstance(title, str):
        raise DataError(f"title must be a string, got {type(title).__name__}")


def _png(fig: Any, alt: str, caption: str = "") -> dict[str, str]:
    """The figure as an embedded PNG; the figure is closed afterwards."""
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


def _fmt(v: Any) -> str:
    if v is None or v == "":
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, (float, np.floating)):
        return f"{float(v):.4g}"
    if isinstance(v, (list, tuple)):
        return ", ".join(_fmt(x) for x in v) if v else "–"
    return str(v)


def _template() -> Any:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).resolve().parent / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["fmt"] = _fmt
    return env.get_template("report.html")


# --------------------------------------------------------------------------- model card


_INLINE = [
    (re.compile(r"`([^`]+)`"), r"<code>\1</code>"),
    (re.compile(r"\*\*([^*]+)\*\*"), r"<strong>\1</strong>"),
]


def markdown_to_html(text: str) -> Any:
    """A safe subset of Markdown (headings, bullet lists, paragraphs, `code`, **bold**).

    Every line is HTML-escaped first, so the result can only contain the tags added here
    (``h3``-``h6``, ``ul``, ``li``, ``p``, ``code``, ``strong``); links stay plain text.

    Example:
        >>> str(markdown_to_html("# T\\n- a `b` <i>"))
        '<h3>T</h3>\\n<ul>\\n<li>a <code>b</code> &lt;i&gt;</li>\\n</ul>'
    """
    from markupsafe import Markup, escape

    def inline(s: str) -> str:
        s = str(escape(s))
        for pattern, repl in _INLINE:
            s = pattern.sub(repl, s)
        return s

    out: list[str] = []
    para: list[str] = []
    in_list = False

    def flush() -> None:
        nonlocal in_list
        if para:
            out.append("<p>" + " ".join(para) + "</p>")
            para.clear()
        if in_list:
            out.append("</ul>")
            in_list = False

    for raw in text.splitlines():
        line = raw.strip()
        heading = re.match(r"^(#{1,6})\s+(.*)$", line)
        if heading:
            flush()
            level = min(len(heading.group(1)) + 2, 6)
            out.append(f"<h{level}>{inline(heading.group(2))}</h{level}>")
        elif re.match(r"^[-*]\s+", line):
            if para:
                out.append("<p>" + " ".join(para) + "</p>")
                para.clear()
            if not in_list:
                out.append("<ul>")
                in_list = True
            out.append(f"<li>{inline(line[2:].strip())}</li>")
        elif not line:
            flush()
        else:
            if in_list:
                out.append("</ul>")
                in_list = False
            para.append(inline(line))
    flush()
    return Markup("\n".join(out))


def _card(trained: Any) -> Any:
    path = Path(trained.path) / "card.md"
    try:
        return markdown_to_html(path.read_text(encoding="utf-8"))
    except OSError:
        from markupsafe import Markup, escape

        return Markup(f"<p class='note'>No model card found at {escape(str(path))}.</p>")


# --------------------------------------------------------------------------- sections


def _dataset_section(trained: Any, data: Any) -> dict[str, Any]:
    desc = dict(getattr(data, "description", {}) or {})
    skip = {"splits", "class_names", "feature_names"}
    rows = [(k.replace("_", " "), _fmt(v)) for k, v in desc.items() if k not in skip]
    cap = int(getattr(trained.config, "max_train_samples", 0) or 0)
    n_train = len(data.x_train)
    splits = [
        ("train", n_train, f"model trained on a random {cap}" if 0 < cap < n_train else ""),
        ("validation", len(data.x_val), ""),
        ("test", len(data.x_test), "metrics and explanations below"),
    ]
    return {
        "name": getattr(data, "name", ""),
        "rows": rows,
        "splits": splits,
        "input_shape": "×".join(str(d) for d in data.x_train.shape[1:]),
        "input_kind": getattr(data, "input_kind", ""),
        "class_names": list(data.class_names or trained.class_names or []),
        "feature_names": list(data.feature_names or trained.feature_names or []),
    }


def _config_section(trained: Any) -> dict[str, Any]:
    from zoo.config import FAMILY_OPTIONS

    cfg = trained.config.to_dict()
    rows = [
        (k, _fmt(v))
        for k, v in cfg.items()
        if trained.family in FAMILY_OPTIONS.get(k, (trained.family,))
    ]
    return {"summary": trained.config.summary(), "rows": rows}


def _headline(trained: Any) -> list[tuple[str, str]]:
    m, d = trained.metrics, trained.diagnosis
    rows: list[tuple[str, str]] = [("family / task", f"{trained.family} / {trained.task}")]
    if trained.task == "classification":
        rows += [("test accuracy", _fmt(m.get("accuracy"))), ("macro F1", _fmt(m.get("f1_macro")))]
    elif trained.task == "regression":
        unit = m.get("unit", "")
        rows += [(f"test MAE ({unit})".replace(" ()", ""), _fmt(m.get("mae")))]
        rows += [("skill vs naive", _fmt(m.get("skill")))]
    else:
        rows += [("Fréchet distance (final)", _fmt(m.get("fid_final")))]
        rows += [("untrained / final", _fmt(m.get("fid_ratio")))]
    if d.get("verdict"):
        rows.append(("fit", str(d["verdict"])))
    return rows


def _predict(trained: Any, x: np.ndarray) -> np.ndarray:
    return np.asarray(trained.predict(x), np.float64)


def _metrics_section(trained: Any, data: Any) -> dict[str, Any]:
    m = trained.metrics
    if trained.task == "classification":
        names = list(trained.class_names or m.get("per_class", {}).keys())
        rows = [
            ("accuracy", _fmt(m.get("accuracy"))),
            ("precision (macro)", _fmt(m.get("precision_macro"))),
            ("recall (macro)", _fmt(m.get("recall_macro"))),
            ("F1 (macro)", _fmt(m.get("f1_macro"))),
            ("ROC-AUC", _fmt(m.get("roc_auc"))),
            ("test samples", _fmt(m.get("n_test"))),
        ]
        per_class = [
            (name, _fmt(v["precision"]), _fmt(v["recall"]), _fmt(v["f1"]), v["support"])
            for name, v in m.get("per_class", {}).items()
        ]
        figs = []
        if m.get("confusion_matrix"):
            figs.append(
                _png(
                    _confusion_figure(np.asarray(m["confusion_matrix"]), names),
                    "confusion matrix of the test split",
                    "Confusion matrix (rows: true class, columns: predicted).",
                )
            )
        return {"kind": "classification", "rows": rows, "per_class": per_class, "figures": figs}
    if trained.task == "regression":
        unit = m.get("unit", "")
        compare = [
            (label, _fmt(m.get(key)), _fmt(m.get(f"naive_{key}")))
            for key, label in (("mse", f"MSE ({unit}²)"), ("mae", f"MAE ({unit})"), ("r2", "R²"))
        ]
        rows = [
            ("skill (1 − MSE / naive MSE)", _fmt(m.get("skill"))),
            ("beats the naive forecast", _fmt(m.get("beats_naive"))),
            ("test samples", _fmt(m.get("n_test"))),
        ]
        y = data.to_units(np.ravel(data.y_test))
        pred = data.to_units(_predict(trained, data.x_test).ravel())
        fig = _png(
            _forecast_figure(y, pred, data.unit, (data.extra or {}).get("dates_test")),
            "forecast against the actual test values",
            "Test split: forecast vs actual (left, in time order) and as a scatter (right). "
            "The naive baseline forecasts no change.",
        )
        return {"kind": "regression", "rows": rows, "compare": compare, "figures": [fig]}
    rows = [
        ("Fréchet distance, untrained generator", _fmt(m.get("fid_untrained"))),
        ("Fréchet distance, final", _fmt(m.get("fid_final"))),
        ("Fréchet distance, best", _fmt(m.get("fid_best"))),
        ("untrained / final (> 1: better than untrained)", _fmt(m.get("fid_ratio"))),
        ("feature model", _fmt(m.get("fid_feature_model"))),
        ("final discriminator loss", _fmt(m.get("d_loss"))),
        ("final generator loss", _fmt(m.get("g_loss"))),
    ]
    return {"kind": "generation", "rows": rows, "figures": []}


def _confusion_figure(cm: np.ndarray, names: list[str]) -> Any:
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


def _forecast_figure(y: np.ndarray, pred: np.ndarray, unit: str, dates: Any) -> Any:
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


def _curves_section(trained: Any) -> dict[str, Any]:
    d = trained.diagnosis
    facts = [
        (label, _fmt(d.get(key)))
        for key, label in (
            ("epochs_run", "epochs run"),
            ("best_epoch", "best epoch (lowest validation loss)"),
            ("best_val_loss", "best validation loss"),
            ("final_train_loss", "final training loss"),
            ("final_val_loss", "final validation loss"),
            ("gap_at_best", "validation − training loss at the best epoch"),
            ("early_stopped_at", "early stopped at epoch"),
            ("restored_epoch", "weights restored from epoch"),
            ("overfit_from", "overfitting from epoch"),
        )
        if key in d
    ]
    if trained.family == "gan":
        fig = _png(
            _gan_curves(trained),
            "Fréchet distance and discriminator / generator losses per epoch",
            "Left: Fréchet distance of generated to real test images per epoch (epoch 0 = "
            "untrained generator; lower is better). Right: discriminator and generator losses.",
        )
    else:
        fig = _png(
            training_curves(trained.history, d),
            "training and validation curves per epoch",
            "Training vs validation per epoch; the dashed green line marks the best epoch "
            "(lowest validation loss); a red band marks epochs diagnosed as overfitting.",
        )
    verdict = str(d.get("verdict", ""))
    return {
        "figure": fig,
        "verdict": verdict,
        "verdict_class": _VERDICT_CLASS.get(verdict, "neutral"),
        "message": str(d.get("message", "")),
        "facts": facts,
    }


def _gan_curves(trained: Any) -> Any:
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    h, m = trained.history, trained.metrics
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


def _samples_section(trained: Any) -> dict[str, Any]:
    from matplotlib.figure import Figure

    try:
        grids = np.asarray(trained.samples())  # (epochs + 1, n, H, W, C) in [-1, 1]
    except (OSError, KeyError, ZooError) as err:
        return {"figure": None, "note": f"No sample grids recorded with this artifact ({err})."}
    if grids.ndim != 5 or not grids.size:
        return {"figure": None, "note": f"Sample grids of unexpected shape {grids.shape}."}
    total = len(grids)
    picks = sorted({int(round(v)) for v in np.linspace(0, total - 1, min(GAN_EPOCH_PANELS, total))})
    g = GAN_GRID if grids.shape[1] >= GAN_GRID**2 else max(1, int(np.sqrt(grids.shape[1])))
    fig = Figure(figsize=(2.1 * len(picks) + 0.2, 2.4), layout="constrained")
    axes = fig.subplots(1, len(picks), squeeze=False)[0]
    for ax, ep in zip(axes, picks, strict=True):
        imgs = grids[ep, : g * g].mean(axis=-1)  # (g*g, H, W)
        h, w = imgs.shape[1:]
        mosaic = imgs.reshape(g, g, h, w).transpose(0, 2, 1, 3).reshape(g * h, g * w)
        ax.imshow(mosaic, cmap="gray_r", vmin=-1, vmax=1)
        ax.set_title("untrained" if ep == 0 else f"epoch {ep}", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    caption = (
        f"The same {g * g} latent vectors decoded by the generator at {len(picks)} points of "
        f"its {total - 1} training epochs (epoch 0: untrained)."
    )
    return {"figure": _png(fig, "generated samples per epoch", caption), "note": ""}


def _importance_section(trained: Any, method: str) -> tuple[dict[str, Any], Any]:
    import explain
    from explain import plots

    data = trained.dataset()
    e_test = explain.explain_test_split(trained, method=method, limit=GLOBAL_LIMIT)
    meta = explain.info(e_test)
    g = explain.global_importance(trained, e_test)
    what = {"gan": "the discriminator's real score", "regression": "the forecast"}.get(
        trained.family if trained.family == "gan" else trained.task, "each class"
    )
    in_unit = f", in {data.unit}" if trained.task == "regression" and data.unit else ""
    figures = [
        _png(
            plots.global_importance(plots.in_units(g, data)),
            "mean absolute SHAP value per input position",
            f"Mean |SHAP| over {len(e_test.values)} test samples, for {what}{in_unit}.",
        )
    ]
    if meta.input_kind == "tabular":
        figures.append(
            _png(
                plots.beeswarm(plots.in_units(e_test, data)),
                "SHAP values of the most important features over the test samples",
                "Each dot is one test sample; colour is the feature's value (the raw "
                "values of its 5th and 95th percentiles are shown beside its name).",
            )
        )
    note = f"{explain_describe(meta)}; " + (
        "read from the disk cache." if meta.cached else "computed now and cached on disk."
    )
    return {"figures": figures, "note": note, "n": len(e_test.values)}, meta


# --------------------------------------------------------------------------- explanations


def _round_robin(groups: list[tuple[str, np.ndarray]], n: int) -> list[tuple[int, str]]:
    """Take indices from each group in turn (skipping ones taken) until ``n`` are chosen."""
    chosen: dict[int, str] = {}
    pos = [0] * len(groups)
    while len(chosen) < n:
        progressed = False
        for g, (tag, order) in enumerate(groups):
            while pos[g] < len(order) and int(order[pos[g]]) in chosen:
                pos[g] += 1
            if pos[g] < len(order) and len(chosen) < n:
                chosen[int(order[pos[g]])] = tag
                pos[g] += 1
                progressed = True
        if not progressed:
            break
    return sorted(chosen.items(), key=lambda it: (_TAG_ORDER.index(it[1]), it[0]))


def choose_samples(task: str, y: np.ndarray, pred: np.ndarray, n: int) -> list[tuple[int, str]]:
    """Test indices worth explaining, each with why it was chosen.

    Classification (``pred`` = class probabilities ``(N, K)``): in turn the most confident
    correct, the most confident wrong and the least confident predictions. Regression
    (``pred`` = forecasts ``(N,)``): the largest errors and typical ones (error closest to
    the median error).

    Example:
        >>> p = np.array([[.9, .1], [.2, .8], [.55, .45], [.3, .7]])
        >>> choose_samples("classification", np.array([0, 0, 1, 1]), p, 3)
        [(0, 'correct'), (1, 'wrong'), (2, 'least confident')]
    """
    if task == "classification":
        proba = np.asarray(pred, np.float64)
        if proba.ndim == 2 and proba.shape[1] == 1:
            proba = np.hstack([1.0 - proba, proba])
        guess, conf = proba.argmax(axis=1), proba.max(axis=1)
        y = np.asarray(y).reshape(len(proba), -1)[:, 0].astype(int)
        by_conf = np.argsort(-conf, kind="stable")
        groups = [
            ("correct", by_conf[guess[by_conf] == y[by_conf]]),
            ("wrong", by_conf[guess[by_conf] != y[by_conf]]),
            ("least confident", np.argsort(conf, kind="stable")),
        ]
    else:
        err = np.abs(np.asarray(pred, np.float64).ravel() - np.asarray(y, np.float64).ravel())
        groups = [
            ("largest error", np.argsort(-err, kind="stable")),
            ("typical", np.argsort(np.abs(err - np.median(err)), kind="stable")),
        ]
    return _round_robin(groups, min(n, len(y)))


def _sample_additivity(e: Any) -> np.ndarray:
    import explain

    meta = explain.info(e)
    vals = np.asarray(e.values, np.float64)
    n, k = vals.shape[0], vals.shape[-1]
    total = vals.reshape(n, -1, k).sum(axis=1) + np.asarray(e.base_values, np.float64)
    return np.abs(total - np.asarray(meta.predictions, np.float64)).max(axis=1)


def _plot_one(e: Any, j: int, family: str, label: str | None = None) -> Any:
    """The family's figure of sample ``j`` of ``e``; ``label`` renames "sample j" in titles."""
    from explain import plots

    kind = e.zoo_info.input_kind
    if family == "gan":
        return plots.gan_sample(e, index=j, label=label)
    if kind == "image":
        return plots.image(e, index=j, label=label)
    if kind == "sequence":
        return plots.sequence_heatmap(e, index=j, label=label)
    return plots.waterfall(e, index=j, max_display=10, label=label)


def _fidelity_rows(
    fid: dict[str, Any], scale: float = 1.0, unit: str = ""
) -> list[tuple[str, str]]:
    """Rows of a fidelity report; absolute additivity errors times ``scale``, in ``unit``."""

    def err(key: str) -> str:
        v = fid.get(key)
        return _fmt(None if v is None else v * abs(scale)) + (f" {unit}" if unit else "")

    rows = [
        ("samples", _fmt(fid.get("n"))),
        ("additivity error, max", err("additivity_max")),
        ("additivity error, mean", err("additivity_mean")),
        ("additivity error / mean |f(x) − base|", _fmt(fid.get("additivity_relative"))),
        ("normalized additivity error, p95", _fmt(fid.get("additivity_p95"))),
        ("normalized additivity error, max", _fmt(fid.get("additivity_normalized_max"))),
    ]
    if "rank_corr_trained" in fid:
        rows += [
            ("rank correlation, two runs on the trained model", _fmt(fid["rank_corr_trained"])),
            ("rank correlation, trained vs randomized model", _fmt(fid["rank_corr_randomized"])),
            ("same, |attributions|: trained runs", _fmt(fid["rank_corr_trained_abs"])),
            ("same, |attributions|: trained vs randomized", _fmt(fid["rank_corr_randomized_abs"])),
            ("sanity check passed", _fmt(fid["sanity_passed"])),
        ]
    return rows


def _explanations_section(trained: Any, data: Any, n: int, method: str) -> dict[str, Any]:
    import explain
    from explain import plots

    if trained.family == "gan":
        return _gan_explanations(trained, data, n, method)
    x, y = np.asarray(data.x_test), np.asarray(data.y_test)
    raw = _predict(trained, x)
    cards: list[dict[str, Any]] = []
    if trained.task == "classification":
        from zoo.evaluation import class_probabilities

        proba = class_probabilities(raw)
        chosen = choose_samples("classification", y, proba, n)
    else:
        unit = data.unit
        fc = data.to_units(raw.ravel())
        actual = data.to_units(y.ravel())
        chosen = choose_samples("regression", actual, fc, n)
    idx = np.array([i for i, _ in chosen])
    e = explain.explain(trained, x[idx], method=method, y=y[idx])
    fid = explain.fidelity(trained, e, max_samples=len(idx))  # in the model's space
    shown = plots.in_units(e, data)  # what the cards show: raw inputs, forecasts in ppm
    u = f" {shown.zoo_units.output}" if shown.zoo_units.output else ""
    add = _sample_additivity(shown)
    names = list(trained.class_names or [])
    extra = getattr(data, "extra", {}) or {}
    for j, (i, tag) in enumerate(chosen):
        facts: list[tuple[str, str]] = [("test index", str(i))]
        if trained.task == "classification":
            p = proba[i]
            guess, true = int(p.argmax()), int(np.ravel(y[i])[0])
            label = names[guess] if guess < len(names) else str(guess)
            true_label = names[true] if true < len(names) else str(true)
            facts += [
                ("true", true_label),
                ("predicted", f"{label} (p = {p[guess]:.3f})"),
                ("outcome", "correct" if guess == true else "wrong"),
            ]
            head = f"{tag}: true {true_label}, predicted {label}"
        else:
            err = fc[i] - actual[i]
            facts += [
                ("forecast change", f"{fc[i]:+.3f} {unit}"),
                ("actual change", f"{actual[i]:+.3f} {unit}"),
                ("error", f"{err:+.3f} {unit}"),
            ]
            if "last_level_test" in extra:
                level = float(extra["last_level_test"][i])
                facts.insert(1, ("forecast level", f"{level + fc[i]:.2f} {unit}"))
                if "next_level_test" in extra:
                    nxt = float(extra["next_level_test"][i])
                    facts.insert(2, ("actual level", f"{nxt:.2f} {unit}"))
            if "dates_test" in extra:
                facts.insert(1, ("week", str(extra["dates_test"][i])))
            head = f"{tag}: error {err:+.3f} {unit}"
        facts.append(("additivity error", f"{add[j]:.3g}{u}"))
        cards.append(
            {
                "tag": tag,
                "slug": tag.replace(" ", "-"),
                "heading": head,
                "facts": facts,
                "figure": _png(
                    _plot_one(shown, j, trained.family, f"test sample {i}"),
                    f"explanation of test sample {i}",
                ),
            }
        )
    meta = explain.info(e)
    rows = _fidelity_rows(fid, data.target_scale, shown.zoo_units.output)
    return {
        "intro": _intro(trained, meta, len(x), data),
        "cards": cards,
        "fidelity": [("chosen test samples", rows)],
        "meta": meta,
    }


def _gan_explanations(trained: Any, data: Any, n: int, method: str) -> dict[str, Any]:
    import explain

    n_real = (n + 1) // 2
    n_gen = n - n_real
    x = np.asarray(data.x_test)[:n_real]
    batches = [("real", explain.explain(trained, x, method=method))]
    if n_gen:
        batches.append(("generated", explain.explain(trained, n_gen, method=method, seed=0)))
    cards, fidelity = [], []
    for tag, e in batches:
        fid = explain.fidelity(trained, e, max_samples=len(e.values))
        fidelity.append((f"{tag} samples", _fidelity_rows(fid)))
        add = _sample_additivity(e)
        scores = np.asarray(explain.info(e).predictions)[:, 0]
        for j in range(len(e.values)):
            p_real = 1.0 / (1.0 + np.exp(-scores[j]))
            what = f"test index {j}" if tag == "real" else f"generated #{j} (seed 0)"
            cards.append(
                {
                    "tag": tag,
                    "slug": tag,
                    "heading": f"{tag}: p_real {p_real:.2f}",
                    "facts": [
                        ("sample", what),
                        ("discriminator score (logit)", f"{scores[j]:.3f}"),
                        ("p(real)", f"{p_real:.3f}"),
                        ("additivity error", f"{add[j]:.3g}"),
                    ],
                    "figure": _png(_plot_one(e, j, "gan"), f"discriminator explanation of {what}"),
                }
            )
    meta = explain.info(batches[0][1])
    return {
        "intro": _intro(trained, meta, len(data.x_test)),
        "cards": cards,
        "fidelity": fidelity,
        "meta": meta,
    }


def _intro(trained: Any, meta: Any, n_test: int, data: Any = None) -> str:
    unit = getattr(data, "unit", "") if data is not None else ""
    if trained.family == "gan":
        return (
            "What drives the discriminator's real-vs-fake score on real test images and on "
            "images from the trained generator. Red pixels push towards 'real'."
        )
    if trained.task == "classification":
        return (
            f"Chosen from {n_test} test predictions: in turn the most confident correct, the "
            "most confident wrong and the least confident ones. Red supports the class shown, "
            "blue opposes it."
            + (" Feature values are the raw measurements." if meta.input_kind == "tabular" else "")
        )
    return (
        f"Chosen from {n_test} test forecasts: the largest errors and typical ones (error "
        "closest to the median). Red raises the forecast, blue lowers it."
        + (
            f" Inputs, attributions, base value and forecast are in {unit}: the attributions "
            "and the base value add up to the forecast."
            if unit
            else ""
        )
    )


# --------------------------------------------------------------------------- provenance


def _versions(trained: Any) -> list[tuple[str, str, str]]:
    try:
        manifest = json.loads((Path(trained.path) / "manifest.json").read_text())
        written = dict(manifest.get("versions") or {})
    except (OSError, ValueError):
        written = {}
    now: dict[str, str] = {"python": platform.python_version()}
    for dist in (
        "tensorflow",
        "keras",
        "shap",
        "numpy",
        "scikit-learn",
        "keras-zoo",
        "matplotlib",
        "jinja2",
    ):
        try:
            now[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            pass
    names = list(dict.fromkeys([*written, *now]))
    return [(k, written.get(k, "–"), now.get(k, "–")) for k in names]


# --------------------------------------------------------------------------- callable module


class _CallableModule(types.ModuleType):
    """Lets ``explain.report(...)`` call :func:`report` while ``explain.report`` stays a module.

    Importing ``explain.report`` binds the *module* to the package attribute ``report``;
    making the module callable keeps ``explain.report(m, out=...)`` working whatever was
    imported first.
    """

    def __call__(self, *args: Any, **kwargs: Any) -> Path:
        return report(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
