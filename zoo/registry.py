"""The zoo's entries and families, as data.

Registration is explicit and cheap: this module holds plain data only (no TensorFlow), so
`zoo list` answers without importing Keras. One `ModelSpec` per `<architecture>-<dataset>`
entry; one row per family in `BUILDERS` and one per task in `FITS`, each a
`"module:function"` string (like timm's entrypoints) that is imported only when a model is
actually built or fitted.

Adding a family is one builder module (`zoo/models/<family>.py` with a `from_config(cfg,
data)` function) plus one row in `BUILDERS`.
"""

from __future__ import annotations

import difflib
import fnmatch
import importlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from zoo.errors import UnknownModelError
from zoo.models import gan_tuning

# family -> the function that builds its Keras model from a `TrainConfig` and a `Dataset`.
BUILDERS: Mapping[str, str] = MappingProxyType(
    {
        "cnn": "zoo.models.cnn:from_config",
        "rnn": "zoo.models.rnn:from_config",
        "gan": "zoo.models.gan_family:from_config",
        "mlp": "zoo.models.mlp:from_config",
    }
)
# task -> the function that prepares one training run's fit (`zoo.training.FitPlan`):
# classifiers and forecasters fit (x, y) against a validation split; a generator is a GAN.
FITS: Mapping[str, str] = MappingProxyType(
    {
        "classification": "zoo.training:supervised_plan",
        "regression": "zoo.training:supervised_plan",
        "generation": "zoo.models.gan_family:gan_plan",
    }
)
FAMILIES = tuple(BUILDERS)
TASKS = tuple(FITS)

# What every entry's model card says it is for, unless its spec says otherwise.
INTENDED_USE = (
    "Teaching and comparing training choices (losses, optimizers, regularization) and "
    "explaining predictions; not for decisions about people."
)


@dataclass(frozen=True)
class ModelSpec:
    """What one zoo entry is: its family, task, dataset and default training options.

    `limits` and `intended_use` go into the entry's model card; an empty `limits` means
    the dataset's own (`zoo.data.facts(dataset).limits`).

    Example:
        >>> spec = get_spec("cnn-digits")
        >>> (spec.family, spec.task, spec.dataset)
        ('cnn', 'classification', 'digits')
    """

    name: str
    family: str
    task: str
    dataset: str
    summary: str
    defaults: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    quick: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    # In the default zoo (`zoo train --all`): only entries whose data ships offline.
    default: bool = True
    # Entries whose training needs another entry trained first (the GAN's Fréchet
    # distance uses the zoo's own digits classifier as its feature space).
    needs: tuple[str, ...] = ()
    limits: str = ""
    intended_use: str = INTENDED_USE
    # A custom entry's file in a store (`zoo.entries`); "" for built-in and in-process ones.
    origin: str = ""

    @property
    def custom(self) -> bool:
        """Whether the entry was added from the user's data (`zoo add`, `zoo.add_entry`)."""
        return bool(self.origin)


# Entry names: lowercase words of letters and digits joined by hyphens, starting with a
# letter (so no name can be a store's own folder, `_entries` or `.resume`).
NAME_PATTERN = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*")
MAX_NAME_LENGTH = 64


def check_name(name: Any) -> str:
    """`name` if it is a valid entry name, else a `ConfigError` saying what one looks like.

    Example:
        >>> check_name("mlp-wine")
        'mlp-wine'
        >>> check_name("My Model")
        Traceback (most recent call last):
        ...
        zoo.errors.ConfigError: entry name 'My Model' is not valid; expected lowercase ...
    """
    from zoo.errors import ConfigError

    if not isinstance(name, str) or len(name) > MAX_NAME_LENGTH or not NAME_PATTERN.fullmatch(name):
        raise ConfigError(
            f"entry name {name!r} is not valid; expected lowercase letters, digits and "
            f"hyphens, starting with a letter, at most {MAX_NAME_LENGTH} characters, like "
            "<architecture>-<dataset> (e.g. mlp-wine)"
        )
    return name


def entrypoint(ref: str) -> Callable[..., Any]:
    """The function a `"module:function"` string names, imported now.

    Example:
        >>> entrypoint("zoo.registry:get_spec")("mlp-cancer").family
        'mlp'
    """
    module, _, name = ref.partition(":")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as err:
        raise ValueError(
            f"entrypoint {ref!r} does not name a function ({err}); write it as "
            "'package.module:function' and check both names"
        ) from None


def builder(family: str) -> Callable[..., Any]:
    """The `from_config(cfg, data)` function that builds a family's Keras model.

    Example:
        >>> builder("mlp").__module__
        'zoo.models.mlp'
    """
    return _row(BUILDERS, "family", family)


def fit_planner(task: str) -> Callable[..., Any]:
    """The function that prepares a training run's fit for a task (see `FITS`).

    Example:
        >>> fit_planner("regression").__name__
        'supervised_plan'
    """
    return _row(FITS, "task", task)


