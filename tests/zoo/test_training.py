import numpy as np
import pytest

import zoo


def test_early_stopping_fires_on_a_setup_built_to_overfit(tmp_path, overfit_mlp):
    # validation loss bottoms out early and then climbs while training loss keeps falling
    run = zoo.train("mlp-cancer", store=tmp_path, epochs=150, early_stopping=5, **overfit_mlp)
    diag = run.metrics["diagnosis"]
    assert diag["early_stopped"] and diag["epochs_run"] < 150
    assert diag["epochs_run"] == diag["best_epoch"] + 5
    assert diag["verdict"] == "overfitting"
    assert diag["overfit_from"] == diag["best_epoch"] + 1
    assert f"overfitting from epoch {diag['best_epoch'] + 1}" in diag["message"]
    # The restored weights are those of the best epoch: their validation loss is the minimum.
    d = run.dataset()
    val_loss = run.model.evaluate(d.x_val, d.y_val.reshape(-1, 1).astype("float32"), verbose=0)[0]
    assert val_loss == pytest.approx(min(run.history["val_loss"]), rel=1e-3)


def test_same_seed_same_result(tmp_path):
    a, b = (
        zoo.train("gru-digits", store=tmp_path, epochs=2, units=8, max_train_samples=200, seed=3)
        for _ in range(2)
    )
    np.testing.assert_allclose(a.history["loss"], b.history["loss"], rtol=1e-5)
    x = a.dataset().x_test[:8]
    np.testing.assert_allclose(a.predict(x), b.predict(x), atol=1e-5)


def test_history_has_train_and_validation_per_epoch(trained):
    h = trained("cnn-digits").history
    n = len(h["loss"])
    for key in ("loss", "val_loss", "accuracy", "val_accuracy", "lr", "epoch_time"):
        assert len(h[key]) == n and all(np.isfinite(h[key])), key


def test_classification_metrics_are_complete(trained):
    m = trained("cnn-digits").metrics
    assert 0 <= m["accuracy"] <= 1 and set(m["per_class"]) == {str(i) for i in range(10)}
    cm = np.array(m["confusion_matrix"])
    assert cm.shape == (10, 10) and cm.sum() == m["n_test"]
    assert (
        "roc_auc" in m
        and "diagnosis" in m
        and m["diagnosis"]["verdict"]
        in (
            "overfitting",
            "underfitting",
            "good fit",
        )
    )


def test_forecaster_reports_the_naive_baseline(trained):
    m = trained("lstm-co2").metrics
    assert m["unit"] == "ppm" and m["naive_mse"] > 0
    assert m["skill"] == pytest.approx(1 - m["mse"] / m["naive_mse"])


def test_evaluate_recomputes_stored_metrics(trained):
    from zoo.training import evaluate_trained

    m = trained("mlp-cancer")
    assert evaluate_trained(m)["accuracy"] == pytest.approx(m.metrics["accuracy"])


TINY_AUGMENTED_CNN = dict(
    augment=True, dropout=0.0, filters=(4,), dense_units=(8,), max_train_samples=128
)


def test_the_augmentation_trains_the_stored_layers_but_is_not_stored(tmp_path):
    from zoo import backend
    from zoo.config import TrainConfig
    from zoo.data import load_dataset
    from zoo.store import Store
    from zoo.training import supervised_plan

    cfg = TrainConfig.for_model("cnn-digits", epochs=1, **TINY_AUGMENTED_CNN)
    data = load_dataset("digits")
    plan = supervised_plan(cfg, data, Store(tmp_path))
    net = plan.models["model"]
    assert not [ly for ly in net.layers if type(ly).__name__.startswith("Random")]
    x = data.x_test[:16]
    if backend.name() == "jax":  # in the tf.data pipeline: the model is the stored one
        assert plan.net is net and plan.augment is not None
        return
    # TensorFlow: in the train step of a model around the stored one's own layers.
    assert plan.augment is None and plan.net is not net
    assert plan.net.optimizer is net.optimizer
    outside = np.asarray(plan.net(x, training=False))
    np.testing.assert_allclose(outside, np.asarray(net(x, training=False)), atol=1e-6)
    inside = np.asarray(plan.net(x, training=True))  # shifted, rotated, zoomed digits
    assert np.abs(inside - np.asarray(net(x, training=True))).max() > 1e-3


def test_same_seed_same_result_with_augmentation(tmp_path):
    a, b = (
        zoo.train("cnn-digits", store=tmp_path, epochs=2, seed=3, **TINY_AUGMENTED_CNN)
        for _ in range(2)
    )
    np.testing.assert_allclose(a.history["loss"], b.history["loss"], rtol=1e-5)
    c = zoo.train("cnn-digits", store=tmp_path, epochs=2, seed=4, **TINY_AUGMENTED_CNN)
    assert not np.allclose(a.history["loss"], c.history["loss"], rtol=1e-5)


@pytest.mark.parametrize(
    "name, options",
    [("mlp-cancer", {"max_train_samples": 120}), ("cnn-digits", TINY_AUGMENTED_CNN)],
)
def test_validation_in_prediction_sized_batches_gives_the_same_losses(
    tmp_path, monkeypatch, name, options
):
    # The validation split runs in batches of PREDICT_BATCH (one step here) instead of the
    # training batch: the same samples, so the same losses up to float rounding, and the
    # training itself untouched (TensorFlow: evaluation draws no random numbers). Both
    # paths: Keras' array adapter (the MLP) and the zoo's tf.data pipeline (the CNN).
    from zoo import training

    big, small = (
        zoo.train(name, store=tmp_path / str(batch), epochs=2, seed=1, **options)
        for batch in (training.PREDICT_BATCH, 8)  # 8: smaller than any training batch here
        if monkeypatch.setattr(training, "PREDICT_BATCH", batch) is None
    )
    np.testing.assert_allclose(big.history["loss"], small.history["loss"], rtol=1e-6)
    np.testing.assert_allclose(big.history["val_loss"], small.history["val_loss"], rtol=1e-5)
