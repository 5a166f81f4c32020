"""Pieces the builders share: regularizers, the hidden dense block, the output head."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from zoo.config import TrainConfig
    from zoo.data import Dataset


def output_head(cfg: TrainConfig, task: str, n_classes: int | None) -> tuple[int, str]:
    """Number of output units and their activation for a config's task and loss.

    Example:
        >>> from zoo.config import TrainConfig
        >>> output_head(TrainConfig.for_model("mlp-cancer"), "classification", 2)
        (1, 'sigmoid')
    """
    if task == "regression":
        return 1, "linear"
    if cfg.label_encoding() == "binary":
        return 1, "sigmoid"
    return int(n_classes or 0), "softmax"


def head_options(cfg: TrainConfig, data: Dataset) -> dict[str, Any]:
    """The builder arguments every supervised family takes from a config and its data.

    The output head (units and activation) follows the data's task and the loss; the
    dense head and regularization follow the config.

    Example:
        >>> from zoo.config import TrainConfig
        >>> from zoo.data import load_dataset
        >>> opts = head_options(TrainConfig.for_model("cnn-digits"), load_dataset("digits"))
        >>> opts["n_outputs"], opts["output_activation"], opts["dense_units"]
        (10, 'softmax', (64,))
    """
    n_outputs, output_activation = output_head(cfg, data.task, data.n_classes)
    return dict(
        n_outputs=n_outputs,
        output_activation=output_activation,
        **config_args(cfg, "dense_units", "activation", "l1", "l2", "dropout", "batch_norm"),
    )


def config_args(cfg: TrainConfig, *names: str) -> dict[str, Any]:
    """Config options as keyword arguments of the same names.

    Builders name their arguments after the options they take, so a family's
    `from_config` lists the options and nothing else.

    Example:
        >>> from zoo.config import TrainConfig
        >>> config_args(TrainConfig.for_model("gru-digits"), "cell", "units")
        {'cell': 'gru', 'units': 128}
    """
    return {name: getattr(cfg, name) for name in names}


def regularizer(l1: float, l2: float) -> Any:
    """`keras.regularizers.L1L2` when either factor is set, else None (no extra loss)."""
    import keras

    if not l1 and not l2:
        return None
    return keras.regularizers.L1L2(l1=l1, l2=l2)


def dense_block(
    x: Any,
    units: int,
    *,
    activation: str,
    l1: float,
    l2: float,
    dropout: float,
    batch_norm: bool,
    name: str,
) -> Any:
    """Dense -> (BatchNorm) -> activation -> (Dropout), applied to tensor `x`."""
    import keras
    from keras import layers

    # With batch norm the activation follows the normalization, as in the BN paper.
    x = layers.Dense(
        units,
        activation=None if batch_norm else activation,
        kernel_regularizer=regularizer(l1, l2),
        name=name,
    )(x)
    if batch_norm:
        x = layers.BatchNormalization(name=f"{name}_bn")(x)
        x = layers.Activation(keras.activations.get(activation), name=f"{name}_act")(x)
    if dropout:
        x = layers.Dropout(dropout, name=f"{name}_dropout")(x)
    return x


def head(
    x: Any,
    n_outputs: int,
    output_activation: str,
    dense_units: tuple[int, ...],
    activation: str,
    l1: float,
    l2: float,
    dropout: float,
    batch_norm: bool,
) -> Any:
    """The top every supervised builder ends with, on tensor `x`: one `dense_block` per
    entry of `dense_units` (dense0, dense1, ...), then the prediction layer ("output":
    `n_outputs` softmax / sigmoid / linear units)."""
    from keras import layers

    for i, units in enumerate(dense_units):
        x = dense_block(
            x,
            units,
            activation=activation,
            l1=l1,
            l2=l2,
            dropout=dropout,
            batch_norm=batch_norm,
            name=f"dense{i}",
        )
    reg = regularizer(l1, l2)
    return layers.Dense(
        n_outputs, activation=output_activation, kernel_regularizer=reg, name="output"
    )(x)
