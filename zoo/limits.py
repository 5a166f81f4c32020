"""Limits a config must respect that depend on several options or on the data.

Each option's own range lives on its field (`zoo.options`); this module holds what one
field cannot say: the model's size, estimated from config values alone (no Keras, no
data), and ranges that depend on the dataset's facts (`zoo.data.facts`). Both run in
`TrainConfig.validate`, before any data is loaded, so a model that cannot fit in memory
or a window longer than its series fails in a second with the formula in the message,
instead of as `ResourceExhausted`, a segfault or an `IndexError` minutes later.

Example:
    >>> from zoo.config import TrainConfig
    >>> from zoo.registry import get_spec
    >>> cfg = TrainConfig.for_model("mlp-cancer")
    >>> parameter_estimate(cfg, get_spec("mlp-cancer"))[0] < MAX_PARAMETERS
    True
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from zoo.data import facts
from zoo.errors import ConfigError

if TYPE_CHECKING:
    from zoo.config import TrainConfig
    from zoo.registry import ModelSpec

# Training keeps 4 float32 numbers per parameter: the weight, its gradient and Adam's two
# moments. 1e8 parameters are 1.6 GB: what a laptop spares next to the data and the
# activations; the zoo's own models have under 1e6.
MAX_PARAMETERS = 100_000_000
BYTES_PER_PARAMETER = 16
_GATES = {"lstm": 4, "gru": 3, "simple_rnn": 1}


def data_facts(dataset: str) -> tuple[tuple[int, ...] | None, int | None]:
    """(input shape of one sample, time steps of the series) where the dataset's facts
    know them; None for what they do not say.

    `input_shape` (e.g. (8, 8, 1)) bounds kernel sizes; `series_length` (the time
    steps a forecaster's windows are cut from) bounds `window`. Both are read from
    `zoo.data.facts`, without loading data.

    Example:
        >>> shape, steps = data_facts("cancer")
        >>> shape is None or shape == (30,)
        True
    """
    f = facts(dataset)
    shape = getattr(f, "input_shape", None)
    steps = getattr(f, "series_length", None)
    return (tuple(int(v) for v in shape) if shape else None), (int(steps) if steps else None)


def parameter_estimate(cfg: TrainConfig, spec: ModelSpec) -> tuple[int, str]:
    """About how many parameters `cfg` builds for `spec`, and the formula used.

    Weights and biases of the layers whose size the options set; inputs the dataset's
    facts do not give count as 1 feature, so the estimate is a lower bound there.

    Example:
        >>> from zoo.config import TrainConfig
        >>> from zoo.registry import get_spec
        >>> cfg = TrainConfig.for_model("gru-digits", units=1024, bidirectional=True)
        >>> n, formula = parameter_estimate(cfg, get_spec("gru-digits"))
        >>> f"{n:.2g}", formula.split(":")[0]
        ('2.5e+07', 'rnn')
    """
    shape, _ = data_facts(spec.dataset)
    features = shape[-1] if shape else 1
    outputs = facts(spec.dataset).n_classes or 1
    if spec.family == "cnn":
        conv = [features, *cfg.filters]
        n = sum(cfg.kernel_size**2 * a * b + b for a, b in zip(conv, conv[1:], strict=False))
        n += _dense([cfg.filters[-1] if cfg.filters else features, *cfg.dense_units, outputs])
        formula = (
            "cnn: kernel_size^2 x sum of filters_in x filters_out + sum of dense_in x dense_out "
            "over the dense head"
        )
    elif spec.family == "rnn":
        gates, directions = _GATES.get(cfg.cell, 4), 2 if cfg.bidirectional else 1
        n, inputs = 0, features
        for _ in range(cfg.rnn_layers):
            n += directions * gates * cfg.units * (inputs + cfg.units + 1)
            inputs = directions * cfg.units
        n += _dense([inputs, *cfg.dense_units, outputs])
        formula = (
            "rnn: rnn_layers x directions x gates x units x (inputs + units + 1) "
            "+ sum of dense_in x dense_out over the dense head"
        )
    elif spec.family == "gan":
        g = cfg.gan_filters
        # Generator: Dense(latent -> 4x4x2g), 4x4 transposed conv 2g -> g, 3x3 conv g -> 1;
        # discriminator: 3x3 convs 1 -> g -> 2g, Dense(2x2x2g -> 1).
        n = cfg.latent_dim * 32 * g + 16 * 2 * g * g + 9 * g + 9 * g + 9 * g * 2 * g + 8 * g
        formula = "gan: latent_dim x 32 x gan_filters + 50 x gan_filters^2 (both networks)"
    else:
        n = _dense([features, *cfg.dense_units, outputs])
        formula = "mlp: sum of dense_in x dense_out from the features through dense_units"
    return int(n), formula


def check(cfg: TrainConfig, spec: ModelSpec) -> None:
    """Raise `ConfigError` when `cfg` is too large or does not fit its data.

    Example:
        >>> from zoo.config import TrainConfig
        >>> from zoo.registry import get_spec
        >>> import dataclasses
        >>> cfg = dataclasses.replace(TrainConfig.for_model("mlp-cancer"),
        ...                           dense_units=(8192, 8192, 8192))
        >>> check(cfg, get_spec("mlp-cancer"))
        Traceback (most recent call last):
        ...
        zoo.errors.ConfigError: mlp-cancer would have about 1.35e+08 parameters (mlp: ...
    """
    shape, steps = data_facts(spec.dataset)
    if spec.family == "cnn" and shape and len(shape) >= 2:
        side = min(shape[0], shape[1])
        if cfg.kernel_size > side:
            raise ConfigError(
                f"kernel_size={cfg.kernel_size} is wider than the {shape[0]}x{shape[1]} "
                f"images of {spec.name}: beyond the image it sees only zero padding; "
                f"expected 1 <= kernel_size <= {side}"
            )
    if spec.family == "rnn" and steps and facts(spec.dataset).kind == "forecast":
        _check_window(cfg, spec, steps)
    n, formula = parameter_estimate(cfg, spec)
    if n > MAX_PARAMETERS:
        gb = n * BYTES_PER_PARAMETER / 1e9
        limit_gb = MAX_PARAMETERS * BYTES_PER_PARAMETER / 1e9
        raise ConfigError(
            f"{spec.name} would have about {n:.3g} parameters ({formula}); training keeps "
            f"{BYTES_PER_PARAMETER} bytes per parameter (weight, gradient, two Adam moments), "
            f"{gb:,.1f} GB; the limit is {MAX_PARAMETERS:.0e} parameters ({limit_gb:.1f} GB); "
            "make the layers narrower or fewer"
        )


def _check_window(cfg: TrainConfig, spec: ModelSpec, steps: int) -> None:
    # A series of `steps` values gives steps - window windows, split chronologically;
    # each split needs at least one.
    def fits(window: int) -> bool:
        n = steps - window
        n_test = round(n * cfg.test_fraction)
        n_val = round(n * cfg.validation_fraction)
        return n_test >= 1 and n_val >= 1 and n - n_test - n_val >= 1

    if fits(cfg.window):
        return
    longest = next((w for w in range(min(cfg.window, steps), 1, -1) if fits(w)), None)
    fix = f"expected 2 <= window <= {longest}" if longest else "no window fits"
    raise ConfigError(
        f"window={cfg.window} leaves too few windows in the series of {spec.name} "
        f"({steps} time steps) for the train, validation and test splits; {fix}"
    )


def _dense(sizes: list[Any]) -> int:
    return sum(a * b + b for a, b in zip(sizes, sizes[1:], strict=False))
