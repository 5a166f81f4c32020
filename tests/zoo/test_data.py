import gzip

import numpy as np
import pytest

import zoo
from zoo.card import limits as card_limits
from zoo.card import model_card
from zoo.data import facts, load_dataset


def test_digits_splits_are_stratified_disjoint_and_deterministic():
    d = load_dataset("digits", seed=1)
    assert len(d.x_train) + len(d.x_val) + len(d.x_test) == 1797
    for y in (d.y_train, d.y_val, d.y_test):
        counts = np.bincount(y, minlength=10) / len(y)
        assert np.all(np.abs(counts - 0.1) < 0.03)
    flat = lambda a: {a_.tobytes() for a_ in a}  # noqa: E731
    assert not flat(d.x_test) & flat(d.x_train) - flat(d.x_val)
    again = load_dataset("digits", seed=1)
    np.testing.assert_array_equal(d.x_test, again.x_test)
    assert not np.array_equal(load_dataset("digits", seed=2).y_test, d.y_test)


def test_cancer_is_standardized_on_train_only():
    d = load_dataset("cancer")
    np.testing.assert_allclose(d.x_train.mean(axis=0), 0, atol=1e-4)
    assert np.abs(d.x_test.mean(axis=0)).max() > 1e-3  # test statistics were not used
    assert len(d.feature_names) == 30 and d.task == "classification"


def test_co2_is_chronological_gap_filled_and_scaled_on_train():
    d = load_dataset("co2")
    assert d.description["gaps_filled"] > 0
    assert not any(np.isnan(a).any() for a in (d.x_train, d.x_val, d.x_test))
    # Windows slide one week: the next window starts where the previous one ends.
    np.testing.assert_array_equal(d.x_train[1, :-1], d.x_train[0, 1:])
    assert d.x_train[1, -1, 0] == d.y_train[0, 0]
    # Scaling fitted on the training period: its targets are standardized there.
    assert abs(d.y_train.mean()) < 0.1 and abs(d.y_train.std() - 1) < 0.1
    dates = d.extra["dates_test"]
    assert np.all(np.diff(dates).astype(int) > 0)
    assert str(dates[0]) >= "1995"


def test_to_units_round_trips_and_gives_ppm_changes():
    d = load_dataset("co2")
    assert d.unit == "ppm" and d.feature_unit == "ppm" and d.target_scale > 0
    y = d.to_units(d.y_test)
    np.testing.assert_allclose(d.from_units(y), d.y_test, atol=1e-6)
    # the target in data units is next week's change of the level, in ppm
    change = d.extra["next_level_test"] - d.extra["last_level_test"]
    np.testing.assert_allclose(y.ravel(), change, atol=1e-5)
    # the inputs are past weekly changes: the newest one ends at the last level
    x = d.features_to_units(d.x_test)
    np.testing.assert_allclose(x[1:, -1, 0], change[:-1], atol=1e-5)
    np.testing.assert_allclose(d.features_from_units(x), d.x_test, atol=1e-5)
    # affine: a SHAP value converts by target_scale, a base value like a prediction
    assert np.isclose(d.to_units(0.7) - d.to_units(0.2), 0.5 * d.target_scale)


def test_features_to_units_gives_the_original_breast_cancer_values():
    from sklearn.datasets import load_breast_cancer

    d = load_dataset("cancer")
    original = load_breast_cancer().data
    raw = d.features_to_units(d.x_test)
    nearest = np.abs(original[None] - raw[:, None]).max(axis=2).argmin(axis=1)
    np.testing.assert_allclose(raw, original[nearest], rtol=1e-5, atol=1e-6)
    assert len(set(nearest)) == len(raw)  # every test row is its own original row
    np.testing.assert_allclose(d.features_from_units(raw), d.x_test, atol=1e-5)
    assert d.unit == "" and d.target_scale == 1.0  # class labels: no conversion
    np.testing.assert_array_equal(d.to_units(np.array([0.25, 0.75])), [0.25, 0.75])


def test_unscaled_datasets_convert_as_the_identity():
    d = load_dataset("digits")
    assert d.features_to_units(d.x_test) is d.x_test
    assert d.unit == "" and d.target_scale == 1.0
    np.testing.assert_array_equal(d.to_units(d.y_test), d.y_test)
    np.testing.assert_array_equal(d.features_from_units(d.x_test), d.x_test)


