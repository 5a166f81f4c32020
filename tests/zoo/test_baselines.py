"""Baselines: fitted on the run's training data only, scored on its test split, stored
with every version and shown where its metrics are."""

import json

import numpy as np
import pytest

from zoo import baselines, baselines_gan, intervals
from zoo.artifact import Damage, check_metrics
from zoo.data import load_dataset


@pytest.fixture
def cancer():
    d = load_dataset("cancer")
    fit = baselines.fit_split(d.x_train, d.y_train, d.x_val, d.y_val)
    return d, fit


def _fresh(fn, *args, **kwargs):
    # The fit cache must not stand in for a fit: every call here fits anew.
    baselines._CACHE.clear()
    return fn(*args, **kwargs)


def test_classifier_baselines_see_only_train_and_validation(cancer):
    d, (x_fit, y_fit) = cancer
    assert len(x_fit) == len(d.x_train) + len(d.x_val)
    fits = _fresh(baselines.fit_classifiers, x_fit, y_fit, standardize=True)
    svc = fits["svc_rbf"].estimator
    assert svc[0].n_samples_seen_ == len(x_fit) and svc[-1].shape_fit_[0] == len(x_fit)
    assert fits["logistic_regression"].estimator[0].n_samples_seen_ == len(x_fit)
    # Every support vector is a training or validation row, none is a test row.
    support = svc[0].inverse_transform(svc[-1].support_vectors_)
    test = d.x_test.astype(np.float64)
    assert np.abs(support - x_fit[svc[-1].support_]).max() < 1e-6
    assert np.abs(support[:, None, :] - test[None]).max(axis=2).min() > 1e-6
    # The hyper-parameters come from the grid the cross-validation searched.
    assert fits["logistic_regression"].params["C"] in baselines.LOGISTIC_C
    assert fits["svc_rbf"].params["C"] in baselines.SVC_C


def test_test_labels_cannot_change_the_fitted_baselines(cancer):
    d, fit = cancer
    proba = np.eye(2)[d.y_test]
    shuffled = np.random.default_rng(0).permutation(d.y_test)
    a = _fresh(baselines.compare_classifier, fit, (d.x_test, d.y_test), proba, n_classes=2)
    b = _fresh(baselines.compare_classifier, fit, (d.x_test, shuffled), proba, n_classes=2)
    for name in ("logistic_regression", "svc_rbf"):
        ra, rb = a["baselines"]["models"][name], b["baselines"]["models"][name]
        assert ra["params"] == rb["params"] and ra["cv_score"] == rb["cv_score"]
        assert ra["n_fit"] == len(d.x_train) + len(d.x_val)
    # ... while the scores on the test split do follow its labels.
    assert a["baselines"]["models"]["svc_rbf"]["value"] > 0.9
    assert b["baselines"]["models"]["svc_rbf"]["value"] < 0.8
    assert a["baselines"]["n_test"] == len(d.x_test)


def test_ridge_is_fitted_on_the_training_windows_with_time_ordered_folds(monkeypatch):
    from sklearn import model_selection

    d = load_dataset("co2")
    x_fit, y_fit = baselines.fit_split(d.x_train, d.y_train, d.x_val, d.y_val)
    seen = []
    real_split = model_selection.TimeSeriesSplit.split

    def spy(self, x, y=None, groups=None):
        for train, val in real_split(self, x, y, groups):
            seen.append(train.max() < val.min())  # every fold validates on later weeks
            yield train, val

    monkeypatch.setattr(model_selection.TimeSeriesSplit, "split", spy)
    fits = _fresh(baselines.fit_forecasters, x_fit, y_fit)
    ridge = fits["ridge"]
    assert seen and all(seen)
    assert ridge.n_fit == len(d.x_train) + len(d.x_val) and ridge.estimator.n_features_in_ == 52
    out = baselines.compare_forecaster(
        (x_fit, y_fit), (d.x_test, d.y_test), np.zeros(len(d.x_test)), to_units=d.to_units
    )
    records = out["baselines"]["models"]
    # Scored on the test split in ppm: the naive forecast is "no change" there.
    naive_mse = float(np.mean(d.to_units(d.y_test.ravel()) ** 2))
    assert records["naive"]["value"] == pytest.approx(naive_mse)
    assert 0.1 < records["ridge"]["value"] < naive_mse


