"""Cached loaders of the Model page's Groups section: `zoo.fairness` slices of one version.

The slices reuse the test split's outputs the page already predicted
(`model_data.test_outputs`), so a grouping costs one bootstrap (milliseconds), cached per
(store, ref, grouping).
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import data, model_data
from zoo import fairness


@st.cache_data(max_entries=32, show_spinner=False)
def groupings(root: str, ref: str) -> list[str]:
    """The groupings a version's test split can be sliced by, its default first.

    Example:
        >>> groupings(data.store_root(), "cnn-digits@1")
        ['true class']
        >>> groupings(data.store_root(), "mlp-cancer@1")[0]
        'mean radius'
    """
    return fairness.groupings(data.load(root, ref))


@st.cache_data(max_entries=64, show_spinner="Computing the metrics per group…")
def slices(root: str, ref: str, by: str | None = None) -> fairness.Slices:
    """`zoo.fairness.slices` of a classifier on its test split, grouped `by` a named grouping
    (None: the default), from the page's cached test outputs.

    Example:
        >>> s = slices(data.store_root(), "mlp-cancer@1", "mean radius")
        >>> s.grouping, sum(g.n for g in s.groups)
        ('mean radius', 86)
    """
    proba = model_data.test_outputs(root, ref)["proba"]
    return fairness.slices(data.load(root, ref), by=by, proba=proba)


def table(s: fairness.Slices) -> pd.DataFrame:
    """The per-group table as the page shows it: 3 decimals, a note on small groups.

    Example:
        >>> list(table(slices(data.store_root(), "cnn-digits@1")).columns)
        ['group', 'n', 'accuracy', 'recall (macro)', 'false-positive rate (macro)',
         'Brier score', 'note']
    """
    rows = []
    for row in s.rows():
        small = row.pop("too small")
        rows.append(
            {
                **{k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()},
                "note": f"under {fairness.MIN_GROUP}: too few to conclude" if small else "",
            }
        )
    return pd.DataFrame(rows)


def gaps_table(s: fairness.Slices) -> pd.DataFrame:
    """The largest gap of each metric, with its 95 % interval and the two groups.

    Example:
        >>> gaps_table(slices(data.store_root(), "mlp-cancer@1")).columns[:3].tolist()
        ['metric', 'gap', '95 % interval']
    """
    frame = pd.DataFrame(s.gap_rows())
    if len(frame):
        frame["gap"] = frame["gap"].round(3)
    return frame
