"""Tests of the digits DCGAN: real digits, real Keras, tiny networks except where marked slow."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import pytest
from sklearn.datasets import load_digits

from zoo.errors import ConfigError, DataError
from zoo.models.gan import (
    DEFAULTS,
    GAN,
    QUICK,
    GanMonitor,
    build_discriminator,
    build_generator,
    frechet_distance,
    generate_from_noise,
)

LATENT = 8


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    """All 1797 digits as (n, 8, 8, 1) float32 in [-1, 1], and their labels."""
    data = load_digits()
    return (data.images / 8.0 - 1.0).astype("float32")[..., None], data.target


@pytest.fixture(scope="module")
def feature_fn(digits):
    """Penultimate layer of a small digits CNN (inputs in [0, 1]) as FID features."""
    x, y = digits
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 1))
    h = keras.layers.Conv2D(16, 3, padding="same", activation="relu")(inputs)
    h = keras.layers.Conv2D(32, 3, strides=2, padding="same", activation="relu")(h)
    h = keras.layers.Flatten()(h)
    features = keras.layers.Dense(64, activation="relu", name="features")(h)
    outputs = keras.layers.Dense(10, activation="softmax")(features)
    cnn = keras.Model(inputs, outputs)
    cnn.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    cnn.fit((x + 1) / 2, y, epochs=15, batch_size=64, verbose=0)
    assert cnn.evaluate((x + 1) / 2, y, verbose=0)[1] > 0.9  # features worth comparing
    extractor = keras.Model(inputs, features)

    def fn(images: np.ndarray) -> np.ndarray:
        return keras.ops.convert_to_numpy(extractor((images + 1) / 2, training=False))

    return fn


def tiny_gan(loss: str = "bce", seed: int = 0, **compile_kwargs) -> GAN:
    keras.utils.set_random_seed(seed)
    gan = GAN(
        build_generator(latent_dim=LATENT, filters=8),
        build_discriminator(filters=8),
        latent_dim=LATENT,
        seed=seed,
    )
    gan.compile(loss=loss, **compile_kwargs)
    return gan


def weights(model: keras.Model) -> list[np.ndarray]:
    return [keras.ops.convert_to_numpy(w) for w in model.trainable_weights]


def changed(before: list[np.ndarray], after: list[np.ndarray]) -> bool:
    return all(not np.array_equal(a, b) for a, b in zip(before, after, strict=True))


# --- builders -------------------------------------------------------------------------


def test_generator_makes_8x8_images_in_tanh_range():
    g = build_generator(latent_dim=LATENT, filters=8)
    assert g.name == "generator"
    assert g.input_shape == (None, LATENT)
    assert g.output_shape == (None, 8, 8, 1)
    images = generate_from_noise(g, np.random.default_rng(0).normal(size=(5, LATENT)) * 10)
    assert images.shape == (5, 8, 8, 1)
    assert images.min() >= -1.0 and images.max() <= 1.0


@pytest.mark.parametrize("output", ["logits", "sigmoid"])
def test_discriminator_scores_one_number_per_image(digits, output):
    d = build_discriminator(filters=8, output=output)
    assert d.name == "discriminator"
    assert d.output_shape == (None, 1)
    scores = keras.ops.convert_to_numpy(d(digits[0][:4]))
    assert scores.shape == (4, 1)
    last = d.layers[-1].activation
    assert last is (keras.activations.linear if output == "logits" else keras.activations.sigmoid)


def test_regularizers_and_dropout_reach_every_layer():
    g = build_generator(latent_dim=LATENT, filters=8, l1=1e-4, l2=1e-3, dropout=0.2)
    d = build_discriminator(filters=8, l1=1e-4, l2=1e-3, dropout=0.4)
    for model, rate in ((g, 0.2), (d, 0.4)):
        kernels = [layer for layer in model.layers if hasattr(layer, "kernel_regularizer")]
        assert len(kernels) == 3
        for layer in kernels:
            reg = layer.kernel_regularizer
            assert isinstance(reg, keras.regularizers.L1L2)
            assert reg.l1 == pytest.approx(1e-4) and reg.l2 == pytest.approx(1e-3)
        drops = [layer for layer in model.layers if isinstance(layer, keras.layers.Dropout)]
        assert len(drops) == 2 and all(layer.rate == rate for layer in drops)
        assert len(model.losses) == 3  # the penalties the train step adds
    plain = build_discriminator(filters=8, dropout=0.0)
    assert not any(isinstance(layer, keras.layers.Dropout) for layer in plain.layers)
    assert all(getattr(layer, "kernel_regularizer", None) is None for layer in plain.layers)


def test_activation_and_batch_norm_are_configurable():
    g = build_generator(latent_dim=LATENT, filters=8, activation="gelu", batch_norm=False)
    acts = [layer.activation for layer in g.layers if isinstance(layer, keras.layers.Activation)]
    assert acts == [keras.activations.gelu] * 2
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in g.layers)


@pytest.mark.parametrize(
    "build",
    [
        lambda: build_generator(latent_dim=0),
        lambda: build_generator(filters=0),
        lambda: build_generator(activation="relux"),
        lambda: build_generator(l2=-1.0),
        lambda: build_discriminator(dropout=1.0),
        lambda: build_discriminator(output="softmax"),
    ],
)
def test_bad_builder_arguments_raise_config_errors(build):
    with pytest.raises(ConfigError):
        build()


def test_compile_rejects_unknown_loss_and_shared_optimizer():
    gan = GAN(build_generator(LATENT, 8), build_discriminator(8), latent_dim=LATENT)
    with pytest.raises(ConfigError, match="'bce'"):
        gan.compile(loss="hinge")
    shared = keras.optimizers.Adam()
    with pytest.raises(ConfigError, match="two instances"):
        gan.compile(shared, shared)


def test_bce_reads_probabilities_from_a_sigmoid_discriminator():
    gan = GAN(build_generator(LATENT, 8), build_discriminator(8, output="sigmoid"), LATENT)
    gan.compile(loss="bce")
    assert gan.loss_fn.from_logits is False
    gan = GAN(build_generator(LATENT, 8), build_discriminator(8), LATENT)
    gan.compile(loss="bce")
    assert gan.loss_fn.from_logits is True


# --- training -------------------------------------------------------------------------


@pytest.mark.parametrize("loss", ["bce", "mse"])
def test_fit_updates_both_networks_and_logs_finite_losses(digits, loss):
    gan = tiny_gan(loss)
    g0, d0 = weights(gan.generator), weights(gan.discriminator)
    history = gan.fit(digits[0][:128], epochs=2, batch_size=32, verbose=0)
    assert sorted(history.history) == ["d_loss", "g_loss"]
    for values in history.history.values():
        assert len(values) == 2 and np.isfinite(values).all()
    assert changed(g0, weights(gan.generator))
    assert changed(d0, weights(gan.discriminator))


def test_fit_accepts_labelled_batches(digits):
    x, y = digits
    gan = tiny_gan()
    history = gan.fit(x[:64], y[:64], epochs=1, batch_size=32, verbose=0)
    assert np.isfinite(history.history["d_loss"]).all()


def test_regularized_gan_trains(digits):
    keras.utils.set_random_seed(0)
    gan = GAN(
        build_generator(LATENT, 8, l2=1e-3, dropout=0.1),
        build_discriminator(8, l1=1e-4, batch_norm=True),
        LATENT,
    )
    gan.compile(label_smoothing=0.1)
    history = gan.fit(digits[0][:64], epochs=1, batch_size=32, verbose=0)
    assert np.isfinite(history.history["g_loss"]).all()


def test_steps_per_execution_trains_the_same_weights(digits):
    x = digits[0][:128]
    one, fused = tiny_gan(seed=3), tiny_gan(seed=3, steps_per_execution=4)
    one.fit(x, epochs=1, batch_size=32, shuffle=False, verbose=0)
    fused.fit(x, epochs=1, batch_size=32, shuffle=False, verbose=0)
    for a, b in zip(weights(one.generator), weights(fused.generator), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_generate_is_repeatable_with_a_seed():
    gan = tiny_gan()
    a, b = gan.generate(6, seed=42), gan.generate(6, seed=42)
    assert a.shape == (6, 8, 8, 1) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, gan.generate(6, seed=43))
    # Unseeded calls move along the GAN's own stream.
    assert not np.array_equal(gan.generate(6), gan.generate(6))
    assert gan.generate(0).shape == (0, 8, 8, 1)


# --- monitor --------------------------------------------------------------------------


def test_monitor_records_epoch_zero_and_every_epoch(digits, feature_fn):
    x = digits[0]
    gan = tiny_gan()
    noise = np.random.default_rng(0).standard_normal((5, LATENT)).astype("float32")
    untrained = generate_from_noise(gan.generator, noise)
    monitor = GanMonitor(feature_fn, x[:300], noise, n_fid=100)
    history = gan.fit(x[:128], epochs=2, batch_size=32, verbose=0, callbacks=[monitor])

    assert len(monitor.samples) == len(monitor.fid) == 3
    assert all(s.shape == (5, 8, 8, 1) for s in monitor.samples)
    np.testing.assert_array_equal(monitor.samples[0], untrained)  # epoch 0: before updates
    np.testing.assert_array_equal(monitor.samples[-1], generate_from_noise(gan.generator, noise))
    assert history.history["fid"] == pytest.approx(monitor.fid[1:])
    assert all(np.isfinite(monitor.fid)) and min(monitor.fid) > 0

    # Another fit continues the curves instead of recording a second "epoch 0".
    gan.fit(x[:64], epochs=1, batch_size=32, verbose=0, callbacks=[monitor])
    assert len(monitor.fid) == 4


def test_monitor_rejects_noise_of_the_wrong_size(digits, feature_fn):
    gan = tiny_gan()
    monitor = GanMonitor(feature_fn, digits[0][:50], np.zeros((3, LATENT + 1)), n_fid=10)
    with pytest.raises(DataError, match="noise"):
        gan.fit(digits[0][:32], epochs=1, batch_size=32, verbose=0, callbacks=[monitor])


# --- Fréchet distance -----------------------------------------------------------------


def gaussian_sample(mean: np.ndarray, var: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Samples whose empirical mean and covariance are exactly `mean` and diag(`var`)."""
    z = np.random.default_rng(seed).standard_normal((n, len(mean)))
    z -= z.mean(axis=0)
    # Whiten so the sample covariance is exactly the identity, then scale.
    z = z @ np.linalg.inv(np.linalg.cholesky(np.cov(z, rowvar=False))).T
    return mean + z * np.sqrt(var)


