"""Every option must reach the compiled Keras model, not just the config object."""

import keras
import numpy as np
import pytest

import zoo


def _layers(model, kind):
    return [layer for layer in model.layers if isinstance(layer, kind)]


def _unwrap(layer):
    return layer.forward_layer if isinstance(layer, keras.layers.Bidirectional) else layer


@pytest.fixture(scope="module")
def cnn_run(tmp_path_factory):
    return zoo.train(
        "cnn-digits",
        store=tmp_path_factory.mktemp("s"),
        loss="categorical_crossentropy",
        optimizer="rmsprop",
        learning_rate=1e-3,
        schedule="constant",  # the entry's cosine would end at 0 after this one epoch
        momentum=0.5,
        activation="tanh",
        l1=1e-5,
        l2=1e-4,
        dropout=0.3,
        batch_norm=True,
        augment=True,
        filters=(8, 16),
        dense_units=(16,),
        epochs=1,
        max_train_samples=128,
        early_stopping=5,
    )


def test_cnn_options_reach_the_compiled_model(cnn_run):
    model = cnn_run.model
    assert model.loss is keras.losses.categorical_crossentropy
    opt = model.optimizer
    assert isinstance(opt, keras.optimizers.RMSprop)
    assert float(opt.learning_rate) == pytest.approx(1e-3)
    assert float(opt.momentum) == pytest.approx(0.5)
    convs = _layers(model, keras.layers.Conv2D)
    dense = _layers(model, keras.layers.Dense)
    assert [c.filters for c in convs] == [8, 16]
    for layer in convs + dense:
        reg = layer.kernel_regularizer
        assert isinstance(reg, keras.regularizers.L1L2), layer.name
        assert float(reg.l1) == pytest.approx(1e-5) and float(reg.l2) == pytest.approx(1e-4)
    # With batch norm the hidden activation sits in its own layer after the norm.
    acts = [a.activation.__name__ for a in _layers(model, keras.layers.Activation)]
    assert acts == ["tanh"] * 3
    assert len(_layers(model, keras.layers.BatchNormalization)) == 3
    dropout = _layers(model, keras.layers.Dropout) + _layers(model, keras.layers.SpatialDropout2D)
    assert dropout and all(d.rate in (0.3, 0.15) for d in dropout)
    # augment=True: the augmentation runs in the input pipeline, not in the stored model
    assert not [ly for ly in model.layers if type(ly).__name__.startswith("Random")]
    assert model.get_layer("output").activation.__name__ == "softmax"
    # One-hot labels for categorical cross-entropy: 10 outputs.
    assert model.output_shape == (None, 10)


def test_cnn_run_records_its_config(cnn_run):
    assert cnn_run.config.optimizer == "rmsprop" and cnn_run.config.activation == "tanh"
    assert cnn_run.history["lr"][0] == pytest.approx(1e-3)


def test_rnn_options_reach_the_model(tmp_path):
    run = zoo.train(
        "gru-digits",
        store=tmp_path,
        cell="lstm",
        units=8,
        bidirectional=True,
        rnn_layers=2,
        activation="elu",
        l2=1e-3,
        dropout=0.1,
        optimizer="sgd",
        momentum=0.9,
        nesterov=True,
        learning_rate=0.05,
        schedule="cosine",
        epochs=1,
        max_train_samples=64,
    )
    model = run.model
    rnns = [_unwrap(layer) for layer in _layers(model, keras.layers.Bidirectional)]
    assert len(rnns) == 2 and all(isinstance(r, keras.layers.LSTM) for r in rnns)
    assert all(r.units == 8 and r.dropout == pytest.approx(0.1) for r in rnns)
    assert all(float(r.cell.kernel_regularizer.l2) == pytest.approx(1e-3) for r in rnns)
    assert model.get_layer("dense0").activation.__name__ == "elu"
    opt = model.optimizer
    assert isinstance(opt, keras.optimizers.SGD) and opt.nesterov
    assert float(opt.momentum) == pytest.approx(0.9)
    assert isinstance(opt._learning_rate, keras.optimizers.schedules.CosineDecay)
    # The cosine schedule really decays: the learning rate logged after epoch 1 is lower.
    assert run.history["lr"][0] < 0.05


def test_binary_loss_gives_one_sigmoid_unit_and_adamw_weight_decay(tmp_path):
    run = zoo.train(
        "mlp-cancer",
        store=tmp_path,
        loss="binary_crossentropy",
        optimizer="adamw",
        weight_decay=0.01,
        activation="gelu",
        dense_units=(8, 4),
        batch_norm=False,
        dropout=0.0,
        l2=0.0,
        epochs=1,
    )
    model = run.model
    assert model.output_shape == (None, 1)
    assert model.get_layer("output").activation.__name__ == "sigmoid"
    assert isinstance(model.optimizer, keras.optimizers.AdamW)
    assert float(model.optimizer.weight_decay) == pytest.approx(0.01)
    assert [d.units for d in _layers(model, keras.layers.Dense)] == [8, 4, 1]
    assert model.get_layer("dense0").activation.__name__ == "gelu"
    assert not _layers(model, keras.layers.Dropout)
    assert all(d.kernel_regularizer is None for d in _layers(model, keras.layers.Dense))


def test_forecaster_loss_and_linear_output(tmp_path):
    run = zoo.train(
        "lstm-co2", store=tmp_path, loss="huber", units=4, epochs=1, max_train_samples=64
    )
    assert run.model.loss is keras.losses.huber
    assert run.model.get_layer("output").activation.__name__ == "linear"
    assert np.isfinite(run.metrics["mse"])


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [("default", "_DefaultDistributionStrategy"), ("one_device", "OneDeviceStrategy")],
)
def test_model_is_built_in_the_configured_distribution_strategy(tmp_path, strategy, expected):
    # In a child process: a tf.distribute strategy is process-wide TensorFlow state, and
    # once (CI, 2026-11-26) a fit under it segfaulted in a test worker that had run other
    # files' TensorFlow work before; a fresh interpreter is what a user's run has.
    # On JAX (no tf.distribute) the default trains outside any strategy and any other
    # strategy is refused with one line before training starts.
    import subprocess
    import sys

    from zoo import backend

    code = (
        "import sys, zoo\n"
        "try:\n"
        "    run = zoo.train('mlp-cancer', store=sys.argv[1], epochs=1, strategy=sys.argv[2])\n"
        "except zoo.ZooError as err:\n"
        "    print('refused:', err)\n"
        "else:\n"
        "    s = getattr(run.model, 'distribute_strategy', None)\n"
        "    print(type(s).__name__ if s is not None else 'none', run.metrics['accuracy'] > 0)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path), strategy],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    last = out.stdout.strip().splitlines()[-1]
    if backend.name() == "tensorflow":
        assert last == f"{expected} True"
    elif strategy == "default":
        assert last == "none True"
    else:
        assert last == (
            f"refused: strategy={strategy!r} is a tf.distribute strategy, but Keras runs on "
            f"{backend.name()!r}; use strategy='default' or KERAS_BACKEND=tensorflow"
        )
        assert zoo.Store(tmp_path).runs("mlp-cancer") == []  # nothing half-written
