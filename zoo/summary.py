"""The zoo table: one row per entry with its trained versions and best test metric."""

from __future__ import annotations

from typing import Any

from zoo.registry import get_spec, list_models
from zoo.store import RunInfo, Store

# The metric a person compares versions of each task by, and whether higher is better.
HEADLINE = {
    "classification": ("accuracy", True),
    "regression": ("mse", False),
    "generation": ("fid_ratio", True),
}


def headline(task: str, metrics: dict[str, Any]) -> tuple[str, float | None]:
    """The task's headline metric name and its value in `metrics` (None when absent).

    Example:
        >>> headline("classification", {"accuracy": 0.98})
        ('accuracy', 0.98)
    """
    key, _ = HEADLINE[task]
    value = metrics.get(key)
    return key, (float(value) if isinstance(value, int | float) else None)


def interval_text(interval: Any, *, signed: bool = False, accuracy: bool = False) -> str:
    """A stored [low, high] interval as text ("" when there is none).

    Example:
        >>> interval_text([0.9593, 0.9926], accuracy=True)
        '[0.959, 0.993]'
        >>> interval_text([-0.024, 0.00754], signed=True)
        '[-0.0240, +0.00754]'
    """
    if not (isinstance(interval, list) and len(interval) == 2):
        return ""
    return "[" + ", ".join(number_text(v, signed=signed, accuracy=accuracy) for v in interval) + "]"


def comparison(metrics: dict[str, Any]) -> dict[str, Any] | None:
    """Model vs best baseline from stored metrics, as plain fields (None when the version
    has no baselines: one trained before they were stored, or where they failed).

    `text` is the one line people read: the model's headline value and 95 % interval, the
    best baseline's, the paired interval of the difference and the words it earns.

    Example:
        >>> vs = {"metric": "accuracy", "label": "RBF SVC", "model": 0.978, "baseline_value":
        ...       0.989, "difference": -0.011, "interval": [-0.03, 0.004],
        ...       "verdict": "no measurable difference", "baseline": "svc_rbf"}
        >>> comparison({"vs_baseline": vs})["text"]  # doctest: +NORMALIZE_WHITESPACE
        'accuracy 0.978 vs RBF SVC 0.989: difference -0.011 [-0.030, +0.004],
         no measurable difference'
    """
    vs = metrics.get("vs_baseline")
    if not isinstance(vs, dict) or not isinstance(vs.get("model"), int | float):
        return None
    metric = str(vs.get("metric", ""))
    acc = metric == "accuracy"
    best = metrics.get("baselines", {}).get("models", {}).get(vs.get("baseline"), {})
    model_iv = metrics.get("intervals", {}).get("metrics", {}).get(metric)
    out = {
        "metric": metric,
        "model": vs["model"],
        "model_interval": model_iv,
        "baseline": vs.get("label", vs.get("baseline", "")),
        "baseline_value": vs.get("baseline_value"),
        "baseline_interval": best.get("interval"),
        "difference": vs.get("difference"),
        "difference_interval": vs.get("interval"),
        "verdict": vs.get("verdict", ""),
    }

    def value(v: Any, iv: Any) -> str:
        return " ".join(
            x for x in (number_text(v, accuracy=acc), interval_text(iv, accuracy=acc)) if x
        )

    unit = metrics.get("unit") if metric == "mse" else ""
    name = _NAMES.get(metric, metric) + (f" ({unit}²)" if unit else "")
    out["text"] = (
        f"{name} {value(out['model'], model_iv)} vs {out['baseline']} "
        f"{value(out['baseline_value'], out['baseline_interval'])}: difference "
        f"{number_text(out['difference'], signed=True, accuracy=acc)} "
        f"{interval_text(out['difference_interval'], signed=True, accuracy=acc)}, "
        f"{out['verdict']}"
    ).replace("  ", " ")
    return out


# How the comparison line names each task's compared metric.
_NAMES = {"accuracy": "accuracy", "mse": "MSE", "fid_final": "Fréchet distance"}


