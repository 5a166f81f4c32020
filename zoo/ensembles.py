"""Ensembles of stored models as one plain Keras model, stored as a version (`zoo ensemble`).

`ensemble(name, members)` loads the members (`name@version`, verified, `safe_mode=True`),
checks that they are compatible (classifiers with the same classes, or forecasters, on
the same data and the same split: one test split scores them all), and builds one
functional model: every member's layers cloned onto a shared input under a unique prefix
(`m1_`, `m2_`, ...) with their weights, and `keras.layers.Average` over the members'
outputs. It is a plain Keras model built from Keras' own layers, so it saves as
`model.keras`, loads with `safe_mode=True`, and every explainer walks it like any other
model (the layer-wise rules see one linear `Average`: the ensemble's SHAP values are the
mean of its members'). `method='vote'` stores the same mean model (what is explained) but
scores the test split by majority vote (ties go to the higher mean probability).

It is stored like any version (`zoo.imports.store_version`), with each member's score
on the same test split and the ensemble's gain over the best member, with a paired
bootstrap interval, in `metrics['ensemble']`.

Example:
    >>> members = parse_members("mlp-cancer@1, mlp-cancer@1")
    Traceback (most recent call last):
    ...
    zoo.errors.ConfigError: mlp-cancer@1 is named twice; an ensemble needs distinct members
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from zoo.errors import ConfigError
from zoo.store import Store

METHODS = ("mean", "vote")
MEAN_LAYER = "ensemble_mean"


def parse_members(members: str | Sequence[str]) -> list[str]:
    """Member references from 'a@1,b@2' text or a list; at least two, none twice.

    Example:
        >>> parse_members("mlp-cancer@1,mlp-cancer@2")
        ['mlp-cancer@1', 'mlp-cancer@2']
    """
    refs = members.split(",") if isinstance(members, str) else list(members)
    refs = [str(r).strip() for r in refs if str(r).strip()]
    if len(refs) < 2:
        raise ConfigError(
            f"an ensemble needs at least two members, got {refs}; pass --members a@1,b@2"
        )
    for ref in refs:
        if refs.count(ref) > 1:
            raise ConfigError(f"{ref} is named twice; an ensemble needs distinct members")
    return refs


def mean_model(models: Sequence[Any], *, name: str = "ensemble") -> Any:
    """One functional Keras model that averages `models`' outputs: each member's layers
    cloned onto one shared input with the prefix `m<i>_` and their weights, then
    `keras.layers.Average` (named `ensemble_mean`).

    Example:
        >>> import keras
        >>> a = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, "softmax")])
        >>> b = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, "softmax")])
        >>> e = mean_model([a, b])
        >>> x = np.ones((1, 3), "float32")
        >>> bool(np.allclose(e(x), (a(x) + b(x)) / 2)), e.layers[-1].name
        (True, 'ensemble_mean')
    """
    from zoo._tf import keras

    k = keras()
    shape = tuple(models[0].input_shape[1:])
    inp = k.Input(shape, name="input")
    outs = []
    for i, member in enumerate(models, 1):
        prefix = f"m{i}_"

        def rename(layer: Any, prefix: str = prefix) -> Any:
            config = layer.get_config()
            config["name"] = prefix + layer.name
            return layer.__class__.from_config(config)

        clone = k.models.clone_model(member, input_tensors=inp, clone_function=rename)
        for layer in member.layers:
            if layer.weights:
                clone.get_layer(prefix + layer.name).set_weights(layer.get_weights())
        outs.append(clone.outputs[0])
    out = k.layers.Average(name=MEAN_LAYER)(outs)
    return k.Model(inp, out, name=name)


def member_outputs(model: Any, x: np.ndarray) -> list[np.ndarray]:
    """Each member's outputs on `x`, read from a stored ensemble model (the inputs of its
    `ensemble_mean` layer).

    Example:
        >>> import keras
        >>> a = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, "softmax")])
        >>> e = mean_model([a, a])
        >>> [o.shape for o in member_outputs(e, np.ones((4, 3), "float32"))]
        [(4, 2), (4, 2)]
    """
    from zoo._tf import keras

    layer = model.get_layer(MEAN_LAYER)
    inner = keras().Model(model.inputs, list(layer.input))
    return [np.asarray(o) for o in inner.predict(x, batch_size=1024, verbose=0)]


def vote(outputs: Sequence[np.ndarray]) -> np.ndarray:
    """Majority vote of the members' class probabilities as (n, K) vote shares; a tie
    goes to the class with the higher mean probability (rows still sum to 1).

    Example:
        >>> p = [np.array([[.9, .1]]), np.array([[.4, .6]]), np.array([[.45, .55]])]
        >>> vote(p).round(3).tolist()
        [[0.333, 0.667]]
    """
    from zoo.evaluation import class_probabilities

    probs = [class_probabilities(o) for o in outputs]
    k = probs[0].shape[1]
    shares = np.mean([np.eye(k)[p.argmax(axis=1)] for p in probs], axis=0)
    eps = 1e-6
    return (shares + eps * np.mean(probs, axis=0)) / (1 + eps)


def ensemble(
    name: str,
    members: str | Sequence[str],
    *,
    method: str = "mean",
    store: Store | str | Path | None = None,
    summary: str = "",
) -> Any:
    """Store an ensemble of `members` ('a@1,b@2' or a list of refs) as a new version of
    entry `name` and return it loaded (a `TrainedModel` whose `model` is the mean model).

    Members must be classifiers with the same classes and output, or forecasters, on
    the same data and split. `method` 'mean' scores the mean of the probabilities
    (forecasts); 'vote' (classifiers) the majority vote. `metrics['ensemble']` holds
    each member's score on the test split, the best member, and the gain over it
    (`difference` = ensemble − best member; `gain` is that difference signed so that
    positive is better, MSE included) with its paired 95 % bootstrap interval. `name`
    is a new entry on the members' data, or an existing one on the same data.

    Example:
        >>> ensemble("mlp-cancer-ens", "mlp-cancer@1,cnn-digits@1")
        Traceback (most recent call last):
        ...
        zoo.errors.ConfigError: cnn-digits@1 reads other data than mlp-cancer@1 ...
    """
    from zoo.imports import SPLIT_KEYS, _entry, store_version
    from zoo.trained import load_trained

    if method not in METHODS:
        raise ConfigError(f"method={method!r}; expected one of {METHODS}")
    store = store if isinstance(store, Store) else Store(store)
    refs = parse_members(members)
    loaded = [load_trained(ref, store) for ref in refs]
    first = loaded[0]
    _check_compatible(loaded, method)
    _entry(name, first.name, store, summary or f"ensemble ({method}) of {', '.join(refs)}")
    keys = [*SPLIT_KEYS, "max_train_samples"]
    config: dict[str, Any] = {"model": name, **{k: getattr(first.config, k) for k in keys}}
    if any(m.config.max_train_samples != first.config.max_train_samples for m in loaded):
        config["max_train_samples"] = 0
    config["origin"] = {
        "kind": "ensemble",
        "method": method,
        "members": [m.ref for m in loaded],
        "task": first.task,
    }
    data = first.dataset()
    scores = _member_scores(loaded, data)
    extra: dict[str, Any] = {}

    def outputs(model: Any) -> np.ndarray:
        per_member = member_outputs(model, data.x_test)
        raw = vote(per_member) if method == "vote" else np.mean(per_member, axis=0)
        extra["ensemble"] = _gain(scores, raw, data, first.task, method, config["seed"])
        return raw

    return store_version(
        name,
        mean_model([m.model for m in loaded], name="ensemble"),
        config=config,
        data=data,
        store=store,
        outputs=outputs,
        extra_metrics=extra,
    )


def _check_compatible(loaded: Sequence[Any], method: str) -> None:
    from zoo.data import facts
    from zoo.entries import same_data

    first = loaded[0]
    for m in loaded:
        if m.task not in ("classification", "regression"):
            raise ConfigError(
                f"{m.ref} is a {m.family} ({m.task}) model; ensembles are of classifiers "
                "or forecasters"
            )
        if not same_data(m.name, first.name):
            raise ConfigError(
                f"{m.ref} reads other data than {first.ref} ({m.spec.dataset} vs "
                f"{first.spec.dataset}); ensemble members share one dataset"
            )
        split = ["validation_fraction", "test_fraction", "seed"]
        if facts(first.spec.dataset).kind == "forecast":
            split.append("window")
        for key in split:
            a, b = getattr(first.config, key), getattr(m.config, key)
            if a != b:
                raise ConfigError(
                    f"{m.ref} was split with {key}={b!r} but {first.ref} with {a!r}: their "
                    "test splits differ, so no one split scores them all; ensemble members "
                    f"trained with the same {key}"
                )
        if m.class_names != first.class_names:
            raise ConfigError(f"{m.ref} has other classes than {first.ref}")
        if tuple(m.model.output_shape) != tuple(first.model.output_shape):
            raise ConfigError(
                f"{m.ref} outputs {m.model.output_shape[1:]} but {first.ref} "
                f"{first.model.output_shape[1:]}; averaging needs the same output (train "
                "them with the same loss)"
            )
        if tuple(m.model.input_shape) != tuple(first.model.input_shape):
            raise ConfigError(f"{m.ref} takes other inputs than {first.ref}")
    if method == "vote" and first.task != "classification":
        raise ConfigError("method='vote' needs classifiers; forecasters are averaged: 'mean'")


def _per_sample(raw: np.ndarray, data: Any, task: str) -> np.ndarray:
    # Correct (1/0) per test sample, or the squared error in data units.
    if task == "classification":
        from zoo.evaluation import class_probabilities

        pred = class_probabilities(raw).argmax(axis=1)
        return (pred == np.ravel(data.y_test)).astype(np.float64)
    err = data.to_units(np.ravel(raw)) - data.to_units(np.ravel(data.y_test))
    return np.asarray(err, np.float64) ** 2


def _member_scores(loaded: Sequence[Any], data: Any) -> dict[str, np.ndarray]:
    return {
        m.ref: _per_sample(np.asarray(m.model.predict(data.x_test, verbose=0)), data, m.task)
        for m in loaded
    }


def _gain(
    scores: dict[str, np.ndarray], raw: np.ndarray, data: Any, task: str, method: str, seed: int
) -> dict[str, Any]:
    from zoo import intervals

    higher = task == "classification"
    metric = "accuracy" if higher else "mse"
    values = {ref: float(s.mean()) for ref, s in scores.items()}
    best = (max if higher else min)(values, key=lambda r: values[r])
    mine = _per_sample(raw, data, task)
    paired = intervals.paired_difference(mine, scores[best], higher_is_better=higher, seed=seed)
    sign = 1.0 if higher else -1.0
    iv = paired["interval"]
    return {
        "method": method,
        "metric": metric,
        "members": values,
        "best_member": best,
        "best_member_value": values[best],
        "value": float(mine.mean()),
        "difference": float(mine.mean()) - values[best],
        "difference_interval": iv,
        "gain": sign * (float(mine.mean()) - values[best]),
        "gain_interval": None if iv is None else sorted(sign * v for v in iv),
        "verdict": paired["verdict"].replace("baseline", "best member"),
    }
