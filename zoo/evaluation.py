"""Test metrics per task and the overfitting diagnosis of a training history.

Pure numpy / scikit-learn: no TensorFlow here, so the dashboard and reports can
recompute any figure from stored predictions and histories.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

# The diagnosis rule, in numbers (documented in the README's "Overfitting diagnosis").
OVERFIT_RISE = 0.10  # validation loss at least 10% above its minimum at the end ...
UNDERFIT_TAIL = 0.2  # ... or still improving by >1% over the last 20% of epochs
UNDERFIT_GAIN = 0.01
UNDERFIT_ACCURACY = 0.80  # or the training accuracy never reached 80%


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


def regression_metrics(
    y_true: np.ndarray, y_pred: np.ndarray, naive: np.ndarray, *, unit: str = ""
) -> dict[str, Any]:
    """MSE, MAE and R² of a forecast, the same for the naive baseline, and the skill.

    `naive` is the baseline's prediction (for the CO2 forecaster: no change from the
    last observed level). skill = 1 - MSE / naive MSE: > 0 means better than naive.

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
        "unit": unit,
        "n_test": int(len(y_true)),
    }


def diagnose(
    history: Mapping[str, Sequence[float]],
    *,
    early_stopped_at: int | None = None,
    restored_epoch: int | None = None,
) -> dict[str, Any]:
    """Overfitting / underfitting diagnosis of a per-epoch history.

    Epochs are 1-based. The rule:
      - overfitting from epoch N+1, where N is the epoch of minimum validation loss, when
        the validation loss ended >= 10% above that minimum while the training loss fell;
      - underfitting when the validation loss was still falling (> 1% over the last 20% of
        epochs, best epoch in that tail, no early stop) or, for classifiers, the training
        accuracy never reached 80%;
      - good fit otherwise.

    Example:
        >>> d = diagnose({"loss": [1, .6, .4, .3, .2], "val_loss": [1, .7, .6, .7, .8]})
        >>> d["verdict"], d["best_epoch"], d["overfit_from"]
        ('overfitting', 3, 4)
    """
    loss = np.asarray(history.get("loss", []), "float64")
    val = np.asarray(history.get("val_loss", []), "float64")
    n = int(min(len(loss), len(val)))
    if n == 0:
        return {"verdict": "unknown", "message": "no validation history to diagnose"}
    loss, val = loss[:n], val[:n]
    best = int(np.nanargmin(val))
    rise = float((val[-1] - val[best]) / abs(val[best])) if val[best] else 0.0
    fall = float((loss[best] - loss[-1]) / abs(loss[best])) if loss[best] else 0.0
    tail = max(1, int(round(n * UNDERFIT_TAIL)))
    start = val[max(0, n - tail - 1)]
    tail_gain = float((start - val[-1]) / abs(start)) if start else 0.0
    acc = history.get("accuracy")
    best_acc = float(np.nanmax(acc)) if acc else None
    out: dict[str, Any] = {
        "epochs_run": n,
        "best_epoch": best + 1,
        "best_val_loss": float(val[best]),
        "final_val_loss": float(val[-1]),
        "final_train_loss": float(loss[-1]),
        "gap_at_end": float(val[-1] - loss[-1]),
        "gap_at_best": float(val[best] - loss[best]),
        "val_rise_after_best": rise,
        "train_fall_after_best": fall,
        "early_stopped": early_stopped_at is not None,
        "early_stopped_at": early_stopped_at,
        "restored_epoch": restored_epoch,
        "overfit_from": None,
    }
    if best < n - 1 and rise >= OVERFIT_RISE and fall > 0:
        out["verdict"] = "overfitting"
        out["overfit_from"] = best + 2
        out["message"] = (
            f"overfitting from epoch {best + 2}: validation loss rose {rise:.0%} above its "
            f"minimum at epoch {best + 1} while training loss fell {fall:.0%}"
        )
        if restored_epoch:
            out["message"] += f"; early stopping restored the epoch-{restored_epoch} weights"
    elif best_acc is not None and best_acc < UNDERFIT_ACCURACY:
        out["verdict"] = "underfitting"
        out["message"] = (
            f"underfitting: training accuracy never exceeded {best_acc:.0%}; train longer, "
            "raise the learning rate or use a bigger model"
        )
    elif early_stopped_at is None and best >= n - tail and tail_gain > UNDERFIT_GAIN and n > 2:
        out["verdict"] = "underfitting"
        out["message"] = (
            f"underfitting: validation loss still fell {tail_gain:.0%} over the last {tail} "
            "epoch(s); train longer (more epochs) or raise the learning rate"
        )
    else:
        out["verdict"] = "good fit"
        out["message"] = (
            f"good fit: best validation loss {val[best]:.4g} at epoch {best + 1}, "
            f"train/validation gap {val[best] - loss[best]:+.3g} there"
        )
        if rise >= OVERFIT_RISE:
            # Validation loss went up but training loss did not fall: noise, not memorizing.
            out["message"] += (
                f"; validation loss later rose {rise:.0%} while training loss did not fall "
                "(a noisy validation split, not overfitting)"
            )
        if restored_epoch:
            out["message"] += f"; early stopping restored the epoch-{restored_epoch} weights"
    return out
