"""Convolutional image classifier, and the augmentation its training pipeline applies.

The model holds no training-only layers: `augmentation` (small random shifts, rotations
and zooms) is applied to each training batch in the input pipeline (`zoo.training`), on
every backend, so the stored model is the same plain network on TensorFlow and JAX.
Versions stored before kept those layers inside the model; they are identity at
inference and still load.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from zoo.models._layers import config_args, head, head_options, regularizer

if TYPE_CHECKING:
    from zoo.config import TrainConfig
    from zoo.data import Dataset


def build_cnn(
    input_shape: tuple[int, ...],
    n_outputs: int,
    *,
    output_activation: str = "softmax",
    filters: tuple[int, ...] = (32, 64),
    kernel_size: int = 3,
    dense_units: tuple[int, ...] = (64,),
    activation: str = "relu",
    l1: float = 0.0,
    l2: float = 0.0,
    dropout: float = 0.0,
    batch_norm: bool = False,
) -> Any:
    """A CNN: one conv block per entry of `filters`, global pooling, dense head.

    Each block is Conv2D -> (BatchNorm) -> activation, with 2x2 max pooling while the
    feature map is still larger than 2x2 (8x8 digits allow two poolings). Augmentation
    is not part of the model: see `augmentation`.

    Example:
        >>> m = build_cnn((8, 8, 1), 10, filters=(16,), dropout=0.2, batch_norm=True)
        >>> m.output_shape
        (None, 10)
    """
    import keras
    from keras import layers

    inputs = keras.Input(shape=input_shape, name="image")
    x = inputs
    side = min(input_shape[0], input_shape[1])
    for i, n_filters in enumerate(filters):
        x = layers.Conv2D(
            n_filters,
            kernel_size,
            padding="same",
            activation=None if batch_norm else activation,
            kernel_regularizer=regularizer(l1, l2),
            name=f"conv{i}",
        )(x)
        if batch_norm:
            x = layers.BatchNormalization(name=f"conv{i}_bn")(x)
            x = layers.Activation(keras.activations.get(activation), name=f"conv{i}_act")(x)
        if side > 2:
            x = layers.MaxPooling2D(2, name=f"conv{i}_pool")(x)
            side //= 2
        if dropout:
            x = layers.SpatialDropout2D(dropout / 2, name=f"conv{i}_dropout")(x)
    x = layers.GlobalAveragePooling2D(name="pool")(x) if side > 2 else layers.Flatten()(x)
    outputs = head(
        x, n_outputs, output_activation, dense_units, activation, l1, l2, dropout, batch_norm
    )
    return keras.Model(inputs, outputs, name="cnn")


def from_config(cfg: TrainConfig, data: Dataset) -> Any:
    """`build_cnn` with a config's options, sized for `data` (the `cnn` row of `BUILDERS`).

    Example:
        >>> import zoo
        >>> cfg = zoo.TrainConfig.for_model("cnn-digits", filters=(8,))
        >>> from_config(cfg, zoo.dataset("cnn-digits")).get_layer("conv0").filters
        8
    """
    return build_cnn(
        data.input_shape,
        **head_options(cfg, data),
        **config_args(cfg, "filters", "kernel_size"),
    )


def augmentation(seed: int = 0) -> Any:
    """The training-time augmentation of the `augment` option, for the input pipeline.

    Random shifts (up to 10 % of each side), rotations (up to 0.04 of a turn) and zooms
    (up to 10 %), filled with zeros: the parameters the model-internal layers had, so
    the augmentation statistics are unchanged. Call it with `training=True` on a batch
    (`zoo.training` maps it over the training batches in a `tf.data` pipeline, which
    Keras supports on every backend); seeded by the config's seed.

    Example:
        >>> import numpy as np
        >>> aug = augmentation(seed=0)
        >>> [layer.name for layer in aug.layers]
        ['aug_shift', 'aug_rotate', 'aug_zoom']
        >>> x = np.ones((2, 8, 8, 1), "float32")
        >>> bool(np.allclose(aug(x, training=False), x))
        True
    """
    import keras
    from keras import layers

    return keras.Sequential(
        [
            layers.RandomTranslation(0.1, 0.1, fill_mode="constant", seed=seed, name="aug_shift"),
            layers.RandomRotation(0.04, fill_mode="constant", seed=seed, name="aug_rotate"),
            layers.RandomZoom(0.1, fill_mode="constant", seed=seed, name="aug_zoom"),
        ],
        name="augmentation",
    )
