"""Background work of the dashboard server: a thread pool that does not hold the
server's exit (`BackgroundPool`), and freezing the heap once the warm-ups have run
(`freeze_heap`).

A thread pool for optional background work that does not hold the server's exit:

`concurrent.futures.ThreadPoolExecutor` joins its workers at interpreter exit and runs
every queued item first: a dashboard stopped with Ctrl+C or SIGTERM while explainer
warm-ups were queued waited for all of them (5-10 s and more) before it exited. Warm-ups
only save a later click some time, so this pool drops what is still queued once the main
thread has ended and lets only the call in flight finish. Daemon threads would exit at
once, but a daemon thread stopped inside TensorFlow's C++ aborts the process
("terminate called ... exception not rethrown").
"""

from __future__ import annotations

import gc
import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")
log = logging.getLogger("dashboard")


# How often an idle worker looks whether the main thread has ended: the most it adds to
# the process's exit.
POLL_S = 0.25


class BackgroundPool:
    """`workers` threads running submitted calls in order, dropping the queue at exit.

    Example:
        >>> pool = BackgroundPool(2, "demo")
        >>> pool.submit(sum, [1, 2, 3]).result()
        6
    """

    def __init__(self, workers: int, name: str) -> None:
        self._jobs: queue.SimpleQueue[tuple[Future[Any], Callable[..., Any], tuple[Any, ...]]]
        self._jobs = queue.SimpleQueue()
        self._workers = workers
        self._name = name
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        """Queue `fn(*args)`; its Future holds the result or the exception it raised."""
        fut: Future[T] = Future()
        self._jobs.put((fut, fn, args))
        with self._lock:  # threads start on demand, as ThreadPoolExecutor's do
            if len(self._threads) < self._workers:
                # daemon=False said: a thread started from a daemon thread (Streamlit's
                # script runners) is a daemon unless told otherwise.
                name = f"{self._name}-{len(self._threads)}"
                t = threading.Thread(target=self._run, name=name, daemon=False)
                self._threads.append(t)
                t.start()
        return fut

    def _run(self) -> None:
        # The interpreter's exit stops the main thread first, then joins this one.
        main = threading.main_thread()
        while True:
            try:
                fut, fn, args = self._jobs.get(timeout=POLL_S)
            except queue.Empty:
                if not main.is_alive():
                    return
                continue
            if not main.is_alive():
                fut.cancel()
                continue  # drop the rest of the queue, then return once it is empty
            if not fut.set_running_or_notify_cancel():
                continue  # cancelled while queued
            try:
                fut.set_result(fn(*args))
            except BaseException as err:  # the caller reads it from the future
                fut.set_exception(err)


def freeze_heap() -> int:
    """Collect garbage once, then exempt every object alive now from later collections
    (`gc.freeze`); the number of objects frozen.

    Run by the server once the warm-ups have loaded the store's models and built their
    explainers (`dashboard.data.warm_store`). A full collection walks every tracked
    object with the GIL held: with TensorFlow, Keras, SHAP and the models loaded, ~800k
    objects and 0.4-0.7 s in which no session's script ran, a few times a minute under
    load (measured in the server of bench/dashboard_load.py). Frozen, those long-lived
    objects are skipped and a collection walks only what was made since. The price: a
    cycle among objects frozen here is never freed while frozen, so deleting a version
    thaws, collects and freezes again (`refreeze_heap`); a warmed model evicted from the
    model cache (over 24 loaded) stays in memory.

    Example:
        >>> freeze_heap() > 0 and gc.get_freeze_count() > 0
        True
        >>> gc.unfreeze()
    """
    start = time.perf_counter()
    gc.collect()
    gc.freeze()
    frozen = gc.get_freeze_count()
    log.info("froze %d objects in %.2f s (gc.freeze)", frozen, time.perf_counter() - start)
    return frozen


def refreeze_heap() -> int:
    """After a deletion (`dashboard.data.forget_version`): unfreeze, collect what the
    deleted model left in cycles (exempt while frozen), freeze what is left; the number
    of objects frozen.

    Example:
        >>> refreeze_heap() > 0
        True
        >>> gc.unfreeze()
    """
    gc.unfreeze()
    return freeze_heap()
