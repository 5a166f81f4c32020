"""The estimators: ours add up on every family (measured against the model itself), agree
with shap's Deep where it runs, and DeepExplainer is kept away from recurrent models.

shap's Deep and Gradient explainers run on TensorFlow only: on JAX the tests that use them
check instead that they are refused up front, in one line (`shap_unavailable`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

import explain
import zoo
from explain.fidelity import rank_correlation
from zoo.errors import ZooError

# The goal: normalized additivity |sum phi + base - f| / max(|f - base|, 0.1 std)
# at most 1 % at the 95th percentile, for every family.
P95_GOAL = 0.01


def _on_tensorflow() -> bool:
    from zoo import backend

    return backend.name() == "tensorflow"


def _assert_shap_refused(method: str, call: Callable[[], object]) -> None:
    """`call` (asking for shap's `method` off TensorFlow) fails with the one-line refusal
    that names the backend and what to use instead."""
    from zoo import backend

    shap_class = {"deep": "DeepExplainer", "gradient": "GradientExplainer"}[method]
    with pytest.raises(ZooError) as err:
        call()
    message = str(err.value)
    assert message == (
        f"method={method!r} (shap.{shap_class}) is unavailable on the {backend.name()} "
        "backend: shap runs it on TensorFlow only; use method='layerwise' or "
        "'expected_gradients', or run with KERAS_BACKEND=tensorflow"
    ), message


def _shap_registry_entries() -> list[str]:
    """Traces shap's DeepExplainer leaves in TensorFlow when it fails half-way."""
    from tensorflow.python.eager import backprop, execute
    from tensorflow.python.framework import ops

    left = [k for k in ops._gradient_registry._registry if k.startswith("shap_")]
    if execute.record_gradient is not backprop.record_gradient:
        left.append(f"record_gradient hook {execute.record_gradient.__name__}")
    return left


def _normalized_error(e, model_out: np.ndarray, spread: np.ndarray) -> np.ndarray:
    """The additivity error recomputed here from the model itself, not from zoo_info."""
    n, k = e.base_values.shape
    total = np.asarray(e.values, np.float64).reshape(n, -1, k).sum(axis=1) + e.base_values
    err = np.abs(total - model_out)
    return err / np.maximum(np.abs(model_out - e.base_values), 0.1 * spread)


@pytest.mark.parametrize(
    "name", ["cnn-digits", "gru-digits", "lstm-digits", "lstm-co2", "mlp-cancer", "gan-digits"]
)
def test_default_method_adds_up_on_every_family(load_model, name):
    m = load_model(name)
    x = m.dataset().x_test[:16]
    e = explain.explain(m, x)
    meta = explain.info(e)
    assert meta.method == "layerwise"
    net = m.discriminator if name == "gan-digits" else m.model

    def outputs(inputs: np.ndarray) -> np.ndarray:
        inputs = np.asarray(inputs, np.float32)
        return np.asarray(net(inputs, training=False), np.float64).reshape(len(inputs), -1)

    spread = outputs(m.dataset().x_test).std(axis=0)  # sigma_f over the test split
    err = _normalized_error(e, outputs(x), spread)
    assert np.percentile(err, 95) <= P95_GOAL, np.percentile(err, 95)
    assert meta.additivity["p95"] <= P95_GOAL  # what the dashboard and report show


@pytest.mark.parametrize("name", ["cnn-digits", "mlp-cancer"])
def test_one_segment_is_deeplift_as_shap_deep_explainer_computes_it(load_model, name):
    m = load_model(name)
    x = m.dataset().x_test[:8]
    if not _on_tensorflow():  # nothing to compare with: shap's Deep is refused
        _assert_shap_refused("deep", lambda: explain.explain(m, x, method="deep"))
        return
    ours = explain.explain(m, x, method="layerwise", nsamples=1)
    deep = explain.explain(m, x, method="deep")
    # the same DeepLIFT idea; the rules differ for softmax and max pooling (shap divides by
    # a difference there, ours integrates exactly), so single maps of this barely trained
    # model differ; per-map agreement on the quick zoo is in bench/explain_latency.py
    a, b = np.abs(ours.values).mean(0), np.abs(deep.values).mean(0)
    assert rank_correlation(a[None], b[None]) > 0.8  # global importance (tiny model)
    assert not _shap_registry_entries()


def test_path_segments_stay_exact_and_approach_expected_gradients(load_model):
    # Each segment of a reference's path is one exact rule pass, so every count adds up;
    # as segments shrink the rules become the gradient, and the sum over segments the
    # path integral of expected gradients (explain.paths, integrated adaptively).
    m = load_model("cnn-digits")
    x = m.dataset().x_test[:8]
    eg = explain.explain(m, x, method="expected_gradients").values
    agreement = {}
    for segments in (1, 2, 8):
        e = explain.explain(m, x, method="layerwise", nsamples=segments)
        meta = explain.info(e)
        assert meta.nsamples == segments
        assert meta.additivity["normalized_max"] <= 1e-3, (segments, meta.additivity)
        agreement[segments] = rank_correlation(e.values, eg)
    assert agreement[1] < agreement[2] < agreement[8], agreement
    assert agreement[8] > 0.95, agreement

    default = explain.info(explain.explain(m, x[:2]))
    assert (default.method, default.nsamples) == ("layerwise", 4)
    assert explain.describe_method(default).startswith(
        "layerwise (exact DeepSHAP rules per layer, LSTM/GRU gates included), "
        "4 path segments per reference,"
    )
    recurrent = explain.info(explain.explain(load_model("gru-digits"), x[:2].reshape(2, 8, 8)))
    assert recurrent.nsamples == 2  # each segment unrolls the cells again


def test_a_users_own_models_add_up(bilstm):
    import keras

    model, x_train, x_test, _ = bilstm  # recurrent: shap's Deep cannot explain it at all
    e = explain.explain(model, x_test[:8], background=x_train[:50])
    assert explain.info(e).method == "layerwise"
    assert explain.info(e).additivity["normalized_max"] <= 1e-3  # exact LSTM rules

    # a CNN with LeakyReLU (no rule in shap's Deep) and max pooling, built and trained here
    keras.utils.set_random_seed(2)
    images = x_train.reshape(-1, 8, 8, 1)
    cnn = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(8, 3, padding="same"),
            keras.layers.LeakyReLU(),
            keras.layers.MaxPooling2D(2),
            keras.layers.Flatten(),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    cnn.compile("adam", "sparse_categorical_crossentropy")
    cnn.fit(images, zoo.dataset("gru-digits").y_train, epochs=1, verbose=0)
    e = explain.explain(cnn, x_test[:8].reshape(-1, 8, 8, 1), background=images[:50])
    assert explain.info(e).method == "layerwise"
    assert explain.info(e).additivity["normalized_max"] <= 1e-3  # exact: no smooth block


def test_unwalkable_model_falls_back_to_adaptive_expected_gradients(load_model):
    import keras

    # a gated unit (Multiply of two branches): no layer rule covers a product of inputs
    m = load_model("mlp-cancer")
    d = m.dataset()
    keras.utils.set_random_seed(3)
    inp = keras.Input((d.x_train.shape[1],))
    gate = keras.layers.Dense(8, activation="sigmoid")(inp)
    value = keras.layers.Dense(8, activation="tanh")(inp)
    hidden = keras.layers.Multiply()([gate, value])
    model = keras.Model(inp, keras.layers.Dense(1, activation="sigmoid")(hidden))
    model.compile("adam", "binary_crossentropy")
    model.fit(d.x_train, d.y_train, epochs=3, verbose=0)
    e = explain.explain(model, d.x_test[:8], background=d.x_train[:40])
    meta = explain.info(e)
    assert meta.method == "expected_gradients"
    assert meta.additivity["p95"] <= P95_GOAL
    with pytest.raises(ZooError, match="several inputs non-linearly"):
        explain.explain(model, d.x_test[:2], background=d.x_train[:40], method="layerwise")
    # the figure measures the estimator: with one gradient per path it is far off
    rough = explain.explain(model, d.x_test[:8], background=d.x_train[:40], nsamples=40)
    assert explain.info(rough).additivity["p95"] > 10 * meta.additivity["p95"]


def test_a_subclassed_model_is_explained_from_its_background(load_model):
    import keras

    # no symbolic input to walk or read shapes from: the background gives the shapes and
    # adaptive expected gradients the values (shap's explainers refuse such a model)
    d = load_model("mlp-cancer").dataset()

    class Gated(keras.Model):
        def __init__(self) -> None:
            super().__init__()
            self.hidden = keras.layers.Dense(8, activation="tanh")
            self.out = keras.layers.Dense(1, activation="sigmoid")

        def call(self, inputs):
            return self.out(self.hidden(inputs))

    keras.utils.set_random_seed(3)
    model = Gated()
    model.compile("adam", "binary_crossentropy")
    model.fit(d.x_train, d.y_train, epochs=2, verbose=0)
    e = explain.explain(model, d.x_test[:6], background=d.x_train[:40])
    assert explain.info(e).method == "expected_gradients"
    assert e.values.shape[:2] == (6, d.x_train.shape[1])
    assert explain.info(e).additivity["p95"] <= P95_GOAL
    with pytest.raises(ZooError, match="pass background= as an array"):
        explain.explain(model, d.x_test[:2], background=10)


def test_shap_gradient_explainer_is_the_sampled_reference(load_model):
    m = load_model("mlp-cancer")
    x = m.dataset().x_test[:12]
    if not _on_tensorflow():
        _assert_shap_refused(
            "gradient", lambda: explain.explain(m, x, method="gradient", nsamples=200)
        )
        return
    ours = explain.explain(m, x)
    ref = explain.explain(m, x, method="gradient", nsamples=200)
    assert explain.info(ref).method == "gradient"
    assert rank_correlation(ours.values, ref.values) > 0.8
    assert explain.info(ours).additivity["p95"] < explain.info(ref).additivity["p95"]


@pytest.mark.parametrize("name", ["cnn-digits", "mlp-cancer"])
def test_deep_explainer_is_additive_on_feed_forward_models(load_model, name):
    m = load_model(name)
    if not _on_tensorflow():
        _assert_shap_refused(
            "deep", lambda: explain.explain(m, m.dataset().x_test[:6], method="deep")
        )
        return
    e = explain.explain(m, m.dataset().x_test[:6], method="deep")
    meta = explain.info(e)
    assert meta.method == "deep"
    assert meta.additivity["max"] < 1e-3, meta.additivity
    assert e.values.shape[0] == 6 and e.base_values.shape == (6, e.values.shape[-1])
    assert not _shap_registry_entries()


def test_deep_is_refused_for_recurrent_models_and_training_still_works(load_model, bilstm):
    import keras

    gru = load_model("gru-digits")
    model, x_train, x_test, _ = bilstm
    asks = {  # asking shap's Deep for a recurrent model -> why TensorFlow refuses it
        "recurrent.*layerwise": lambda: explain.explain(
            gru, gru.dataset().x_test[:2], method="deep"
        ),
        r"forward_lstm\w* \(LSTM\)": lambda: explain.explain(
            model, x_test[:2], background=x_train[:20], method="deep"
        ),
        "recurrent": lambda: explain.explain_test_split(load_model("lstm-co2"), method="deep"),
    }
    for match, ask in asks.items():
        if _on_tensorflow():
            with pytest.raises(ZooError, match=match):
                ask()
        else:  # refused before the model is looked at
            _assert_shap_refused("deep", ask)
    if _on_tensorflow():
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
    if not _on_tensorflow():  # TensorFlow's graph ops are what is checked; JAX refuses first
        _assert_shap_refused(
            "deep", lambda: explain.explain(m, m.dataset().x_test[:3], method="deep")
        )
        return
    with pytest.raises(ZooError, match="LeakyRelu.*layerwise"):
        explain.explain(m, m.dataset().x_test[:3], method="deep")
    assert not _shap_registry_entries()


def test_shaps_explainers_leave_the_model_as_it_was(load_model):
    # shap runs Keras models in training mode: BatchNormalization's moving statistics and
    # the augmentation layers' seeds would change, and with them every later prediction
    m = load_model("cnn-digits")
    x = np.asarray(m.dataset().x_test[:8], np.float32)
    assert any("moving_mean" in v.name for v in m.model.non_trainable_variables)
    before = [v.numpy().copy() for v in m.model.non_trainable_variables]
    out = np.asarray(m.model(x, training=False))
    asks = {
        "gradient": lambda: explain.explain(m, x[:2], method="gradient", nsamples=20),
        "deep": lambda: explain.explain(m, x[:2], method="deep"),
    }
    for method, ask in asks.items():
        if _on_tensorflow():
            ask()
        else:  # refused, and (checked below) before anything ran the model
            _assert_shap_refused(method, ask)
    after = [v.numpy() for v in m.model.non_trainable_variables]
    assert all(np.array_equal(a, b) for a, b in zip(before, after, strict=True))
    np.testing.assert_array_equal(np.asarray(m.model(x, training=False)), out)
    if _on_tensorflow():
        assert not _shap_registry_entries()
