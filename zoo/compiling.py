"""Building and compiling one training run's model: the family's builder, the optimizer
with its schedule, the loss and metrics, and labels in the form the loss expects.

Split out of `zoo.training` (which re-exports these names), so the fit pipeline and the
choices that compile a model can be read apart.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from zoo import backend
from zoo._tf import keras as _keras
from zoo.config import TrainConfig
from zoo.data import Dataset
from zoo.keras_names import make_optimizer
from zoo.registry import builder, get_spec

# --- building -------------------------------------------------------------------------


def build_model(cfg: TrainConfig, data: Dataset) -> Any:
    """The (uncompiled) Keras model a config describes, sized for `data`.

    A lookup and a call: the entry's family names its builder in `zoo.registry.BUILDERS`.

    Example:
        >>> from zoo.data import load_dataset
        >>> cfg = TrainConfig.for_model("mlp-cancer", dense_units=(8,))
        >>> build_model(cfg, load_dataset("cancer")).output_shape
        (None, 1)
    """
    return builder(get_spec(cfg.model).family)(cfg, data)


# --- optimizer ------------------------------------------------------------------------


def optimizer_for(
    cfg: TrainConfig, *, name: str = "", learning_rate: float | Any | None = None
) -> Any:
    """A fresh optimizer for a config, with its momentum, nesterov and weight decay.

    `name` and `learning_rate` replace the config's `optimizer` and `learning_rate` (the
    GAN's per-network choices; a schedule for `learning_rate` works too). Every optimizer
    the zoo trains with is made here.

    Example:
        >>> cfg = TrainConfig.for_model("mlp-cancer", optimizer="sgd", momentum=0.9)
        >>> opt = optimizer_for(cfg, learning_rate=0.05)
        >>> type(opt).__name__, round(float(opt.learning_rate), 4)
        ('SGD', 0.05)
    """
    return make_optimizer(
        name or cfg.optimizer,
        cfg.learning_rate if learning_rate is None else learning_rate,
        momentum=cfg.momentum,
        nesterov=cfg.nesterov,
        weight_decay=cfg.weight_decay,
    )


def learning_rate_for(cfg: TrainConfig, steps_per_epoch: int) -> Any:
    """A float, or a Keras schedule for `cosine` / `exponential` (plateau is a callback).

    Example:
        >>> cfg = TrainConfig.for_model("mlp-cancer", schedule="cosine", epochs=10)
        >>> type(learning_rate_for(cfg, 20)).__name__
        'CosineDecay'
    """
    keras = _keras()
    total = max(1, cfg.epochs * steps_per_epoch)
    if cfg.schedule == "cosine":
        return keras.optimizers.schedules.CosineDecay(cfg.learning_rate, decay_steps=total)
    if cfg.schedule == "exponential":
        # Decays to 1% of the initial rate over the whole run.
        return keras.optimizers.schedules.ExponentialDecay(
            cfg.learning_rate, decay_steps=total, decay_rate=0.01
        )
    return cfg.learning_rate


def compile_model(
    model: Any, cfg: TrainConfig, task: str, *, steps_per_epoch: int, optimizer: Any = None
) -> None:
    """Compile with the config's loss, optimizer (and schedule) and the task's metrics.

    `optimizer`, when given, is used as it is (a model that trains another model's layers
    shares that model's optimizer); otherwise it is built from the config.

    Example:
        >>> from zoo.data import load_dataset
        >>> cfg = TrainConfig.for_model("mlp-cancer", optimizer="sgd", momentum=0.9)
        >>> m = build_model(cfg, load_dataset("cancer"))
        >>> compile_model(m, cfg, "classification", steps_per_epoch=13)
        >>> type(m.optimizer).__name__
        'SGD'
    """
    keras = _keras()
    if optimizer is None:
        optimizer = optimizer_for(cfg, learning_rate=learning_rate_for(cfg, steps_per_epoch))
    metrics = ["accuracy"] if task == "classification" else ["mae"]
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.get(cfg.loss if cfg.loss != "mse" else "mean_squared_error"),
        metrics=metrics,
        # Many small steps per call: measured 1.4x faster than 1 on this CPU. On
        # TensorFlow XLA is ~10x slower here, so it stays off; on JAX `jit_compile=False`
        # means no jax.jit at all (eager steps, 50-700x slower), so it is on there.
        steps_per_execution=cfg.steps_per_execution,
        jit_compile=backend.name() == "jax",
    )


def encode_labels(y: np.ndarray, encoding: str, n_classes: int) -> np.ndarray:
    """Integer class labels in the form a loss expects: sparse, one-hot or binary.

    Example:
        >>> encode_labels(np.array([0, 2]), "onehot", 3).tolist()
        [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]
    """
    if encoding == "sparse":
        return y.astype("int64")
    if encoding == "binary":
        return y.astype("float32").reshape(-1, 1)
    return np.eye(n_classes, dtype="float32")[y]