def _row(table: Mapping[str, str], what: str, key: str) -> Callable[..., Any]:
    if key not in table:
        raise ValueError(f"{what} must be one of {tuple(table)}, got {key!r}")
    return entrypoint(table[key])


_REGISTRY: dict[str, ModelSpec] = {}


def register(
    name: str,
    *,
    family: str,
    task: str,
    dataset: str,
    summary: str,
    defaults: dict[str, Any] | None = None,
    quick: dict[str, Any] | None = None,
    default: bool = True,
    needs: tuple[str, ...] = (),
    limits: str = "",
    intended_use: str = INTENDED_USE,
    origin: str = "",
    replace: bool = False,
) -> ModelSpec:
    """Add an entry to the zoo and return its spec.

    `origin` is the entry file of a custom entry (`zoo.entries`); `replace=True` replaces
    a custom entry of the same name (never a built-in one).

    Example:
        >>> spec = register("mlp-example", family="mlp", task="classification",
        ...                 dataset="cancer", summary="demo", default=False)
        >>> "mlp-example" in list_models(include_optional=True)
        True
        >>> unregister("mlp-example")
    """
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {FAMILIES}, got {family!r}")
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    if name in _REGISTRY and not (replace and _REGISTRY[name].custom):
        raise ValueError(f"zoo entry {name!r} is already registered")
    spec = ModelSpec(
        name=name,
        family=family,
        task=task,
        dataset=dataset,
        summary=summary,
        defaults=MappingProxyType(dict(defaults or {})),
        quick=MappingProxyType(dict(quick or {})),
        default=default,
        needs=needs,
        limits=limits,
        intended_use=intended_use,
        origin=origin,
    )
    _REGISTRY[name] = spec
    return spec


def unregister(name: str) -> None:
    """Remove an entry (for tests and plugins that registered a temporary one).

    Example:
        >>> unregister("no-such-entry")  # a no-op for unknown names
    """
    _REGISTRY.pop(name, None)


def list_models(pattern: str = "*", *, include_optional: bool = False) -> list[str]:
    """Names of the zoo's entries, sorted; `pattern` is a shell-style filter.

    Entries whose data needs a download (`cnn-mnist`, ...) are listed only with
    `include_optional=True`. Custom entries of the default store (`$ZOO_HOME`) are read
    first (`zoo.entries.sync`), so a new process lists them too.

    Example:
        >>> list_models("cnn-*")
        ['cnn-digits']
    """
    _sync_default_store()
    return sorted(
        name
        for name, spec in _REGISTRY.items()
        if fnmatch.fnmatchcase(name, pattern) and (spec.default or include_optional)
    )


def _sync_default_store() -> None:
    # Custom entries live in the store (`<store>/_entries/`): read the default one's.
    from zoo.entries import sync
    from zoo.store import default_store

    sync(default_store())