def test_frechet_distance_matches_the_closed_form_for_diagonal_gaussians():
    mu_a, var_a = np.array([0.0, 1.0, -2.0]), np.array([1.0, 4.0, 0.25])
    mu_b, var_b = np.array([0.5, 1.0, 0.0]), np.array([2.0, 1.0, 0.25])
    a = gaussian_sample(mu_a, var_a, 400, seed=0)
    b = gaussian_sample(mu_b, var_b, 300, seed=1)
    expected = np.sum((mu_a - mu_b) ** 2) + np.sum((np.sqrt(var_a) - np.sqrt(var_b)) ** 2)
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-6)


def test_frechet_distance_is_zero_for_identical_sets_and_symmetric():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(300, 10)), rng.normal(1.0, 2.0, size=(200, 10))
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    assert frechet_distance(a, b) == pytest.approx(frechet_distance(b, a), rel=1e-6)


def test_frechet_distance_grows_with_a_mean_shift():
    a = np.random.default_rng(0).normal(size=(300, 5))
    shifts = [0.0, 0.5, 1.0, 2.0]
    values = [frechet_distance(a, a + s) for s in shifts]
    assert values == pytest.approx([5 * s**2 for s in shifts], abs=1e-6)  # d * shift^2


def test_frechet_distance_survives_singular_covariances():
    rng = np.random.default_rng(0)
    # 5 samples in 20 dims, and a dead (constant) feature: both covariances are singular.
    a, b = rng.normal(size=(5, 20)), rng.normal(size=(5, 20))
    a[:, 0] = b[:, 0] = 0.0
    value = frechet_distance(a, b)
    assert np.isfinite(value) and value > 0


