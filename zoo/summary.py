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
