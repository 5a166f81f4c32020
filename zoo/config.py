"""`TrainConfig`: every training option of the zoo in one typed, validated, frozen object.

The same config comes from Python keyword arguments, CLI flags and a TOML file. It is
validated once, at the edge, before any data is loaded or any model is built: a bad value
fails with the field, the value, the valid choices (or the closest match) and the fix.
Names of losses, optimizers and activations are resolved through Keras itself, so
whatever Keras accepts by name works here.
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import tomllib
import typing
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from zoo._tf import keras as _keras
from zoo.errors import ConfigError
from zoo.registry import ModelSpec, get_spec

SCHEDULES = ("constant", "cosine", "exponential", "plateau")
CELLS = ("lstm", "gru", "simple_rnn")
STRATEGIES = ("default", "one_device", "mirrored")

# Options that only mean something for some families; setting one explicitly for a
# family it does not apply to is an error rather than a silent no-op.
FAMILY_OPTIONS: dict[str, tuple[str, ...]] = {
    "filters": ("cnn",),
    "kernel_size": ("cnn",),
    "augment": ("cnn",),
    "cell": ("rnn",),
    "units": ("rnn",),
    "rnn_layers": ("rnn",),
    "bidirectional": ("rnn",),
    "window": ("rnn",),
    "dense_units": ("cnn", "rnn", "mlp"),
    "latent_dim": ("gan",),
    "gan_filters": ("gan",),
    "d_learning_rate": ("gan",),
    "g_learning_rate": ("gan",),
    "d_optimizer": ("gan",),
    "g_optimizer": ("gan",),
    "fid_samples": ("gan",),
    # The GAN has no validation loss to stop on or schedule by.
    "early_stopping": ("cnn", "rnn", "mlp"),
    "monitor": ("cnn", "rnn", "mlp"),
    "schedule": ("cnn", "rnn", "mlp"),
    "validation_fraction": ("cnn", "rnn", "mlp"),
}

# Losses a classifier or a GAN may use, by what their labels look like.
BINARY_LOSSES = {"binary_crossentropy", "binary_focal_crossentropy", "hinge", "squared_hinge"}
SPARSE_LOSSES = {"sparse_categorical_crossentropy"}
GAN_LOSSES = {
    "binary_crossentropy": "bce",
    "bce": "bce",
    "mean_squared_error": "mse",
    "mse": "mse",
    "least_squares": "mse",
}
_CLASSIFICATION_ONLY = ("crossentropy", "hinge", "kl_divergence", "dice", "tversky", "circle")

# Keras aliases that `keras.losses.get` accepts but that read better in full.
_LOSS_ALIASES = {
    "mse": "mean_squared_error",
    "mae": "mean_absolute_error",
    "mape": "mean_absolute_percentage_error",
    "msle": "mean_squared_logarithmic_error",
    "kld": "kl_divergence",
    "logcosh": "log_cosh",
    "huber_loss": "huber",
}


@dataclass(frozen=True)
class TrainConfig:
    """Everything one training run uses. Build it with `TrainConfig.for_model`.

    Example:
        >>> cfg = TrainConfig.for_model("cnn-digits", optimizer="rmsprop", l2=1e-4)
        >>> (cfg.model, cfg.optimizer, cfg.l2, cfg.loss)
        ('cnn-digits', 'rmsprop', 0.0001, 'sparse_categorical_crossentropy')
    """

    model: str
    # objective and optimizer
    loss: str = "sparse_categorical_crossentropy"
    optimizer: str = "adam"
    learning_rate: float = 1e-3
    momentum: float = 0.0
    nesterov: bool = False
    weight_decay: float = 0.0
    schedule: str = "constant"
    # hidden layers
    activation: str = "relu"
    l1: float = 0.0
    l2: float = 0.0
    dropout: float = 0.0
    batch_norm: bool = False
    # fitting
    epochs: int = 20
    batch_size: int = 32
    early_stopping: int = 0
    monitor: str = "val_loss"
    validation_fraction: float = 0.15
    test_fraction: float = 0.15
    seed: int = 0
    max_train_samples: int = 0
    # architecture
    filters: tuple[int, ...] = (32, 64)
    kernel_size: int = 3
    dense_units: tuple[int, ...] = (64,)
    augment: bool = False
    cell: str = "gru"
    units: int = 64
    rnn_layers: int = 1
    bidirectional: bool = False
    window: int = 52
    # GAN
    latent_dim: int = 32
    gan_filters: int = 32
    d_optimizer: str = ""
    g_optimizer: str = ""
    d_learning_rate: float = 0.0
    g_learning_rate: float = 0.0
    fid_samples: int = 500
    # execution
    strategy: str = "default"
    steps_per_execution: int = 32
    download: bool = False

    @classmethod
    def for_model(cls, name: str, *, quick: bool = False, **overrides: Any) -> TrainConfig:
        """The config of entry `name`: its defaults, then `quick` settings, then overrides.

        Example:
            >>> TrainConfig.for_model("lstm-co2", quick=True).epochs
            20
        """
        spec = get_spec(name)
        values: dict[str, Any] = dict(spec.defaults)
        if quick:
            values.update(spec.quick)
        unknown = [k for k in overrides if k not in _FIELD_TYPES or k == "model"]
        for key in unknown:
            close = difflib.get_close_matches(key, list(_FIELD_TYPES), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ConfigError(
                f"unknown training option {key!r}.{hint} Valid options: "
                f"{', '.join(f for f in _FIELD_TYPES if f != 'model')}."
            )
        for key in overrides:
            families = FAMILY_OPTIONS.get(key)
            if families and spec.family not in families:
                raise ConfigError(
                    f"option {key!r} does not apply to {name!r} (a {spec.family} model); "
                    f"it is for {'/'.join(families)} models. Remove it."
                )
        values.update({k: v for k, v in overrides.items() if v is not None})
        values = {k: _coerce(k, v) for k, v in values.items()}
        cfg = cls(model=name, **values)
        cfg.validate(spec)
        return cfg

    @classmethod
    def from_toml(cls, path: str | Path, **overrides: Any) -> TrainConfig:
        """Read a config from a TOML file: `model = "cnn-digits"` plus any options.

        Options given as keyword arguments win over the file's.

        Example:
            >>> import tempfile, os
            >>> p = os.path.join(tempfile.mkdtemp(), "run.toml")
            >>> _ = open(p, "w").write('model = "mlp-cancer"\\nepochs = 3\\n')
            >>> TrainConfig.from_toml(p).epochs
            3
        """
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text())
        except FileNotFoundError:
            raise ConfigError(f"config file {path} does not exist; check the path") from None
        except tomllib.TOMLDecodeError as err:
            raise ConfigError(f"config file {path} is not valid TOML: {err}") from None
        data.update({k: v for k, v in overrides.items() if v is not None})
        name = data.pop("model", None)
        if not name:
            raise ConfigError(f'config file {path} must name its entry: add model = "cnn-digits"')
        return cls.for_model(name, **data)

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
        values = {k: _coerce(k, v) for k, v in data.items() if k in _FIELD_TYPES}
        return cls(**values)

    def diff(self, other: TrainConfig) -> dict[str, tuple[Any, Any]]:
        """Options whose values differ: {field: (self's, other's)}.

        Example:
            >>> a = TrainConfig.for_model("mlp-cancer")
            >>> a.diff(dataclasses.replace(a, l2=0.05))
            {'l2': (0.01, 0.05)}
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
        spec = spec or get_spec(self.model)
        _in_range("learning_rate", self.learning_rate, low=0, low_open=True)
        _in_range("momentum", self.momentum, low=0, high=1, high_open=True)
        _in_range("weight_decay", self.weight_decay, low=0)
        _in_range("l1", self.l1, low=0)
        _in_range("l2", self.l2, low=0)
        _in_range("dropout", self.dropout, low=0, high=1, high_open=True)
        _in_range("epochs", self.epochs, low=1)
        _in_range("batch_size", self.batch_size, low=1)
        _in_range("early_stopping", self.early_stopping, low=0)
        _in_range("validation_fraction", self.validation_fraction, low=0.01, high=0.5)
        _in_range("test_fraction", self.test_fraction, low=0.01, high=0.5)
        _in_range("max_train_samples", self.max_train_samples, low=0)
        _in_range("kernel_size", self.kernel_size, low=1)
        _in_range("units", self.units, low=1)
        _in_range("rnn_layers", self.rnn_layers, low=1)
        _in_range("window", self.window, low=2)
        _in_range("latent_dim", self.latent_dim, low=1)
        _in_range("gan_filters", self.gan_filters, low=1)
        _in_range("d_learning_rate", self.d_learning_rate, low=0)
        _in_range("g_learning_rate", self.g_learning_rate, low=0)
        _in_range("fid_samples", self.fid_samples, low=2)
        _in_range("steps_per_execution", self.steps_per_execution, low=1)
        if self.validation_fraction + self.test_fraction >= 0.8:
            raise ConfigError(
                "validation_fraction + test_fraction must leave at least 20% for training, "
                f"got {self.validation_fraction} + {self.test_fraction}; lower one of them"
            )
        for name in ("filters", "dense_units"):
            value = getattr(self, name)
            if not all(isinstance(v, int) and v >= 1 for v in value):
                raise ConfigError(
                    f"{name}={value!r} must be positive integers, e.g. {name}=32,64; fix the list"
                )
        if spec.family != "mlp" and not self.filters and spec.family == "cnn":
            raise ConfigError("filters must name at least one convolution, e.g. filters=32,64")
        _choice("schedule", self.schedule, SCHEDULES)
        _choice("cell", self.cell, CELLS)
        _choice("strategy", self.strategy, STRATEGIES)
        if not (self.monitor == "val_loss" or self.monitor.startswith("val_")):
            raise ConfigError(
                f"monitor={self.monitor!r} must be a validation quantity such as 'val_loss' or "
                "'val_accuracy'; early stopping watches the validation split"
            )
        check_optimizer(self.optimizer, "optimizer")
        _check_optimizer_options(self)
        for name in ("d_optimizer", "g_optimizer"):
            if getattr(self, name):
                check_optimizer(getattr(self, name), name)
        check_activation(self.activation)
        self._check_loss(spec)

    def _check_loss(self, spec: ModelSpec) -> None:
        if spec.family == "gan":
            if self.loss not in GAN_LOSSES:
                raise ConfigError(
                    f"loss={self.loss!r} is not a GAN loss; expected one of "
                    f"{sorted(GAN_LOSSES)} (binary cross-entropy or least-squares); "
                    "pass loss='binary_crossentropy' or loss='mse'"
                )
            return
        name = canonical_loss(self.loss)
        classifying = any(part in name for part in _CLASSIFICATION_ONLY)
        if spec.task == "regression" and classifying:
            raise ConfigError(
                f"loss={self.loss!r} is a classification loss but {spec.name} is a "
                f"{spec.task} model; use a regression loss such as 'mean_squared_error', "
                "'mean_absolute_error' or 'huber'"
            )
        if spec.task == "classification" and name in BINARY_LOSSES:
            n_classes = _N_CLASSES.get(spec.dataset)
            if n_classes is not None and n_classes != 2:
                raise ConfigError(
                    f"loss={self.loss!r} needs a 2-class task but {spec.name} has {n_classes} "
                    "classes; use 'categorical_crossentropy' or "
                    "'sparse_categorical_crossentropy'"
                )

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
            'loss=binary_crossentropy opt=adam lr=0.001 act=relu l1=0 l2=0.01 drop=0 ...'
        """
        return (
            f"loss={self.loss} opt={self.optimizer} lr={self.learning_rate:g} "
            f"act={self.activation} l1={self.l1:g} l2={self.l2:g} drop={self.dropout:g} "
            f"bn={'on' if self.batch_norm else 'off'} epochs={self.epochs} "
            f"es={self.early_stopping or 'off'} seed={self.seed}"
        )


# Number of classes per bundled classification dataset, known without loading data.
_N_CLASSES = {
    "digits": 10,
    "digits-rows": 10,
    "cancer": 2,
    "mnist": 10,
    "fashion-mnist": 10,
}

_FIELD_TYPES: dict[str, Any] = {
    f.name: typing.get_type_hints(TrainConfig)[f.name] for f in dataclasses.fields(TrainConfig)
}


def option_names() -> list[str]:
    """Every option `TrainConfig` takes, in declaration order.

    Example:
        >>> option_names()[:3]
        ['loss', 'optimizer', 'learning_rate']
    """
    return [name for name in _FIELD_TYPES if name != "model"]


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


def _coerce(name: str, value: Any) -> Any:
    """Turn CLI strings / TOML values into the field's type, or fail naming the field."""
    kind = _FIELD_TYPES[name]
    try:
        if kind is bool:
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in ("1", "true", "yes", "on"):
                return True
            if isinstance(value, str) and value.lower() in ("0", "false", "no", "off"):
                return False
            if isinstance(value, int) and value in (0, 1):
                return bool(value)
            raise ValueError
        if kind is int:
            if isinstance(value, bool):
                raise ValueError
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            return int(value)
        if kind is float:
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if kind is str:
            if not isinstance(value, str):
                raise ValueError
            return value.strip()
        # tuple[int, ...]
        if isinstance(value, str):
            value = [v for v in value.replace(" ", "").split(",") if v]
        if isinstance(value, int):
            value = [value]
        out = []
        for v in value:
            if isinstance(v, float) and not v.is_integer():
                raise ValueError
            out.append(int(v))
        return tuple(out)
    except (TypeError, ValueError):
        expected = {bool: "true or false", int: "an integer", float: "a number", str: "a name"}
        want = expected.get(kind, "a comma-separated list of integers such as 32,64")
        raise ConfigError(f"{name}={value!r} has the wrong type: expected {want}") from None


