"""Validation of a `TrainConfig`, and reading one from a TOML file.

`validate` checks a config in the order a person fixes it: each option's own range
(from its field's metadata, `zoo.options`), the combinations, the size of the model and
the ranges the data sets (`zoo.limits`), the closed choices, what early stopping can
watch, and last the names Keras resolves (the only step that imports Keras). Nothing
here loads data.

Example:
    >>> from zoo.config import TrainConfig
    >>> try:
    ...     TrainConfig.for_model("mlp-cancer", monitor="val_mae")
    ... except ConfigError as err:
    ...     print(err)  # doctest: +ELLIPSIS
    monitor='val_mae' is not logged by mlp-cancer (a classification model). ... val_accuracy
"""

from __future__ import annotations

import difflib
import functools
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo import limits
from zoo.data import facts
from zoo.errors import ConfigError
from zoo.keras_names import (
    BINARY_LOSSES,
    GAN_LOSSES,
    canonical_loss,
    check_activation,
    check_optimizer,
    is_classification_loss,
    optimizer_settings,
)
from zoo.options import MAX_NAME_LENGTH, Option, schema, show

if TYPE_CHECKING:
    from zoo.config import TrainConfig
    from zoo.registry import ModelSpec

# What each task logs per epoch besides the loss (zoo.training compiles these metrics);
# early stopping and the plateau schedule can watch their validation versions.
LOGGED_METRICS: dict[str, tuple[str, ...]] = {
    "classification": ("accuracy",),
    "regression": ("mae",),
    "generation": (),
}
# A config is a few lines; a larger file is not one (and would be read whole).
MAX_TOML_BYTES = 1 << 20


def validate(cfg: TrainConfig, spec: ModelSpec) -> None:
    """Check every value and combination of `cfg` for `spec`; raise `ConfigError`.

    Example:
        >>> from zoo.config import TrainConfig
        >>> from zoo.registry import get_spec
        >>> validate(TrainConfig.for_model("cnn-digits"), get_spec("cnn-digits"))
    """
    # mypy checks type[TrainConfig] against Hashable with the instances' __hash__ (a
    # class is hashable, and `_options(TrainConfig)` passes): its bug, not ours.
    options = _options(type(cfg))  # type: ignore[arg-type]
    values = {name: getattr(cfg, name) for name in options}
    # Ranges first, then the combinations, then the names: the first error is the
    # simplest one to fix.
    for name, meta in options.items():
        if not meta.choices:
            meta.check(name, values[name])
    if cfg.validation_fraction + cfg.test_fraction >= 0.8:
        raise ConfigError(
            "validation_fraction + test_fraction must leave at least 20% for training, "
            f"got {cfg.validation_fraction} + {cfg.test_fraction}; lower one of them"
        )
    if spec.family == "cnn" and not cfg.filters:
        raise ConfigError("filters must name at least one convolution, e.g. filters=32,64")
    # Size and data limits need no Keras and no data: a model too large for memory or a
    # window longer than its series fails here, in a second.
    limits.check(cfg, spec)
    for name, meta in options.items():
        if meta.choices:
            meta.check(name, values[name])
    if options["monitor"].applies_to(spec.family):
        check_monitor(cfg.monitor, spec)
    if options["freeze"].applies_to(spec.family):
        check_transfer(cfg.init, cfg.freeze)
    # Every optimizer this run builds must know the names and take the settings.
    # An empty discriminator / generator optimizer means "the same as optimizer"; an
    # empty optimizer means nothing and is refused with the valid names.
    optimizers = [
        n for n, m in options.items() if m.keras == "optimizer" and (values[n] or n == "optimizer")
    ]
    for name in optimizers:
        check_optimizer(values[name], name)
    for name in optimizers:
        optimizer_settings(
            values[name],
            momentum=cfg.momentum,
            nesterov=cfg.nesterov,
            weight_decay=cfg.weight_decay,
        )
    check_activation(cfg.activation)
    check_loss(cfg.loss, spec)


