"""Text for the Model, Compare and Zoo pages about a version's intervals and its
baselines: the stored 95 % intervals, the fitted baselines as a table, and the verdict of
the model against the best baseline in one cell. Pure functions of stored metrics (no
Streamlit, no caching), so the pages and the tests call them directly.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from zoo.summary import interval_text, number_text


def metric_interval(metrics: dict[str, Any], key: str, *, accuracy: bool = False) -> str:
    """The stored 95 % interval of test metric `key` as text ("" when there is none:
    a version stored before intervals were, or a metric the bootstrap could not score).

    Example:
        >>> m = {"intervals": {"metrics": {"accuracy": [0.9593, 0.9926], "roc_auc": None}}}
        >>> metric_interval(m, "accuracy", accuracy=True), metric_interval(m, "roc_auc")
        ('[0.959, 0.993]', '')
    """
    stored = (metrics.get("intervals") or {}).get("metrics") or {}
    return interval_text(stored.get(key), accuracy=accuracy)


def interval_note(metrics: dict[str, Any]) -> str:
    """How the stored intervals were computed: level, method, resamples ("" without any).

    Example:
        >>> interval_note({"intervals": {"level": 0.95, "resamples": 1000,
        ...                "method": "percentile bootstrap over test samples"}})
        '95 % intervals: percentile bootstrap over test samples, 1,000 resamples'
    """
    iv = metrics.get("intervals") or {}
    if not iv:
        return ""
    level = iv.get("level")
    shown = f"{level * 100:g} %" if isinstance(level, int | float) else "bootstrap"
    resamples = iv.get("resamples")
    count = f", {resamples:,} resamples" if isinstance(resamples, int) else ""
    return f"{shown} intervals: {iv.get('method', 'bootstrap')}{count}"


def _param(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def baselines_table(metrics: dict[str, Any]) -> pd.DataFrame:
    """The stored baselines (`metrics["baselines"]["models"]`), one row each: label,
    chosen hyper-parameters, value and 95 % interval on the compared metric, samples it
    was fitted on, and whether it is the best one (the one the model is compared with).
    Empty for a version stored without baselines.

    Example:
        >>> m = {"baselines": {"metric": "accuracy", "best": "svc_rbf", "models": {
        ...     "svc_rbf": {"label": "RBF SVC", "params": {"C": 10.0, "gamma": 0.11},
        ...                 "value": 0.9926, "interval": [0.981, 1.0], "n_fit": 1527}}}}
        >>> row = baselines_table(m).iloc[0]
        >>> row["baseline"], row["hyper-parameters"], row["value"], row["95 % interval"]
        ('RBF SVC', 'C=10, gamma=0.11', '0.993', '[0.981, 1.000]')
        >>> row["best"]
        '★ best'
    """
    base = metrics.get("baselines") or {}
    acc = base.get("metric") == "accuracy"
    rows = [
        {
            "baseline": record.get("label", key),
            "hyper-parameters": ", ".join(
                f"{k}={_param(v)}" for k, v in (record.get("params") or {}).items()
            ),
            "value": number_text(record.get("value"), accuracy=acc),
            "95 % interval": interval_text(record.get("interval"), accuracy=acc),
            "fit samples": record.get("n_fit"),
            "best": "★ best" if key == base.get("best") else "",
        }
        for key, record in (base.get("models") or {}).items()
    ]
    columns = ["baseline", "hyper-parameters", "value", "95 % interval", "fit samples", "best"]
    return pd.DataFrame(rows, columns=columns)


def versus_text(vs: dict[str, Any] | None) -> str:
    """Model vs best baseline in one short cell: the verdict, then model − baseline with
    its paired 95 % interval; `vs` is `zoo.summary.comparison(metrics)` ("" for None).

    Example:
        >>> versus_text({"metric": "accuracy", "baseline": "RBF SVC", "difference": -0.015,
        ...              "difference_interval": [-0.033, 0.0],
        ...              "verdict": "no measurable difference"})
        'no measurable difference: -0.015 [-0.033, +0.000] vs RBF SVC'
    """
    if not vs:
        return ""
    acc = vs.get("metric") == "accuracy"
    diff = number_text(vs.get("difference"), signed=True, accuracy=acc)
    iv = interval_text(vs.get("difference_interval"), signed=True, accuracy=acc)
    shown = " ".join(x for x in (diff, iv) if x)
    return f"{vs.get('verdict', '')}: {shown} vs {vs.get('baseline', '')}"
