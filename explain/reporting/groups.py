"""The report's Groups section: a classifier's test metrics per group for its default
grouping (`zoo.fairness`), the largest gap of each metric and the one-sentence reading.

Example:
    >>> s = groups_section(zoo.load("mlp-cancer"))
    >>> s["grouping"], s["columns"][:2], len(s["rows"])
    ('mean radius', ['group', 'n'], 2)
"""

from __future__ import annotations

import math
from typing import Any

from zoo import fairness


def groups_section(trained: Any, by: Any = None) -> dict[str, Any] | None:
    """Rows of the per-group table, the gaps table and the reading; None for a model
    that is not a classifier (regression, generation: no groups to compare).

    Example:
        >>> s = groups_section(zoo.load("cnn-digits"))
        >>> s["grouping"], len(s["rows"]), s["gap_columns"][0]
        ('true class', 10, 'metric')
        >>> groups_section(zoo.load("lstm-co2")) is None
        True
    """
    if trained.task != "classification":
        return None
    s = fairness.slices(trained, by=by)
    columns = ["group", "n", *(s.label(k) for k in fairness.METRICS), "note"]
    rows = [
        [
            g.name,
            str(g.n),
            *("–" if math.isnan(v) else f"{v:.3f}" for v in map(g.value, fairness.METRICS)),
            f"under {fairness.MIN_GROUP} samples: too few to conclude" if g.small else "",
        ]
        for g in s.groups
    ]
    gap_columns = ["metric", "gap [95 % interval]", "better group", "worse group"]
    gaps = [
        [
            s.label(k),
            f"{gap.gap:.3f}"
            + (f" [{gap.interval[0]:.3f}, {gap.interval[1]:.3f}]" if gap.interval else ""),
            f"{s.shown(gap.best)} ({gap.best_value:.3f})",
            f"{s.shown(gap.worst)} ({gap.worst_value:.3f})",
        ]
        for k, gap in s.gaps.items()
    ]
    positive = (
        f"of the positive class, {s.positive}"
        if s.positive
        else "macro over the classes (one-vs-rest for the false-positive rate)"
    )
    note = (
        f"{s.how}; {s.n_test} test samples. Recall and false-positive rate: {positive}. "
        "Brier score: mean squared error of the predicted probabilities (lower is better; "
        "calibration and sharpness together). Gaps are max − min over the groups, with 95 % "
        "bootstrap intervals (each group resampled on its own); the largest gap is picked "
        "after the fact, so one whose interval reaches 0 is no evidence of a difference. "
        f"Groups of fewer than {fairness.MIN_GROUP} test samples are too small to conclude "
        "from. The dashboard's Model page offers the other groupings."
    )
    return {
        "grouping": s.grouping,
        "reading": s.reading,
        "columns": columns,
        "rows": rows,
        "gap_columns": gap_columns,
        "gaps": gaps,
        "note": note,
    }
