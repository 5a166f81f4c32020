"""The estimators against each other: our expected gradients vs shap's, Deep's additivity,
and DeepExplainer kept away from recurrent models."""

from __future__ import annotations

import numpy as np
import pytest

import explain
from explain.fidelity import rank_correlation
from zoo.errors import ZooError

# Measured here (tiny models, 200 samples per input): mean additivity error relative to
# mean |f(x) - base| is 0.02-0.07 for expected gradients; Deep is exact to float error.
EG_RELATIVE_ADDITIVITY = 0.2


def _shap_registry_entries() -> list[str]:
    """Traces shap's DeepExplainer leaves in TensorFlow when it fails half-way."""
    from tensorflow.python.eager import backprop, execute
    from tensorflow.python.framework import ops

    left = [k for k in ops._gradient_registry._registry if k.startswith("shap_")]
    if execute.record_gradient is not backprop.record_gradient:
        left.append(f"record_gradient hook {execute.record_gradient.__name__}")
    return left


@pytest.mark.parametrize("name", ["cnn-digits", "gru-digits", "mlp-cancer"])
def test_fast_path_agrees_with_shap_gradient_explainer(load_model, name):
    m = load_model(name)
    x = m.dataset().x_test[:12]
    ours = explain.explain(m, x, method="expected_gradients", nsamples=200)
    ref = explain.explain(m, x, method="gradient", nsamples=200)
    assert explain.info(ref).method == "gradient"
    a, b = np.abs(ours.values).mean(0), np.abs(ref.values).mean(0)
    global_corr = rank_correlation(a[None], b[None])
    per_sample = rank_correlation(ours.values, ref.values)
    assert global_corr > 0.9, global_corr
    assert per_sample > 0.8, per_sample
    # and it is faster than shap's own loop over samples and outputs
    assert explain.info(ours).seconds < explain.info(ref).seconds


@pytest.mark.parametrize(
    "name", ["cnn-digits", "gru-digits", "lstm-co2", "mlp-cancer", "gan-digits"]
)
def test_expected_gradients_is_approximately_additive(load_model, name):
    m = load_model(name)
    e = explain.explain(m, m.dataset().x_test[:16])
    add = explain.info(e).additivity
    assert add["relative"] < EG_RELATIVE_ADDITIVITY, add
    more = explain.explain(m, m.dataset().x_test[:16], nsamples=800)
    assert explain.info(more).additivity["mean"] < add["mean"]  # shrinks with nsamples


@pytest.mark.parametrize("name", ["cnn-digits", "mlp-cancer"])
def test_deep_explainer_is_additive_on_feed_forward_models(load_model, name):
    m = load_model(name)
    e = explain.explain(m, m.dataset().x_test[:6], method="deep")
    meta = explain.info(e)
    assert meta.method == "deep"
    assert meta.additivity["max"] < 1e-3, meta.additivity
    assert e.values.shape[0] == 6 and e.base_values.shape == (6, e.values.shape[-1])
    assert not _shap_registry_entries()


def test_deep_is_refused_for_recurrent_models_and_training_still_works(load_model, bilstm):
    import keras

    gru = load_model("gru-digits")
    with pytest.raises(ZooError, match="recurrent.*expected_gradients"):
        explain.explain(gru, gru.dataset().x_test[:2], method="deep")
    model, x_train, x_test, _ = bilstm
    with pytest.raises(ZooError, match=r"forward_lstm\w* \(LSTM\)"):
        explain.explain(model, x_test[:2], background=x_train[:20], method="deep")
    with pytest.raises(ZooError, match="recurrent"):
        explain.explain_test_split(load_model("lstm-co2"), method="deep")
    assert not _shap_registry_entries()  # DeepExplainer never touched TensorFlow

    # an RNN still trains in this process after all of the above
    explain.explain(gru, gru.dataset().x_test[:4])
    fresh = keras.Sequential(
        [keras.Input((8, 8)), keras.layers.LSTM(4), keras.layers.Dense(10, activation="softmax")]
    )
    fresh.compile("adam", "sparse_categorical_crossentropy")
    d = gru.dataset()
    hist = fresh.fit(d.x_train[:256], d.y_train[:256], epochs=1, verbose=0)
    assert np.isfinite(hist.history["loss"][0])


def test_deep_is_refused_for_ops_without_a_deeplift_rule(load_model):
    m = load_model("gan-digits")  # the discriminator uses LeakyReLU: shap's Deep would crash
    with pytest.raises(ZooError, match="LeakyRelu.*expected_gradients"):
        explain.explain(m, m.dataset().x_test[:3], method="deep")
    assert not _shap_registry_entries()
