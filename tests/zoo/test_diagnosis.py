"""The overfitting diagnosis on runs built to be unambiguous.

Real Keras models on the zoo's real bundled data, trained small enough for CI, plus
synthetic histories for the cases a real run cannot pin down (noise on a tiny loss).
Every verdict here is one a practitioner would sign: the setups are the textbook ones.
"""

from __future__ import annotations

import numpy as np
import pytest

import zoo
from zoo.evaluation import OVERFIT_RISE, diagnose


def _diagnosed(tmp_path, verdict, name, **options):
    """Train `name` into `tmp_path` with `options`: the run and its diagnosis, which must
    be `verdict` (else the test fails with the diagnosis's message)."""
    run = zoo.train(name, store=tmp_path, **options)
    d = run.metrics["diagnosis"]
    assert d["verdict"] == verdict, d["message"]
    return run, d


# --- real runs: overfitting -----------------------------------------------------------


def test_overfitting_when_the_validation_loss_rises(tmp_path, overfit_mlp):
    # the overfitting setup, many epochs, no early stopping: validation loss bottoms out at
    # epoch ~3 and then climbs while training loss goes to ~0.
    _, d = _diagnosed(
        tmp_path, "overfitting", "mlp-cancer", epochs=20, early_stopping=0, **overfit_mlp
    )
    assert d["overfit_from"] == d["best_epoch"] + 1 and d["best_epoch"] <= 10
    # The rise rule fired: the validation loss climbed past the threshold after its best
    # (more than doubled on TensorFlow; +31 % on JAX, whose run takes another path).
    assert d["val_rise_after_best"] > OVERFIT_RISE
    assert d["final_train_loss"] < 1e-3 and d["gap_at_end"] > 0.1
    assert d["stored_epoch"] == 20 and d["restored_epoch"] is None
    assert "the model you load is from the last epoch, 20, overfit" in d["message"]
    assert "retrain with early stopping" in d["message"]


def test_overfitting_when_the_validation_loss_plateaus_far_above_a_zero_training_loss(
    tmp_path,
):
    # The same recipe on images: 60 digits, no dropout / batch norm / augmentation / L2.
    # The validation loss never rises (it flattens) but sits tens of times above a
    # training loss near zero, and training accuracy is 100% against ~80-88% on validation.
    _, d = _diagnosed(
        tmp_path,
        "overfitting",
        "cnn-digits",
        max_train_samples=60,
        dropout=0.0,
        l2=0.0,
        batch_norm=False,
        augment=False,
        learning_rate=5e-3,
        epochs=25,
        early_stopping=0,
        batch_size=16,
    )
    assert d["final_train_loss"] < 0.05 and d["final_val_loss"] > 0.2
    assert d["final_val_loss"] > 10 * d["final_train_loss"]
    assert d["accuracy_gap"] > 0.05
    assert 1 < d["overfit_from"] < 25
    # The validation loss flattens rather than climbs. On TensorFlow it stays within the
    # rise rule's 10 % and the gap rule calls it; JAX's run of the same recipe rose 11 %
    # after its best, so the rise rule speaks first there (the gap rule's own cases are
    # the synthetic histories below).
    if d["val_rise_after_best"] < OVERFIT_RISE:
        assert "memorizes its training set" in d["message"]
    else:
        assert d["val_rise_after_best"] < 2 * OVERFIT_RISE  # a plateau, not a climb
        assert "validation loss rose" in d["message"]


# --- real runs: underfitting ----------------------------------------------------------


def test_underfitting_with_a_learning_rate_far_too_small(tmp_path):
    _, d = _diagnosed(
        tmp_path, "underfitting", "mlp-cancer", learning_rate=1e-6, epochs=5, early_stopping=0
    )
    assert "learning rate is far too small" in d["message"]


