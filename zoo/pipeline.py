"""How a supervised training's batches reach the model, per backend.

Arrays go through the zoo's own `tf.data` pipeline on TensorFlow (`own_pipeline`,
`augmented_batches`, `in_order`), Keras' array adapter on JAX. The CNN's augmentation
(`augmentation`) runs where each backend runs it fastest (`in_step`): inside TensorFlow's
compiled train step, in a training-only model around the stored one (`with_augmentation`),
and as a `tf.data` map on JAX. The stored model never holds it.

Example:
    >>> from zoo.config import TrainConfig
    >>> augmentation(TrainConfig.for_model("mlp-cancer")) is None
    True
"""

from __future__ import annotations

from typing import Any

import numpy as np

from zoo import backend
from zoo._tf import keras as _keras
from zoo.config import TrainConfig


def _tensorflow_without_strategy(cfg: TrainConfig) -> bool:
    # TensorFlow with no tf.distribute strategy (none asked for, none around the call),
    # whose sharding of the input stays Keras' own.
    if backend.name() != "tensorflow" or cfg.strategy != "default":
        return False
    import tensorflow as tf

    return not tf.distribute.has_strategy()


def augmentation(cfg: TrainConfig) -> Any:
    """The config's augmentation layers (a CNN with `augment`), else None.

    Example:
        >>> type(augmentation(TrainConfig.for_model("cnn-digits", augment=True))).__name__
        'Sequential'
    """
    if not getattr(cfg, "augment", False):
        return None
    from zoo.models.cnn import augmentation as layers

    return layers(seed=cfg.seed)


def in_step(cfg: TrainConfig) -> bool:
    """Whether the augmentation runs in the train step (TensorFlow) or in tf.data (JAX).

    Keras' random layers inside a JAX-compiled step were 33x slower than in tf.data. On
    TensorFlow the same layers cost ~9 ms per cnn-digits epoch in the step against ~60 ms
    as a tf.data map (whose kernels ran ~10x slower per image here, whatever the chunk
    size or threading options), and training was ~1.4x faster end to end. Not under a
    tf.distribute strategy, which shards the pipeline of its own.

    Example:
        >>> in_step(TrainConfig.for_model("cnn-digits")) == (backend.name() == "tensorflow")
        True
    """
    return _tensorflow_without_strategy(cfg)


def with_augmentation(net: Any, augment: Any) -> Any:
    """A training-only model: `augment` (inactive outside training), then `net`'s layers.

    Their weights are `net`'s own, so they are the ones trained, restored and stored.

    Example:
        >>> import keras
        >>> net = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten()])
        >>> trainer = with_augmentation(net, keras.layers.RandomFlip())
        >>> trainer.weights == net.weights, trainer.output_shape
        (True, (None, 64))
    """
    keras = _keras()
    inputs = keras.Input(net.input_shape[1:])
    return keras.Model(inputs, net(augment(inputs)), name=f"{net.name}_augmented")


def own_pipeline(cfg: TrainConfig, x: Any, y: Any) -> bool:
    """Whether arrays `x`, `y` go through the zoo's `tf.data` pipeline, not Keras' adapter.

    On TensorFlow Keras' array adapter builds a new index-gathering pipeline for every
    epoch's iterator, ~17 ms each for the training and again for the validation split
    here, against 0.5 ms for a plain one; over the quick zoo's ~300 epochs that was ~10 s
    of its ~90. On JAX the adapter slices the NumPy arrays itself, without tf.data:
    measured 1.05x (gru-digits) to 1.4-2.7x (lstm-digits, mlp-cancer) faster than this
    pipeline there.

    Example:
        >>> cfg = TrainConfig.for_model("mlp-cancer")
        >>> own_pipeline(cfg, np.ones((4, 2)), np.ones(4)) == (backend.name() == "tensorflow")
        True
    """
    if not all(isinstance(a, np.ndarray) for a in (x, y)):
        return False
    return _tensorflow_without_strategy(cfg)


def augmented_batches(
    x: np.ndarray,
    y: np.ndarray,
    augment: Any,
    batch_size: int,
    seed: int,
    drop_remainder: bool = False,
) -> Any:
    """A `tf.data` pipeline of shuffled, augmented training batches, for any backend.

    Reshuffled every epoch (seeded) and `augment(batch, training=True)` (if not None)
    mapped over the batches in order, one at a time, so the same seed gives the same batches. Keras
    runs its preprocessing layers inside `tf.data` on every backend; a JAX model trains
    on them like on arrays (measured: 33x faster than those layers inside a JAX model).

    Example:
        >>> from zoo.models.cnn import augmentation as layers
        >>> x = np.ones((10, 8, 8, 1), "float32"); y = np.arange(10)
        >>> batches = augmented_batches(x, y, layers(seed=0), 4, seed=0)
        >>> [tuple(b[0].shape) for b in batches.as_numpy_iterator()]
        [(4, 8, 8, 1), (4, 8, 8, 1), (2, 8, 8, 1)]
    """
    import tensorflow as tf

    # Layer by layer: each preprocessing layer runs itself on TensorFlow inside tf.data
    # (a Sequential around them would run on the model's backend).
    steps = [] if augment is None else list(getattr(augment, "layers", [augment]))

    def apply(images: Any, labels: Any) -> tuple[Any, Any]:
        for layer in steps:
            images = layer(images, training=True)
        return images, labels

    data = tf.data.Dataset.from_tensor_slices((x, y))
    data = data.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    data = data.batch(batch_size, drop_remainder=drop_remainder)
    return (data.map(apply) if steps else data).prefetch(tf.data.AUTOTUNE)


def in_order(split: tuple[np.ndarray, np.ndarray], batch_size: int) -> Any:
    """The validation split in order, as batches of `batch_size`, through the same cheap
    per-epoch iterator as the training batches.

    Example:
        >>> batches = in_order((np.ones((5, 2)), np.ones(5)), 2)
        >>> [len(b[1]) for b in batches.as_numpy_iterator()]
        [2, 2, 1]
    """
    import tensorflow as tf

    return tf.data.Dataset.from_tensor_slices(split).batch(batch_size)
