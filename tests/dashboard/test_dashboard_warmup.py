"""Opening the Explain or GAN page warms the model's explainer off the click path.

The warm-up runs in a background thread (`dashboard.data.warm_explainer`); once it is
done, the explainer the Explain click needs is already in explain's in-process cache, so
the click builds nothing. No timing is asserted here (see the README for the figures).
"""

from __future__ import annotations

from concurrent.futures import wait

import numpy as np
import pytest

# (page, model, the button that explains)
CASES = [
    ("explain", "gru-digits@1", "explain_go"),
    ("gan", "gan-digits@1", "gan_explain"),
]


def _explainers_of(ref: str) -> set[tuple]:
    from explain import caching

    # a stored model's cache key is "ref:<name@version> at <its artifact folder>"
    return {key for key in caching.EXPLAINERS.keys() if key[0].startswith(f"ref:{ref} at ")}


@pytest.mark.parametrize(("page", "ref", "button"), CASES)
def test_opening_the_page_warms_the_explainer_the_click_uses(
    open_page, store_copy, metric, page, ref, button
):
    import explain
    from dashboard import data

    # Start from a cold explainer cache, with no earlier warm-up still running.
    wait(list(data._warmups().futures.values()))
    explain.clear_cache()
    assert not _explainers_of(ref)

    at = open_page(page, store=store_copy, model=ref)
    assert not at.exception
    root = data.store_root()
    assert (root, ref) in data._warmups().futures  # the page started it
    future = data.warm_explainer(root, ref)  # the same warm-up, not a second one
    assert future is data._warmups().futures[(root, ref)]
    assert future.result(timeout=300) is True
    warmed = _explainers_of(ref)
    assert warmed  # built, traced and called before any click

    at.button(key=button).click().run()
    assert not at.exception
    assert metric(at, "method")
    assert _explainers_of(ref) == warmed  # the click found the warmed explainer


def test_a_failed_warm_up_is_logged_not_raised(monkeypatch, caplog, tiny_store):
    from dashboard import data

    def broken(*args, **kwargs):
        raise RuntimeError("no explainer today")

    monkeypatch.setattr(data, "_explain", broken)
    monkeypatch.setenv("ZOO_HOME", str(tiny_store))
    root = data.store_root()
    data._warmups().futures.pop((root, "lstm-digits@1"), None)
    with caplog.at_level("WARNING", logger="dashboard"):
        assert data.warm_explainer(root, "lstm-digits@1").result(timeout=60) is False
    data._warmups().futures.pop((root, "lstm-digits@1"), None)
    assert "warming the explainer of lstm-digits@1 failed" in caplog.text


def test_the_server_warms_every_entry_newest_version_on_first_view(
    open_page, tiny_store, tmp_path, monkeypatch
):
    import shutil

    from dashboard import data

    # A store of two cheap entries, the older version of one kept beside the newer.
    store = tmp_path / "two"
    for name in ("mlp-cancer", "cnn-digits"):
        shutil.copytree(tiny_store / name, store / name)
    shutil.copytree(store / "mlp-cancer" / "1", store / "mlp-cancer" / "2")
    monkeypatch.setenv("ZOO_WARM_ON_START", "1")
    at = open_page("zoo", store=store)
    assert not at.exception
    root = data.store_root()
    queued = {ref for (r, ref) in data._warmups().futures if r == root}
    assert queued == {"cnn-digits@1", "mlp-cancer@2"}  # newest of each, once
    assert data.warm_store(root) == []  # later page runs queue nothing
    for ref in queued:
        assert data._warmups().futures[(root, ref)].result(timeout=300) is True
        assert _explainers_of(ref)  # built before anyone opened the Explain page
        # ... into the pages' own model cache (no page has loaded this ref: the Zoo page
        # loads no model), with the predict function traced on that very object: the
        # first Explain click's prediction traces nothing.
        assert (root, ref) in data._LOADED
        assert data.load(root, ref).model.predict_function is not None


