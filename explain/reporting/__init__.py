"""A self-contained HTML explainability report of one stored zoo model.

One file that opens offline: every figure is a PNG embedded as a ``data:`` URI, the CSS
is inline, there is no script, and a Content-Security-Policy tells the browser to fetch
nothing. It is rendered from ``explain/templates/report.html`` by Jinja2 with
autoescaping on, so text from the artifact or the caller (a title, the model card) can
never become markup.

Sections (stable ``id``s, in order): ``overview``, ``card``, ``dataset``, ``config``,
``metrics``, ``groups`` (classifiers only), ``curves``, ``samples`` (GAN only),
``importance``, ``explanations``, ``provenance``. The package by role: ``build``
(arguments, template, writing), ``sections`` (the model's sections), ``groups`` (metrics
per group, ``zoo.fairness``), ``explanations`` (the explained predictions),
``figures`` (the report's own matplotlib figures), ``markdown`` (the model card).
``explain.report(m, out=...)`` calls :func:`report`.

Example:
    >>> from explain import reporting
    >>> reporting.SECTIONS[0][0], reporting.default_filename(zoo.load("cnn-digits@1"))
    ('overview', 'cnn-digits-1-report.html')
"""

from __future__ import annotations

from .build import (
    DEFAULT_SAMPLES,
    MAX_SAMPLES,
    SECTIONS,
    build_report,
    default_filename,
    log_to_mlflow,
    report,
    write_report,
)
from .explanations import choose_samples
from .figures import training_curves
from .markdown import markdown_to_html

__all__ = [
    "DEFAULT_SAMPLES",
    "MAX_SAMPLES",
    "SECTIONS",
    "build_report",
    "choose_samples",
    "default_filename",
    "log_to_mlflow",
    "markdown_to_html",
    "report",
    "training_curves",
    "write_report",
]
