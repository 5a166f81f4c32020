"""Names of losses, optimizers and activations, resolved through Keras; optimizers built.

Every choice a user types is a string that Keras itself resolves (`keras.losses.get`,
`keras.optimizers.get`, `keras.activations.get`), so whatever Keras accepts by name works
and a misspelling fails with the closest valid name. This is also the one place that
builds an optimizer from a name and the shared options (momentum, nesterov, weight decay),
so the "does not apply to optimizer" error is written once.

Example:
    >>> canonical_loss("mse")
    'mean_squared_error'
    >>> type(make_optimizer("rmsprop", 1e-3, momentum=0.9)).__name__
    'RMSprop'
"""

from __future__ import annotations

import difflib
import functools
import inspect
from typing import Any

from zoo._tf import keras as _keras
from zoo.errors import ConfigError

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
# Parts of a loss name that mark it as a classification loss.
CLASSIFICATION_ONLY = ("crossentropy", "hinge", "kl_divergence", "dice", "tversky", "circle")

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

# What a form offers first; any other Keras name still works from Python, CLI and TOML.
COMMON: dict[str, tuple[str, ...]] = {
    "loss": (
        "sparse_categorical_crossentropy",
        "categorical_crossentropy",
        "binary_crossentropy",
        "binary_focal_crossentropy",
        "categorical_focal_crossentropy",
        "hinge",
        "squared_hinge",
        "mean_squared_error",
        "mean_absolute_error",
        "huber",
        "log_cosh",
    ),
    "optimizer": ("adam", "adamw", "sgd", "rmsprop", "nadam", "adamax", "adagrad", "lion"),
    "activation": ("relu", "tanh", "elu", "gelu", "selu", "silu", "leaky_relu", "sigmoid"),
}

# Optimizer settings the zoo passes on, with the value that means "not set".
OPTIMIZER_SETTINGS: dict[str, Any] = {"momentum": 0.0, "nesterov": False, "weight_decay": 0.0}
# Keras exports these from keras.optimizers, but they wrap other optimizers.
_NOT_OPTIMIZERS = ("optimizer", "lossscaleoptimizer", "multioptimizer", "optimizermap")


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


def is_classification_loss(name: str) -> bool:
    """Whether loss `name` only makes sense for class labels.

    Example:
        >>> is_classification_loss("categorical_crossentropy"), is_classification_loss("huber")
        (True, False)
    """
    resolved = canonical_loss(name)
    return any(part in resolved for part in CLASSIFICATION_ONLY)


def check_optimizer(name: str, field: str = "optimizer") -> None:
    """Fail unless Keras knows optimizer `name`.

    Example:
        >>> check_optimizer("adamw")
    """
    keras = _keras()
    valid = [n for n in _keras_names(keras.optimizers, functions=False) if n not in _NOT_OPTIMIZERS]
    if name.lower() not in valid:
        raise _unknown_name(field, name, valid)


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


@functools.lru_cache(maxsize=64)
def _optimizer_class(name: str) -> type[Any]:
    # keras.optimizers.get builds an instance (with variables); the class is all we need,
    # and forms validate the same few names over and over.
    return type(_keras().optimizers.get(name))


def optimizer_settings(name: str, **settings: Any) -> dict[str, Any]:
    """The settings (momentum, nesterov, weight_decay) to pass to optimizer `name`.

    Unset ones are dropped; a set one the optimizer does not take is a `ConfigError`, not
    a silent no-op.

    Example:
        >>> optimizer_settings("sgd", momentum=0.9, nesterov=False, weight_decay=0.0)
        {'momentum': 0.9}
        >>> optimizer_settings("adam", momentum=0.9)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        zoo.errors.ConfigError: momentum=0.9 does not apply to optimizer 'adam' (Adam takes ...
    """
    check_optimizer(name)
    cls = _optimizer_class(name)
    params = inspect.signature(cls.__init__).parameters
    chosen = {}
    for key, value in settings.items():
        if value == OPTIMIZER_SETTINGS[key]:
            continue
        if key not in params:
            supported = [k for k in OPTIMIZER_SETTINGS if k in params]
            raise ConfigError(
                f"{key}={value!r} does not apply to optimizer {name!r} ({cls.__name__} "
                f"takes {', '.join(supported) or 'none of momentum/nesterov/weight_decay'}); "
                "remove it or pick an optimizer that has it (e.g. sgd, rmsprop, adamw)"
            )
        chosen[key] = value
    return chosen


def make_optimizer(
    name: str,
    learning_rate: float | Any,
    *,
    momentum: float = 0.0,
    nesterov: bool = False,
    weight_decay: float = 0.0,
) -> Any:
    """A fresh Keras optimizer by name with the settings it supports.

    `learning_rate` may be a float or a Keras schedule. Setting momentum / nesterov /
    weight decay on an optimizer that has no such parameter is a `ConfigError`.

    Example:
        >>> opt = make_optimizer("sgd", 0.01, momentum=0.9, nesterov=True)
        >>> type(opt).__name__, float(opt.momentum), opt.nesterov
        ('SGD', 0.9, True)
    """
    settings = optimizer_settings(
        name, momentum=momentum, nesterov=nesterov, weight_decay=weight_decay
    )
    return _optimizer_class(name)(learning_rate=learning_rate, **settings)