@pytest.mark.parametrize(
    "a, b",
    [
        (np.zeros((10, 3)), np.zeros((10, 4))),
        (np.zeros((10, 3, 1)), np.zeros((10, 3))),
        (np.zeros((1, 3)), np.zeros((10, 3))),
        (np.full((10, 3), np.nan), np.zeros((10, 3))),
    ],
)
def test_frechet_distance_rejects_bad_features(a, b):
    with pytest.raises(DataError):
        frechet_distance(a, b)


# --- saving ---------------------------------------------------------------------------


def test_saved_networks_reload_to_the_same_generator(digits, tmp_path):
    gan = GAN(
        build_generator(LATENT, 8, l1=1e-5, l2=1e-4, dropout=0.1),
        build_discriminator(8, l2=1e-4),
        LATENT,
    )
    gan.compile()
    gan.fit(digits[0][:64], epochs=1, batch_size=32, verbose=0)
    keras.saving.save_model(gan.generator, tmp_path / "generator.keras")
    keras.saving.save_model(gan.discriminator, tmp_path / "discriminator.keras")

    g = keras.saving.load_model(tmp_path / "generator.keras", safe_mode=True)
    d = keras.saving.load_model(tmp_path / "discriminator.keras", safe_mode=True)
    assert (g.name, d.name) == ("generator", "discriminator")
    reloaded = GAN(g, d, LATENT)
    np.testing.assert_array_equal(reloaded.generate(10, seed=7), gan.generate(10, seed=7))
    x = digits[0][:10]
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(d(x)), keras.ops.convert_to_numpy(gan.discriminator(x))
    )


