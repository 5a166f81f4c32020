import numpy as np
import pytest

from zoo import intervals as iv
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


# --- bootstrap intervals (zoo.intervals) ------------------------------------------------


def _correct(rate, n, seed):
    # n per-sample 0/1 scores with exactly `rate` of them correct, in random order.
    k = round(rate * n)
    return np.random.default_rng(seed).permutation(np.r_[np.ones(k), np.zeros(n - k)])


@pytest.mark.parametrize(
    ("model_rate", "baseline_rate", "words"),
    [(0.97, 0.80, iv.BEATS), (0.80, 0.97, iv.WORSE), (0.90, 0.90, iv.SAME)],
)
def test_the_words_follow_the_paired_interval(model_rate, baseline_rate, words):
    model, baseline = _correct(model_rate, 300, 1), _correct(baseline_rate, 300, 2)
    d = iv.paired_difference(model, baseline, higher_is_better=True, seed=0)
    lo, hi = d["interval"]
    assert d["verdict"] == words
    assert (lo > 0) == (words == iv.BEATS) and (hi < 0) == (words == iv.WORSE)
    assert lo <= d["difference"] <= hi
    assert d["difference"] == pytest.approx(model_rate - baseline_rate)


def test_lower_is_better_turns_the_words_around():
    rng = np.random.default_rng(0)
    small, large = rng.uniform(0, 1, 200) ** 2, rng.uniform(1, 2, 200) ** 2  # squared errors
    assert iv.paired_difference(small, large, higher_is_better=False)["verdict"] == iv.BEATS
    assert iv.paired_difference(large, small, higher_is_better=False)["verdict"] == iv.WORSE
    same = iv.paired_difference(small, small.copy(), higher_is_better=False)
    assert same["interval"] == [0.0, 0.0] and same["verdict"] == iv.SAME


def test_an_interval_touching_zero_is_no_measurable_difference():
    assert iv.verdict([0.0, 0.02], higher_is_better=True) == iv.SAME
    assert iv.verdict([-0.02, 0.0], higher_is_better=True) == iv.SAME
    assert iv.verdict(None, higher_is_better=True) == iv.SAME


def test_bootstrap_is_deterministic_for_a_seed():
    y = np.array([0, 1, 2] * 30)
    proba = np.random.default_rng(3).dirichlet(np.ones(3), len(y))
    a = iv.classification_intervals(y, proba, 3, seed=7)
    assert a == iv.classification_intervals(y, proba, 3, seed=7)
    assert a != iv.classification_intervals(y, proba, 3, seed=8)
    lo, hi = a["accuracy"]
    assert lo <= classification_metrics(y, proba, list("abc"))["accuracy"] <= hi


def test_vectorized_resamples_match_scikit_learn():
    from sklearn import metrics as skm

    rng = np.random.default_rng(1)
    y = rng.integers(0, 4, 120)
    proba = rng.dirichlet(np.ones(4), 120)
    proba[np.arange(120), y] += rng.uniform(0, 1, 120)
    proba /= proba.sum(axis=1, keepdims=True)
    idx = next(iv.resample_indices(120, resamples=3, seed=5))
    counts = iv._counts(idx, 120)
    names = list("abcd")
    for r in range(3):
        m = classification_metrics(y[idx[r]], proba[idx[r]], names)
        hit = np.eye(4)[y] * np.eye(4)[proba.argmax(axis=1)]
        tp, t, p = counts[r] @ hit, counts[r] @ np.eye(4)[y], counts[r] @ np.eye(4)[proba.argmax(1)]
        assert tp.sum() / 120 == pytest.approx(m["accuracy"])
        assert iv._ratio(2 * tp, t + p).mean() == pytest.approx(m["f1_macro"])
        auc = np.mean(
            [iv.weighted_auc(proba[:, k], y == k, counts[r : r + 1])[0] for k in range(4)]
        )
        assert auc == pytest.approx(m["roc_auc"])
    # Ties and weights: the Mann-Whitney form is scikit-learn's ROC-AUC.
    score, positive = np.round(rng.uniform(size=60), 1), rng.uniform(size=60) > 0.5
    weights = rng.integers(0, 3, 60).astype(float)
    expected = skm.roc_auc_score(positive, score, sample_weight=weights)
    assert iv.weighted_auc(score, positive, weights[None])[0] == pytest.approx(expected)


def test_regression_intervals_hold_the_point_estimates():
    rng = np.random.default_rng(2)
    y = rng.normal(size=200)
    pred = y + rng.normal(scale=0.5, size=200)
    m = regression_metrics(y, pred, np.zeros(200))
    intervals = iv.regression_intervals(y, pred, np.zeros(200), seed=0)
    for key in ("mse", "mae", "r2", "naive_mse", "naive_mae", "skill"):
        lo, hi = intervals[key]
        assert lo <= m[key] <= hi, key


def test_frechet_bootstrap_orders_near_and_far_sets():
    from zoo.models.gan import frechet_distance

    rng = np.random.default_rng(0)
    real = rng.normal(size=(300, 3))
    near, far = rng.normal(size=(300, 3)), rng.normal(size=(300, 3)) + 1.0
    values = iv.frechet_bootstrap(real, [near, far], resamples=300, seed=0)
    assert values.shape == (2, 300) and (values[1] > values[0]).mean() > 0.99
    # Resampling repeats samples: the bootstrap sits at or above the full-sample distance.
    assert np.median(values[1]) >= frechet_distance(real, far) - 0.05
    again = iv.frechet_bootstrap(real, [near, far], resamples=300, seed=0)
    assert np.array_equal(values, again)
