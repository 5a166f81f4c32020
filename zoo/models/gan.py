"""A DCGAN for scikit-learn's 8x8 digits (its Fréchet distance: `zoo.models.gan_metrics`).

The pattern follows the Keras 3 guides: :class:`GAN` subclasses ``keras.Model``,
takes one optimizer per network in :meth:`GAN.compile` and runs two gradient steps in
:meth:`GAN.train_step` (discriminator, then generator), so ``fit`` brings callbacks,
progress bars and ``steps_per_execution`` for free. The step is written once with
``keras.ops``; its gradients and, on JAX, its stateless form (the trainer passes the
variables' values in and takes the new ones back) come from :mod:`zoo.backend`.
:class:`GanMonitor` (defined in `zoo.models.gan_metrics`, importable here) turns a feature
extractor into a per-epoch FID curve plus a strip of samples from fixed noise.
The zoo's `gan-digits` entry builds and fits it through `zoo.models.gan_family`; the
tuned settings are in `zoo.models.gan_tuning`.

Images are float32 arrays of shape ``(n, 8, 8, 1)`` in ``[-1, 1]`` (``digits / 8 - 1``),
which matches the generator's ``tanh`` output.

Example:
    >>> import numpy as np
    >>> gan = GAN(build_generator(latent_dim=8, filters=8),
    ...           build_discriminator(filters=8), latent_dim=8)
    >>> gan.compile()
    >>> x = np.zeros((16, 8, 8, 1), "float32")
    >>> history = gan.fit(x, epochs=1, batch_size=8, verbose=0)
    >>> sorted(history.history)
    ['d_loss', 'g_loss']
    >>> gan.generate(3, seed=0).shape
    (3, 8, 8, 1)
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
from keras import layers, ops

from zoo import backend
from zoo.errors import ConfigError

# The tuned numbers are plain data in their own module (the registry reads them without
# Keras); QUICK is re-exported for code that imports it from here.
from zoo.models.gan_tuning import DEFAULTS
from zoo.models.gan_tuning import QUICK as QUICK

IMAGE_SHAPE = (8, 8, 1)
LOSSES = ("bce", "mse")
OUTPUTS = ("logits", "sigmoid")


def _regularizer(l1: float, l2: float) -> keras.regularizers.Regularizer | None:
    if l1 < 0 or l2 < 0:
        raise ConfigError(f"l1 and l2 must be >= 0, got l1={l1}, l2={l2}; pass 0.0 to disable")
    # None keeps the saved config free of no-op regularizers.
    return keras.regularizers.L1L2(l1=l1, l2=l2) if (l1 > 0 or l2 > 0) else None


def _check_common(filters: int, activation: str, dropout: float) -> None:
    if filters < 1:
        raise ConfigError(f"filters must be >= 1, got {filters}; try filters=64")
    if not 0.0 <= dropout < 1.0:
        raise ConfigError(f"dropout must be in [0, 1), got {dropout}; pass 0.0 to disable")
    try:
        keras.activations.get(activation)
    except ValueError as err:
        raise ConfigError(
            f"unknown activation {activation!r}; use a name keras.activations.get accepts, "
            "e.g. 'relu', 'leaky_relu', 'gelu'"
        ) from err


def build_generator(
    latent_dim: int = DEFAULTS["latent_dim"],
    filters: int = DEFAULTS["generator_filters"],
    activation: str = "relu",
    batch_norm: bool = True,
    l1: float = 0.0,
    l2: float = 0.0,
    dropout: float = 0.0,
) -> keras.Model:
    """Build the generator: noise ``(latent_dim,)`` -> image ``(8, 8, 1)`` in ``[-1, 1]``.

    Dense -> Reshape to 4x4 -> Conv2DTranspose (stride 2) to 8x8 -> Conv2D(1, tanh).

    Args:
        latent_dim: Size of the noise vector.
        filters: Channels of the 8x8 feature map; the 4x4 map has twice as many.
        activation: Hidden activation, any name ``keras.activations.get`` accepts.
        batch_norm: Batch normalization after each hidden layer.
        l1: L1 kernel penalty on every Dense/Conv layer (0 disables).
        l2: L2 kernel penalty on every Dense/Conv layer (0 disables).
        dropout: Dropout rate after each hidden layer (0 disables).

    Returns:
        A functional ``keras.Model`` named ``"generator"``.

    Example:
        >>> g = build_generator(latent_dim=8, filters=8)
        >>> g.name, g.output_shape
        ('generator', (None, 8, 8, 1))
    """
    if latent_dim < 1:
        raise ConfigError(f"latent_dim must be >= 1, got {latent_dim}; try latent_dim=32")
    _check_common(filters, activation, dropout)
    reg = _regularizer(l1, l2)

    def finish(x: keras.KerasTensor) -> keras.KerasTensor:
        if batch_norm:
            # momentum 0.9: the moving statistics must keep up with a generator that
            # changes every step, or generate() (inference mode) lags behind training.
            x = layers.BatchNormalization(momentum=0.9)(x)
        x = layers.Activation(activation)(x)
        return layers.Dropout(dropout)(x) if dropout > 0 else x

    z = keras.Input(shape=(latent_dim,), name="noise")
    # A bias before batch norm is cancelled by its centering; skip the dead weights.
    x = layers.Dense(4 * 4 * 2 * filters, use_bias=not batch_norm, kernel_regularizer=reg)(z)
    x = finish(x)
    x = layers.Reshape((4, 4, 2 * filters))(x)
    x = layers.Conv2DTranspose(
        filters,
        4,
        strides=2,
        padding="same",
        use_bias=not batch_norm,
        kernel_regularizer=reg,
    )(x)
    x = finish(x)
    image = layers.Conv2D(1, 3, padding="same", activation="tanh", kernel_regularizer=reg)(x)
    return keras.Model(z, image, name="generator")


def build_discriminator(
    filters: int = DEFAULTS["discriminator_filters"],
    activation: str = "leaky_relu",
    batch_norm: bool = False,
    l1: float = 0.0,
    l2: float = 0.0,
    dropout: float = 0.3,
    output: str = "logits",
) -> keras.Model:
    """Build the discriminator: image ``(8, 8, 1)`` -> one realness score.

    Two strided 3x3 convs (8x8 -> 4x4 -> 2x2) -> Flatten -> Dense(1).

    Args:
        filters: Channels of the first conv; the second has twice as many.
        activation: Hidden activation, any name ``keras.activations.get`` accepts.
        batch_norm: Batch normalization after the second conv.
        l1: L1 kernel penalty on every Dense/Conv layer (0 disables).
        l2: L2 kernel penalty on every Dense/Conv layer (0 disables).
        dropout: Dropout rate after each conv (0 disables).
        output: ``"logits"`` (linear score; right for both ``loss="bce"``, which then
            works from logits, and ``loss="mse"``, the least-squares GAN, whose paper
            uses a linear output) or ``"sigmoid"`` (a probability; squashing saturates
            and slows down learning, so prefer logits).

    Returns:
        A functional ``keras.Model`` named ``"discriminator"``.

    Example:
        >>> d = build_discriminator(filters=8)
        >>> d.name, d.output_shape
        ('discriminator', (None, 1))
    """
    _check_common(filters, activation, dropout)
    if output not in OUTPUTS:
        raise ConfigError(f"output must be one of {OUTPUTS}, got {output!r}")
    reg = _regularizer(l1, l2)

    image = keras.Input(shape=IMAGE_SHAPE, name="image")
    x = image
    for i, width in enumerate((filters, 2 * filters)):
        x = layers.Conv2D(width, 3, strides=2, padding="same", kernel_regularizer=reg)(x)
        # Not on the first conv: normalizing the raw pixels' features hurts DCGANs.
        if batch_norm and i > 0:
            x = layers.BatchNormalization()(x)
        x = layers.Activation(activation)(x)
        if dropout > 0:
            x = layers.Dropout(dropout)(x)
    x = layers.Flatten()(x)
    score = layers.Dense(
        1, activation=None if output == "logits" else "sigmoid", kernel_regularizer=reg
    )(x)
    return keras.Model(image, score, name="discriminator")


def _ends_in_sigmoid(model: keras.Model) -> bool:
    last = model.layers[-1]
    return getattr(last, "activation", None) is keras.activations.sigmoid


class GAN(keras.Model):
    """A generator and a discriminator trained against each other by ``fit``.

    Args:
        generator: Maps noise ``(latent_dim,)`` to images ``(8, 8, 1)``.
        discriminator: Maps images to one score per image (logits or probability).
        latent_dim: Size of the generator's noise vector.
        seed: Seeds the training noise, so runs with the same seed repeat.

    Example:
        >>> import numpy as np
        >>> gan = GAN(build_generator(latent_dim=8, filters=8),
        ...           build_discriminator(filters=8), latent_dim=8)
        >>> gan.compile(loss="mse")
        >>> x = np.zeros((8, 8, 8, 1), "float32")
        >>> gan.fit(x, epochs=1, batch_size=8, verbose=0).history["d_loss"][0] > 0
        True
    """

    def __init__(
        self,
        generator: keras.Model,
        discriminator: keras.Model,
        latent_dim: int,
        seed: int = 0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if tuple(generator.output_shape[1:]) != tuple(discriminator.input_shape[1:]):
            raise ConfigError(
                f"generator makes images of shape {generator.output_shape[1:]} but the "
                f"discriminator reads {discriminator.input_shape[1:]}; build both for "
                f"{IMAGE_SHAPE}"
            )
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = int(latent_dim)
        self.seed = int(seed)
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        # Unseeded generate() calls draw from here: repeatable per GAN, and they leave
        # the training noise stream untouched.
        self._sample_rng = np.random.default_rng(seed + 1)
        # Both networks are built; fit() must not build the GAN by calling it on images
        # (Keras' JAX trainer would, with a batch of real images as the noise).
        self.built = True

    @property
    def metrics(self) -> list[keras.metrics.Metric]:
        # Listed here so fit() resets them at each epoch start.
        return [self.d_loss_tracker, self.g_loss_tracker]

    def compile(
        self,
        d_optimizer: str | keras.optimizers.Optimizer | None = None,
        g_optimizer: str | keras.optimizers.Optimizer | None = None,
        loss: str = "bce",
        label_smoothing: float = 0.0,
        steps_per_execution: int = 1,
    ) -> None:
        """Set one optimizer per network and the adversarial loss.

        Args:
            d_optimizer: Discriminator optimizer (instance or name); ``None`` gives
                Adam with the tuned ``DEFAULTS`` learning rate and ``beta_1``.
            g_optimizer: Generator optimizer, same rules; must be a different object.
            loss: ``"bce"``: binary cross-entropy (from logits when the discriminator
                outputs logits). ``"mse"``: least-squares GAN (real -> 1, fake -> 0).
            label_smoothing: One-sided: the discriminator's target for real images is
                ``1 - label_smoothing`` (fakes stay 0), which keeps it from growing
                overconfident.
            steps_per_execution: Train steps fused per graph call.

        Example:
            >>> gan = GAN(build_generator(latent_dim=8, filters=8),
            ...           build_discriminator(filters=8), latent_dim=8)
            >>> gan.compile(keras.optimizers.Adam(1e-3), "adam", loss="mse")
            >>> gan.loss_name
            'mse'
        """
        if loss not in LOSSES:
            raise ConfigError(
                f"loss must be one of {LOSSES}, got {loss!r}; 'bce' is the classic GAN, "
                "'mse' the least-squares GAN"
            )
        if not 0.0 <= label_smoothing < 0.5:
            raise ConfigError(f"label_smoothing must be in [0, 0.5), got {label_smoothing}")
        d_opt, g_opt = _optimizer(d_optimizer), _optimizer(g_optimizer)
        if d_opt is g_opt:
            raise ConfigError(
                "d_optimizer and g_optimizer are the same object; an optimizer keeps "
                "per-variable state, so pass two instances"
            )
        # No XLA on TensorFlow: on the project's 2-core CPU it ran these tiny convs ~10x
        # slower. JAX always compiles; its trainer carries the optimizers' state only for
        # `self.optimizer`, so there it is a pair holding both.
        jax = backend.name() == "jax"
        super().compile(
            optimizer=_OptimizerPair(d_opt, g_opt) if jax else "rmsprop",
            jit_compile=jax,
            steps_per_execution=steps_per_execution,
        )
        self.d_optimizer = d_opt
        self.g_optimizer = g_opt
        self.loss_name = loss
        self.label_smoothing = float(label_smoothing)
        if loss == "bce":
            self.loss_fn = keras.losses.BinaryCrossentropy(
                from_logits=not _ends_in_sigmoid(self.discriminator)
            )
        else:
            self.loss_fn = keras.losses.MeanSquaredError()
        # Creating the slots now, outside the traced train_step, keeps tracing simple
        # and makes the optimizer state exist before the first checkpoint.
        self.d_optimizer.build(self.discriminator.trainable_variables)
        self.g_optimizer.build(self.generator.trainable_variables)

    def call(self, noise: Any, training: bool = False) -> Any:
        """Generate images from noise (so ``gan(noise)`` works like the generator)."""
        return self.generator(noise, training=training)

    def train_step(self, *args: Any) -> Any:
        """One step of both networks: ``train_step(data)`` on TensorFlow, and on JAX
        ``train_step(state, data) -> (logs, state)``, the stateless form Keras' JAX
        trainer calls (:func:`zoo.backend.stateless_step`)."""
        if len(args) == 2:
            state, data = args
            return backend.stateless_step(self, self._step, state, data)
        return self._step(args[0])

    def _step(self, data: Any) -> dict[str, Any]:
        # fit(x) yields x; fit(x, y) or a labelled dataset yields tuples: labels unused.
        real = data[0] if isinstance(data, tuple | list) else data
        real = ops.cast(real, self.compute_dtype)
        batch_size = ops.shape(real)[0]

        # 1) Discriminator: real -> 1, fake -> 0, one batch so it is one forward pass.
        noise = keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)
        fake = self.generator(noise, training=True)
        images = ops.concatenate([real, fake], axis=0)
        real_target = ops.full((batch_size, 1), 1.0 - self.label_smoothing)
        labels = ops.concatenate([real_target, ops.zeros((batch_size, 1))], axis=0)

        def d_objective() -> tuple[Any, Any]:
            scores = self.discriminator(images, training=True)
            d_loss = self.loss_fn(labels, scores)
            return d_loss + _penalty(self.discriminator), d_loss

        d_vars = self.discriminator.trainable_variables
        (_, d_loss), grads = backend.value_and_gradients(d_objective, d_vars)
        self.d_optimizer.apply(grads, d_vars)

        # 2) Generator: make the (just updated, now frozen) discriminator say "real".
        noise = keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)

        def g_objective() -> tuple[Any, Any]:
            scores = self.discriminator(self.generator(noise, training=True), training=True)
            g_loss = self.loss_fn(ops.ones((batch_size, 1)), scores)
            return g_loss + _penalty(self.generator), g_loss

        g_vars = self.generator.trainable_variables
        (_, g_loss), grads = backend.value_and_gradients(g_objective, g_vars)
        self.g_optimizer.apply(grads, g_vars)

        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        return {m.name: m.result() for m in self.metrics}

    def generate(self, n: int, seed: int | None = None, batch_size: int = 1024) -> np.ndarray:
        """Generate ``n`` images in ``[-1, 1]``, shape ``(n, 8, 8, 1)``.

        Args:
            n: Number of images.
            seed: Same seed -> same noise -> same images (for a given generator).
                ``None`` draws the next noise from this GAN's own sampling stream.
            batch_size: Images per forward pass (bounds memory, not the result).

        Example:
            >>> gan = GAN(build_generator(latent_dim=8, filters=8),
            ...           build_discriminator(filters=8), latent_dim=8)
            >>> bool((gan.generate(2, seed=1) == gan.generate(2, seed=1)).all())
            True
        """
        rng = self._sample_rng if seed is None else np.random.default_rng(seed)
        noise = rng.standard_normal((n, self.latent_dim)).astype("float32")
        return generate_from_noise(self.generator, noise, batch_size=batch_size)


class _OptimizerPair(keras.optimizers.Optimizer):
    """Both networks' optimizers as the one ``model.optimizer`` Keras' JAX trainer reads
    (its ``variables`` are theirs); the GAN's step applies each one itself."""

    def __init__(self, d_optimizer: Any, g_optimizer: Any) -> None:
        super().__init__(learning_rate=0.0, name="gan_optimizers")
        self.pair = (d_optimizer, g_optimizer)
        self.built = True

    @property
    def variables(self) -> list[Any]:
        d_opt, g_opt = self.pair
        return [*d_opt.variables, *g_opt.variables]