def test_underfitting_of_a_forecaster_with_a_learning_rate_far_too_small(tmp_path):
    # No accuracy to read: the training loss that does not move is the evidence.
    _, d = _diagnosed(
        tmp_path,
        "underfitting",
        "lstm-co2",
        learning_rate=1e-6,
        epochs=3,
        early_stopping=0,
        units=8,
        max_train_samples=300,
    )
    assert "training loss barely moved" in d["message"] and "learning rate" in d["message"]


def test_underfitting_with_a_model_too_small_for_the_task(tmp_path):
    # A recurrent state of one unit cannot tell ten digits apart.
    run, d = _diagnosed(
        tmp_path,
        "underfitting",
        "gru-digits",
        units=1,
        dense_units=(2,),
        bidirectional=False,
        dropout=0.0,
        epochs=6,
        early_stopping=0,
        max_train_samples=500,
    )
    assert max(run.history["accuracy"]) < 0.5
    assert "training accuracy never exceeded" in d["message"]


# --- real runs: good fit --------------------------------------------------------------


@pytest.mark.slow
def test_good_fit_still_improving_for_a_strongly_regularized_mlp_cancer(tmp_path):
    # mlp-cancer's former defaults: 16 relu units, L2 1e-2, a constant 1e-3, early stopping
    # with patience 20 that keeps the best weights, 100 epochs. Train and validation loss
    # stay together; the validation loss still falls a little at the end, so early
    # stopping never fires and the best epoch is the last. (The current defaults' plateau
    # schedule converges instead: its validation loss falls 0.02 % over the last 40 epochs.)
    run, d = _diagnosed(
        tmp_path,
        "good fit",
        "mlp-cancer",
        dense_units=(16,),
        activation="relu",
        l2=1e-2,
        learning_rate=1e-3,
        schedule="constant",
        epochs=100,
        early_stopping=20,
    )
    assert d["still_improving"] and d["message"].startswith("good fit, still improving")
    assert abs(d["gap_at_best"]) < 0.05 and abs(d["accuracy_gap"]) < 0.03
    assert d["restored_epoch"] == d["best_epoch"] == d["stored_epoch"] == d["epochs_run"]
    assert (
        f"the model you load is from the last epoch, {d['epochs_run']}, its best" in (d["message"])
    )
    assert run.metrics["accuracy"] > 0.93


@pytest.mark.slow
def test_good_fit_when_early_stopping_restores_the_best_weights(tmp_path):
    # cnn-digits' own quick settings (dropout, batch norm, augmentation, early stopping):
    # its validation loss sits below the training loss (dropout and augmentation raise
    # the latter) and wanders within its noise after the best epoch. Early stopping
    # restores the best epoch's weights at the end, whether or not its patience ran out
    # (with augmentation in the input pipeline the quick run's best epoch came 2 before
    # its last of 25, so it did not); the stored weights are the best's, the text says so.
    run, d = _diagnosed(tmp_path, "good fit", "cnn-digits", quick=True)
    assert d["restored_epoch"] == d["best_epoch"] == d["stored_epoch"]
    if d["restored_epoch"] < d["epochs_run"]:  # TensorFlow: 2 epochs before the last
        assert f"the model you load is from epoch {d['restored_epoch']}" in d["message"]
    else:  # JAX's run: its last epoch was its best
        assert f"the model you load is from the last epoch, {d['epochs_run']}" in d["message"]
    data = run.dataset()
    proba = run.model.predict(data.x_val, verbose=0)
    val_loss = -np.mean(np.log(proba[np.arange(len(proba)), data.y_val.astype(int)] + 1e-7))
    assert val_loss == pytest.approx(min(run.history["val_loss"]), rel=1e-3)


# --- synthetic histories --------------------------------------------------------------


def _cnn_like(val_tail: list[float]) -> dict[str, list[float]]:
    """A dropout/augmentation CNN: training loss 1.7 -> 0.17, validation loss from 2.2
    down to ~0.05 by epoch 10, then `val_tail`."""
    head = [2.2, 2.3, 2.0, 1.6, 1.0, 0.6, 0.38, 0.25, 0.12, 0.08]
    val = head + val_tail
    loss = list(np.linspace(1.7, 0.17, len(val)))
    return {"loss": loss, "val_loss": val}