def test_a_test_sample_of_a_cached_split_is_read_not_computed(open_page, store_copy, metric):
    # Once the whole test split is explained on disk (the global-importance toggle,
    # `explain.explain_test_split`), an Explain click on a test sample reads its row: no
    # explainer is built.
    import explain
    import zoo
    from dashboard import data

    ref = "mlp-cancer@1"
    split = explain.explain_test_split(zoo.load(ref, store=store_copy))
    at = open_page("explain", store=store_copy, model=ref)
    assert not at.exception
    wait(list(data._warmups().futures.values()))  # the page's own warm-up, then forget it
    explain.clear_cache()
    at.button(key="explain_go").click().run()
    assert not at.exception
    assert metric(at, "method")
    assert not _explainers_of(ref)  # served from the file, nothing built
    row = data.explanation(data.store_root(), ref, "test:0", None)
    assert explain.info(row).cached
    np.testing.assert_array_equal(row.values, split.values[:1])


# A warm-up pool whose owner has ended, in a fresh interpreter: the first call is in
# flight, the second still queued. Half-written marker files would show as missing.
_EXITING = """
import sys, threading, time
from dashboard.background import BackgroundPool

out = sys.argv[1]
started = threading.Event()

def slow(tag):
    started.set()
    time.sleep(0.5)
    open(f"{out}/{tag}", "w").write(tag)

def fast(tag):
    open(f"{out}/{tag}", "w").write(tag)

# As in the server: the pool is used from Streamlit's script threads, which are daemons.
def page():
    pool = BackgroundPool(1, "test")
    pool.submit(slow, "in-flight")
    pool.submit(fast, "queued")
    started.wait()

t = threading.Thread(target=page, daemon=True)
t.start()
t.join()
"""


def test_stopping_the_server_drops_queued_warm_ups_and_finishes_the_one_in_flight(tmp_path):
    """Ctrl+C / SIGTERM on `zoo dashboard` waited for every queued warm-up
    (ThreadPoolExecutor joins its queue at exit); a daemon thread instead would be killed
    inside TensorFlow and abort the process."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", _EXITING, str(tmp_path)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in-flight"]


def test_background_pool_returns_results_and_errors():
    from dashboard.background import BackgroundPool

    pool = BackgroundPool(2, "test")
    futures = [pool.submit(pow, 2, k) for k in range(6)]
    assert [f.result(timeout=10) for f in futures] == [1, 2, 4, 8, 16, 32]
    with pytest.raises(ZeroDivisionError):
        pool.submit(divmod, 1, 0).result(timeout=10)


def test_freeze_heap_exempts_the_objects_alive_now_from_collections():
    import gc

    from dashboard import background

    kept = [object() for _ in range(10)]  # alive now: frozen with the rest
    try:
        assert background.freeze_heap() >= gc.get_freeze_count() > 0
        # A collection walks only what is made after the freeze.
        tracked_after = len(gc.get_objects())
        assert tracked_after < gc.get_freeze_count()
    finally:
        gc.unfreeze()
    assert gc.get_freeze_count() == 0 and len(gc.get_objects()) > tracked_after
    del kept


def test_a_prefetch_never_takes_the_last_free_slot_nor_runs_stale(monkeypatch, tiny_store):
    import time

    from dashboard import data, limits, prefetch

    root, ref = str(tiny_store), "mlp-cancer@1"
    x = data.load(root, ref).dataset().x_test[4:5]
    # One slot on this server: a prefetch would make a click wait behind it.
    monkeypatch.setenv(limits.MAX_EXPLANATIONS_ENV, "1")
    assert prefetch.prefetch(root, ref, "test:4", x).result(timeout=120) is False
    monkeypatch.delenv(limits.MAX_EXPLANATIONS_ENV)
    # Queued for longer than PREFETCH_MAX_AGE_S: the click it was for has come and gone.
    old = time.monotonic() - prefetch.PREFETCH_MAX_AGE_S - 1
    assert prefetch._prefetch(root, ref, "test:4", x, None, None, old) is False
    assert prefetch.prefetch(root, ref, "test:4", x).result(timeout=120) is True
