"""Assemble the report: check the arguments, build every section, render the template,
write the file atomically.

Example:
    >>> SECTIONS[0], DEFAULT_SAMPLES, MAX_SAMPLES
    (('overview', 'Overview'), 6, 48)
"""

from __future__ import annotations

import datetime as _dt
import importlib.metadata
import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from zoo.errors import DataError, ZooError
from zoo.mlflow_logging import log_report
from zoo.store import atomic_write_bytes

from . import sections
from .explanations import explanations_section
from .groups import groups_section

DEFAULT_SAMPLES = 6
MAX_SAMPLES = 48

SECTIONS: tuple[tuple[str, str], ...] = (
    ("overview", "Overview"),
    ("card", "Model card"),
    ("dataset", "Dataset and split"),
    ("config", "Training configuration"),
    ("metrics", "Test metrics"),
    ("groups", "Groups"),
    ("curves", "Training curves"),
    ("samples", "Generated samples"),
    ("importance", "Global importance"),
    ("explanations", "Explained predictions"),
    ("provenance", "Method and versions"),
)

# Library versions in the provenance table: at training time (the manifest) and now.
_LIBRARIES = (
    "tensorflow",
    "keras",
    "shap",
    "numpy",
    "scikit-learn",
    "keras-zoo",
    "matplotlib",
    "jinja2",
)


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
        "card": sections.card_section(trained),
        "dataset": sections.dataset_section(trained, data),
        "config": sections.config_section(trained),
        "metrics": sections.metrics_section(trained, data),
        "groups": groups_section(trained),
        "curves": sections.curves_section(trained),
        "samples": sections.samples_section(trained) if trained.family == "gan" else None,
    }
    ctx["importance"], used = sections.importance_section(trained, method)
    ctx["explanations"] = explanations_section(trained, data, samples, method)
    meta = ctx["explanations"]["meta"] or used
    ctx["method"] = {
        "requested": method,
        "used": meta.method,
        "nsamples": meta.nsamples,
        "background": meta.background_size,
        "seed": meta.seed,
    }
    ctx["headline"] = sections.headline(trained)
    ctx["sections"] = [(sid, label) for sid, label in SECTIONS if ctx.get(sid, True) is not None]
    ctx["versions"] = _versions(trained)
    ctx["generated"] = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    ctx["build_seconds"] = time.perf_counter() - start
    return _template().render(**ctx)


def write_report(trained: Any, out: str | Path, **kw: Any) -> Path:
    """Build the report and write it to ``out`` atomically (temp file + ``os.replace``).

    ``out`` may be a folder: the file is then ``<name>-<version>-report.html`` in it.
    Missing parent folders are created. Keywords go to :func:`build_report`. With
    ``MLFLOW_TRACKING_URI`` set, the file is also attached to the version's MLflow run
    (:func:`zoo.mlflow_logging.log_report`).

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
    # With MLFLOW_TRACKING_URI set, the report joins its version's MLflow run (one warning
    # line if it cannot; the file is written either way).
    log_report(trained.ref, out, path=trained.path)
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
    is used only to load a ref. Returns the path written. ``explain.report(...)`` calls
    this.

    Example:
        >>> report("mlp-cancer", out="cancer.html", samples=1).name
        'cancer.html'
    """
    if isinstance(trained, str):
        import zoo

        trained = zoo.load(trained, store=store)
    target = Path(out) if out is not None else Path.cwd() / default_filename(trained)
    return write_report(trained, target, samples=samples, method=method, title=title)


def log_to_mlflow(trained: Any, html: str) -> str | None:
    """Attach a report built in memory (``build_report``) to the version's MLflow run.

    Only with ``MLFLOW_TRACKING_URI`` set; returns the run id, or None when nothing was
    logged (one warning line when MLflow failed). The dashboard's Report page calls it.

    Example:
        >>> m = zoo.load("mlp-cancer")
        >>> "MLFLOW_TRACKING_URI" in os.environ or log_to_mlflow(m, "<html/>") is None
        True
    """
    if not os.environ.get("MLFLOW_TRACKING_URI"):
        return None
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / default_filename(trained)
        path.write_text(html, encoding="utf-8")
        return log_report(trained.ref, path, path=trained.path)


def default_filename(trained: Any) -> str:
    """``<name>-<version>-report.html``.

    Example:
        >>> default_filename(zoo.load("cnn-digits@1"))
        'cnn-digits-1-report.html'
    """
    return f"{trained.name}-{trained.version}-report.html"


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


def _template() -> Any:
    import jinja2

    env = jinja2.Environment(
        # explain/templates/report.html, found through the package so installs work too
        loader=jinja2.PackageLoader("explain", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["fmt"] = sections.fmt
    return env.get_template("report.html")


def _versions(trained: Any) -> list[tuple[str, str, str]]:
    try:
        manifest = json.loads((Path(trained.path) / "manifest.json").read_text())
        written = dict(manifest.get("versions") or {})
    except (OSError, ValueError):
        written = {}
    now: dict[str, str] = {"python": platform.python_version()}
    for dist in _LIBRARIES:
        try:
            now[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            pass
    names = list(dict.fromkeys([*written, *now]))
    return [(k, written.get(k, "–"), now.get(k, "–")) for k in names]