def get_spec(name: str) -> ModelSpec:
    """The spec of one entry; an unknown name lists the known ones and the closest match.

    Example:
        >>> get_spec("mlp-cancer").task
        'classification'
    """
    if name not in _REGISTRY and isinstance(name, str):
        _sync_default_store()  # a custom entry of $ZOO_HOME, in a new process
    try:
        return _REGISTRY[name]
    except KeyError:
        from zoo.entries import broken_entry

        broken = broken_entry(name)
        if broken:
            raise UnknownModelError(f"zoo entry {name!r} cannot be read: {broken}") from None
        known = sorted(_REGISTRY)
        close = difflib.get_close_matches(name, known, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise UnknownModelError(
            f"unknown zoo entry {name!r}.{hint} Known entries: {', '.join(known)} (see `zoo list`)."
        ) from None


def default_order() -> list[str]:
    """Default entries in an order where every entry comes after the ones it needs.

    Custom entries (the user's data) are not part of the default zoo: `zoo train --all`
    and the dashboard's first start train the built-in entries only.

    Example:
        >>> order = default_order()
        >>> order.index("cnn-digits") < order.index("gan-digits")
        True
    """
    done: list[str] = []

    def visit(name: str) -> None:
        if name in done:
            return
        for need in _REGISTRY[name].needs:
            visit(need)
        done.append(name)

    for name in list_models():
        if not _REGISTRY[name].custom:
            visit(name)
    return done


# The default zoo. Epoch counts are upper bounds: early stopping ends most runs sooner.
register(
    "cnn-digits",
    family="cnn",
    task="classification",
    dataset="digits",
    summary="CNN image classifier on scikit-learn's 8x8 handwritten digits",
    # Chosen by bench/tune_defaults.py (30 random configurations x 3 seeds, ranked by
    # validation accuracy, the test split never used to choose): a third conv block and a
    # cosine schedule over 150 epochs; the former defaults ((32, 64), constant 2e-3, 80
    # epochs) ranked 5th. README: The zoo.
    defaults=dict(
        loss="sparse_categorical_crossentropy",
        filters=(32, 64, 128),
        dense_units=(64,),
        dropout=0.25,
        batch_norm=True,
        augment=True,
        epochs=150,
        batch_size=32,
        early_stopping=30,
        learning_rate=1e-3,
        schedule="cosine",
    ),
    quick=dict(epochs=25, early_stopping=8),
)
# The two row-by-row digit readers share everything but their cell.
_ROW_READER = dict(
    loss="sparse_categorical_crossentropy",
    units=64,
    dense_units=(64,),
    dropout=0.2,
    epochs=60,
    batch_size=32,
    early_stopping=10,
    learning_rate=3e-3,
)
register(
    "gru-digits",
    family="rnn",
    task="classification",
    dataset="digits-rows",
    summary="GRU sequence classifier reading each 8x8 digit row by row",
    # Chosen by bench/tune_defaults.py (16 random configurations x 3 seeds, ranked by
    # validation accuracy, the test split never used to choose): two stacked BiGRU(128)
    # layers with dropout 0.4; the former defaults (one BiGRU(64), dropout 0.2, 60 epochs,
    # patience 10) ranked 8th. --quick keeps the former network: in 20 epochs the bigger
    # one is slower and no better (0.952 vs 0.959 test accuracy, measured).
    defaults=dict(
        _ROW_READER,
        cell="gru",
        bidirectional=True,
        units=128,
        rnn_layers=2,
        dropout=0.4,
        l2=1e-4,
        batch_size=64,
        epochs=200,
        early_stopping=20,
    ),
    quick=dict(
        epochs=20, early_stopping=6, units=64, rnn_layers=1, dropout=0.2, l2=0.0, batch_size=32
    ),
)
register(
    "lstm-digits",
    family="rnn",
    task="classification",
    dataset="digits-rows",
    summary="LSTM sequence classifier reading each 8x8 digit row by row",
    defaults=dict(_ROW_READER, cell="lstm", bidirectional=False),
    quick=dict(epochs=20, early_stopping=6),
)
register(
    "lstm-co2",
    family="rnn",
    task="regression",
    dataset="co2",
    summary="LSTM forecaster of next week's Mauna Loa CO2 level (statsmodels co2)",
    defaults=dict(
        loss="mean_squared_error",
        cell="lstm",
        units=32,
        dense_units=(32,),
        window=52,
        epochs=60,
        batch_size=32,
        early_stopping=10,
        learning_rate=2e-3,
    ),
    quick=dict(epochs=20, early_stopping=6),
)
register(
    "mlp-cancer",
    family="mlp",
    task="classification",
    dataset="cancer",
    summary="Dense network on scikit-learn's breast-cancer data (30 tabular features)",
    # Chosen by bench/tune_defaults.py like cnn-digits' (the former (16,) relu, l2 1e-2,
    # 1e-3 ranked 15th of 30).
    defaults=dict(
        loss="binary_crossentropy",
        dense_units=(32,),
        activation="tanh",
        dropout=0.0,
        l2=1e-3,
        epochs=200,
        batch_size=32,
        early_stopping=40,
        learning_rate=3e-3,
        schedule="plateau",
    ),
    quick=dict(epochs=40, early_stopping=10),
)
register(
    "gan-digits",
    family="gan",
    task="generation",
    dataset="digits-signed",
    summary="DCGAN generating 8x8 digits; Fréchet distance in cnn-digits' feature space",
    # Tuned settings (and what they were measured to reach) live with the GAN.
    defaults=gan_tuning.ENTRY_DEFAULTS,
    quick=gan_tuning.ENTRY_QUICK,
    needs=("cnn-digits",),
    limits="Generates 8x8 digit-like images for demonstration; samples can be ambiguous and "
    "the Fréchet distance is measured with the zoo's own small classifier.",
)
# Keras' own datasets: opt-in downloads (or a file already in Keras' cache). The two
# 28x28 CNNs differ only in how long they train.
_KERAS_CNN = dict(
    loss="sparse_categorical_crossentropy",
    filters=(32, 64),
    dense_units=(128,),
    dropout=0.25,
    batch_norm=True,
    batch_size=128,
    early_stopping=3,
)
register(
    "cnn-mnist",
    family="cnn",
    task="classification",
    dataset="mnist",
    summary="CNN on Keras' MNIST (28x28); needs download=True or the file in Keras' cache",
    defaults=dict(_KERAS_CNN, epochs=10),
    quick=dict(epochs=2),
    default=False,
)
register(
    "cnn-fashion-mnist",
    family="cnn",
    task="classification",
    dataset="fashion-mnist",
    summary="CNN on Keras' Fashion-MNIST; needs download=True or the files in Keras' cache",
    defaults=dict(_KERAS_CNN, epochs=15),
    quick=dict(epochs=2),
    default=False,
)
