"""Test metrics per task and the overfitting diagnosis of a training history.

Pure numpy / scikit-learn: no TensorFlow here, so the layers above (web UI, reports) can
recompute any figure from stored predictions and histories.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

# The diagnosis rule, in numbers (documented in the README's "Overfitting diagnosis").
# Levels are running medians of 3 epochs (runs of 8+ epochs) so that one noisy epoch moves
# nothing; "noise" is the validation loss's own epoch-to-epoch scatter (robust, see _noise).
SMOOTH_FROM = 8  # epochs: shorter runs are read raw
NOISE_K = 3.0  # a change counts only when it exceeds 3x that noise ...
LOSS_FLOOR = 0.02  # ... and 0.02 loss units (the floor for tiny losses)
OVERFIT_RISE = 0.10  # overfitting: validation loss ends >= 10% above its minimum, ...
GAP_RATIO = 2.0  # ... or sits at >= 2x the training loss,
GAP_FLOOR = 0.05  # ... >= 0.05 above it,
ACCURACY_GAP = 0.03  # ... with training accuracy >= 3 points above validation accuracy
UNDERFIT_ACCURACY = 0.80  # underfitting: training accuracy never reached 80%, ...
STALL = 0.05  # ... or (no accuracy logged) the training loss fell < 5% from epoch 1, ...
UNDERFIT_TAIL = 0.2  # ... or the last 20% of epochs still brought >= 10% of the total
UNDERFIT_SHARE = 0.10  # fall of the validation loss (stopped in the steep part)
UNDERFIT_GAIN = 0.01  # "still improving": the tail fall is > 1% of the loss (and > noise)


def class_probabilities(raw: np.ndarray) -> np.ndarray:
    """Model outputs as (n, K) class probabilities (a single sigmoid unit -> 2 columns).

    Example:
        >>> class_probabilities(np.array([[0.25]])).tolist()
        [[0.75, 0.25]]
    """
    raw = np.asarray(raw, dtype="float64")
    if raw.ndim == 2 and raw.shape[1] == 1:
        return np.hstack([1.0 - raw, raw])
    return raw


def classification_metrics(
    y_true: np.ndarray, proba: np.ndarray, class_names: Sequence[str]
) -> dict[str, Any]:
    """Accuracy, macro and per-class precision / recall / F1, confusion matrix, ROC-AUC.

    `proba` is (n, K) class probabilities. ROC-AUC is one-vs-rest (macro) for K > 2 and
    the usual binary AUC of the positive class for K == 2.

    Example:
        >>> m = classification_metrics(np.array([0, 1, 1]),
        ...                            np.array([[.9, .1], [.2, .8], [.6, .4]]), ["a", "b"])
        >>> round(m["accuracy"], 3), m["confusion_matrix"]
        (0.667, [[1, 0], [1, 1]])
    """
    from sklearn import metrics as skm

    y_true = np.asarray(y_true).astype(int).ravel()
    proba = class_probabilities(proba)
    y_pred = proba.argmax(axis=1)
    labels = list(range(len(class_names)))
    p, r, f, support = skm.precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0
    )
    out: dict[str, Any] = {
        "accuracy": float(skm.accuracy_score(y_true, y_pred)),
        "precision_macro": float(p.mean()),
        "recall_macro": float(r.mean()),
        "f1_macro": float(f.mean()),
        "per_class": {
            name: {
                "precision": float(p[i]),
                "recall": float(r[i]),
                "f1": float(f[i]),
                "support": int(support[i]),
            }
            for i, name in enumerate(class_names)
        },
        "confusion_matrix": skm.confusion_matrix(y_true, y_pred, labels=labels).tolist(),
        "n_test": int(len(y_true)),
    }
    present = np.unique(y_true)
    if len(present) == len(labels) and len(labels) >= 2:
        if len(labels) == 2:
            out["roc_auc"] = float(skm.roc_auc_score(y_true, proba[:, 1]))
        else:
            out["roc_auc"] = float(
                skm.roc_auc_score(y_true, proba, multi_class="ovr", average="macro")
            )
    return out


def test_split_metrics(data: Any, task: str, raw: np.ndarray) -> dict[str, Any]:
    """A model's test metrics from its outputs `raw` on `data.x_test` (any `Dataset`):
    classification metrics, or regression metrics in data units with the naive baseline
    of `naive_baseline` (what `zoo.training.test_metrics` computes after predicting).

    Example:
        >>> from zoo.data import load_dataset
        >>> d = load_dataset("cancer")
        >>> m = test_split_metrics(d, "classification", np.eye(2)[d.y_test])
        >>> m["accuracy"], m["n_test"]
        (1.0, 86)
    """
    raw = np.asarray(raw)
    if task == "classification":
        return classification_metrics(data.y_test, raw, data.class_names or ())
    y_true = data.to_units(np.ravel(data.y_test))
    y_pred = data.to_units(np.ravel(raw))
    rule, naive = naive_baseline(data)
    return regression_metrics(y_true, y_pred, naive, unit=data.unit, naive_rule=rule)


NO_CHANGE, TRAINING_MEAN = "no change", "training mean"


def forecasts(data: Any) -> bool:
    """Whether `data` (a loaded `Dataset`) is a forecaster's: its target is a series' next
    change, its test split in time order (co2, a user's series), not rows of a table.

    Example:
        >>> from zoo.data import load_dataset
        >>> forecasts(load_dataset("co2")), forecasts(load_dataset("cancer"))
        (True, False)
    """
    from zoo.data import facts

    return facts(data.name).kind == "forecast"


def time_step(data: Any) -> str:
    """What one step of a forecaster's series is, from the spacing of its test dates:
    "day", "week", "month", "quarter" or "year"; "step" when the series has no dates
    (a user's series added without a date column) or an irregular spacing.

    Example:
        >>> from zoo.data import load_dataset
        >>> time_step(load_dataset("co2"))
        'week'
    """
    dates = (getattr(data, "extra", None) or {}).get("dates_test")
    if dates is None or len(dates) < 2:
        return "step"
    try:
        days = float(np.median(np.diff(np.asarray(dates, "datetime64[D]")).astype(np.float64)))
    except (TypeError, ValueError):
        return "step"
    for word, low, high in (
        ("day", 1, 1),
        ("week", 7, 7),
        ("month", 28, 31),
        ("quarter", 89, 92),
        ("year", 365, 366),
    ):
        if low <= days <= high:
            return word
    return "step"


def naive_baseline(data: Any) -> tuple[str, np.ndarray]:
    """The naive prediction a regression's test split is scored against, in data units,
    and its rule: a forecaster (its target is the series' next change) forecasts no
    change (0); any other regression (a user's table, say) predicts the mean target of
    the training and validation splits for every sample (scikit-learn's
    `DummyRegressor`), never looking at the test split. Skill is 1 - MSE / its MSE.

    Example:
        >>> from zoo.data import load_dataset
        >>> rule, naive = naive_baseline(load_dataset("co2"))
        >>> rule, float(abs(naive).max())
        ('no change', 0.0)
    """
    n = len(data.y_test)
    if forecasts(data):
        return NO_CHANGE, np.zeros(n)
    seen = np.concatenate([np.ravel(data.y_train), np.ravel(data.y_val)])
    return TRAINING_MEAN, np.full(n, float(np.mean(data.to_units(seen))))


def regression_metrics(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    naive: np.ndarray,
    *,
    unit: str = "",
    naive_rule: str = NO_CHANGE,
) -> dict[str, Any]:
    """MSE, MAE and R² of a regression, the same for the naive baseline, and the skill.

    `naive` is the baseline's prediction and `naive_rule` what it is (`naive_baseline`:
    for the CO2 forecaster no change from the last observed level, for a table the
    training mean), kept as `naive`. skill = 1 - MSE / naive MSE: > 0 means better.

    Example:
        >>> m = regression_metrics(np.array([1., 2.]), np.array([1., 2.5]), np.zeros(2))
        >>> m["mse"], m["naive_mse"], m["beats_naive"]
        (0.125, 2.5, True)
    """
    from sklearn import metrics as skm

    y_true, y_pred, naive = (np.asarray(a, "float64").ravel() for a in (y_true, y_pred, naive))
    mse = float(skm.mean_squared_error(y_true, y_pred))
    naive_mse = float(skm.mean_squared_error(y_true, naive))
    return {
        "mse": mse,
        "mae": float(skm.mean_absolute_error(y_true, y_pred)),
        "r2": float(skm.r2_score(y_true, y_pred)),
        "naive_mse": naive_mse,
        "naive_mae": float(skm.mean_absolute_error(y_true, naive)),
        "naive_r2": float(skm.r2_score(y_true, naive)),
        "skill": float(1.0 - mse / naive_mse) if naive_mse > 0 else 0.0,
        "beats_naive": bool(mse < naive_mse),
        "naive": naive_rule,
        "unit": unit,
        "n_test": int(len(y_true)),
    }


def _smooth(v: np.ndarray) -> np.ndarray:
    """Running median of 3 epochs (centred) for runs of SMOOTH_FROM+ epochs, else `v`.

    Example:
        >>> _smooth(np.array([4.0, 1.0, 9.0, 1.0, 1.0, 1.0, 1.0, 1.0])).tolist()[:4]
        [2.5, 4.0, 1.0, 1.0]
    """
    if len(v) < SMOOTH_FROM:
        return v.copy()
    return np.array([np.median(v[max(0, i - 1) : i + 2]) for i in range(len(v))])


def _level(v: np.ndarray) -> float:
    """Where a curve ended: the median of its last 3 epochs (runs of SMOOTH_FROM+ epochs)."""
    return float(np.median(v[-3:]) if len(v) >= SMOOTH_FROM else v[-1])


def _noise(v: np.ndarray) -> float:
    """Epoch-to-epoch noise of a curve: a robust standard deviation of one epoch's value.

    1.4826 x the median absolute deviation of the epoch-to-epoch changes over the second
    half of the run (the median change is taken out, so a steady trend is not noise),
    divided by sqrt(2) because a change is the difference of two noisy values.

    Example:
        >>> round(_noise(np.array([1.0, 0.5, 0.3, 0.31, 0.29, 0.31, 0.29, 0.3])), 3)
        0.016
    """
    d = np.diff(v[max(0, len(v) // 2 - 1) :])
    if len(d) < 3:
        d = np.diff(v)
    if len(d) < 2:
        return 0.0
    return float(1.4826 * np.median(np.abs(d - np.median(d))) / np.sqrt(2))


def _trend(v: np.ndarray) -> tuple[float, float]:
    """Theil-Sen line through a curve: (slope per epoch, its value at the last epoch).

    The median of the pairwise slopes, robust to a noisy epoch and without the lag of a
    running median on a curve that still falls.

    Example:
        >>> [round(x, 6) for x in _trend(np.array([1.0, 0.8, 5.0, 0.4]))]
        [-0.2, 0.4]
    """
    t = np.arange(len(v))
    i, j = np.triu_indices(len(v), k=1)
    slope = float(np.median((v[j] - v[i]) / (j - i)))
    return slope, float(np.median(v - slope * t) + slope * t[-1])


def _pct(x: float) -> str:
    return f"{x:.0%}" if abs(x) >= 0.01 else f"{x:.1%}"


def diagnose(
    history: Mapping[str, Sequence[float]],
    *,
    early_stopped_at: int | None = None,
    restored_epoch: int | None = None,
) -> dict[str, Any]:
    """Overfitting / underfitting diagnosis of a per-epoch history, and what was stored.

    Epochs are 1-based. Levels are running medians of 3 epochs; sigma is the validation
    loss's own epoch-to-epoch noise (`_noise`); a change is significant when it exceeds
    max(3 sigma, 0.02). The rule, first match wins (numbers: the module constants,
    explained in the README's "Overfitting diagnosis"):
      - underfitting when a classifier's training accuracy never reached 80%, or (no
        accuracy logged) the training loss fell < 5% from epoch 1;
      - overfitting when (a) the validation loss rose >= 10% and significantly above its
        minimum at epoch N while the training loss kept falling, and ends significantly
        above the training loss: overfitting from epoch N+1; or (b) it sits at >= 2x the
        training loss and > max(3 sigma, 0.05) above it, with the training accuracy >= 3
        points above the validation accuracy where accuracy is logged: overfitting from
        the epoch that gap opened for good;
      - underfitting when the validation loss still fell significantly and by > 1% over
        the last 20% of epochs and that tail brought >= 10% of its whole fall (the run
        stopped in the steep part of the curve);
      - good fit otherwise, "still improving" (`still_improving`) when the validation
        loss still fell that way in the tail, but by less than that.
    The message ends with the epoch whose weights were stored (`stored_epoch`): the one
    early stopping restored, else the last.

    Example:
        >>> d = diagnose({"loss": [1, .6, .4, .3, .2], "val_loss": [1, .7, .6, .7, .8]})
        >>> d["verdict"], d["best_epoch"], d["overfit_from"], d["stored_epoch"]
        ('overfitting', 3, 4, 5)
    """
    loss = np.asarray(history.get("loss", []), "float64")
    val = np.asarray(history.get("val_loss", []), "float64")
    n = int(min(len(loss), len(val)))
    if n == 0:
        return {"verdict": "unknown", "message": "no validation history to diagnose"}
    loss, val = loss[:n], val[:n]
    acc, val_acc = (
        np.asarray(history.get(k, []) if history.get(k) is not None else [], "float64")[:n]
        for k in ("accuracy", "val_accuracy")
    )
    has_acc = len(acc) == n and len(val_acc) == n
    best = int(np.nanargmin(val))
    s_val, s_loss = _smooth(val), _smooth(loss)
    sigma = _noise(val)
    val_end, loss_end = _level(val), _level(loss)
    scale = max(abs(val_end), 1e-12)  # relative changes of the validation loss
    gap_end = val_end - loss_end
    # (a) the validation loss rose above its (smoothed) minimum while training loss fell.
    b = int(np.nanargmin(s_val))
    rise_abs = val_end - float(s_val[b])
    rise = rise_abs / abs(s_val[b]) if s_val[b] else 0.0
    fall = float((s_loss[b] - loss_end) / abs(s_loss[b])) if s_loss[b] else 0.0
    significant = max(NOISE_K * sigma, LOSS_FLOOR)
    rose = best < n - 1 and rise >= OVERFIT_RISE and rise_abs > significant
    rising = rose and fall > 0 and gap_end > significant
    # (b) the generalization gap, in loss and (where logged) in accuracy.
    acc_gap = _level(acc) - _level(val_acc) if has_acc else None
    acc_floor = max(NOISE_K * _noise(val_acc), ACCURACY_GAP) if has_acc else 0.0

    def loss_gap(v: Any, t: Any) -> Any:
        return (v >= GAP_RATIO * t) & (v - t > max(NOISE_K * sigma, GAP_FLOOR))

    wide_loss = bool(loss_gap(val_end, loss_end))
    wide = wide_loss and (acc_gap is None or acc_gap >= acc_floor)
    # The tail: did the validation loss still fall over the last 20% of epochs?
    tail = min(max(2, int(round(n * UNDERFIT_TAIL))), n - 1)
    tail_fall = total_fall = 0.0
    if tail >= 1:
        slope, end = _trend(val[n - 1 - tail :])
        tail_fall = -slope * tail
        total_fall = float(np.nanmax(s_val[: n - tail])) - end
    share = tail_fall / total_fall if total_fall > 0 else 0.0
    falling = early_stopped_at is None and tail_fall > max(
        NOISE_K * sigma, UNDERFIT_GAIN * abs(val_end)
    )
    stalled = n >= 3 and loss[0] > 0 and loss_end >= (1 - STALL) * loss[0]
    best_acc = float(np.nanmax(acc)) if len(acc) else None
    stored = int(restored_epoch) if restored_epoch else n
    stopped = early_stopped_at is not None
    out: dict[str, Any] = {
        "epochs_run": n,
        "best_epoch": best + 1,
        "best_val_loss": float(val[best]),
        "final_val_loss": float(val[-1]),
        "final_train_loss": float(loss[-1]),
        "gap_at_end": float(val[-1] - loss[-1]),
        "gap_at_best": float(val[best] - loss[best]),
        "val_rise_after_best": float(rise),
        "train_fall_after_best": float(fall),
        "val_noise": sigma,
        "accuracy_gap": acc_gap,
        "tail_epochs": tail,
        "val_tail_fall": tail_fall / scale,
        "val_tail_share": share,
        "still_improving": False,
        "early_stopped": early_stopped_at is not None,
        "early_stopped_at": early_stopped_at,
        "restored_epoch": restored_epoch,
        "stored_epoch": stored,
        "overfit_from": None,
    }
    noise = f"noise ±{sigma:.2g}"
    accs = (
        f"; training accuracy {_level(acc):.1%}, validation {_level(val_acc):.1%}"
        if has_acc
        else ""
    )
    if n == 1:
        out["verdict"] = "unknown"
        msg = "one epoch is too few to diagnose; train for at least 3 epochs"
    elif best_acc is not None and best_acc < UNDERFIT_ACCURACY:
        out["verdict"] = "underfitting"
        msg = f"underfitting: training accuracy never exceeded {best_acc:.0%}"
        if stalled:
            moved = "did not fall" if loss_end >= loss[0] else "barely moved"
            msg += (
                f" and the training loss {moved} ({loss[0]:.4g} -> {loss_end:.4g} in "
                f"{n} epochs): the learning rate is far too small, or the model too small "
                "(or its units dead) to learn the task"
            )
        else:
            msg += "; train longer, raise the learning rate or use a bigger model"
        msg += _stored(stored, n, restored_epoch, stopped, val, loss)
    elif best_acc is None and stalled:
        out["verdict"] = "underfitting"
        msg = (
            f"underfitting: training loss barely moved ({loss[0]:.4g} -> {loss_end:.4g}, "
            f"-{_pct((loss[0] - loss_end) / loss[0])} in {n} epochs): raise the learning "
            "rate or use a bigger model"
        ) + _stored(stored, n, restored_epoch, stopped, val, loss)
    elif rising or wide:
        out["verdict"] = "overfitting"
        if rising:
            start = best + 2
            msg = (
                f"overfitting from epoch {start}: validation loss rose {rise:.0%} above its "
                f"minimum at epoch {best + 1} ({s_val[b]:.3g} -> {val_end:.3g}, {noise}) while "
                f"training loss fell {fall:.0%} (to {loss_end:.3g}){accs}"
            )
        else:
            open_ = loss_gap(s_val, s_loss)
            if has_acc:
                open_ &= _smooth(acc) - _smooth(val_acc) >= acc_floor
            closed = np.flatnonzero(~open_[:-1])
            start = int(closed[-1]) + 2 if len(closed) else 1
            msg = (
                f"overfitting from epoch {start}: training loss fell to {loss_end:.3g} while "
                f"validation loss stays {val_end / max(loss_end, 1e-12):.3g}x higher at "
                f"{val_end:.3g} (gap {gap_end:+.3g}, {noise}){accs}: the network memorizes "
                "its training set"
            )
        out["overfit_from"] = start
        msg += _stored(stored, n, restored_epoch, stopped, val, loss, overfit_from=start)
        if stored >= start:
            msg += (
                "; retrain with early stopping to keep the best epoch, or "
                if rising and not restored_epoch
                else "; "
            ) + "add dropout, L2, augmentation or more training data"
    elif falling and share >= UNDERFIT_SHARE:
        out["verdict"] = "underfitting"
        out["still_improving"] = True
        msg = (
            f"underfitting: validation loss still fell {_pct(tail_fall / scale)} over the "
            f"last {tail} epochs ({noise}), {share:.0%} of its whole fall: the run stopped "
            "in the steep part of the curve; train longer (more epochs) or raise the "
            "learning rate"
        ) + _stored(stored, n, restored_epoch, stopped, val, loss)
    else:
        out["verdict"] = "good fit"
        out["still_improving"] = bool(falling)
        msg = (
            f"{'good fit, still improving' if falling else 'good fit'}: best validation "
            f"loss {val[best]:.4g} at epoch {best + 1}, validation − training loss "
            f"{val[best] - loss[best]:+.3g} there ({noise}){accs}"
        )
        if falling:
            msg += (
                f"; validation loss still fell {_pct(tail_fall / scale)} over the last "
                f"{tail} epochs ({share:.0%} of its whole fall): more epochs would gain a little"
            )
        if rise >= OVERFIT_RISE and not rose:
            msg += (
                f"; validation loss ended {rise:.0%} ({rise_abs:+.2g}) above its smoothed "
                f"minimum, less than max(3 x noise, {LOSS_FLOOR}) = {significant:.2g}: a "
                "noisy validation split, not overfitting"
            )
        elif rose and fall <= 0:
            msg += (
                f"; validation loss later rose {rise:.0%} while training loss did not "
                "fall: a noisy validation split, not overfitting"
            )
        elif rose and gap_end <= 0:
            msg += (
                f"; validation loss rose {rise:.0%} above its minimum but stays below the "
                "training loss (which dropout, augmentation and weight penalties raise): "
                "watch it, not overfitting yet"
            )
        elif rose:
            msg += (
                f"; validation loss rose {rise:.0%} above its minimum but ends within "
                f"{significant:.2g} of the training loss (gap {gap_end:+.2g}): watch it, "
                "not overfitting yet"
            )
        elif wide_loss:
            msg += (
                f"; validation loss is {val_end / max(loss_end, 1e-12):.3g}x the training "
                f"loss, but the accuracies agree within {acc_floor:.0%}: overconfident on a "
                "few validation samples, not memorizing"
            )
        msg += _stored(stored, n, restored_epoch, stopped, val, loss)
    out["message"] = msg
    return out


def _stored(
    stored: int,
    n: int,
    restored: int | None,
    stopped: bool,
    val: np.ndarray,
    loss: np.ndarray,
    *,
    overfit_from: int | None = None,
) -> str:
    """The clause saying which epoch's weights the stored model has, and how they fit."""
    there = f"validation loss {val[stored - 1]:.3g}, training loss {loss[stored - 1]:.3g}"
    when = ""
    if overfit_from is not None:
        when = ", before the overfitting" if stored < overfit_from else ", overfit"
    if restored and restored < n:
        how = "" if stopped else " at the end of the run (its patience never ran out)"
        return (
            f"; early stopping restored the epoch-{restored} weights{how}: the model you "
            f"load is from epoch {restored}{when} ({there})"
        )
    best = ", its best" if restored else ""
    return f"; the model you load is from the last epoch, {n}{best}{when} ({there})"
