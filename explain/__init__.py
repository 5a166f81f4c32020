"""Explain zoo models with SHAP: attributions, their fidelity, and figures.

Cheap to import: tensorflow, keras, shap and matplotlib load on first use.

Example:
    >>> import explain, zoo
    >>> m = zoo.load("cnn-digits")
    >>> e = explain.explain(m, m.dataset().x_test[:2])
    >>> explain.info(e).method, e.values.shape
    ('layerwise', (2, 8, 8, 1, 10))
    >>> r = explain.fidelity(m, e)
    >>> r["rank_corr_trained"] > 0.9, abs(r["rank_corr_randomized"]) < 0.5
    (True, True)
    >>> fig = explain.plots.image(e, index=0)
    >>> len(fig.axes)  # the input, the 3 top classes, a colorbar
    5
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .cached import explain_test_split, global_importance, test_split_row
from .explainers import (
    METHODS,
    ExplanationInfo,
    additivity_error,
    clear_cache,
    describe_method,
    explain,
    info,
)
from .fidelity import fidelity, randomized_clone, rank_correlation
from .jobs import JobProgress, explain_dataset

__all__ = [
    "METHODS",
    "ExplanationInfo",
    "additivity_error",
    "clear_cache",
    "describe_method",
    "explain",
    "explain_test_split",
    "fidelity",
    "global_importance",
    "explain_dataset",
    "JobProgress",
    "info",
    "plots",
    "randomized_clone",
    "rank_correlation",
    "report",
    "test_split_row",
]


def report(trained: Any, out: str | Path | None = None, **options: Any) -> Path:
    """Write the self-contained HTML report of a model and return the path written.

    ``trained`` is a ``TrainedModel`` or a ref (``"cnn-digits@2"``); ``out`` a file or a
    folder (default: ``<name>-<version>-report.html`` in the current folder). Options:
    ``samples`` (test predictions to explain, 1..48, default 6), ``method`` (see
    :data:`METHODS`), ``title``, and ``store`` to load a ref from; see
    :func:`explain.reporting.report`. The file is written atomically.

    Example:
        >>> import explain
        >>> explain.report(zoo.load("mlp-cancer"), out="cancer.html", samples=1).name
        'cancer.html'
    """
    # Imported here: the report needs matplotlib and jinja2, which `import explain` skips.
    from .reporting import report as write

    return write(trained, out, **options)


def __getattr__(name: str) -> Any:
    if name == "plots":  # matplotlib only when a figure is wanted
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'explain' has no attribute {name!r}")
