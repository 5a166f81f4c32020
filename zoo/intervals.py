"""95 % bootstrap intervals for test metrics, and the words a comparison earns.

Percentile bootstrap over test samples: every resample draws the test split's n samples
with replacement (one seeded index matrix, shared by every metric, so intervals of the
same run are consistent), recomputes the metric, and the interval is the 2.5th and 97.5th
percentile of those values. A *paired* interval for model − baseline recomputes both on
the same resampled samples, so what the two get right or wrong together cancels out.

The words follow the paired interval and nothing else: "beats the baseline" when it
excludes 0 in the model's favour, "the baseline is better" when it excludes 0 the other
way, "no measurable difference" when it contains 0.

Pure numpy, vectorized over resamples (1,000 resamples of a 270-sample test split take
milliseconds), so training can afford them for every version.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

LEVEL = 0.95
RESAMPLES = 1000
METHOD = "percentile bootstrap over test samples"
BEATS = "beats the baseline"
SAME = "no measurable difference"
WORSE = "the baseline is better"
# Resamples per vectorized chunk: bounds memory at CHUNK x n indices for large test splits.
CHUNK = 100

Interval = list[float]


def resample_indices(n: int, resamples: int = RESAMPLES, seed: int = 0) -> Iterator[np.ndarray]:
    """Bootstrap index matrices `(chunk, n)`, `resamples` rows in all; the same for a seed.

    Example:
        >>> [c.shape for c in resample_indices(5, resamples=150, seed=0)]
        [(100, 5), (50, 5)]
    """
    rng = np.random.default_rng(seed)
    for start in range(0, resamples, CHUNK):
        yield rng.integers(0, n, size=(min(CHUNK, resamples - start), n))


def percentile_interval(values: np.ndarray, level: float = LEVEL) -> Interval | None:
    """The central `level` percentile interval of bootstrap values (NaNs dropped).

    None when no resample gave a finite value (an undefined metric).

    Example:
        >>> [round(v, 6) for v in percentile_interval(np.arange(101.0))]
        [2.5, 97.5]
    """
    values = np.asarray(values, np.float64)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return None
    tail = (1.0 - level) / 2 * 100
    lo, hi = np.percentile(values, [tail, 100 - tail])
    return [float(lo), float(hi)]


def verdict(interval: Interval | None, *, higher_is_better: bool) -> str:
    """The words an interval of model − baseline earns.

    Example:
        >>> verdict([0.01, 0.03], higher_is_better=True)
        'beats the baseline'
        >>> verdict([-0.02, 0.01], higher_is_better=True)
        'no measurable difference'
        >>> verdict([0.01, 0.03], higher_is_better=False)  # e.g. a larger MSE
        'the baseline is better'
    """
    if interval is None:
        return SAME
    lo, hi = interval
    if lo > 0:
        return BEATS if higher_is_better else WORSE
    if hi < 0:
        return WORSE if higher_is_better else BEATS
    return SAME


def bootstrap(
    statistic: Callable[[np.ndarray], np.ndarray],
    n: int,
    *,
    resamples: int = RESAMPLES,
    seed: int = 0,
    level: float = LEVEL,
) -> Interval | None:
    """Percentile interval of `statistic(indices)`, which maps `(chunk, n)` index rows to
    one value per row.

    Example:
        >>> x = np.arange(10.0)
        >>> lo, hi = bootstrap(lambda idx: x[idx].mean(axis=1), len(x), seed=0)
        >>> bool(lo < x.mean() < hi)
        True
    """
    values = np.concatenate([statistic(idx) for idx in resample_indices(n, resamples, seed)])
    return percentile_interval(values, level)


def mean_interval(
    per_sample: np.ndarray, *, resamples: int = RESAMPLES, seed: int = 0, level: float = LEVEL
) -> Interval | None:
    """Interval of the mean of per-sample values (correct 0/1 -> accuracy, squared error ->
    MSE; model − baseline differences -> the paired interval).

    Example:
        >>> mean_interval(np.ones(50))
        [1.0, 1.0]
    """
    v = np.asarray(per_sample, np.float64).ravel()
    return bootstrap(
        lambda idx: v[idx].mean(axis=1), len(v), resamples=resamples, seed=seed, level=level
    )


def paired_difference(
    model: np.ndarray,
    baseline: np.ndarray,
    *,
    higher_is_better: bool,
    resamples: int = RESAMPLES,
    seed: int = 0,
    level: float = LEVEL,
) -> dict[str, Any]:
    """Model − baseline on a mean-type metric from per-sample values, its paired interval
    and the words it earns.

    Example:
        >>> model = np.r_[np.ones(95), np.zeros(5)]     # 95 % correct
        >>> baseline = np.r_[np.ones(60), np.zeros(40)]  # 60 % correct
        >>> d = paired_difference(model, baseline, higher_is_better=True)
        >>> round(d["difference"], 2), d["verdict"]
        (0.35, 'beats the baseline')
    """
    diff = np.asarray(model, np.float64).ravel() - np.asarray(baseline, np.float64).ravel()
    interval = mean_interval(diff, resamples=resamples, seed=seed, level=level)
    return {
        "difference": float(diff.mean()),
        "interval": interval,
        "verdict": verdict(interval, higher_is_better=higher_is_better),
    }


def classification_intervals(
    y_true: np.ndarray,
    proba: np.ndarray,
    n_classes: int,
    *,
    resamples: int = RESAMPLES,
    seed: int = 0,
    level: float = LEVEL,
) -> dict[str, Interval | None]:
    """Intervals of accuracy, macro precision / recall / F1 and ROC-AUC (as
    `zoo.evaluation.classification_metrics` computes them) from (n, K) probabilities.

    Per resample, the per-class counts are one matrix product of the resample's sample
    counts with the samples' (true, predicted) indicators; ROC-AUC is the weighted
    Mann-Whitney statistic (one-vs-rest, macro, for K > 2).

    Example:
        >>> y = np.array([0, 1] * 50)
        >>> p = np.eye(2)[y] * 0.8 + 0.1  # always right, confidently
        >>> classification_intervals(y, p, 2)["accuracy"]
        [1.0, 1.0]
    """
    from zoo.evaluation import class_probabilities

    y = np.asarray(y_true).astype(int).ravel()
    proba = class_probabilities(proba)
    pred = proba.argmax(axis=1)
    n = len(y)
    true_1h = np.eye(n_classes)[y]
    pred_1h = np.eye(n_classes)[pred]
    hit_1h = true_1h * pred_1h
    names = ("accuracy", "precision_macro", "recall_macro", "f1_macro")
    values: dict[str, list[np.ndarray]] = {k: [] for k in (*names, "roc_auc")}
    with_auc = n_classes >= 2 and len(np.unique(y)) == n_classes
    for idx in resample_indices(n, resamples, seed):
        counts = _counts(idx, n)  # (chunk, n): how often each sample was drawn
        tp, t, p = counts @ hit_1h, counts @ true_1h, counts @ pred_1h
        precision, recall = _ratio(tp, p), _ratio(tp, t)
        f1 = _ratio(2 * tp, t + p)
        values["accuracy"].append(tp.sum(axis=1) / n)
        values["precision_macro"].append(precision.mean(axis=1))
        values["recall_macro"].append(recall.mean(axis=1))
        values["f1_macro"].append(f1.mean(axis=1))
        if with_auc:
            if n_classes == 2:
                values["roc_auc"].append(weighted_auc(proba[:, 1], y == 1, counts))
            else:
                per_class = [weighted_auc(proba[:, k], y == k, counts) for k in range(n_classes)]
                values["roc_auc"].append(np.mean(per_class, axis=0))
    return {
        k: percentile_interval(np.concatenate(v), level) if v else None for k, v in values.items()
    }


def regression_intervals(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    naive: np.ndarray,
    *,
    resamples: int = RESAMPLES,
    seed: int = 0,
    level: float = LEVEL,
) -> dict[str, Interval | None]:
    """Intervals of MSE, MAE, R², the naive forecast's MSE / MAE / R² and the skill
    (1 − MSE / naive MSE), as `zoo.evaluation.regression_metrics` computes them.

    Example:
        >>> y = np.linspace(-1, 1, 40)
        >>> iv = regression_intervals(y, y, np.zeros(40))
        >>> iv["mse"], iv["skill"]
        ([0.0, 0.0], [1.0, 1.0])
    """
    y, f, z = (np.asarray(a, np.float64).ravel() for a in (y_true, y_pred, naive))
    n = len(y)
    se, ae, nse, nae = (f - y) ** 2, np.abs(f - y), (z - y) ** 2, np.abs(z - y)
    out: dict[str, list[np.ndarray]] = {
        k: [] for k in ("mse", "mae", "r2", "naive_mse", "naive_mae", "naive_r2", "skill")
    }
    for idx in resample_indices(n, resamples, seed):
        mse, naive_mse = se[idx].mean(axis=1), nse[idx].mean(axis=1)
        yy = y[idx]
        sst = ((yy - yy.mean(axis=1, keepdims=True)) ** 2).mean(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            out["r2"].append(np.where(sst > 0, 1 - mse / sst, np.nan))
            out["naive_r2"].append(np.where(sst > 0, 1 - naive_mse / sst, np.nan))
            out["skill"].append(np.where(naive_mse > 0, 1 - mse / naive_mse, np.nan))
        out["mse"].append(mse)
        out["naive_mse"].append(naive_mse)
        out["mae"].append(ae[idx].mean(axis=1))
        out["naive_mae"].append(nae[idx].mean(axis=1))
    return {k: percentile_interval(np.concatenate(v), level) for k, v in out.items()}


def frechet_bootstrap(
    real: np.ndarray,
    fakes: Sequence[np.ndarray],
    *,
    resamples: int = RESAMPLES,
    seed: int = 0,
) -> np.ndarray:
    """Fréchet distances of resampled feature sets: `(len(fakes), resamples)`.

    Every resample draws the real features and each fake set with replacement, the same
    real rows for every fake set (paired: model − baseline subtracts two distances to the
    same real sample); fake sets of equal size share their rows too. The distance is
    `zoo.models.gan.frechet_distance`'s formula, with the trace of the product's square
    root computed as the eigenvalues of the symmetric `S_r^½ S_f S_r^½` (batched, so
    1,000 resamples of 64-dimensional features take about a second). Resampling repeats
    samples, which spreads the covariances: bootstrap distances sit somewhat above the
    full-sample one, for model and baseline alike.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> real = rng.normal(size=(200, 3))
        >>> d = frechet_bootstrap(real, [real + 2.0, real.copy()], resamples=200)
        >>> d.shape, bool((d[0] > d[1]).all())
        ((2, 200), True)
    """
    real = np.asarray(real, np.float64)
    fakes = [np.asarray(f, np.float64) for f in fakes]
    rng = np.random.default_rng(seed)
    out = np.empty((len(fakes), resamples))
    for start in range(0, resamples, CHUNK):
        c = min(CHUNK, resamples - start)
        mu_r, cov_r = _moments(real, rng.integers(0, len(real), size=(c, len(real))))
        w, v = np.linalg.eigh(cov_r)
        root_r = (v * np.sqrt(np.clip(w, 0, None))[:, None, :]) @ np.swapaxes(v, 1, 2)
        drawn: dict[int, np.ndarray] = {}
        for i, fake in enumerate(fakes):
            if len(fake) not in drawn:
                drawn[len(fake)] = rng.integers(0, len(fake), size=(c, len(fake)))
            mu_f, cov_f = _moments(fake, drawn[len(fake)])
            cross = np.linalg.eigvalsh(root_r @ cov_f @ root_r)
            value = (
                ((mu_r - mu_f) ** 2).sum(axis=1)
                + np.trace(cov_r, axis1=1, axis2=2)
                + np.trace(cov_f, axis1=1, axis2=2)
                - 2 * np.sqrt(np.clip(cross, 0, None)).sum(axis=1)
            )
            out[i, start : start + c] = np.clip(value, 0, None)
    return out


def _moments(x: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # Mean and covariance (ddof 1, like np.cov) of every resample: (c, d), (c, d, d).
    xs = x[idx]
    mu = xs.mean(axis=1)
    xc = xs - mu[:, None, :]
    return mu, np.swapaxes(xc, 1, 2) @ xc / (idx.shape[1] - 1)


def weighted_auc(score: np.ndarray, positive: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """ROC-AUC of `score` for the `positive` samples, once per row of sample `counts`.

    The Mann-Whitney form: the share of (positive, negative) pairs the score orders
    correctly, ties counting one half; NaN for a row without both classes.

    Example:
        >>> s, pos = np.array([0.1, 0.4, 0.35, 0.8]), np.array([False, False, True, True])
        >>> weighted_auc(s, pos, np.ones((1, 4))).tolist()  # sklearn: 0.75
        [0.75]
    """
    order = np.argsort(score, kind="stable")
    s, pos = np.asarray(score)[order], np.asarray(positive, bool)[order]
    w = np.asarray(counts, np.float64)[:, order]
    # Tied scores form one group: pairs inside a group count one half.
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    neg_g = np.add.reduceat(w * ~pos, starts, axis=1)
    pos_g = np.add.reduceat(w * pos, starts, axis=1)
    below = np.cumsum(neg_g, axis=1) - neg_g
    pairs = pos_g.sum(axis=1) * neg_g.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(pairs > 0, (pos_g * (below + 0.5 * neg_g)).sum(axis=1) / pairs, np.nan)


def _counts(idx: np.ndarray, n: int) -> np.ndarray:
    # Row r holds how often resample r drew each of the n samples.
    flat = (idx + n * np.arange(len(idx))[:, None]).ravel()
    return np.bincount(flat, minlength=len(idx) * n).reshape(len(idx), n).astype(np.float64)


def _ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    # sklearn's zero_division=0: a class never predicted (or absent) scores 0.
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b > 0, a / b, 0.0)
