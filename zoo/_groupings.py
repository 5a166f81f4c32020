"""How `zoo.fairness` groups a classifier's test samples: a tabular feature binned at its
training-split quantiles (in the data's units), the true class, a categorical column of a
user's table (by its one-hot inputs), or labels given per test sample.

`grouping(trained, data, by, bins, label, n)` returns the group index of every test
sample, the group names, the grouping's name, its kind ('feature', 'class', 'labels') and
how the groups were formed, in words.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from zoo.errors import DataError

TRUE_CLASS = "true class"


def columns(data: Any) -> tuple[list[str], dict[str, list[tuple[int, str]]]]:
    """A tabular dataset's numeric features and its categorical columns, each with its
    one-hot inputs (index, category), read from a user table's fitted preprocessing."""
    if getattr(data, "input_kind", None) != "tabular":
        return [], {}
    names = list(data.feature_names or ())
    categorical: dict[str, list[tuple[int, str]]] = {}
    prep = getattr(data, "preprocessing", None) or {}
    transform = prep.get("transform") if isinstance(prep, Mapping) else None
    records = transform.get("categorical") if isinstance(transform, Mapping) else None
    for rec in records if isinstance(records, list) else []:
        try:
            column, cats = str(rec["name"]), [str(c) for c in rec["categories"]]
        except (KeyError, TypeError):
            continue
        inputs = [f"{column}={c}" for c in cats]
        if cats and all(i in names for i in inputs):
            categorical[column] = [(names.index(i), c) for i, c in zip(inputs, cats, strict=True)]
    onehot = {i for pairs in categorical.values() for i, _ in pairs}
    numeric = [n for j, n in enumerate(names) if j not in onehot]
    return numeric, categorical


def grouping(
    trained: Any, data: Any, by: Any, bins: int, label: str, n: int
) -> tuple[np.ndarray, list[str], str, str, str]:
    """(group index per test sample, group names, grouping name, kind, how it was formed)."""
    numeric, categorical = columns(data)
    if by is None:
        by = ([*numeric, *categorical] or [TRUE_CLASS])[0]
    if isinstance(by, str):
        if by == TRUE_CLASS:
            names = list(data.class_names or trained.class_names or ())
            y = np.asarray(data.y_test).astype(int).ravel()
            return y, names, TRUE_CLASS, "class", "one group per true class of the test samples"
        if by in numeric:
            return _binned(data, list(data.feature_names).index(by), by, bins)
        if by in categorical:
            return _categories(data, by, categorical[by])
        valid = [*numeric, *categorical, TRUE_CLASS]
        close = difflib.get_close_matches(by, valid, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise DataError(
            f"cannot group {trained.ref}'s test split by {by!r}{hint}; expected one of "
            f"{valid}, or one label per test sample ({n})"
        )
    given = np.asarray(by, dtype=object).ravel()
    if len(given) != n:
        raise DataError(
            f"by= has {len(given)} labels; expected one per test sample of "
            f"{trained.ref} ({n}), in the test split's order"
        )
    text = np.array([_label_text(v) for v in given])
    values, group_of = np.unique(text, return_inverse=True)
    how = f"one group per value of {label} ({len(values)} values)"
    return group_of.ravel(), [str(v) for v in values], label, "labels", how


def _binned(data: Any, j: int, name: str, bins: int) -> tuple[np.ndarray, list[str], str, str, str]:
    if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or not 2 <= bins <= 20:
        raise DataError(f"bins={bins!r}; expected an integer 2..20 (2: split at the median)")
    train = np.asarray(data.features_to_units(data.x_train), np.float64)[:, j]
    test = np.asarray(data.features_to_units(data.x_test), np.float64)[:, j]
    qs = np.linspace(0, 1, int(bins) + 1)[1:-1]
    edges = np.unique(np.quantile(train, qs))
    # Group i holds edges[i-1] < x <= edges[i]; the last group x > edges[-1].
    group_of = np.searchsorted(edges, test, side="left")
    unit = f" {data.feature_unit}" if getattr(data, "feature_unit", "") else ""
    shown = [f"{e:.4g}{unit}" for e in edges]
    if len(edges) == 1:
        names = [f"{name} ≤ {shown[0]}", f"{name} > {shown[0]}"]
    else:
        names = [f"{name} ≤ {shown[0]}"]
        names += [f"{shown[i - 1]} < {name} ≤ {shown[i]}" for i in range(1, len(edges))]
        names.append(f"{name} > {shown[-1]}")
    what = "median" if bins == 2 else f"{bins}-quantiles"
    how = f"{name} binned at its training-split {what} ({', '.join(shown)}), in the data's units"
    if len(edges) < len(qs):
        how += f"; tied quantiles merged into {len(edges) + 1} groups"
    return group_of, names, name, "feature", how


def _categories(
    data: Any, column: str, inputs: list[tuple[int, str]]
) -> tuple[np.ndarray, list[str], str, str, str]:
    # The category whose one-hot input is set; none set: a category training never saw.
    onehot = np.asarray(data.x_test, np.float64)[:, [j for j, _ in inputs]]
    group_of = np.where(onehot.max(axis=1) > 0.5, onehot.argmax(axis=1), len(inputs))
    names = [c for _, c in inputs] + ["(not seen in training)"]
    how = (
        f"one group per category of {column} (missing values count as the training split's "
        "most frequent category, as the model saw them)"
    )
    return group_of, names, column, "labels", how


def _label_text(v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "missing"
    return str(v)
