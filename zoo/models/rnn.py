"""Recurrent models: sequence classifiers and forecasters (LSTM, GRU, SimpleRNN)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from zoo.models._layers import config_args, head, head_options, regularizer

if TYPE_CHECKING:
    from zoo.config import TrainConfig
    from zoo.data import Dataset


def build_rnn(
    input_shape: tuple[int, int],
    n_outputs: int,
    *,
    output_activation: str = "softmax",
    cell: str = "gru",
    units: int = 64,
    rnn_layers: int = 1,
    bidirectional: bool = False,
    dense_units: tuple[int, ...] = (64,),
    activation: str = "relu",
    l1: float = 0.0,
    l2: float = 0.0,
    dropout: float = 0.0,
    batch_norm: bool = False,
) -> Any:
    """Stacked recurrent layers over (time steps, features), then a dense head.

    The recurrent cells keep their own gated tanh/sigmoid activations (the gates need
    them); `activation` applies to the dense layers after them. L1/L2 regularize both
    the input and recurrent kernels; `dropout` is the cells' input dropout and the dense
    layers' dropout; `batch_norm` normalizes the recurrent output.

    Example:
        >>> m = build_rnn((8, 8), 10, cell="lstm", units=16, bidirectional=True)
        >>> m.output_shape
        (None, 10)
    """
    import keras
    from keras import layers

    cells = {"lstm": layers.LSTM, "gru": layers.GRU, "simple_rnn": layers.SimpleRNN}
    inputs = keras.Input(shape=input_shape, name="sequence")
    x = inputs
    for i in range(rnn_layers):
        last = i == rnn_layers - 1
        rnn = cells[cell](
            units,
            return_sequences=not last,
            kernel_regularizer=regularizer(l1, l2),
            recurrent_regularizer=regularizer(l1, l2),
            dropout=dropout,
            name=f"{cell}{i}",
        )
        x = layers.Bidirectional(rnn, name=f"bi{cell}{i}")(x) if bidirectional else rnn(x)
    if batch_norm:
        x = layers.BatchNormalization(name="rnn_bn")(x)
    outputs = head(
        x, n_outputs, output_activation, dense_units, activation, l1, l2, dropout, batch_norm
    )
    return keras.Model(inputs, outputs, name=f"{'bi' if bidirectional else ''}{cell}")


def from_config(cfg: TrainConfig, data: Dataset) -> Any:
    """`build_rnn` with a config's options, sized for `data` (the `rnn` row of `BUILDERS`).

    Example:
        >>> import zoo
        >>> cfg = zoo.TrainConfig.for_model("lstm-co2", units=4)
        >>> from_config(cfg, zoo.dataset("lstm-co2")).get_layer("lstm0").units
        4
    """
    steps, features = data.input_shape  # a sequence data set: (time steps, features)
    return build_rnn(
        (steps, features),
        **head_options(cfg, data),
        **config_args(cfg, "cell", "units", "rnn_layers", "bidirectional"),
    )
