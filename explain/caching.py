"""explain's in-process caches: one thread-safe LRU type and the caches built from it.

``EXPLAINERS`` keeps built explainers (tracing one takes seconds), ``RANDOMIZED`` the
randomized clones that :func:`explain.fidelity` checks against, ``TRAIN_STATS`` each
model's training range. :func:`explain.clear_cache` empties them all (``clear_all``).
The explanations of a test split are cached on disk instead (:mod:`explain.cached`).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class LRU(Generic[K, V]):
    """A thread-safe mapping that keeps the ``maxsize`` most recently used entries.

    ``get_or_create`` builds a missing value *outside* the lock, so a slow build (tracing
    an explainer takes seconds) never blocks other keys; two threads that miss the same
    key at once may both build it, and the last one stored wins. ``valid`` rejects a hit
    that must not be reused (an entry keyed by ``id(model)`` whose model is gone).

    Example:
        >>> cache = LRU(maxsize=2)
        >>> cache.get_or_create("a", lambda: 1), cache.get_or_create("a", lambda: 99)
        (1, 1)
        >>> cache.put("b", 2)
        >>> _ = cache.get("a")  # "a" is now the most recently used
        >>> cache.put("c", 3)  # full: "b", the least recently used, goes
        >>> cache.keys(), len(cache), cache.maxsize
        (['a', 'c'], 2, 2)
        >>> cache.clear()
        >>> cache.keys()
        []
    """

    def __init__(self, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize={maxsize}; expected at least 1")
        self._maxsize = int(maxsize)
        self._data: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.RLock()

    @property
    def maxsize(self) -> int:
        """How many entries are kept at most."""
        return self._maxsize

    def get(self, key: K, valid: Callable[[V], bool] | None = None) -> V | None:
        """The value under ``key`` (now the most recently used), or None on a miss.

        A value that ``valid`` rejects counts as a miss.
        """
        with self._lock:
            hit = self._data.get(key)
            if hit is None or (valid is not None and not valid(hit)):
                return None
            self._data.move_to_end(key)
            return hit

    def put(self, key: K, value: V) -> None:
        """Store ``value`` as the most recently used; drop the oldest beyond ``maxsize``."""
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self._maxsize:
                self._data.popitem(last=False)

    def get_or_create(
        self, key: K, build: Callable[[], V], valid: Callable[[V], bool] | None = None
    ) -> V:
        """The value under ``key``; on a miss ``build()`` it (lock not held) and store it."""
        hit = self.get(key, valid)
        if hit is not None:
            return hit
        value = build()
        self.put(key, value)
        return value

    def clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            self._data.clear()

    def keys(self) -> list[K]:
        """The keys, least recently used first (a copy: safe while others write)."""
        with self._lock:
            return list(self._data)

    def items(self) -> list[tuple[K, V]]:
        """The entries, least recently used first (a copy)."""
        with self._lock:
            return list(self._data.items())

    def __len__(self) -> int:
        with self._lock:
            return len(self._data)

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._data


# Built explainers: (target key, method, background key, nsamples, outputs) -> Explainer.
EXPLAINERS: LRU[tuple, Any] = LRU(maxsize=16)
# explain.fidelity's randomized clones: (target key, seed, method, background key,
# nsamples, outputs) -> (weakref to the trained model, clone Target, (its explainer,
# background key)). Few: each holds a second copy of the model.
RANDOMIZED: LRU[tuple, tuple[Any, Any, Any]] = LRU(maxsize=4)
# A model's training range per axis (target key -> TrainStats), read once per model.
TRAIN_STATS: LRU[str, Any] = LRU(maxsize=64)


def clear_all() -> None:
    """Empty every in-process cache of explain (the disk cache of explanations stays).

    Example:
        >>> EXPLAINERS.put(("k",), object())
        >>> clear_all()
        >>> len(EXPLAINERS), len(RANDOMIZED), len(TRAIN_STATS)
        (0, 0, 0)
    """
    for cache in (EXPLAINERS, RANDOMIZED, TRAIN_STATS):
        cache.clear()
