import dataclasses

import pytest

from zoo import ConfigError, TrainConfig
from zoo.config import (
    FAMILY_OPTIONS,
    choices_for,
    option_default,
    option_names,
    option_spec,
    option_type,
    options_for,
)
from zoo.keras_names import make_optimizer
from zoo.options import GROUPS


def test_entry_defaults_then_quick_then_overrides():
    cfg = TrainConfig.for_model("cnn-digits")
    assert cfg.loss == "sparse_categorical_crossentropy" and cfg.epochs == 150
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
        # Trained with a learning rate of 0 (1e-50 underflows in float32) before.
        ({"learning_rate": 1e-50}, "learning_rate=1e-50 is 0 in float32"),
        # An empty item was dropped ("32,,64" -> 32,64; "" -> no dense layer at all).
        ({"dense_units": "32,,64"}, "dense_units='32,,64' has the wrong type"),
        ({"dense_units": ""}, "dense_units='' has the wrong type"),
        # Python's int() reads fullwidth and Arabic-Indic digits: 3 epochs, 1 filter.
        ({"epochs": "３"}, "expected an integer written in ASCII digits (0-9)"),
        ({"filters": "١٦"}, "written in ASCII digits"),
        ({"learning_rate": "０.01"}, "expected a number written in ASCII digits"),
        # An empty optimizer was only refused after the "training ..." line, by Keras.
        ({"optimizer": ""}, "optimizer='' is not a Keras optimizer name. Valid names: "),
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


# --- the option schema: every field declared once, everything else derived from it -----

ENTRY_OF = {"cnn": "cnn-digits", "rnn": "gru-digits", "mlp": "mlp-cancer", "gan": "gan-digits"}


def test_every_option_carries_its_metadata():
    names = [f.name for f in dataclasses.fields(TrainConfig) if f.name != "model"]
    assert option_names() == names
    for name in names:
        meta = option_spec(name)
        assert meta.group in GROUPS and meta.help, name
        assert set(meta.families) <= set(ENTRY_OF), name
    assert FAMILY_OPTIONS["filters"] == ("cnn",) and "loss" not in FAMILY_OPTIONS


@pytest.mark.parametrize("name", [n for n in option_names() if option_spec(n).low is not None])
def test_declared_ranges_are_what_validation_enforces(name):
    meta = option_spec(name)
    family = meta.families[0] if meta.families else "cnn"
    low = meta.low
    below = low if meta.low_open else (low - 1 if float(low).is_integer() else low / 2)
    kind = option_type(name)
    value = (int(below),) if kind is not int and kind is not float else kind(below)
    with pytest.raises(ConfigError, match=f"^{name}="):
        TrainConfig.for_model(ENTRY_OF[family], **{name: value})


@pytest.mark.parametrize("name", sorted(FAMILY_OPTIONS))
def test_family_options_are_refused_elsewhere(name):
    other = next(f for f in ENTRY_OF if f not in option_spec(name).families)
    with pytest.raises(ConfigError, match=f"option '{name}' does not apply to"):
        TrainConfig.for_model(ENTRY_OF[other], **{name: option_default(name)})


def test_options_for_a_family_are_what_it_accepts():
    for family, entry in ENTRY_OF.items():
        defaults = TrainConfig.for_model(entry).to_dict()
        for name in options_for(family):
            assert TrainConfig.for_model(entry, **{name: defaults[name]})
    assert "latent_dim" in options_for("gan") and "early_stopping" not in options_for("gan")


def test_choices_offered_for_keras_names_all_validate():
    assert choices_for("gan-digits", "loss") == ("binary_crossentropy", "mean_squared_error")
    assert choices_for("gan-digits", "d_optimizer")[0] == ""  # the same as `optimizer`
    assert choices_for("mlp-cancer", "monitor") == ()  # free text
    for option in ("loss", "optimizer", "activation"):
        for name in choices_for("lstm-co2", option):
            TrainConfig.for_model("lstm-co2", **{option: name})


def test_optimizer_settings_are_checked_for_every_optimizer_the_run_builds():
    with pytest.raises(ConfigError, match="momentum=0.9 does not apply to optimizer 'adam'"):
        TrainConfig.for_model("gan-digits", optimizer="sgd", momentum=0.9, d_optimizer="adam")
    with pytest.raises(ConfigError, match="d_optimizer='adamm' is not a Keras optimizer name"):
        TrainConfig.for_model("gan-digits", d_optimizer="adamm")


def test_one_optimizer_builder():
    opt = make_optimizer("sgd", 0.01, momentum=0.9, nesterov=True)
    assert (type(opt).__name__, opt.nesterov) == ("SGD", True)
    with pytest.raises(ConfigError, match=r"nesterov=True does not apply to optimizer 'rmsprop'"):
        make_optimizer("rmsprop", 0.01, nesterov=True)


# --- hardening: every value the issue found accepted is refused before any data loads ---

