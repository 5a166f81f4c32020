"""`TrainConfig`: every training option of the zoo in one typed, validated, frozen object.

The same config comes from Python keyword arguments, CLI flags and a TOML file. It is
validated once, at the edge, before any data is loaded or any model is built: a bad value
fails with the field, the value, the valid choices (or the closest match) and the fix.
Names of losses, optimizers and activations are resolved through Keras itself
(`zoo.keras_names`), so whatever Keras accepts by name works here. Each field carries its
metadata once (`zoo.options`); `option_spec`, `options_for` and `choices_for` hand it to
the CLI, the Train form and the report.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import typing
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from zoo import validation
from zoo.errors import ConfigError, ZooError
from zoo.keras_names import (
    BINARY_LOSSES,
    COMMON,
    GAN_LOSSES,
    SPARSE_LOSSES,
    canonical_loss,
    check_activation,
    check_optimizer,
)
from zoo.options import (
    ARCHITECTURE,
    EXECUTION,
    FITTING,
    GAN,
    LAYERS,
    OBJECTIVE,
    SUPERVISED,
    Option,
    coerce,
    option,
    schema,
    show,
)
from zoo.registry import ModelSpec, get_spec
from zoo.validation import LOGGED_METRICS

# Re-exported: callers import the loss tables and Keras-name checks from here.
__all__ = [
    "BINARY_LOSSES",
    "GAN_LOSSES",
    "LOGGED_METRICS",
    "SPARSE_LOSSES",
    "TrainConfig",
    "canonical_loss",
    "check_activation",
    "check_optimizer",
    "choices_for",
    "option_default",
    "option_names",
    "option_spec",
    "option_type",
    "options_for",
]

SCHEDULES = ("constant", "cosine", "exponential", "plateau")
# Caps against runaway values (a typo of 1e12 epochs would run for ever), far above what
# any zoo entry needs (its defaults train for at most a few hundred epochs).
MAX_EPOCHS = 10_000
MAX_LAYERS = 16
RUNAWAY = "a cap against runaway values"

CELLS = ("lstm", "gru", "simple_rnn")
STRATEGIES = ("default", "one_device", "mirrored")


@dataclass(frozen=True)
class TrainConfig:
    """Everything one training run uses. Build it with `TrainConfig.for_model`.

    Each field is declared once with its metadata (`zoo.options.option`: group, help,
    the families it applies to, range or choices); validation, the CLI, the Train
    form and the report read it from there.

    Example:
        >>> cfg = TrainConfig.for_model("cnn-digits", optimizer="rmsprop", l2=1e-4)
        >>> (cfg.model, cfg.optimizer, cfg.l2, cfg.loss)
        ('cnn-digits', 'rmsprop', 0.0001, 'sparse_categorical_crossentropy')
    """

    model: str
    # --- objective and optimizer
    loss: str = option(
        "sparse_categorical_crossentropy",
        OBJECTIVE,
        "any Keras loss name (categorical_crossentropy, mean_squared_error, huber, ...)",
        keras="loss",
    )
    optimizer: str = option(
        "adam",
        OBJECTIVE,
        "any Keras optimizer name (adam, sgd, rmsprop, adamw, ...)",
        keras="optimizer",
    )
    learning_rate: float = option(1e-3, OBJECTIVE, "initial learning rate", low=0, low_open=True)
    momentum: float = option(
        0.0, OBJECTIVE, "momentum (sgd, rmsprop)", low=0, high=1, high_open=True
    )
    nesterov: bool = option(False, OBJECTIVE, "Nesterov momentum (sgd)")
    weight_decay: float = option(0.0, OBJECTIVE, "weight decay (adamw, sgd, ...)", low=0)
    schedule: str = option(
        "constant", OBJECTIVE, "learning-rate schedule", choices=SCHEDULES, families=SUPERVISED
    )
    # --- hidden layers
    activation: str = option(
        "relu",
        LAYERS,
        "hidden-layer activation: any Keras name (relu, tanh, gelu, elu, ...)",
        keras="activation",
    )
    l1: float = option(0.0, LAYERS, "L1 kernel regularization on every layer that takes one", low=0)
    l2: float = option(0.0, LAYERS, "L2 kernel regularization on every layer that takes one", low=0)
    dropout: float = option(0.0, LAYERS, "dropout rate (0 = off)", low=0, high=1, high_open=True)
    batch_norm: bool = option(False, LAYERS, "batch normalization after each hidden layer")
    # --- fitting
    epochs: int = option(
        20,
        FITTING,
        "training epochs (an upper bound with early stopping)",
        low=1,
        high=MAX_EPOCHS,
        why=RUNAWAY,
    )
    batch_size: int = option(
        32,
        FITTING,
        "samples per gradient step",
        low=1,
        high=65536,
        why="one batch and its activations must fit in memory",
    )
    early_stopping: int = option(
        0,
        FITTING,
        "early-stopping patience in epochs (0 = off); best weights restored",
        low=0,
        high=MAX_EPOCHS,
        why=RUNAWAY,
        families=SUPERVISED,
    )
    monitor: str = option(
        "val_loss",
        FITTING,
        "quantity early stopping watches (val_loss, val_accuracy, ...)",
        families=SUPERVISED,
    )
    validation_fraction: float = option(
        0.15,
        FITTING,
        "share of the data held out for validation",
        low=0.01,
        high=0.5,
        families=SUPERVISED,
    )
    test_fraction: float = option(
        0.15, FITTING, "share of the data held out for the test metrics", low=0.01, high=0.5
    )
    seed: int = option(
        0,
        FITTING,
        "random seed (splits, initialization, shuffling)",
        low=0,
        high=2**32 - 1,
        why="NumPy and scikit-learn take seeds in 0..2**32-1",
    )
    max_train_samples: int = option(
        0,
        FITTING,
        "train on a random subset of this size (0 = all)",
        low=0,
        high=2**31 - 1,
        why="a sample index NumPy takes on every platform",
    )
    init: str = option(
        "",
        FITTING,
        "start from a stored version's weights, NAME[@VERSION] (layers matched by name and "
        "shape; the output layer is always new)",
        families=SUPERVISED,
    )
    freeze: str = option(
        "none",
        FITTING,
        "with init: layers kept fixed while training: none, all-but-head, or N (the first N "
        "layers with weights)",
        families=SUPERVISED,
    )
    # --- architecture
    filters: tuple[int, ...] = option(
        (32, 64),
        ARCHITECTURE,
        "CNN filters per conv block, comma-separated (e.g. 32,64)",
        low=1,
        high=1024,
        why="memory: a conv layer's output is batch x height x width x filters floats, "
        "100 MB per layer at 1024 filters on 28x28 images",
        max_items=MAX_LAYERS,
        families=("cnn",),
    )
    kernel_size: int = option(
        3,
        ARCHITECTURE,
        "CNN kernel size",
        low=1,
        high=15,
        why="each output costs kernel_size^2 multiply-adds per filter pair; 15 spans more "
        "than half of a 28x28 image",
        families=("cnn",),
    )
    dense_units: tuple[int, ...] = option(
        (64,),
        ARCHITECTURE,
        "dense layer sizes, comma-separated (e.g. 64,32)",
        low=1,
        high=8192,
        why="memory: two such layers hold 8192^2 = 6.7e7 weights, 1 GB while training",
        max_items=MAX_LAYERS,
        families=SUPERVISED,
    )
    augment: bool = option(
        False,
        ARCHITECTURE,
        "random shifts/rotations/zooms during training (CNN)",
        families=("cnn",),
    )
    cell: str = option("gru", ARCHITECTURE, "recurrent cell", choices=CELLS, families=("rnn",))
    units: int = option(
        64,
        ARCHITECTURE,
        "units per recurrent layer",
        low=1,
        high=4096,
        why="memory: an LSTM layer of 4096 units holds 4 x 4096^2 = 6.7e7 weights, 1 GB "
        "while training",
        families=("rnn",),
    )
    rnn_layers: int = option(
        1,
        ARCHITECTURE,
        "stacked recurrent layers",
        low=1,
        high=MAX_LAYERS,
        why=RUNAWAY,
        families=("rnn",),
    )
    bidirectional: bool = option(False, ARCHITECTURE, "read sequences both ways", families=("rnn",))
    window: int = option(
        52,
        ARCHITECTURE,
        "the forecaster's input window in time steps",
        low=2,
        high=10_000,
        why="memory: training through time keeps batch x window x units x gates floats, "
        "330 MB at 10,000 steps of 64 LSTM units",
        families=("rnn",),
    )
    # --- GAN
    latent_dim: int = option(
        32,
        GAN,
        "size of the generator's noise",
        low=1,
        high=4096,
        why="memory: the generator's first layer holds latent_dim x 32 x gan_filters weights",
        families=("gan",),
    )
    gan_filters: int = option(
        32,
        GAN,
        "GAN base filter count",
        low=1,
        high=1024,
        why="memory: the networks hold about 50 x gan_filters^2 weights",
        families=("gan",),
    )
    d_optimizer: str = option(
        "",
        GAN,
        "discriminator optimizer (empty: same as optimizer)",
        keras="optimizer",
        families=("gan",),
    )
    g_optimizer: str = option(
        "",
        GAN,
        "generator optimizer (empty: same as optimizer)",
        keras="optimizer",
        families=("gan",),
    )
    d_learning_rate: float = option(
        0.0, GAN, "discriminator learning rate (0: same as learning_rate)", low=0, families=("gan",)
    )
    g_learning_rate: float = option(
        0.0, GAN, "generator learning rate (0: same as learning_rate)", low=0, families=("gan",)
    )
    fid_samples: int = option(
        500,
        GAN,
        "samples for the Fréchet distance",
        low=2,
        high=100_000,
        why="memory: the distance holds every sample's image and features",
        families=("gan",),
    )
    # --- execution
    strategy: str = option("default", EXECUTION, "tf.distribute strategy", choices=STRATEGIES)
    steps_per_execution: int = option(
        32,
        EXECUTION,
        "batches per compiled step",
        low=1,
        high=10_000,
        why="progress and the NaN guard only see the end of each compiled step",
    )
    download: bool = option(
        False, EXECUTION, "allow downloading Keras' own datasets (mnist, fashion-mnist)"
    )

    @classmethod
    def for_model(cls, name: str, *, quick: bool = False, **overrides: Any) -> TrainConfig:
        """The config of entry `name`: its defaults, then `quick` settings, then overrides.

        Example:
            >>> TrainConfig.for_model("lstm-co2", quick=True).epochs
            20
        """
        if not isinstance(name, str):
            raise ConfigError(
                f"model={show(name)} must be a string naming a zoo entry, e.g. "
                f"model='cnn-digits' (see `zoo list`)"
            )
        spec = get_spec(name)
        values: dict[str, Any] = dict(spec.defaults)
        if quick:
            values.update(spec.quick)
        unknown = [k for k in overrides if k not in _FIELD_TYPES or k == "model"]
        for key in unknown:
            close = difflib.get_close_matches(str(key), list(_FIELD_TYPES), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ConfigError(
                f"unknown training option {show(key)}.{hint} Valid options: "
                f"{', '.join(f for f in _FIELD_TYPES if f != 'model')}."
            )
        for key in overrides:
            meta = _OPTIONS[key]
            if not meta.applies_to(spec.family):
                raise ConfigError(
                    f"option {key!r} does not apply to {name!r} (a {spec.family} model); "
                    f"it is for {'/'.join(meta.families)} models. Remove it."
                )
        values.update({k: v for k, v in overrides.items() if v is not None})
        values = {k: coerce(k, _FIELD_TYPES[k], v) for k, v in values.items()}
        cfg = cls(model=name, **values)
        cfg.validate(spec)
        return cfg

    @classmethod
    def from_toml(cls, path: str | Path, **overrides: Any) -> TrainConfig:
        """Read a config from a TOML file: `model = "cnn-digits"` plus any options.

        Options given as keyword arguments win over the file's. Whatever is wrong with
        the file (missing, a folder, not UTF-8, not TOML, a value of the wrong type) is
        one `ConfigError` that names the file.

        Example:
            >>> import tempfile, os
            >>> p = os.path.join(tempfile.mkdtemp(), "run.toml")
            >>> _ = open(p, "w").write('model = "mlp-cancer"\\nepochs = 3\\n')
            >>> TrainConfig.from_toml(p).epochs
            3
        """
        path = Path(path)
        data = validation.read_toml(path)
        data.update({k: v for k, v in overrides.items() if v is not None})
        name = data.pop("model", None)
        if name is None or name == "":
            raise ConfigError(f'config file {path} must name its entry: add model = "cnn-digits"')
        if not isinstance(name, str):
            raise ConfigError(
                f"config file {path}: model = {show(name)} must be a string naming one zoo "
                'entry, e.g. model = "cnn-digits" (see `zoo list`)'
            )
        try:
            return cls.for_model(name, **data)
        except ZooError as err:
            raise type(err)(f"config file {path}: {err}") from None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values.

        Example:
            >>> TrainConfig.for_model("mlp-cancer").to_dict()["model"]
            'mlp-cancer'
        """
        return {f.name: (list(v) if isinstance(v, tuple) else v) for f, v in self._items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainConfig:
        """Rebuild a config saved with `to_dict` (unknown keys from newer versions ignored).

        Example:
            >>> c = TrainConfig.for_model("mlp-cancer")
            >>> TrainConfig.from_dict(c.to_dict()) == c
            True
        """
        values = {k: coerce(k, _FIELD_TYPES[k], v) for k, v in data.items() if k in _FIELD_TYPES}
        return cls(**values)

    def diff(self, other: TrainConfig) -> dict[str, tuple[Any, Any]]:
        """Options whose values differ: {field: (self's, other's)}.

        Example:
            >>> a = TrainConfig.for_model("mlp-cancer")
            >>> a.diff(dataclasses.replace(a, l2=0.05))
            {'l2': (0.001, 0.05)}
        """
        mine, theirs = self.to_dict(), other.to_dict()
        return {k: (mine[k], theirs[k]) for k in mine if mine[k] != theirs[k]}

    def _items(self):
        return ((f, getattr(self, f.name)) for f in fields(self))

    # --- validation -----------------------------------------------------------------

    def validate(self, spec: ModelSpec | None = None) -> None:
        """Check every value and combination; raise `ConfigError` naming field and fix.

        Example:
            >>> try:
            ...     TrainConfig.for_model("cnn-digits", dropout=1.5)
            ... except ConfigError as err:
            ...     print(err)
            dropout=1.5 is out of range: expected 0 <= dropout < 1; pass a value in range
        """
        validation.validate(self, spec or get_spec(self.model))

    def label_encoding(self) -> str:
        """How classification labels are fed to this config's loss.

        'sparse' (integer labels, softmax), 'binary' (one 0/1 column, sigmoid) or
        'onehot' (one-hot rows, softmax) -- chosen from the loss.

        Example:
            >>> TrainConfig.for_model("mlp-cancer").label_encoding()
            'binary'
        """
        name = canonical_loss(self.loss)
        if name in SPARSE_LOSSES:
            return "sparse"
        if name in BINARY_LOSSES:
            return "binary"
        return "onehot"

    def summary(self) -> str:
        """One line of the options a person compares runs by.

        Example:
            >>> TrainConfig.for_model("mlp-cancer").summary()  # doctest: +ELLIPSIS
            'loss=binary_crossentropy opt=adam lr=0.003 act=tanh l1=0 l2=0.001 drop=0 ...'
        """
        return (
            f"loss={self.loss} opt={self.optimizer} lr={self.learning_rate:g} "
            f"act={self.activation} l1={self.l1:g} l2={self.l2:g} drop={self.dropout:g} "
            f"bn={'on' if self.batch_norm else 'off'} epochs={self.epochs} "
            f"es={self.early_stopping or 'off'} seed={self.seed}"
        )


_FIELD_TYPES: dict[str, Any] = {
    f.name: typing.get_type_hints(TrainConfig)[f.name] for f in dataclasses.fields(TrainConfig)
}
_OPTIONS: dict[str, Option] = schema(TrainConfig)
# Which families each family-specific option is for (kept for older callers).
FAMILY_OPTIONS: dict[str, tuple[str, ...]] = {
    n: m.families for n, m in _OPTIONS.items() if m.families
}


def option_names() -> list[str]:
    """Every option `TrainConfig` takes, in declaration order.

    Example:
        >>> option_names()[:3]
        ['loss', 'optimizer', 'learning_rate']
    """
    return list(_OPTIONS)


def option_spec(name: str) -> Option:
    """The metadata of option `name`: group, help, families, range or choices.

    Example:
        >>> meta = option_spec("dropout")
        >>> meta.group, meta.range_text("dropout")
        ('Hidden layers and regularization', '0 <= dropout < 1')
    """
    return _OPTIONS[name]


def options_for(family: str) -> list[str]:
    """The options that apply to models of `family`, in declaration order.

    The report's config table, the Train form and `zoo train --help` list these.

    Example:
        >>> "filters" in options_for("cnn"), "filters" in options_for("mlp")
        (True, False)
    """
    return [name for name, meta in _OPTIONS.items() if meta.applies_to(family)]


def option_type(name: str) -> Any:
    """The Python type of option `name` (for CLI and form builders).

    Example:
        >>> option_type("epochs")
        <class 'int'>
    """
    return _FIELD_TYPES[name]


def option_default(name: str) -> Any:
    """The global default of option `name` (an entry's own defaults may differ).

    Example:
        >>> option_default("optimizer")
        'adam'
    """
    return TrainConfig.__dataclass_fields__[name].default


@functools.lru_cache(maxsize=256)
def choices_for(name: str, option_name: str) -> tuple[str, ...]:
    """What a form offers for a string option of entry `name`; () for free values.

    A closed set (`schedule`, `cell`, `strategy`) as declared. For a Keras name (loss,
    optimizer, activation) the entry's default first, then the common names that pass
    validation for this entry; any other Keras name still works from Python, CLI, TOML.

    Example:
        >>> choices_for("lstm-co2", "loss")[:3]
        ('mean_squared_error', 'mean_absolute_error', 'huber')
        >>> choices_for("cnn-digits", "cell")
        ('lstm', 'gru', 'simple_rnn')
    """
    meta = _OPTIONS[option_name]
    if meta.choices or not meta.keras:
        return meta.choices
    default = getattr(TrainConfig.for_model(name), option_name)
    offered = []
    for candidate in dict.fromkeys((default, *COMMON[meta.keras])):
        try:
            TrainConfig.for_model(name, **{option_name: candidate})
        except ConfigError:
            continue
        offered.append(candidate)
    return tuple(offered)
