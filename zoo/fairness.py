"""Fairness slices: a classifier's test metrics per group, and the largest gap between groups.

A *grouping* splits the test split into groups: a tabular feature binned at its
training-split median (or quantiles), in the data's units; the true class (which class is
served worst: the default for images and sequences); or any labels aligned with the test
split (a categorical column of the raw data). Per group, on the test split:

- ``n``, ``accuracy``;
- ``recall``: of the positive class for a binary task (the second class name, as the ROC
  curve uses; ``positive=`` picks another), macro over the classes present in the group
  for more classes;
- ``fpr``, the false-positive rate: of the positive class (binary), macro one-vs-rest over
  the classes the group has negatives of (more classes);
- ``brier``: the Brier score of the predicted probabilities (lower is better; it
  measures calibration and sharpness together).

All four come from scikit-learn (``accuracy_score``, ``recall_score``,
``multilabel_confusion_matrix``, ``brier_score_loss``). For each metric the largest gap
is max − min over the groups where it is defined, with the two groups and a 95 %
percentile bootstrap interval of their difference (each group resampled on its own,
1,000 times, vectorized: milliseconds). A group of fewer than ``MIN_GROUP`` test
samples is flagged as too small to conclude from, and ``reading`` says so in its one
sentence. Computed from one predict call on the test split (or probabilities the caller
already has), so it is cheap enough to run on every page view.

Example:
    >>> s = slices(zoo.load("mlp-cancer"))
    >>> s.grouping, [g.name for g in s.groups]
    ('mean radius', ['mean radius ≤ 13.43', 'mean radius > 13.43'])
    >>> sum(g.n for g in s.groups) == s.n_test == 86
    True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from zoo import _groupings, intervals
from zoo.errors import DataError

TRUE_CLASS = _groupings.TRUE_CLASS
MIN_GROUP = 30  # test samples: a smaller group is flagged as too small to conclude from
METRICS = ("accuracy", "recall", "fpr", "brier")
HIGHER_IS_BETTER = {"accuracy": True, "recall": True, "fpr": False, "brier": False}
# The reading names the largest gap among these (rates on one 0..1 scale); the Brier
# score's gap is in the table.
READ_METRICS = ("accuracy", "recall", "fpr")
_LABELS = {
    "accuracy": "accuracy",
    "recall": "recall",
    "fpr": "false-positive rate",
    "brier": "Brier score",
}


@dataclass(frozen=True)
class Group:
    """One group's test metrics; NaN where a metric is undefined (no positives for recall,
    no negatives for the false-positive rate). `small`: fewer than `MIN_GROUP` samples."""

    name: str
    n: int
    accuracy: float
    recall: float
    fpr: float
    brier: float
    small: bool

    def value(self, metric: str) -> float:
        """The group's value of `metric` (one of `METRICS`).

        Example:
            >>> Group("a", 40, 0.9, 0.8, 0.1, 0.07, False).value("fpr")
            0.1
        """
        return float(getattr(self, metric))


@dataclass(frozen=True)
class Gap:
    """The largest gap of one metric: max − min over the groups where it is defined.

    `best` / `worst` name the two groups (for the false-positive rate and the Brier score
    the lower value is the better); `interval` is the 95 % bootstrap interval of the same
    difference, max − min of these two groups, each group resampled on its own (None when
    no resample defined both)."""

    metric: str
    gap: float
    best: str
    best_value: float
    worst: str
    worst_value: float
    interval: list[float] | None
    small: tuple[str, ...] = ()  # which of the two groups are under MIN_GROUP samples


@dataclass(frozen=True)
class Slices:
    """Per-group test metrics of a classifier, the largest gaps and their reading.

    `grouping` names what splits the test samples (a feature, 'true class', or the
    caller's label); `how` says how the groups were formed; `positive` is the class whose
    recall and false-positive rate are shown (binary tasks; None for more classes).

    Example:
        >>> s = slices(zoo.load("cnn-digits"))
        >>> s.grouping, len(s.groups), s.positive
        ('true class', 10, None)
    """

    ref: str
    grouping: str
    how: str
    kind: str  # 'feature' (binned), 'class' (true class) or 'labels' (given per sample)
    positive: str | None
    n_test: int
    groups: tuple[Group, ...]
    gaps: dict[str, Gap] = field(default_factory=dict)
    reading: str = ""

    def label(self, metric: str) -> str:
        """How a metric is named to a reader (the positive class for a binary task).

        Example:
            >>> slices(zoo.load("mlp-cancer")).label("recall")
            'recall of benign'
        """
        name = _LABELS[metric]
        if metric in ("recall", "fpr"):
            return f"{name} of {self.positive}" if self.positive else f"{name} (macro)"
        return name

    def shown(self, name: str) -> str:
        """A group as a reader sees it: a binned feature names itself, a class or a label
        gets its grouping's name.

        Example:
            >>> s = slices(zoo.load("cnn-digits"))
            >>> s.shown("3"), slices(zoo.load("mlp-cancer")).shown("mean radius > 13.43")
            ('true class 3', 'mean radius > 13.43')
        """
        if self.kind == "class":
            return f"true class {name}"
        if self.kind == "labels":
            return f"{self.grouping} = {name}"
        return name

    def rows(self) -> list[dict[str, Any]]:
        """The per-group table: one dict per group (group, n, the metrics, too small).

        Example:
            >>> r = slices(zoo.load("mlp-cancer")).rows()[0]
            >>> list(r)
            ['group', 'n', 'accuracy', 'recall of benign', 'false-positive rate of benign',
             'Brier score', 'too small']
        """
        return [
            {
                "group": g.name,
                "n": g.n,
                **{self.label(k): _none(g.value(k)) for k in METRICS},
                "too small": g.small,
            }
            for g in self.groups
        ]

    def gap_rows(self) -> list[dict[str, Any]]:
        """The largest gap of each metric: metric, gap [95 % interval], the two groups.

        Example:
            >>> [r["metric"] for r in slices(zoo.load("cnn-digits")).gap_rows()]
            ['accuracy', 'recall (macro)', 'false-positive rate (macro)', 'Brier score']
        """
        out = []
        for k, gap in self.gaps.items():
            # Every group scoring the same names no better or worse one.
            even = "– (all equal)" if gap.gap == 0 else None
            out.append(
                {
                    "metric": self.label(k),
                    "gap": gap.gap,
                    "95 % interval": _interval_text(gap.interval),
                    "better group": even or f"{self.shown(gap.best)} ({gap.best_value:.3f})",
                    "worse group": even or f"{self.shown(gap.worst)} ({gap.worst_value:.3f})",
                    "small groups": ", ".join(map(self.shown, gap.small)),
                }
            )
        return out


def _interval_text(interval: Any) -> str:
    # Two decimals; an end that rounds to zero is 0.00, never -0.00.
    if not interval:
        return "–"
    return "[" + ", ".join(f"{v:.2f}".replace("-0.00", "0.00") for v in interval) + "]"


def groupings(trained: Any) -> list[str]:
    """The named groupings a model's test split can be sliced by; the default first.

    Tabular classifiers: every numeric feature (the first is the default), every
    categorical column of a user's table (by its one-hot inputs), then the true class.
    Image and sequence classifiers: the true class. Other tasks: none.

    Example:
        >>> groupings(zoo.load("mlp-cancer"))[:2], groupings(zoo.load("mlp-cancer"))[-1]
        (['mean radius', 'mean texture'], 'true class')
        >>> groupings(zoo.load("cnn-digits")), groupings(zoo.load("lstm-co2"))
        (['true class'], [])
    """
    if getattr(trained, "task", None) != "classification":
        return []
    numeric, categorical = _groupings.columns(trained.dataset())
    return [*numeric, *categorical, TRUE_CLASS]


def slices(
    trained: Any,
    by: str | Sequence[Any] | np.ndarray | None = None,
    *,
    bins: int = 2,
    label: str = "group",
    positive: str | int | None = None,
    proba: np.ndarray | None = None,
    resamples: int = intervals.RESAMPLES,
    seed: int = 0,
) -> Slices:
    """Test metrics per group of a classifier, the largest gaps and a one-sentence reading.

    Args:
        trained: a classifier from ``zoo.load(name)``.
        by: what groups the test samples: None (the default grouping, the first of
            :func:`groupings`), a feature name (binned at its training-split median, or
            at its ``bins``-quantiles, in the data's units), ``'true class'``, or one
            label per test sample (e.g. a categorical column of the raw test rows).
        bins: quantile bins of a feature (2: the median).
        label: what labels passed as ``by`` are called in the reading.
        positive: a binary task's positive class (name or index; default the second).
        proba: the model's outputs on the test split, if the caller has them (else one
            predict call).
        resamples, seed: the bootstrap of the gaps' intervals.

    Raises ``DataError`` (one line) for a model that is not a classifier and for a
    grouping that does not fit.

    Example:
        >>> s = slices(zoo.load("mlp-cancer"), by="mean radius", bins=4)
        >>> len(s.groups), s.groups[0].name, all(g.small for g in s.groups)
        (4, 'mean radius ≤ 11.71', True)
        >>> s.reading.startswith(("Accuracy", "Recall", "False-positive", "No gap"))
        True
        >>> slices(zoo.load("lstm-co2"))
        Traceback (most recent call last):
        ...
        zoo.errors.DataError: fairness slices need a classifier; lstm-co2@1 is a regression ...
    """
    ref = str(getattr(trained, "ref", "the model"))
    task = getattr(trained, "task", None)
    if task != "classification":
        raise DataError(
            f"fairness slices need a classifier; {ref} is a {task} model "
            f"({getattr(trained, 'family', '?')}): there are no classes to compute accuracy, "
            "recall or false-positive rates of"
        )
    from zoo.evaluation import class_probabilities

    data = trained.dataset()
    y = np.asarray(data.y_test).astype(int).ravel()
    class_names = tuple(data.class_names or trained.class_names or ())
    k = len(class_names)
    raw = trained.predict(data.x_test) if proba is None else proba
    p = class_probabilities(np.asarray(raw))
    if p.ndim == 2 and np.all(p.sum(axis=1) > 0):
        p = p / p.sum(axis=1, keepdims=True)  # float32 softmax rows sum to 1 +- 1e-7
    if p.shape != (len(y), k):
        raise DataError(
            f"proba has shape {p.shape}; expected ({len(y)}, {k}): the model's outputs on "
            f"{ref}'s test split (or leave proba out)"
        )
    pos = _positive(positive, class_names) if k == 2 else None
    group_of, names, grouping, kind, how = _groupings.grouping(
        trained, data, by, bins, label, len(y)
    )
    pred = p.argmax(axis=1)
    groups: list[Group] = []
    members: list[np.ndarray] = []
    for i, name in enumerate(names):
        idx = np.flatnonzero(group_of == i)
        if len(idx) == 0:
            continue  # a bin no test sample falls in
        members.append(idx)
        groups.append(_group_metrics(name, y[idx], pred[idx], p[idx], k, pos))
    gaps = _gaps(groups, members, y, pred, p, k, pos, resamples, seed)
    out = Slices(
        ref=ref,
        grouping=grouping,
        how=how,
        kind=kind,
        positive=class_names[pos] if pos is not None else None,
        n_test=len(y),
        groups=tuple(groups),
        gaps=gaps,
    )
    return _with_reading(out)


# --------------------------------------------------------------------------- positive class


def _positive(positive: str | int | None, class_names: Sequence[str]) -> int:
    if positive is None:
        return 1
    if isinstance(positive, (int, np.integer)) and not isinstance(positive, bool):
        if 0 <= int(positive) < len(class_names):
            return int(positive)
    elif isinstance(positive, str) and positive in class_names:
        return list(class_names).index(positive)
    raise DataError(
        f"positive={positive!r}; expected a class name {list(class_names)} or its index"
    )


# --------------------------------------------------------------------------- metrics


def _group_metrics(
    name: str, y: np.ndarray, pred: np.ndarray, p: np.ndarray, k: int, pos: int | None
) -> Group:
    """One group's metrics, by scikit-learn."""
    from sklearn import metrics as skm

    labels = list(range(k))
    mcm = skm.multilabel_confusion_matrix(y, pred, labels=labels)  # (k, 2, 2): tn fp / fn tp
    negatives = mcm[:, 0, 0] + mcm[:, 0, 1]
    fpr_k = np.where(negatives > 0, mcm[:, 0, 1] / np.maximum(negatives, 1), np.nan)
    if pos is not None:
        has_pos = bool((y == pos).any())
        recall = (
            float(skm.recall_score(y, pred, pos_label=pos, average="binary"))
            if has_pos
            else math.nan
        )
        fpr = float(fpr_k[pos])
    else:
        present = sorted(set(y.tolist()))
        recall = float(skm.recall_score(y, pred, labels=present, average="macro", zero_division=0))
        fpr = float(np.mean(fpr_k[negatives > 0])) if (negatives > 0).any() else math.nan
    return Group(
        name=name,
        n=len(y),
        accuracy=float(skm.accuracy_score(y, pred)),
        recall=recall,
        fpr=fpr,
        brier=float(skm.brier_score_loss(y, p, labels=labels)),
        small=len(y) < MIN_GROUP,
    )


def _bootstrap(
    y: np.ndarray,
    pred: np.ndarray,
    p: np.ndarray,
    k: int,
    pos: int | None,
    resamples: int,
    seed: int,
) -> dict[str, np.ndarray]:
    """Every metric of one group on `resamples` bootstrap resamples of it: (resamples,).

    The same definitions as `_group_metrics`, from resampling counts (a resample's
    metric is a weighted count), so 1,000 resamples are a few matrix products.
    """
    n = len(y)
    onehot = np.eye(k)[y]
    hit = onehot * np.eye(k)[pred]
    predicted = np.eye(k)[pred]
    if pos is not None:
        per_brier = (p[:, 1] - (y == 1)) ** 2  # scikit-learn's binary Brier score
    else:
        per_brier = ((p - onehot) ** 2).sum(axis=1)
    correct = (pred == y).astype(np.float64)
    present = onehot.any(axis=0)
    out: dict[str, list[np.ndarray]] = {m: [] for m in METRICS}
    for idx in intervals.resample_indices(n, resamples, seed):
        # Row r: how often resample r drew each sample.
        flat = (idx + n * np.arange(len(idx))[:, None]).ravel()
        w = np.bincount(flat, minlength=len(idx) * n).reshape(len(idx), n).astype(np.float64)
        t, tp, pp = w @ onehot, w @ hit, w @ predicted
        neg = n - t
        with np.errstate(divide="ignore", invalid="ignore"):
            recall = np.where(t > 0, tp / t, np.nan)
            fpr = np.where(neg > 0, (pp - tp) / neg, np.nan)
        if pos is not None:
            out["recall"].append(recall[:, pos])
            out["fpr"].append(fpr[:, pos])
        else:
            out["recall"].append(_nanmean(recall[:, present]))
            out["fpr"].append(_nanmean(fpr))
        out["accuracy"].append(w @ correct / n)
        out["brier"].append(w @ per_brier / n)
    return {m: np.concatenate(v) for m, v in out.items()}


def _nanmean(a: np.ndarray) -> np.ndarray:
    finite = np.isfinite(a)
    count = finite.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(count > 0, np.where(finite, a, 0.0).sum(axis=1) / count, np.nan)


def _gaps(
    groups: list[Group],
    members: list[np.ndarray],
    y: np.ndarray,
    pred: np.ndarray,
    p: np.ndarray,
    k: int,
    pos: int | None,
    resamples: int,
    seed: int,
) -> dict[str, Gap]:
    boots: dict[int, dict[str, np.ndarray]] = {}

    def boot(i: int) -> dict[str, np.ndarray]:
        if i not in boots:
            idx = members[i]
            boots[i] = _bootstrap(y[idx], pred[idx], p[idx], k, pos, resamples, seed + i)
        return boots[i]

    out: dict[str, Gap] = {}
    for metric in METRICS:
        defined = [i for i, g in enumerate(groups) if np.isfinite(g.value(metric))]
        if len(defined) < 2:
            continue
        values = [groups[i].value(metric) for i in defined]
        hi = defined[int(np.argmax(values))]
        lo = defined[int(np.argmin(values))]
        if hi == lo:  # every group has the same value: name two of them
            hi, lo = defined[0], defined[-1]
        best, worst = (hi, lo) if HIGHER_IS_BETTER[metric] else (lo, hi)
        gap = groups[hi].value(metric) - groups[lo].value(metric)
        interval = (
            intervals.percentile_interval(boot(hi)[metric] - boot(lo)[metric])
            if gap > 0
            else [0.0, 0.0]
        )
        out[metric] = Gap(
            metric=metric,
            gap=float(gap),
            best=groups[best].name,
            best_value=groups[best].value(metric),
            worst=groups[worst].name,
            worst_value=groups[worst].value(metric),
            interval=interval,
            small=tuple(groups[i].name for i in (worst, best) if groups[i].small),
        )
    return out


# --------------------------------------------------------------------------- reading


def reading(s: Slices) -> str:
    """The one sentence that reads a `Slices`: the rate that differs most between groups,
    the two groups with their sizes, the gap with its interval, and whether the groups
    are large enough to conclude from.

    Example:
        >>> g = [Group("short", 12, 0.75, 0.8, 0.3, 0.2, True),
        ...      Group("tall", 60, 0.95, 0.97, 0.05, 0.04, False)]
        >>> gap = Gap("accuracy", 0.2, "tall", 0.95, "short", 0.75, [0.02, 0.45], ("short",))
        >>> s = Slices("m@1", "height", "", "labels", "yes", 72, tuple(g), {"accuracy": gap})
        >>> print(reading(s))
        Accuracy differs most between groups of height: 0.75 for height = short (n=12) vs
        0.95 for height = tall (n=60), a gap of 0.20 (95 % interval 0.02 to 0.45);
        height = short has fewer than 30 test samples, too few to conclude from.
    """
    between = "true classes" if s.kind == "class" else f"groups of {s.grouping}"
    if not s.groups:
        return f"No test sample falls in any of the {between}: nothing to compare."
    rates = [s.gaps[m] for m in READ_METRICS if m in s.gaps]
    if not rates:
        return (
            f"Only one of the {between} ({s.shown(s.groups[0].name)}, n={s.groups[0].n}) "
            "has test samples to compute these metrics on: nothing to compare."
        )
    top = max(rates, key=lambda g: g.gap)
    sizes = {g.name: g.n for g in s.groups}
    if top.gap <= 0:
        small = [s.shown(g.name) for g in s.groups if g.small]
        sentence = (
            f"No gap between the {len(s.groups)} {between}: accuracy, "
            f"{s.label('recall')} and {s.label('fpr')} are the same in each"
        )
        if small:
            sentence += f"; {_names(small)} {_have(small)} fewer than {MIN_GROUP} test samples"
        return sentence + "."
    what = s.label(top.metric)
    sentence = (
        f"{what[0].upper()}{what[1:]} differs most between {between}: "
        f"{top.worst_value:.2f} for {s.shown(top.worst)} (n={sizes[top.worst]}) vs "
        f"{top.best_value:.2f} for {s.shown(top.best)} (n={sizes[top.best]}), "
        f"a gap of {top.gap:.2f}"
    )
    if top.interval:
        lo, hi = top.interval
        sentence += f" (95 % interval {lo:.2f} to {hi:.2f})"
        if lo <= 0:
            sentence += ", which includes 0: no measurable gap on this test split"
    if top.small:
        small = [s.shown(name) for name in top.small]
        sentence += (
            f"; {_names(small)} {_have(small)} fewer than {MIN_GROUP} test samples, "
            "too few to conclude from"
        )
    return sentence + "."


def _with_reading(s: Slices) -> Slices:
    from dataclasses import replace

    return replace(s, reading=reading(s))


def _names(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _have(names: list[str]) -> str:
    return "has" if len(names) == 1 else "have"


def _none(v: float) -> float | None:
    return None if not np.isfinite(v) else v