def naive_verdict(metrics: dict[str, Any]) -> str:
    """How a regression compares with its naive baseline, in the words its skill's 95 %
    interval earns (skill = 1 - MSE / naive MSE): "beats", "does worse than" or "shows no
    measurable difference from"; versions stored without intervals get the point
    estimate's "beats" / "does not beat".

    Example:
        >>> naive_verdict({"skill": 0.23, "intervals": {"metrics": {"skill": [-0.08, 0.48]}}})
        'shows no measurable difference from'
        >>> naive_verdict({"skill": 0.41, "intervals": {"metrics": {"skill": [0.33, 0.49]}}})
        'beats'
        >>> naive_verdict({"skill": 0.2, "beats_naive": True})
        'beats'
    """
    from zoo.intervals import BEATS, WORSE, verdict

    interval = ((metrics.get("intervals") or {}).get("metrics") or {}).get("skill")
    if interval is None:
        return "beats" if metrics.get("beats_naive") else "does not beat"
    words = verdict(interval, higher_is_better=True)
    return {BEATS: "beats", WORSE: "does worse than"}.get(
        words, "shows no measurable difference from"
    )


def number_text(v: Any, *, signed: bool = False, accuracy: bool = False) -> str:
    """A metric value as text: accuracies to 3 decimals (one test sample moves them by
    0.4-1.2 %), the rest to 3 significant digits; "-" for a missing value.

    Example:
        >>> number_text(-0.0111, signed=True, accuracy=True), number_text(15.97), number_text(100)
        ('-0.011', '16.0', '100')
    """
    if not isinstance(v, int | float):
        return "-"
    sign = "+" if signed else ""
    if accuracy:
        return f"{v:{sign}.3f}"
    # '#' keeps trailing zeros (16.0, not 16), and with them a bare point after integers.
    return f"{v:{sign}#.3g}".rstrip(".")


def best_run(runs: list[RunInfo]) -> RunInfo | None:
    """The good run with the best headline metric (None when no run is good).

    Example:
        >>> best_run([]) is None
        True
    """
    good = [r for r in runs if r.status == "ok"]
    if not good:
        return None
    key, higher = HEADLINE[get_spec(good[0].name).task]
    scored = [r for r in good if isinstance(r.metrics.get(key), int | float)]
    if not scored:
        return good[-1]
    return (max if higher else min)(scored, key=lambda r: r.metrics[key])


def zoo_table(store: Store | None = None, *, include_optional: bool = False) -> list[dict]:
    """Rows of the zoo table: entry, family, task, dataset, versions, status, metrics.

    `status` is the latest version's ('ok', 'failed', 'corrupted') or 'untrained'.

    Example:
        >>> import tempfile
        >>> rows = zoo_table(Store(tempfile.mkdtemp()))
        >>> rows[0]["status"]
        'untrained'
    """
    store = store or Store()
    names = list_models(include_optional=include_optional)
    names += [n for n in store.names() if n not in names and _known(n)]
    rows = []
    for name in names:
        spec = get_spec(name)
        runs = store.runs(name)
        latest = runs[-1] if runs else None
        best = best_run(runs)
        metric, value = (
            headline(spec.task, best.metrics) if best else (HEADLINE[spec.task][0], None)
        )
        rows.append(
            {
                "name": name,
                "family": spec.family,
                "task": spec.task,
                "dataset": spec.dataset,
                "versions": len(runs),
                "latest": latest.ref if latest else "",
                "status": latest.status if latest else "untrained",
                "reason": latest.reason if latest else "",
                "best": best.ref if best else "",
                "metric": metric,
                "value": value,
                # Model vs best baseline with intervals (None: no baselines stored).
                "vs_baseline": comparison(best.metrics) if best else None,
                "bad_versions": [
                    f"{r.ref}: {r.status} ({r.reason})" for r in runs if r.status != "ok"
                ],
            }
        )
    return rows


def _known(name: str) -> bool:
    try:
        get_spec(name)
    except KeyError:
        return False
    return True
