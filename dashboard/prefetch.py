"""Explaining a test sample before its Explain click: when a visitor picks a sample,
its explanation, additivity and figure are computed in the background (`prefetch`), so
the click finds them cached in `dashboard.data`, or being computed.
"""

from __future__ import annotations

import time
from concurrent.futures import Future
from typing import Any

import numpy as np
import streamlit as st

from dashboard import limits
from dashboard.background import BackgroundPool
from dashboard.data import (
    explanation,
    explanation_png,
    explanation_slots,
    fidelity,
    load,
    log,
    store_root,  # noqa: F401  (the examples')
)

PREFETCH_MAX_AGE_S = 10.0  # a prefetch queued longer is dropped (`prefetch`)


@st.cache_resource(show_spinner=False)
def _pool() -> BackgroundPool:
    # One thread for the whole server: at most one computation at a time that nobody has
    # asked for yet.
    return BackgroundPool(1, "zoo-prefetch")


def explanation_views(input_kind: str) -> list[str]:
    """The figures of an explanation of inputs of `input_kind`, in the order the Explain
    page offers them: the kind's own view (`explain.plots.for_explanation`) first, then a
    waterfall, which works for every kind.

    Example:
        >>> explanation_views("sequence"), explanation_views("tabular")
        (['heatmap', 'waterfall'], ['waterfall'])
    """
    own = {"image": "overlay", "sequence": "heatmap"}.get(input_kind)
    return [own, "waterfall"] if own else ["waterfall"]


def _prefetch(
    root: str, ref: str, sample: str, x: np.ndarray, y: Any, view: str | None, queued: float
) -> bool:
    import explain

    if time.monotonic() - queued > PREFETCH_MAX_AGE_S:
        return False  # the visitor has clicked (or left) long since: not worth it now
    slots = explanation_slots()
    if slots.running >= slots.limit - 1:
        return False  # a slot stays free for a click: a prefetch never makes one wait
    try:
        e = explanation(root, ref, sample, x, y)
        fidelity(root, ref, sample, False, e)  # additivity only: no slot, no message
        shown = explain.plots.in_units(e, load(root, ref).dataset())
        views = explanation_views(explain.info(e).input_kind)
        explanation_png(root, ref, sample, view if view in views else views[0], shown)
    except limits.ServerBusy:
        return False  # every slot is taken: clicks need them more; the click computes it
    except Exception:  # an optimization: the click computes it again and shows any error
        log.warning("prefetching the explanation of %s %s failed", ref, sample, exc_info=True)
        return False
    return True


def prefetch(
    root: str, ref: str, sample: str, x: np.ndarray, y: Any = None, view: str | None = None
) -> Future[bool]:
    """Start explaining one input, with its additivity and its figure (`view`, when it
    is one of `explanation_views`, else the first), in the background; its future (True
    once all three are cached).

    The Explain page calls it when a visitor picks a test sample, so that the Explain
    click finds the figure drawn, or being drawn: a click on an input still being
    prefetched waits for that computation (Streamlit's per-key cache lock) rather than
    starting a second one. Under load the click's server part (explanation, then the
    figure) took 1-4 s of the 2 s goal, in the seconds a visitor spends between picking
    the sample and pressing the button (bench/dashboard_load.py). One thread for the
    whole server, so prefetching adds at most one computation at a time. It gives up
    (False) when it would take the last free explanation slot (a click must never wait
    behind it: with `max_explanations` 1 nothing is prefetched) or has waited in the
    queue over `PREFETCH_MAX_AGE_S`; the page cancels a visitor's prefetch still queued
    when the visitor picks another sample.

    Example:
        >>> x = load(store_root(), "mlp-cancer@1").dataset().x_test[3:4]
        >>> prefetch(store_root(), "mlp-cancer@1", "test:3", x).result()
        True
    """
    queued = time.monotonic()
    return _pool().submit(_prefetch, root, ref, sample, x, y, view, queued)
