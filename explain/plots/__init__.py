"""Figures from explanations made by :func:`explain.explain`.

Every function takes a ``shap.Explanation`` (unsliced, as ``explain`` returns it; pick
the sample with ``index=``), returns a ``matplotlib.figure.Figure`` and never touches
pyplot's global state, so it works under the ``Agg`` backend, in threads, and in the
dashboard (``st.pyplot(fig)``). Colours: red supports the explained output, blue
opposes it. The per-sample plots (``image``, ``gan_sample``, ``sequence_heatmap``,
``waterfall``; :func:`for_explanation` picks the one that fits) take ``label=`` to name
the sample in the title (e.g. ``"test #17"``) where its position in the explained batch
says little; ``beeswarm`` and ``global_importance`` show many samples at once.

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

from ..units import Units, in_units
from .overview import beeswarm, global_importance
from .sample import for_explanation, gan_sample, image, sequence_heatmap, waterfall

__all__ = [
    "Units",
    "beeswarm",
    "for_explanation",
    "gan_sample",
    "global_importance",
    "image",
    "in_units",
    "sequence_heatmap",
    "waterfall",
]