def _write_mnist_cache(home, n_train=60, n_test=20):
    rng = np.random.default_rng(0)
    folder = home / "datasets"
    folder.mkdir(parents=True)
    np.savez(
        folder / "mnist.npz",
        x_train=rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        y_train=np.arange(n_train) % 10,
        x_test=rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        y_test=np.arange(n_test) % 10,
    )


def test_mnist_loads_from_keras_cache_without_network(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    _write_mnist_cache(tmp_path)
    d = load_dataset("mnist", validation_fraction=0.2, seed=7)
    assert d.x_train.shape[1:] == (28, 28, 1) and d.x_train.max() <= 1.0
    assert len(d.x_train) == 48 and len(d.x_val) == 12 and len(d.x_test) == 20
    assert d.class_names == tuple(str(i) for i in range(10))


def test_cnn_mnist_trains_from_the_cache_file(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    _write_mnist_cache(tmp_path / "keras", n_train=100, n_test=30)
    run = zoo.train(
        "cnn-mnist", store=tmp_path / "store", epochs=1, filters=(4,), validation_fraction=0.2
    )
    assert run.model.input_shape == (None, 28, 28, 1)
    assert zoo.load("cnn-mnist", store=tmp_path / "store").predict(
        run.dataset().x_test[:2]
    ).shape == (2, 10)


def _write_fashion_cache(home):
    folder = home / "datasets" / "fashion-mnist"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 40), ("t10k", 10)):
        labels = (np.arange(n) % 10).astype(np.uint8)
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        with gzip.open(folder / f"{prefix}-labels-idx1-ubyte.gz", "wb") as f:
            f.write(b"\0" * 8 + labels.tobytes())
        with gzip.open(folder / f"{prefix}-images-idx3-ubyte.gz", "wb") as f:
            f.write(b"\0" * 16 + images.tobytes())


def test_fashion_mnist_reads_keras_idx_files(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    _write_fashion_cache(tmp_path)
    d = load_dataset("fashion-mnist", validation_fraction=0.25)
    assert d.x_test.shape == (10, 28, 28, 1) and d.class_names[9] == "Ankle boot"
    np.testing.assert_array_equal(d.y_test, np.arange(10))


def test_fashion_mnist_card_describes_clothing_not_digits(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    _write_fashion_cache(tmp_path)
    name = "cnn-fashion-mnist"
    data = zoo.dataset(name, validation_fraction=0.25)
    card = model_card(name, zoo.TrainConfig.for_model(name), data, {"accuracy": 0.9})
    limits = card.split("## Limits", 1)[1]
    assert "Fashion-MNIST" in limits and "clothing" in limits
    assert "digit" not in limits.lower()
    assert "- Classes: T-shirt/top, Trouser" in card


@pytest.mark.parametrize("name", zoo.list_models(include_optional=True))
def test_every_card_states_limits_of_its_own_data(name):
    spec = zoo.get_spec(name)
    text = card_limits(name)
    expected = {
        "digits": "8x8",
        "digits-rows": "8x8",
        "digits-signed": "8x8 digit-like images",
        "cancer": "not a medical device",
        "co2": "CO2",
        "mnist": "28x28 scans of handwritten digits",
        "fashion-mnist": "Fashion-MNIST",
    }[spec.dataset]
    assert expected in text
    assert ("CO2" in text) == (spec.dataset == "co2")


@pytest.mark.parametrize("name", ["digits", "digits-rows", "cancer", "co2"])
def test_facts_agree_with_the_loaded_data(name):
    f, d = facts(name), load_dataset(name)
    assert (f.task, f.input_kind, f.class_names) == (d.task, d.input_kind, d.class_names)
    assert (f.unit, f.feature_unit) == (d.unit, d.feature_unit)
    assert f.n_classes == d.n_classes
    assert f.kind == ("forecast" if name == "co2" else d.input_kind)


def test_facts_are_light_and_unknown_names_are_data_errors():
    import subprocess
    import sys

    code = "import sys, zoo.data; zoo.data.facts('mnist'); print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    with pytest.raises(zoo.DataError, match="unknown dataset 'digit'"):
        facts("digit")


def test_missing_keras_dataset_needs_explicit_download(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with pytest.raises(zoo.DataError, match="download=True"):
        load_dataset("mnist")


def test_broken_cache_file_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    (tmp_path / "datasets").mkdir()
    (tmp_path / "datasets" / "mnist.npz").write_bytes(b"not a zip")
    with pytest.raises(zoo.DataError, match="not a valid MNIST file"):
        load_dataset("mnist")