def generate_from_noise(
    generator: keras.Model, noise: np.ndarray, batch_size: int = 1024
) -> np.ndarray:
    """Run ``generator`` in inference mode on ``noise`` and return a numpy array.

    Example:
        >>> g = build_generator(latent_dim=4, filters=4)
        >>> generate_from_noise(g, np.zeros((2, 4), "float32")).shape
        (2, 8, 8, 1)
    """
    noise = np.asarray(noise, dtype="float32")
    # Direct calls, not predict(): predict() builds a data pipeline and a progress bar,
    # which costs more than the forward pass for a few hundred 8x8 images.
    parts = [
        keras.ops.convert_to_numpy(generator(noise[i : i + batch_size], training=False))
        for i in range(0, len(noise), batch_size)
    ]
    if not parts:
        return np.zeros((0, *generator.output_shape[1:]), dtype="float32")
    return np.concatenate(parts, axis=0)


def _optimizer(opt: str | keras.optimizers.Optimizer | None) -> keras.optimizers.Optimizer:
    if opt is None:
        return keras.optimizers.Adam(
            learning_rate=DEFAULTS["learning_rate"], beta_1=DEFAULTS["beta_1"]
        )
    # get() builds a fresh instance from a name, so two "adam" strings give two objects.
    return keras.optimizers.get(opt)


def _penalty(model: keras.Model) -> Any:
    # model.losses holds the kernel regularizers' terms; 0.0 when there are none.
    return sum(model.losses, ops.convert_to_tensor(0.0))


# Scoring the generator lives in zoo.models.gan_metrics; its names stay importable here.
from zoo.models.gan_metrics import GanMonitor as GanMonitor  # noqa: E402
from zoo.models.gan_metrics import frechet_distance as frechet_distance  # noqa: E402