def check_transfer(init: str, freeze: str) -> None:
    """Fail unless `freeze` is none, all-but-head or a count, and only used with `init`.

    Whether `init` names a stored, compatible version is checked when training starts
    (it needs the store).

    Example:
        >>> check_transfer("cnn-digits@1", "all-but-head")
        >>> check_transfer("", "2")
        Traceback (most recent call last):
        zoo.errors.ConfigError: freeze='2' needs init=NAME[@VERSION]: ...
    """
    if init and (len(init) > MAX_NAME_LENGTH or any(c.isspace() for c in init)):
        raise ConfigError(
            f"init={show(init)} is not a version reference; expected NAME or NAME@VERSION "
            "(see `zoo runs NAME`)"
        )
    if freeze not in ("none", "all-but-head") and not (freeze.isdigit() and len(freeze) < 4):
        raise ConfigError(
            f"freeze={show(freeze)} is not understood; expected none, all-but-head or a "
            "number of layers (e.g. freeze=2: the first two layers with weights)"
        )
    if freeze != "none" and not init:
        raise ConfigError(
            f"freeze={show(freeze)} needs init=NAME[@VERSION]: only weights copied from "
            "another version are kept fixed; add init or drop freeze"
        )


def check_monitor(monitor: str, spec: ModelSpec) -> None:
    """Fail unless `monitor` is a validation quantity that `spec`'s task logs.

    Example:
        >>> from zoo.registry import get_spec
        >>> check_monitor("val_mae", get_spec("lstm-co2"))
    """
    logged = ["val_loss", *(f"val_{m}" for m in LOGGED_METRICS.get(spec.task, ()))]
    if not monitor.startswith("val_"):
        raise ConfigError(
            f"monitor={show(monitor)} must be a validation quantity such as "
            f"{' or '.join(map(repr, logged))}; early stopping watches the validation split"
        )
    if monitor not in logged:
        close = difflib.get_close_matches(monitor, logged, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ConfigError(
            f"monitor={show(monitor)} is not logged by {spec.name} (a {spec.task} "
            f"model).{hint} Expected one of: {', '.join(logged)}"
        )


def check_loss(loss: str, spec: ModelSpec) -> None:
    """Fail unless `loss` fits `spec`'s task (and, for binary losses, its classes).

    Example:
        >>> from zoo.registry import get_spec
        >>> check_loss("huber", get_spec("gan-digits"))  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        zoo.errors.ConfigError: loss='huber' is not a GAN loss; ...
    """
    if spec.family == "gan":
        if loss not in GAN_LOSSES:
            raise ConfigError(
                f"loss={show(loss)} is not a GAN loss; expected one of "
                f"{sorted(GAN_LOSSES)} (binary cross-entropy or least-squares); "
                "pass loss='binary_crossentropy' or loss='mse'"
            )
        return
    name = canonical_loss(loss)
    if spec.task == "regression" and is_classification_loss(name):
        raise ConfigError(
            f"loss={show(loss)} is a classification loss but {spec.name} is a "
            f"{spec.task} model; use a regression loss such as 'mean_squared_error', "
            "'mean_absolute_error' or 'huber'"
        )
    if spec.task == "classification" and name in BINARY_LOSSES:
        n_classes = facts(spec.dataset).n_classes
        if n_classes is not None and n_classes != 2:
            raise ConfigError(
                f"loss={show(loss)} needs a 2-class task but {spec.name} has {n_classes} "
                "classes; use 'categorical_crossentropy' or "
                "'sparse_categorical_crossentropy'"
            )


def read_toml(path: Path) -> dict[str, Any]:
    """The table a TOML config file holds; every way the file can be wrong (missing, a
    folder, unreadable, too large, not UTF-8, not TOML) is one `ConfigError` naming it.

    Example:
        >>> import tempfile
        >>> read_toml(Path(tempfile.mkdtemp()))  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        zoo.errors.ConfigError: config file ... is a folder; name a TOML file in it
    """
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_TOML_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist; check the path") from None
    except IsADirectoryError:
        raise ConfigError(f"config file {path} is a folder; name a TOML file in it") from None
    except OSError as err:
        raise ConfigError(
            f"config file {path} cannot be read ({err.strerror or err}); check the path and "
            "its permissions"
        ) from None
    if len(raw) > MAX_TOML_BYTES:
        raise ConfigError(
            f"config file {path} is larger than {MAX_TOML_BYTES // 1024} KB; a config is a few "
            "lines of name = value"
        )
    try:
        text = raw.decode("utf-8-sig")  # a byte-order mark (Notepad writes one) is skipped
    except UnicodeDecodeError as err:
        raise ConfigError(
            f"config file {path} is not UTF-8 text (byte {err.start}); TOML files are UTF-8: "
            "save it as UTF-8"
        ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        message = " ".join(str(err).split())  # one line
        raise ConfigError(f"config file {path} is not valid TOML: {message}") from None
    except RecursionError:
        raise ConfigError(f"config file {path} is nested too deeply; a config is flat") from None


@functools.cache
def _options(cls: type) -> dict[str, Option]:
    return schema(cls)
