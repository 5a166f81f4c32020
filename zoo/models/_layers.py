"""Pieces the builders share: regularizers and the hidden dense block."""

from __future__ import annotations

from typing import Any


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


def dense_head(
    x: Any,
    dense_units: tuple[int, ...],
    *,
    activation: str,
    l1: float,
    l2: float,
    dropout: float,
    batch_norm: bool,
) -> Any:
    """One `dense_block` per entry of `dense_units`, named dense0, dense1, ..."""
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
    return x


def output_layer(x: Any, n_outputs: int, activation: str, l1: float, l2: float) -> Any:
    """The prediction head: softmax / sigmoid / linear units."""
    from keras import layers

    return layers.Dense(
        n_outputs, activation=activation, kernel_regularizer=regularizer(l1, l2), name="output"
    )(x)