def test_gaussian_generator_learns_from_the_training_images_only():
    rng = np.random.default_rng(0)
    mix = rng.normal(size=(4, 4))  # correlated pixels, well inside [-1, 1]
    train = (rng.normal(size=(3000, 4)) @ mix * 0.05).reshape(3000, 2, 2, 1)
    flat = train.reshape(3000, 4)
    fake = baselines_gan.gaussian_images(train, 20000, covariance="full", seed=1)
    assert fake.shape == (20000, 2, 2, 1)
    fake = fake.reshape(20000, 4)
    assert np.abs(fake.mean(axis=0) - flat.mean(axis=0)).max() < 0.01
    assert np.abs(np.cov(fake, rowvar=False) - np.cov(flat, rowvar=False)).max() < 0.01
    pixels = baselines_gan.gaussian_images(train, 20000, covariance="diag", seed=1).reshape(
        20000, 4
    )
    assert np.abs(np.corrcoef(pixels, rowvar=False) - np.eye(4)).max() < 0.05
    # Same seed, same images; clipped to the training images' range.
    d = load_dataset("digits-signed")
    a, b = (baselines_gan.gaussian_images(d.x_train, 500, seed=3) for _ in range(2))
    assert np.array_equal(a, b) and a.min() >= -1 and a.max() <= 1


def test_generator_comparison_uses_the_same_real_features():
    from zoo.models.gan import frechet_distance

    rng = np.random.default_rng(0)
    train = rng.normal(size=(400, 2, 2, 1))
    real = rng.normal(size=(300, 4))
    model = real[::-1] + 0.05
    flat = lambda images: images.reshape(len(images), -1)  # noqa: E731
    out = baselines_gan.compare_generator(train, real, model, flat, resamples=200)
    vs = out["vs_baseline"]
    assert vs["model"] == pytest.approx(frechet_distance(real, model))
    assert out["baselines"]["n_fit"] == 400 and out["baselines"]["fit_on"] == "train"
    lo, hi = out["intervals"]["metrics"]["fid_final"]
    assert lo <= vs["model"] <= hi  # shifted by the bootstrap's bias: around the number
    assert vs["verdict"] == intervals.verdict(vs["interval"], higher_is_better=False)


# --- stored with every version ---------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "metric"),
    [("mlp-cancer", "accuracy"), ("lstm-co2", "mse"), ("gan-digits", "fid_final")],
)
def test_metrics_json_holds_baselines_and_intervals(trained, name, metric):
    run = trained(name)
    stored = json.loads((run.path / "metrics.json").read_text())
    assert check_metrics(stored, "metrics.json") is stored
    base, iv, vs = stored["baselines"], stored["intervals"], stored["vs_baseline"]
    assert base["metric"] == vs["metric"] == metric and base["best"] == vs["baseline"]
    assert vs["model"] == pytest.approx(stored[metric])
    lo, hi = iv["metrics"][metric]
    assert lo <= stored[metric] <= hi and iv["level"] == 0.95 and iv["resamples"] == 1000
    assert vs["verdict"] in (intervals.BEATS, intervals.SAME, intervals.WORSE)
    higher = metric == "accuracy"
    assert vs["verdict"] == intervals.verdict(vs["interval"], higher_is_better=higher)
    data = run.dataset()
    from zoo.training import train_split

    n_train = len(train_split(run.config, data)[0])
    expected = n_train if name == "gan-digits" else n_train + len(data.x_val)
    assert base["n_fit"] == expected  # the subset the model saw (+ validation), never test
    assert "## Baselines" in (run.path / "card.md").read_text()


def test_intervals_of_every_classifier_metric(trained):
    m = trained("cnn-digits").metrics
    for key in ("accuracy", "precision_macro", "recall_macro", "f1_macro", "roc_auc"):
        lo, hi = m["intervals"]["metrics"][key]
        assert lo <= m[key] <= hi, key


def test_zoo_list_runs_and_describe_show_model_vs_baseline(tiny_store, capsys):
    from zoo.cli import main

    assert main(["--store", str(tiny_store), "list"]) == 0
    out = capsys.readouterr().out
    assert "best version vs best baseline" in out and "vs RBF SVC" in out
    assert main(["--store", str(tiny_store), "runs", "lstm-co2"]) == 0
    assert "model - best baseline" in capsys.readouterr().out
    assert main(["--store", str(tiny_store), "describe", "mlp-cancer"]) == 0
    assert "best stored version mlp-cancer@" in capsys.readouterr().out


def test_versions_stored_before_baselines_still_load_and_show():
    from zoo.card import baseline_lines
    from zoo.summary import comparison

    old = {"accuracy": 0.9, "n_test": 10}
    assert check_metrics(old, "metrics.json") == old
    assert comparison(old) is None and baseline_lines(old) == []


@pytest.mark.parametrize(
    "bad",
    [
        {"intervals": {"metrics": {"accuracy": [0.9]}}},
        {"vs_baseline": {"interval": "wide"}},
        {"baselines": {"models": {"svc_rbf": {"value": "high"}}}},
        {"baselines": []},
    ],
)
def test_malformed_comparisons_mark_the_file_damaged(bad):
    with pytest.raises(Damage):
        check_metrics(bad, "metrics.json")
