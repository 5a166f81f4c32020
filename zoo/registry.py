"""The zoo's entries: one `ModelSpec` per `<architecture>-<dataset>` name.

Registration is explicit and cheap: this module holds plain data only (no TensorFlow), so
`zoo list` answers without importing Keras. Builders are named by family and resolved in
`zoo.training` when a model is actually built.
"""

from __future__ import annotations

import difflib
import fnmatch
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from zoo.errors import UnknownModelError

FAMILIES = ("cnn", "rnn", "gan", "mlp")
TASKS = ("classification", "regression", "generation")


@dataclass(frozen=True)
class ModelSpec:
    """What one zoo entry is: its family, task, dataset and default training options.

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
) -> ModelSpec:
    """Add an entry to the zoo and return its spec.

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
    if name in _REGISTRY:
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
    `include_optional=True`.

    Example:
        >>> list_models("cnn-*")
        ['cnn-digits']
    """
    return sorted(
        name
        for name, spec in _REGISTRY.items()
        if fnmatch.fnmatchcase(name, pattern) and (spec.default or include_optional)
    )


def get_spec(name: str) -> ModelSpec:
    """The spec of one entry; an unknown name lists the known ones and the closest match.

    Example:
        >>> get_spec("mlp-cancer").task
        'classification'
    """
    try:
        return _REGISTRY[name]
    except KeyError:
        known = sorted(_REGISTRY)
        close = difflib.get_close_matches(name, known, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise UnknownModelError(
            f"unknown zoo entry {name!r}.{hint} Known entries: {', '.join(known)} (see `zoo list`)."
        ) from None


def default_order() -> list[str]:
    """Default entries in an order where every entry comes after the ones it needs.

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
        visit(name)
    return done


# The default zoo. Epoch counts are upper bounds: early stopping ends most runs sooner.
register(
    "cnn-digits",
    family="cnn",
    task="classification",
    dataset="digits",
    summary="CNN image classifier on scikit-learn's 8x8 handwritten digits",
    defaults=dict(
        loss="sparse_categorical_crossentropy",
        filters=(32, 64),
        dense_units=(64,),
        dropout=0.25,
        batch_norm=True,
        augment=True,
        epochs=80,
        batch_size=32,
        early_stopping=15,
        learning_rate=2e-3,
    ),
    quick=dict(epochs=25, early_stopping=8),
)
register(
    "gru-digits",
    family="rnn",
    task="classification",
    dataset="digits-rows",
    summary="GRU sequence classifier reading each 8x8 digit row by row",
    defaults=dict(
        loss="sparse_categorical_crossentropy",
        cell="gru",
        units=64,
        bidirectional=True,
        dense_units=(64,),
        dropout=0.2,
        epochs=60,
        batch_size=32,
        early_stopping=10,
        learning_rate=3e-3,
    ),
    quick=dict(epochs=20, early_stopping=6),
)
register(
    "lstm-digits",
    family="rnn",
    task="classification",
    dataset="digits-rows",
    summary="LSTM sequence classifier reading each 8x8 digit row by row",
    defaults=dict(
        loss="sparse_categorical_crossentropy",
        cell="lstm",
        units=64,
        bidirectional=False,
        dense_units=(64,),
        dropout=0.2,
        epochs=60,
        batch_size=32,
        early_stopping=10,
        learning_rate=3e-3,
    ),
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
    defaults=dict(
        loss="binary_crossentropy",
        dense_units=(16,),
        dropout=0.0,
        l2=1e-2,
        epochs=100,
        batch_size=32,
        early_stopping=20,
        learning_rate=1e-3,
    ),
    quick=dict(epochs=40, early_stopping=10),
)
register(
    "gan-digits",
    family="gan",
    task="generation",
    dataset="digits-signed",
    summary="DCGAN generating 8x8 digits; Fréchet distance in cnn-digits' feature space",
    # Measured in cnn-digits' feature space: FID 7-8x below the untrained generator's
    # after 40 epochs for both losses, ~6x after 20. Adam uses beta_1 = 0.5 (DCGAN).
    defaults=dict(
        loss="binary_crossentropy",
        latent_dim=16,
        gan_filters=32,
        batch_norm=True,
        dropout=0.3,
        learning_rate=2e-4,
        epochs=40,
        batch_size=64,
        steps_per_execution=8,
    ),
    quick=dict(epochs=20),
    needs=("cnn-digits",),
)
# Keras' own datasets: opt-in downloads (or a file already in Keras' cache).
register(
    "cnn-mnist",
    family="cnn",
    task="classification",
    dataset="mnist",
    summary="CNN on Keras' MNIST (28x28); needs download=True or the file in Keras' cache",
    defaults=dict(
        loss="sparse_categorical_crossentropy",
        filters=(32, 64),
        dense_units=(128,),
        dropout=0.25,
        batch_norm=True,
        epochs=10,
        batch_size=128,
        early_stopping=3,
    ),
    quick=dict(epochs=2),
    default=False,
)
register(
    "cnn-fashion-mnist",
    family="cnn",
    task="classification",
    dataset="fashion-mnist",
    summary="CNN on Keras' Fashion-MNIST; needs download=True or the files in Keras' cache",
    defaults=dict(
        loss="sparse_categorical_crossentropy",
        filters=(32, 64),
        dense_units=(128,),
        dropout=0.25,
        batch_norm=True,
        epochs=15,
        batch_size=128,
        early_stopping=3,
    ),
    quick=dict(epochs=2),
    default=False,
)
