"""Dense network for tabular data."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from zoo.models._layers import head, head_options

if TYPE_CHECKING:
    from zoo.config import TrainConfig
    from zoo.data import Dataset


def build_mlp(
    input_shape: tuple[int, ...],
    n_outputs: int,
    *,
    output_activation: str = "softmax",
    dense_units: tuple[int, ...] = (32, 16),
    activation: str = "relu",
    l1: float = 0.0,
    l2: float = 0.0,
    dropout: float = 0.0,
    batch_norm: bool = False,
) -> Any:
    """A multilayer perceptron: one dense block per entry of `dense_units`.

    Example:
        >>> build_mlp((30,), 1, output_activation="sigmoid", dense_units=(8,)).count_params()
        257
    """
    import keras

    inputs = keras.Input(shape=input_shape, name="features")
    x = inputs
    outputs = head(
        x, n_outputs, output_activation, dense_units, activation, l1, l2, dropout, batch_norm
    )
    return keras.Model(inputs, outputs, name="mlp")


def from_config(cfg: TrainConfig, data: Dataset) -> Any:
    """`build_mlp` with a config's options, sized for `data` (the `mlp` row of `BUILDERS`).

    Example:
        >>> import zoo
        >>> cfg = zoo.TrainConfig.for_model("mlp-cancer")
        >>> from_config(cfg, zoo.dataset("mlp-cancer")).output_shape
        (None, 1)
    """
    return build_mlp(data.input_shape, **head_options(cfg, data))
