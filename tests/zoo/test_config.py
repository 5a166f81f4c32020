import dataclasses

import pytest

from zoo import ConfigError, TrainConfig


def test_entry_defaults_then_quick_then_overrides():
    cfg = TrainConfig.for_model("cnn-digits")
    assert cfg.loss == "sparse_categorical_crossentropy" and cfg.epochs == 80
    quick = TrainConfig.for_model("cnn-digits", quick=True)
    assert quick.epochs < cfg.epochs
    assert TrainConfig.for_model("cnn-digits", quick=True, epochs=3).epochs == 3


def test_strings_are_coerced_like_cli_flags():
    cfg = TrainConfig.for_model(
        "cnn-digits", learning_rate="1e-3", batch_norm="false", filters="16,32", epochs="4"
    )
    assert cfg.learning_rate == 1e-3 and cfg.batch_norm is False
    assert cfg.filters == (16, 32) and cfg.epochs == 4


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"dropout": 1.5}, "dropout=1.5 is out of range"),
        ({"learning_rate": 0}, "learning_rate=0.0 is out of range: expected 0 < learning_rate"),
        ({"epochs": 0}, "epochs=0 is out of range"),
        ({"l2": -1}, "l2=-1"),
        ({"epochs": "ten"}, "epochs='ten' has the wrong type: expected an integer"),
        ({"loss": "categorical_crossentropyy"}, "Did you mean 'categorical_crossentropy'?"),
        ({"optimizer": "adamm"}, "Did you mean 'adam'?"),
        ({"activation": "relux"}, "Did you mean 'relu'?"),
        ({"schedule": "cosin"}, "Did you mean 'cosine'?"),
        ({"lerning_rate": 0.1}, "Did you mean 'learning_rate'?"),
        ({"cell": "lstm"}, "option 'cell' does not apply to 'cnn-digits'"),
        ({"monitor": "accuracy"}, "must be a validation quantity"),
        ({"validation_fraction": 0.45, "test_fraction": 0.45}, "at least 20% for training"),
        ({"loss": "binary_crossentropy"}, "needs a 2-class task but cnn-digits has 10 classes"),
        ({"optimizer": "adam", "momentum": 0.9}, "momentum=0.9 does not apply to optimizer"),
    ],
)
def test_bad_values_name_the_field_and_the_fix(options, expected):
    with pytest.raises(ConfigError) as err:
        TrainConfig.for_model("cnn-digits", **options)
    assert expected in str(err.value)


def test_forecaster_rejects_a_classification_loss():
    with pytest.raises(ConfigError, match="is a classification loss but lstm-co2 is a regression"):
        TrainConfig.for_model("lstm-co2", loss="categorical_crossentropy")


def test_gan_takes_only_gan_losses():
    assert TrainConfig.for_model("gan-digits", loss="mse").loss == "mse"
    with pytest.raises(ConfigError, match="not a GAN loss"):
        TrainConfig.for_model("gan-digits", loss="huber")


def test_any_keras_name_is_accepted():
    for loss in ("huber", "mean_absolute_error", "log_cosh", "mse"):
        assert TrainConfig.for_model("lstm-co2", loss=loss).loss == loss
    for opt in ("sgd", "adamw", "rmsprop", "nadam", "adagrad", "lion"):
        assert TrainConfig.for_model("mlp-cancer", optimizer=opt).optimizer == opt
    for act in ("tanh", "elu", "gelu", "sigmoid", "selu", "swish"):
        assert TrainConfig.for_model("mlp-cancer", activation=act).activation == act


def test_label_encoding_follows_the_loss():
    enc = {
        loss: TrainConfig.for_model("mlp-cancer", loss=loss).label_encoding()
        for loss in (
            "binary_crossentropy",
            "categorical_crossentropy",
            "sparse_categorical_crossentropy",
            "mse",
        )
    }
    assert enc == {
        "binary_crossentropy": "binary",
        "categorical_crossentropy": "onehot",
        "sparse_categorical_crossentropy": "sparse",
        "mse": "onehot",
    }


def test_round_trip_dict_and_toml(tmp_path):
    cfg = TrainConfig.for_model("gru-digits", units=8, bidirectional=False, l1=1e-5)
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg
    path = tmp_path / "run.toml"
    path.write_text('model = "gru-digits"\nunits = 8\nbidirectional = false\nl1 = 1e-5\n')
    assert TrainConfig.from_toml(path) == cfg
    assert TrainConfig.from_toml(path, units=12).units == 12
    path.write_text("units = 8\n")
    with pytest.raises(ConfigError, match="must name its entry"):
        TrainConfig.from_toml(path)


def test_diff_lists_changed_options():
    a = TrainConfig.for_model("mlp-cancer")
    b = dataclasses.replace(a, l2=0.05, dropout=0.5)
    assert a.diff(b) == {"l2": (a.l2, 0.05), "dropout": (a.dropout, 0.5)}