# --- quality (slow) -------------------------------------------------------------------


@pytest.mark.slow
# Each loss once, each on its own seed: all four pairs doubled this test's ~2 min of CI
# CPU without covering another code path.
@pytest.mark.parametrize(("loss", "seed"), [("bce", 0), ("mse", 1)])
def test_training_cuts_fid_at_least_5x(digits, feature_fn, loss, seed):
    # QUICK is DEFAULTS stopped early, and training is deterministic, so one run checks
    # both: the FID after QUICK's epochs and after DEFAULTS' epochs.
    assert {k: v for k, v in QUICK.items() if k != "epochs"} == {
        k: v for k, v in DEFAULTS.items() if k != "epochs"
    }
    x = digits[0]
    keras.utils.set_random_seed(seed)
    latent_dim = DEFAULTS["latent_dim"]
    gan = GAN(
        build_generator(latent_dim, DEFAULTS["generator_filters"]),
        build_discriminator(DEFAULTS["discriminator_filters"]),
        latent_dim,
        seed=seed,
    )
    # The default optimizers carry the tuned learning rate and beta_1.
    gan.compile(loss=loss, steps_per_execution=DEFAULTS["steps_per_execution"])
    noise = np.random.default_rng(0).standard_normal((16, latent_dim)).astype("float32")
    monitor = GanMonitor(feature_fn, x, noise, n_fid=500)
    gan.fit(
        x,
        epochs=DEFAULTS["epochs"],
        batch_size=DEFAULTS["batch_size"],
        verbose=0,
        callbacks=[monitor],
    )
    fid = monitor.fid
    assert fid[0] / fid[QUICK["epochs"]] >= 5.0, fid
    assert fid[0] / fid[-1] >= 5.0, fid


# --- the zoo's GAN family ---------------------------------------------------------------


def test_zoo_gan_keeps_the_tuned_pairing_and_optimizers():
    from zoo.config import TrainConfig
    from zoo.data import load_dataset
    from zoo.models.gan_family import from_config, tuned_optimizer
    from zoo.registry import get_spec

    defaults = get_spec("gan-digits").defaults
    assert (defaults["latent_dim"], defaults["gan_filters"]) == (
        DEFAULTS["latent_dim"],
        DEFAULTS["generator_filters"],
    )
    cfg = TrainConfig.for_model(
        "gan-digits", gan_filters=8, d_optimizer="rmsprop", g_learning_rate=1e-3
    )
    net = from_config(cfg, load_dataset("digits-signed"))
    convs = [la for la in net.discriminator.layers if isinstance(la, keras.layers.Conv2D)]
    ratio = DEFAULTS["discriminator_filters"] // DEFAULTS["generator_filters"]
    assert [c.filters for c in convs] == [8 * ratio, 16 * ratio]
    d = tuned_optimizer(cfg, cfg.d_optimizer, cfg.d_learning_rate)
    g = tuned_optimizer(cfg, cfg.g_optimizer, cfg.g_learning_rate)
    assert isinstance(d, keras.optimizers.RMSprop)
    assert float(d.learning_rate) == pytest.approx(cfg.learning_rate)
    assert isinstance(g, keras.optimizers.Adam) and float(g.beta_1) == DEFAULTS["beta_1"]
    assert float(g.learning_rate) == pytest.approx(1e-3)