def test_noise_on_a_tiny_validation_loss_below_the_training_loss_is_a_good_fit():
    # The reviewer's quick CNN: minimum 0.03 at epoch 20, last 0.08, all below a training
    # loss of ~0.2 since epoch 10. The old rule called this "overfitting from epoch 21".
    tail = [0.06, 0.045, 0.07, 0.05, 0.04, 0.065, 0.055, 0.06, 0.045, 0.03, 0.05, 0.07, 0.06]
    h = _cnn_like(tail + [0.075, 0.08])
    d = diagnose(h, early_stopped_at=25, restored_epoch=20)
    assert d["best_epoch"] == 20 and d["final_val_loss"] == 0.08
    assert d["verdict"] == "good fit", d["message"]
    assert d["overfit_from"] is None and not d["still_improving"]
    assert "the model you load is from epoch 20" in d["message"]


def test_a_steady_rise_above_the_training_loss_is_overfitting_even_when_small():
    # Same start, but from epoch 12 the validation loss climbs steadily (no noise) and
    # crosses the training loss: a sustained rise well beyond the noise.
    loss = list(np.linspace(1.7, 0.02, 30))
    val = [2.2, 2.3, 2.0, 1.6, 1.0, 0.6, 0.38, 0.25, 0.12, 0.08, 0.06, 0.05]
    val += list(np.linspace(0.06, 0.3, 18))
    d = diagnose({"loss": loss, "val_loss": val}, early_stopped_at=30, restored_epoch=12)
    assert d["verdict"] == "overfitting" and d["overfit_from"] == 13
    assert "the model you load is from epoch 12, before the overfitting" in d["message"]
    assert "add dropout" not in d["message"]  # the stored model is not the overfit one


def test_still_improving_is_a_good_fit_when_the_curve_has_flattened():
    # An exponential approach run for 5 time constants: the last 20% of epochs still cut
    # the validation loss by > 1% but bring only ~1% of its whole fall.
    t = np.arange(50)
    val = list(0.1 + 1.0 * np.exp(-t / 10))
    loss = [v + 0.01 for v in val]
    d = diagnose(
        {"loss": loss, "val_loss": val, "accuracy": [0.97] * 50, "val_accuracy": [0.96] * 50}
    )
    assert d["verdict"] == "good fit" and d["still_improving"]
    assert "good fit, still improving" in d["message"] and d["val_tail_share"] < 0.1


def test_a_run_stopped_in_the_steep_part_is_underfitting():
    # The same curve cut after one time constant: the tail brings ~16% of the fall.
    t = np.arange(10)
    val = list(0.1 + 1.0 * np.exp(-t / 10))
    loss = [v + 0.01 for v in val]
    d = diagnose({"loss": loss, "val_loss": val})
    assert d["verdict"] == "underfitting" and d["still_improving"]
    assert d["val_tail_share"] >= 0.1 and "train longer" in d["message"]


def test_a_loss_gap_with_agreeing_accuracies_is_not_called_overfitting():
    # Training loss near zero, validation loss 10x higher, but 99% vs 98.5% accuracy: a few
    # confidently wrong validation samples, not a memorizing network.
    n = 20
    d = diagnose(
        {
            "loss": list(np.linspace(0.5, 0.01, n)),
            "val_loss": list(np.linspace(0.5, 0.1, 10)) + [0.1] * 10,
            "accuracy": [0.99] * n,
            "val_accuracy": [0.985] * n,
        }
    )
    assert d["verdict"] == "good fit" and "accuracies agree" in d["message"]


def test_a_single_epoch_is_not_diagnosed():
    d = diagnose({"loss": [1.0], "val_loss": [0.9]})
    assert d["verdict"] == "unknown" and "too few" in d["message"]
