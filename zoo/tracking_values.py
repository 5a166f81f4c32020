"""What a training logs, to TensorBoard (`zoo.tracking`) and MLflow (`zoo.mlflow_logging`).

The tags of the enclosing `tagged` blocks (a sweep's id and trial number), a config's
options as HParams values (`hparams_from_config`), a run's single-number test metrics
(`scalar_metrics`), and the one-line error text both print when logging fails (without
a password that a URL in it carries). `zoo.tracking` re-exports the public names.

Example:
    >>> hparams_from_config({"l2": 0.01, "units": [64, 32], "init": None}, sweep="s1")
    {'l2': 0.01, 'units': '64,32', 'sweep': 's1'}
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import re
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

HParamValue = bool | float | str

# Tags (`tagged`) added to the HParams and the MLflow run of every training in a block.
_TAGS: contextvars.ContextVar[tuple[tuple[str, HParamValue], ...]] = contextvars.ContextVar(
    "zoo_tracking_tags", default=()
)
_USERINFO = re.compile(r"://[^/@\s]+@")


@contextlib.contextmanager
def tagged(**tags: HParamValue) -> Iterator[dict[str, HParamValue]]:
    """Add `tags` to the HParams and MLflow tags of every training started in the block.

    A sweep wraps each trial's `train` in `tagged(sweep=<id>, trial=<n>)`, so TensorBoard's
    HParams view can filter and compare one sweep's runs.

    Example:
        >>> with tagged(sweep="mlp-cancer-demo", trial=3) as tags:
        ...     sorted(tags.items())
        [('sweep', 'mlp-cancer-demo'), ('trial', 3)]
        >>> current_tags()
        {}
    """
    merged = {**dict(_TAGS.get()), **tags}
    token = _TAGS.set(tuple(merged.items()))
    try:
        yield merged
    finally:
        _TAGS.reset(token)


def current_tags() -> dict[str, HParamValue]:
    """The tags of the enclosing `tagged` blocks (empty outside any).

    Example:
        >>> with tagged(sweep="s1"):
        ...     current_tags()
        {'sweep': 's1'}
    """
    return dict(_TAGS.get())


def hparams_from_config(config: Mapping[str, Any], **tags: Any) -> dict[str, HParamValue]:
    """A config's options as HParams values: the options its family uses, plus `tags`.

    Options that do not apply to the model's family (a CNN's `filters` for an MLP) are
    left out, so the HParams view compares what changed; lists become "32,64" (as
    typed on the command line), None is left out. A config dict of an unknown model
    keeps every key.

    Example:
        >>> from zoo.config import TrainConfig
        >>> cfg = TrainConfig.for_model("mlp-cancer", dense_units=(64, 32), dropout=0.0)
        >>> hp = hparams_from_config(cfg.to_dict(), sweep="s1")
        >>> hp["model"], hp["dense_units"], hp["dropout"], hp["sweep"], "filters" in hp
        ('mlp-cancer', '64,32', 0.0, 's1', False)
    """
    out: dict[str, HParamValue] = {}
    for key, value in [*_options(config).items(), *tags.items()]:
        converted = _hparam_value(value)
        if converted is not None:
            out[str(key)] = converted
    return out


def _options(config: Mapping[str, Any]) -> dict[str, Any]:
    # The model and the options that apply to its family; every key if it is not a zoo
    # entry's config.
    try:
        from zoo.config import options_for
        from zoo.registry import get_spec

        names = ["model", *options_for(get_spec(str(config["model"])).family)]
    except (KeyError, LookupError, TypeError):
        names = list(config)
    return {name: config[name] for name in names if name in config}


def _hparam_value(value: Any) -> HParamValue | None:
    if value is None:
        return None
    if isinstance(value, bool | str):
        return value
    if isinstance(value, int | float | np.number):
        number = float(value)
        return number if math.isfinite(number) else str(number)
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    return str(value)


def scalar_metrics(metrics: Mapping[str, Any]) -> dict[str, float]:
    """The single numbers of a run's test metrics: its top-level numbers and timing.

    Nested tables (per class, baselines, diagnosis) and non-finite values are left out.

    Example:
        >>> scalar_metrics({"accuracy": 0.9, "per_class": {}, "fid_ratio": float("inf"),
        ...               "timing": {"train_seconds": 3.5}})
        {'accuracy': 0.9, 'train_seconds': 3.5}
    """
    timing = metrics.get("timing")
    items = [*metrics.items(), *(timing.items() if isinstance(timing, Mapping) else [])]
    return {
        str(key): float(value)
        for key, value in items
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    }


def _one_line(err: BaseException) -> str:
    # Without a password that a URL in the message carries (user:password@host).
    text = _USERINFO.sub("://", " ".join(str(err).split()))
    if len(text) > 300:
        text = text[:297] + "..."
    return f"{type(err).__name__}: {text}" if text else type(err).__name__
