import numpy as np
import pytest

from zoo.evaluation import class_probabilities, classification_metrics, diagnose, regression_metrics


def test_overfitting_from_the_epoch_after_the_minimum():
    d = diagnose({"loss": [1, 0.6, 0.4, 0.3, 0.2, 0.1], "val_loss": [1, 0.7, 0.5, 0.6, 0.7, 0.8]})
    assert d["verdict"] == "overfitting" and d["best_epoch"] == 3 and d["overfit_from"] == 4
    assert "validation loss rose 60%" in d["message"] and "training loss fell 75%" in d["message"]
    assert d["gap_at_end"] == pytest.approx(0.7)


def test_still_improving_is_underfitting():
    d = diagnose({"loss": [1, 0.9, 0.8, 0.7, 0.6], "val_loss": [1, 0.9, 0.85, 0.8, 0.7]})
    assert d["verdict"] == "underfitting" and "train longer" in d["message"]


def test_low_training_accuracy_is_underfitting():
    d = diagnose({"loss": [1, 1, 1], "val_loss": [1, 1, 1], "accuracy": [0.3, 0.4, 0.5]})
    assert d["verdict"] == "underfitting" and "50%" in d["message"]


def test_flat_validation_is_a_good_fit():
    d = diagnose(
        {"loss": [1, 0.5, 0.3, 0.29, 0.28], "val_loss": [1, 0.5, 0.31, 0.31, 0.315]},
        early_stopped_at=5,
        restored_epoch=3,
    )
    assert d["verdict"] == "good fit" and d["early_stopped"] and "epoch-3 weights" in d["message"]


def test_noisy_validation_without_training_progress_is_not_called_overfitting():
    d = diagnose({"loss": [1, 0.5, 0.5, 0.55], "val_loss": [1, 0.2, 0.3, 0.35]})
    assert d["verdict"] == "good fit" and "noisy validation" in d["message"]


def test_classification_metrics_binary_sigmoid_column():
    y = np.array([0, 0, 1, 1])
    p = np.array([[0.2], [0.6], [0.7], [0.9]])
    m = classification_metrics(y, p, ["neg", "pos"])
    assert m["accuracy"] == 0.75 and m["confusion_matrix"] == [[1, 1], [0, 2]]
    assert m["roc_auc"] == 1.0 and m["per_class"]["pos"]["recall"] == 1.0
    assert class_probabilities(p).shape == (4, 2)


def test_regression_metrics_against_naive():
    y = np.array([1.0, -1.0, 2.0])
    m = regression_metrics(y, y * 0.5, np.zeros(3), unit="ppm")
    assert m["mse"] == pytest.approx(np.mean((y * 0.5) ** 2))
    assert m["naive_mse"] == pytest.approx(np.mean(y**2))
    assert m["beats_naive"] and m["skill"] == pytest.approx(0.75)