def _in_range(
    name: str,
    value: float,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> None:
    bad = (
        (low is not None and (value < low or (low_open and value == low)))
        or (high is not None and (value > high or (high_open and value == high)))
        or value != value  # NaN
    )
    if bad:
        lo = "" if low is None else f"{low:g} {'<' if low_open else '<='} "
        hi = "" if high is None else f" {'<' if high_open else '<='} {high:g}"
        raise ConfigError(
            f"{name}={value!r} is out of range: expected {lo}{name}{hi}; pass a value in range"
        )


def _choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        close = difflib.get_close_matches(value, choices, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"{name}={value!r} is not valid.{hint} Expected one of: {choices}.")


def _keras_names(module: Any, *, functions: bool) -> list[str]:
    names = []
    for attr in dir(module):
        if attr.startswith("_") or attr in ("get", "serialize", "deserialize"):
            continue
        obj = getattr(module, attr)
        if functions and inspect.isfunction(obj):
            names.append(attr)
        if not functions and inspect.isclass(obj):
            names.append(attr.lower())
    return sorted(names)


def _unknown_name(field: str, value: str, valid: list[str]) -> ConfigError:
    close = difflib.get_close_matches(value.lower(), valid, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return ConfigError(
        f"{field}={value!r} is not a Keras {field.split('_')[-1]} name.{hint} "
        f"Valid names: {', '.join(valid)}."
    )


def canonical_loss(name: str) -> str:
    """The full Keras name of a loss, resolved through `keras.losses.get`.

    Example:
        >>> canonical_loss("mse")
        'mean_squared_error'
    """
    keras = _keras()
    key = _LOSS_ALIASES.get(name, name)
    try:
        fn = keras.losses.get(key)
    except (ValueError, TypeError):
        raise _unknown_name("loss", name, _keras_names(keras.losses, functions=True)) from None
    resolved = getattr(fn, "__name__", key)
    return _LOSS_ALIASES.get(resolved, resolved)


def check_optimizer(name: str, field: str = "optimizer") -> None:
    """Fail unless Keras knows optimizer `name`.

    Example:
        >>> check_optimizer("adamw")
    """
    keras = _keras()
    valid = [
        n
        for n in _keras_names(keras.optimizers, functions=False)
        if n not in ("optimizer", "lossscaleoptimizer", "multioptimizer", "optimizermap")
    ]
    if name.lower() not in valid:
        raise _unknown_name(field, name, valid)


def _check_optimizer_options(cfg: TrainConfig) -> None:
    keras = _keras()
    cls = type(keras.optimizers.get(cfg.optimizer))
    params = inspect.signature(cls.__init__).parameters
    for key, unset in (("momentum", 0.0), ("nesterov", False), ("weight_decay", 0.0)):
        value = getattr(cfg, key)
        if value != unset and key not in params:
            supported = [k for k in ("momentum", "nesterov", "weight_decay") if k in params]
            raise ConfigError(
                f"{key}={value!r} does not apply to optimizer {cfg.optimizer!r} ({cls.__name__} "
                f"takes {', '.join(supported) or 'none of momentum/nesterov/weight_decay'}); "
                "remove it or pick an optimizer that has it (e.g. sgd, rmsprop, adamw)"
            )


def check_activation(name: str) -> None:
    """Fail unless Keras knows activation `name`.

    Example:
        >>> check_activation("gelu")
    """
    keras = _keras()
    try:
        keras.activations.get(name)
    except (ValueError, TypeError):
        valid = _keras_names(keras.activations, functions=True)
        raise _unknown_name("activation", name, valid) from None