ISSUE_VALUES = [
    ("mlp-cancer", {"learning_rate": float("inf")}, "learning_rate=inf is not a finite number"),
    ("mlp-cancer", {"learning_rate": 1e308}, "learning_rate=1e+308 is not a finite number"),
    (
        "mlp-cancer",
        {"learning_rate": "1e308"},
        "not a finite number: the models compute in float32",
    ),
    ("mlp-cancer", {"l2": float("inf")}, "l2=inf is not a finite number"),
    ("mlp-cancer", {"l1": float("nan")}, "l1=nan is not a finite number"),
    ("lstm-co2", {"window": 1_000_000}, "window=1000000 is out of range: expected 2 <= window"),
    ("mlp-cancer", {"seed": -1}, "expected 0 <= seed <= 4294967295 (NumPy and scikit-learn"),
    ("mlp-cancer", {"seed": 10**21}, "seed=1000000000000000000000 is out of range"),
    ("mlp-cancer", {"monitor": "val_nonexistent"}, "is not logged by mlp-cancer"),
    ("lstm-co2", {"monitor": "val_accuracy"}, "Expected one of: val_loss, val_mae"),
    ("gru-digits", {"units": 10_000_000}, "units=10000000 is out of range"),
    ("gan-digits", {"latent_dim": 1_000_000_000}, "latent_dim=1000000000 is out of range"),
    ("cnn-digits", {"filters": 1_000_000}, "filters=(1000000,) must be integers with 1 <="),
    ("mlp-cancer", {"epochs": 10**12}, "epochs=1000000000000 is out of range"),
    ("cnn-digits", {"kernel_size": 100}, "kernel_size=100 is out of range"),
    ("mlp-cancer", {"dense_units": "8192,8192,8192"}, "would have about 1.35e+08 parameters"),
    ("gru-digits", {"units": 4096, "rnn_layers": 4}, "the limit is 1e+08 parameters"),
    ("mlp-cancer", {"learning_rate": 10**400}, "is too large for a number"),
    ("mlp-cancer", {"dense_units": ",".join(["8"] * 40)}, "lists 40 layers; expected at most 16"),
    ("mlp-cancer", {"loss": "x" * 1000}, "is 1000 characters long"),
]


@pytest.mark.parametrize(("entry", "options", "expected"), ISSUE_VALUES)
def test_values_that_used_to_fail_late_fail_now(entry, options, expected, monkeypatch):
    monkeypatch.setattr("zoo.data._load_cached", lambda *a: pytest.fail("data was loaded"))
    with pytest.raises(ConfigError) as err:
        TrainConfig.for_model(entry, **options)
    assert expected in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("name", [n for n in option_names() if option_spec(n).high is not None])
def test_declared_upper_bounds_are_what_validation_enforces(name):
    meta = option_spec(name)
    family = meta.families[0] if meta.families else "mlp"
    kind = option_type(name)
    above = int(meta.high) + 1
    value = (above,) if kind is not int and kind is not float else kind(above)
    with pytest.raises(ConfigError, match=f"^{name}="):
        TrainConfig.for_model(ENTRY_OF[family], **{name: value})
    if kind is not float:  # fractions and rates end at 1 by definition; caps say why
        assert meta.why, f"{name}: say why the bound is where it is"


def test_size_estimate_states_its_formula():
    with pytest.raises(ConfigError) as err:
        TrainConfig.for_model("gan-digits", latent_dim=4096, gan_filters=1024)
    text = str(err.value)
    assert "gan: latent_dim x 32 x gan_filters + 50 x gan_filters^2" in text
    assert "16 bytes per parameter" in text and "GB" in text


class _Facts:
    """A dataset's facts with the sizes `zoo.limits` reads when zoo.data provides them."""

    def __init__(self, real, **sizes):
        self._real, self._sizes = real, sizes

    def __getattr__(self, name):
        return self._sizes[name] if name in self._sizes else getattr(self._real, name)


def test_data_dependent_ranges_come_from_the_dataset_facts(monkeypatch):
    import zoo.limits
    from zoo.data import facts

    sizes = {"co2": {"series_length": 2283}, "digits": {"input_shape": (8, 8, 1)}}
    monkeypatch.setattr(
        zoo.limits, "facts", lambda name: _Facts(facts(name), **sizes.get(name, {}))
    )
    with pytest.raises(
        ConfigError, match=r"window=3000 leaves too few windows in the series of lstm-co2 \(2283"
    ):
        TrainConfig.for_model("lstm-co2", window=3000)
    with pytest.raises(ConfigError, match=r"expected 2 <= window <= 2279"):
        TrainConfig.for_model("lstm-co2", window=2280)
    assert TrainConfig.for_model("lstm-co2", window=2279).window == 2279
    with pytest.raises(
        ConfigError, match=r"kernel_size=9 is wider than the 8x8 images of cnn-digits"
    ):
        TrainConfig.for_model("cnn-digits", kernel_size=9)
    assert TrainConfig.for_model("cnn-digits", kernel_size=8).kernel_size == 8


def test_stored_configs_with_old_values_still_load():
    # Limits apply to new runs; a version trained before a cap existed stays readable.
    old = TrainConfig.for_model("mlp-cancer").to_dict() | {"epochs": 50_000, "seed": -3}
    assert TrainConfig.from_dict(old).epochs == 50_000
