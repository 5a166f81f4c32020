"""Cached loaders over `zoo` and `explain`: the only place the dashboard does work.

Models, datasets and explanations are cached with `st.cache_resource` (one object per
server, never copied); arrays and tables with `st.cache_data`. Every cache key starts
with the store folder, so two stores (or a test's copy of one) never share entries.
Stored versions never change once written, so `(root, ref)` identifies a model.

Building a model's explainer (and TensorFlow's tracing of it) takes seconds for the
recurrent models (~10-20 s on 2 cores), so it happens off the path of the Explain click:
when the server starts, the newest version of every entry is warmed in the background
(`warm_store`), and the Explain and GAN pages warm the version they open
(`warm_explainer`).

Explanation slots (`dashboard.limits.explanation_slots`, `zoo dashboard
--max-explanations`): a visitor's real computation (`explanation`, the sanity check of
`fidelity`, `global_importance`; never a cache hit) holds one of the server's slots; when
all are taken, `with_slot` waits with a message, then says the server is busy. Warm-ups
take no slot, so the server-start warm-up never starves visitors: they are bounded on
their own (one thread for every entry's newest version, `WARM_WORKERS` for the pages),
each explains one test input, a visitor's click cancels a warm-up still queued for the
same model, and a click waiting for a running warm-up holds no slot meanwhile.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import streamlit as st

import zoo
from dashboard import limits
from dashboard.background import BackgroundPool, freeze_heap, refreeze_heap
from zoo.registry import default_order, get_spec
from zoo.store import RunInfo, Store, parse_ref
from zoo.summary import headline

if TYPE_CHECKING:
    import shap

    from zoo.trained import TrainedModel

log = logging.getLogger("dashboard")
T = TypeVar("T")

# The store is re-verified (checksums) at most this often per page view; training in
# the dashboard clears the cache at once.
STORE_TTL_S = 3
# Explainer warm-ups running at once (each is mostly one core of TensorFlow tracing).
WARM_WORKERS = 2
# `ZOO_WARM_ON_START=0` turns the server-start warm-up of every entry off (tests that
# count warm-ups, or a store too large to warm).
WARM_ON_START_ENV = "ZOO_WARM_ON_START"


def store_root() -> str:
    """The store folder the dashboard shows: `$ZOO_HOME` (see `zoo.store.default_store`).

    Example:
        >>> from zoo.store import default_store
        >>> store_root() == str(default_store())
        True
    """
    return str(Store().root)


@st.cache_data(ttl=STORE_TTL_S, show_spinner=False)
def runs(root: str) -> list[RunInfo]:
    """Every stored version with its verified status (checksums), oldest first.

    Versions of an entry this process cannot name (a custom entry whose file was removed
    from `<store>/_entries/`) are left out with a warning, not an error for every page.

    Example:
        >>> sorted({info.status for info in runs(store_root())})
        ['ok']
    """
    store = Store(root)
    out: list[RunInfo] = []
    for name in store.names():
        try:
            out += store.runs(name)
        except zoo.UnknownModelError as err:
            log.warning("versions of %s left out: %s", name, err)
    return out


@st.cache_data(ttl=STORE_TTL_S, show_spinner=False)
def table(root: str) -> list[dict[str, Any]]:
    """Rows of `zoo.summary.zoo_table` plus the latest version's headline metric.

    Example:
        >>> row = table(store_root())[0]
        >>> row["name"], row["latest_metric"]
        ('cnn-digits', 'accuracy')
    """
    from zoo.summary import zoo_table

    rows = zoo_table(Store(root))
    latest = {}
    for info in runs(root):
        latest[info.name] = info  # oldest first: the last one wins
    for row in rows:
        info = latest.get(row["name"])
        key, value = headline(row["task"], info.metrics if info and info.status == "ok" else {})
        row["latest_metric"] = key
        row["latest_value"] = value
    return rows


def _order(name: str) -> int:
    order = default_order()
    return order.index(name) if name in order else len(order)


def good_refs(
    root: str, *, families: Iterable[str] | None = None, exclude: Iterable[str] = ()
) -> list[str]:
    """`name@version` of every good version, entries in zoo order, newest version first.

    Example:
        >>> good_refs("/tmp/empty-zoo-store")
        []
    """
    fams = set(families) if families is not None else None
    skip = set(exclude)
    good = [r for r in runs(root) if r.status == "ok"]
    good = [
        r
        for r in good
        if (fams is None or get_spec(r.name).family in fams) and get_spec(r.name).family not in skip
    ]
    good.sort(key=lambda r: (_order(r.name), r.name, -r.version))
    return [r.ref for r in good]


def run_info(root: str, ref: str) -> RunInfo | None:
    """The verified `RunInfo` of `ref` (None when it is not stored).

    Example:
        >>> run_info(store_root(), "mlp-cancer@1").status, run_info(store_root(), "x@9")
        ('ok', None)
    """
    for info in runs(root):
        if info.ref == ref:
            return info
    return None


def resolve_ref(root: str, wanted: str, refs: list[str]) -> str | None:
    """`wanted` (`name@N`, or `name` for its newest good version) if it is in `refs`.

    Example:
        >>> resolve_ref("/tmp/x", "cnn-digits", ["cnn-digits@2", "cnn-digits@1"])
        'cnn-digits@2'
    """
    if not wanted:
        return None
    if wanted in refs:
        return wanted
    try:
        name, version = parse_ref(wanted)
    except zoo.ZooError:
        return None
    if version is None:
        same = [r for r in refs if r.partition("@")[0] == name]
        return same[0] if same else None
    return None


def ref_labels(root: str) -> dict[str, str]:
    """Picker labels: `cnn-digits@2 · accuracy 0.97`.

    Example:
        >>> ref_labels("/tmp/empty-zoo-store")
        {}
    """
    out = {}
    for info in runs(root):
        if info.status != "ok":
            continue
        key, value = headline(get_spec(info.name).task, info.metrics)
        out[info.ref] = info.ref + (f" · {key} {value:.4g}" if value is not None else "")
    return out


_LOADED: set[tuple[str, str]] = set()  # keys `_model` has loaded (a hint for the spinner)


@st.cache_resource(max_entries=24, show_spinner=False)
def _model(root: str, ref: str) -> TrainedModel:
    """The one loaded copy of `ref` in this server, shared by the pages and the warm-ups.

    No spinner, so that the server-start warm-up can call it from its background thread,
    outside any script run: the model it warms (explainer, Keras' predict function) is
    then the very object the pages use.
    """
    m = zoo.load(ref, store=root)
    _LOADED.add((root, ref))
    return m


def load(root: str, ref: str) -> TrainedModel:
    """`zoo.load(ref)` from store `root`, verified, once per server.

    The one cache is `_model`'s, which the server's warm-up fills too: a page gets the
    very object that was warmed. A spinner shows while a model loads for the first time.

    Example:
        >>> load(store_root(), "mlp-cancer@1") is load(store_root(), "mlp-cancer@1")
        True
    """
    if (root, ref) in _LOADED:  # cached, unless evicted since: then it loads spinner-less
        return _model(root, ref)
    with st.spinner("Loading the model…"):
        return _model(root, ref)


def _explain(m: TrainedModel, x: np.ndarray, y: Any = None) -> shap.Explanation:
    """The one `explain.explain` call of the dashboard, shared by the click and the warm-up.

    Both must pass the same method, background, outputs and nsamples, so that the
    explainer the warm-up builds is the one the click finds in explain's cache.
    """
    import explain

    return explain.explain(m, x, y=y)


class _Warmups:
    """Explainer warm-ups of this server: one future per (store, ref), a small pool."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.futures: dict[tuple[str, str], Future[bool]] = {}
        self.stores: set[str] = set()  # stores whose entries warm_store queued
        # One thread for the server-start warm-ups: at most one core traces in the
        # background while people use the pages. Stopping the server drops queued
        # warm-ups instead of running them all first (`dashboard.background`).
        self.store_pool = BackgroundPool(1, "zoo-warm-all")
        self.pool = BackgroundPool(WARM_WORKERS, "zoo-warm")


@st.cache_resource(show_spinner=False)
def _warmups() -> _Warmups:
    """The process-wide registry of warm-ups (one per server, shared by every session)."""
    return _Warmups()


def _warm(m: TrainedModel) -> bool:
    """Build, trace and call `m`'s explainer once on one test input, and trace Keras'
    predict function on it as the Explain page's prediction does; never raises."""
    start = time.perf_counter()
    try:
        x = m.dataset().x_test[:1]
        _explain(m, x)
        if m.task != "generation":  # a GAN's predict takes noise: its page warms itself
            m.predict(x)  # the first call traces (0.2-1 s); the page's click then does not
    except Exception:  # a warm-up is an optimization: log it, the click shows any error
        log.warning("warming the explainer of %s failed", m.ref, exc_info=True)
        return False
    log.info("explainer of %s warmed in %.1f s", m.ref, time.perf_counter() - start)
    return True


def warm_explainer(root: str, ref: str) -> Future[bool]:
    """Start building `ref`'s explainer in the background; its future (True when warm).

    Idempotent and process-wide: a model is warmed at most once per server (a second
    call, from any session, returns the same future), by at most `WARM_WORKERS` threads
    at a time. The warm-up makes the same `explain.explain` call as the Explain click
    (`explanation`), on the first test input, so the click finds the explainer built,
    traced and called once. Errors are logged, never raised: the future's result is
    False then.

    Example:
        >>> warm_explainer(store_root(), "mlp-cancer@1").result()
        True
    """
    reg = _warmups()
    key = (root, ref)
    with reg.lock:
        fut = reg.futures.get(key)
    if fut is not None:
        return fut
    m = load(root, ref)  # outside the lock: a cache hit on the page that asks
    with reg.lock:
        fut = reg.futures.get(key)
        if fut is None:
            fut = reg.futures[key] = reg.pool.submit(_warm, m)
    return fut


def _warm_ref(root: str, ref: str) -> bool:
    """Load `ref` into the pages' model cache and warm its explainer and predict."""
    try:
        m = _model(root, ref)
    except Exception:  # a version that fails to load is shown as such by the pages
        log.warning("loading %s for its warm-up failed", ref, exc_info=True)
        return False
    return _warm(m)


def warm_store(root: str) -> list[str]:
    """Warm the explainer of the newest good version of every entry, in the background.

    Called by the app on every page run; only the first call for a store queues work
    (one future per ref, shared with `warm_explainer`), so by the time a user opens an
    RNN on the Explain page its explainer is usually built. Returns the refs queued by
    this call. Off when `$ZOO_WARM_ON_START` is `0`.

    Example:
        >>> warm_store("/tmp/empty-zoo-store")
        []
    """
    if os.environ.get(WARM_ON_START_ENV, "1") == "0":
        return []
    reg = _warmups()
    with reg.lock:
        if root in reg.stores:
            return []
        reg.stores.add(root)
    newest: dict[str, str] = {}
    for ref in good_refs(root):  # zoo order, newest version of each entry first
        newest.setdefault(parse_ref(ref)[0], ref)
    queued = []
    with reg.lock:
        for ref in newest.values():
            if (root, ref) not in reg.futures:
                reg.futures[(root, ref)] = reg.store_pool.submit(_warm_ref, root, ref)
                queued.append(ref)
    if queued and _served():
        reg.store_pool.submit(freeze_heap)  # one thread: after the warm-ups above
    return queued


def _served() -> bool:
    # A real server, not AppTest's mock runtime (nor a test process sharing its heap).
    from streamlit.runtime import Runtime

    return Runtime.exists() and type(Runtime.instance()) is Runtime


def _after_warmup(root: str, ref: str) -> None:
    """Before explaining `ref`: never build its explainer twice at once.

    A warm-up still queued is cancelled (the caller builds the explainer now); one that
    is running is waited for, as it is further along than a fresh build would be.
    """
    reg = _warmups()
    with reg.lock:
        fut = reg.futures.get((root, ref))
        if fut is not None and fut.cancel():
            del reg.futures[(root, ref)]  # a later page run warms again: a cache hit
            return
    if fut is not None:
        fut.result()  # True or False; _warm never raises


@st.cache_resource(max_entries=512, show_spinner=False)
def explanation(
    root: str, ref: str, sample: str, _x: np.ndarray, _y: Any = None
) -> shap.Explanation:
    """`explain.explain` of one input, cached per (store, ref, sample key).

    `sample` names the input uniquely (`test:12`, `upload:<sha1>`, `gan:...`); `_x` is
    the batch itself (not hashed). Waits for a running warm-up of the same model.

    Example:
        >>> x = load(store_root(), "mlp-cancer@1").dataset().x_test[:1]
        >>> explanation(store_root(), "mlp-cancer@1", "test:0", x).values.shape
        (1, 30, 1)
    """
    m = load(root, ref)
    if sample.startswith("test:"):
        # A test sample of a model whose whole test split is explained on disk (the global
        # importance toggle, `explain.explain_test_split`): its row, read in milliseconds,
        # equal to computing it; no slot, no warm-up to wait for.
        import explain

        row = explain.test_split_row(m, int(sample.split(":", 1)[1]))
        if row is not None:
            return row
    _after_warmup(root, ref)  # before taking a slot: waiting for a warm-up holds none
    with explanation_slots().hold():  # only a real computation (not a cache hit) takes a slot
        return _explain(m, _x, _y)


@st.cache_data(max_entries=512, show_spinner=False)
def _fidelity(
    root: str, ref: str, sample: str, randomization: bool, _e: shap.Explanation
) -> dict[str, Any]:
    import explain

    if not randomization:  # additivity only: a few array operations, no slot
        return explain.fidelity(load(root, ref), _e, randomization=False)
    with explanation_slots().hold():  # the sanity check explains a randomized copy: a real job
        return explain.fidelity(load(root, ref), _e, randomization=True)


def fidelity(
    root: str, ref: str, sample: str, randomization: bool, _e: shap.Explanation
) -> dict[str, Any]:
    """`explain.fidelity` of a cached explanation (the sanity check only on request).

    Cached; the sanity check (`randomization`) takes an explanation slot (`with_slot`).

    Example:
        >>> x = load(store_root(), "mlp-cancer@1").dataset().x_test[:1]
        >>> e = explanation(store_root(), "mlp-cancer@1", "test:0", x)
        >>> fidelity(store_root(), "mlp-cancer@1", "test:0", False, e)["additivity_max"] < 1e-3
        True
    """
    return with_slot(lambda: _fidelity(root, ref, sample, randomization, _e))


def explained(
    root: str, ref: str, sample: str, x: np.ndarray, y: Any = None
) -> tuple[shap.Explanation, Any, dict[str, Any]]:
    """What a page shows first about one input: its explanation (`explanation`), the
    explanation's facts (`explain.info`: method, timings) and its fidelity figures
    (`fidelity`, without the sanity check); all cached.

    Example:
        >>> x = load(store_root(), "mlp-cancer@1").dataset().x_test[:1]
        >>> e, meta, fid = explained(store_root(), "mlp-cancer@1", "test:0", x)
        >>> meta.method, fid["additivity_max"] < 1e-3
        ('layerwise', True)
    """
    import explain

    e = with_slot(lambda: explanation(root, ref, sample, x, y))
    return e, explain.info(e), fidelity(root, ref, sample, False, e)


@st.cache_data(max_entries=256, show_spinner=False)
def explanation_png(root: str, ref: str, sample: str, view: str, _shown: Any) -> bytes:
    """The PNG of one explanation's figure (`view`: 'waterfall', or the input kind's own
    view of `explain.plots.for_explanation`), drawn once per (store, ref, sample, view).

    `_shown` is the explanation in the data's units (`explain.plots.in_units`); the key
    leaves it out, since (store, ref, sample) already names one cached explanation. Every
    rerun of a page that shows an explanation (the view radio, the sanity-check button,
    another visitor on the same sample) used to draw it again: 0.3-0.5 s of matplotlib.

    Example:
        >>> import explain
        >>> m = load(store_root(), "mlp-cancer@1"); x = m.dataset().x_test[:1]
        >>> e, _, _ = explained(store_root(), "mlp-cancer@1", "test:0", x)
        >>> shown = explain.plots.in_units(e, m.dataset())
        >>> png = explanation_png(store_root(), "mlp-cancer@1", "test:0", "waterfall", shown)
        >>> png[1:4]  # the PNG signature
        b'PNG'
    """
    import explain
    from dashboard.charts import png

    # The sample's own name in the title ("test #65"), not its place in this one-sample
    # explanation ("sample 0").
    kind, _, key = sample.partition(":")
    label = f"test #{key}" if kind == "test" else "your upload"
    if view == "waterfall":
        return png(explain.plots.waterfall(_shown, index=0, label=label))
    return png(explain.plots.for_explanation(_shown, index=0, label=label))


@st.cache_resource(max_entries=16, show_spinner="Explaining the whole test split…")
def _global_importance(root: str, ref: str) -> shap.Explanation:
    import explain

    m = load(root, ref)
    with explanation_slots().hold():  # a disk-cache hit is quick, but cannot be told apart here
        return explain.global_importance(m)


def global_importance(root: str, ref: str) -> shap.Explanation:
    """`explain.global_importance` over the test split (also cached on disk by explain).

    Cached per server; computing it takes an explanation slot (`with_slot`).

    Example:
        >>> global_importance(store_root(), "mlp-cancer@1").values.shape
        (30, 1)
    """
    return with_slot(lambda: _global_importance(root, ref))


def explanation_slots() -> limits.ExplanationSlots:
    """The server's explanation slots, with the configured cap (`max_explanations`).

    Example:
        >>> explanation_slots().limit >= 1
        True
    """
    from dashboard import access

    config = limits.limits_from(os.environ, access.server_secrets())
    return limits.explanation_slots(config.max_explanations)


def with_slot(compute: Callable[[], T]) -> T:
    """`compute()` (a cached explanation), waiting for a slot when every one is taken.

    The cached function takes the slot itself, so a cache hit never waits. When it
    raises `limits.ServerBusy`, this shows a message, waits up to `limits.EXPLAIN_WAIT_S`
    for a free slot and tries again; then the one line of `ServerBusy` (the page shows
    it). Only this visitor's page waits: other pages and sessions run on.

    Example:
        >>> with_slot(lambda: "explained")
        'explained'
    """
    try:
        return compute()
    except limits.ServerBusy:
        pass
    slots = explanation_slots()
    start = time.monotonic()
    note = st.empty()
    try:
        while True:
            note.info(slots.waiting_text(), icon=":material/hourglass_top:")
            left = start + limits.EXPLAIN_WAIT_S - time.monotonic()
            if left <= 0 or not slots.wait_free(left):
                raise limits.ServerBusy(slots.busy_text())
            try:
                out = compute()
            except limits.ServerBusy:  # another visitor took the freed slot first
                continue
            note.caption(
                f"Waited {time.monotonic() - start:.0f} s for a free explanation slot "
                f"({slots.limit} at a time on this server)."
            )
            return out
    except limits.ServerBusy:
        note.empty()
        raise


def clear_store_caches() -> None:
    """Forget cached store listings, so a new or changed version shows at once.

    Example:
        >>> clear_store_caches()
    """
    runs.clear()
    table.clear()


def forget_version(root: str, ref: str) -> None:
    """After `ref` was deleted: nothing cached for it may be served again.

    Clears the store listings, every cache keyed by (store, ref) for that ref (the
    model, its card, test outputs, ROC, forecast, GAN samples, global importance, the
    Groups tab), the caches keyed by more than that as a whole (explanations, fidelity,
    figures, fresh GAN samples: recomputed on the next click), its explainer warm-up, and
    explain's in-process explainers (keyed by the model object, rebuilt on demand).
    Deleted numbers are never reused (`zoo.deleting`), so this is about memory and the
    deleted model itself, never about another model under the same ref.

    Example:
        >>> forget_version(store_root(), "mlp-cancer@99")
    """
    import explain

    # Both import this module: imported here, not at the top.
    from dashboard import fairness_view
    from dashboard import model_data as md

    clear_store_caches()
    _LOADED.discard((root, ref))
    for cached in (_model, md.card, md.test_outputs, md.roc, md.forecast, md.gan_samples):
        cached.clear(root, ref)
    md.chart_spec.clear()  # keyed by chart too
    _global_importance.clear(root, ref)
    fairness_view.groupings.clear(root, ref)
    for cached in (explanation, _fidelity, explanation_png, md.gan_fresh, fairness_view.slices):
        cached.clear()
    reg = _warmups()
    with reg.lock:
        fut = reg.futures.pop((root, ref), None)
    if fut is not None:
        fut.cancel()  # a running warm-up finishes on its own; its result is dropped
    explain.clear_cache()
    import gc

    if gc.get_freeze_count():  # the deleted model may be frozen (`freeze_heap`): thaw it
        _warmups().store_pool.submit(refreeze_heap)
