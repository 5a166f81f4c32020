"""The max-pooling rule's kernel: each window position's share of a straight path.

:mod:`explain.layerwise` gives every position of a pooling window, as its DeepLIFT
multiplier, the fraction of the path from the reference to the input on which it is the
window's maximum. The shares are elementwise arithmetic over pairs of positions, run as
one fused kernel (:func:`fused_shares`, :func:`zoo.backend.fused`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any


@functools.cache
def fused_shares() -> Callable[..., Any]:
    """:func:`window_shares` as one fused kernel of this process's backend, built once.

    Example:
        >>> fused_shares() is fused_shares()
        True
    """
    from zoo import backend

    return backend.fused(window_shares)


def window_shares(start: Any, end: Any, ph: int, pw: int) -> Any:
    """Per position of every ``ph x pw`` pooling window: the share of the path it wins.

    ``start`` and ``end`` are a layer input for the reference and for x, ``(N, H, W, C)``
    with ``H``, ``W`` multiples of the window. Along the straight path ``t in [0, 1]``,
    position i of a window follows the line ``l_i(t) = s_i + t d_i`` and the pooled value
    is their upper envelope. The envelope is convex, so each line is the maximum on one
    interval (possibly empty): where ``l_i >= l_j`` for every j, an intersection of
    half-lines ``(d_i - d_j) t >= s_j - s_i``. The result, in ``start``'s layout, is each
    interval's length: the shares of a window sum to 1. Identical lines (a window of zeros
    after a ReLU) go to the first; the crossing of two lines is one number for both, so
    neighbouring intervals meet exactly in floats. Elementwise over pairs of positions, no
    sort: with the enclosing pass it costs less than the plain layer's gradient.

    Example:
        >>> import keras
        >>> start = keras.ops.reshape(keras.ops.array([0.0, 1.0, 0.0, 0.0]), (1, 2, 2, 1))
        >>> end = keras.ops.reshape(keras.ops.array([2.0, 0.0, 0.0, 0.0]), (1, 2, 2, 1))
        >>> shares = keras.ops.convert_to_numpy(window_shares(start, end, 2, 2)).ravel()
        >>> [round(float(v), 4) for v in shares]  # l_1 = 1 - t wins until t = 1/3, then 2t
        [0.6667, 0.3333, 0.0, 0.0]
    """
    from keras import ops

    h, w, c = int(start.shape[1]) // ph, int(start.shape[2]) // pw, int(start.shape[3])

    def positions(t: Any) -> list[Any]:
        return [t[:, a::ph, b::pw, :] for a in range(ph) for b in range(pw)]

    s = positions(start)
    d = [e - q for e, q in zip(positions(end), s, strict=True)]
    lo = [ops.zeros_like(q) for q in s]
    hi = [ops.ones_like(q) for q in s]
    dead = [ops.zeros_like(q, dtype="bool") for q in s]
    for i in range(len(s)):
        for j in range(i + 1, len(s)):
            num = s[j] - s[i]
            den = d[i] - d[j]
            flat = den == 0
            cross = num / ops.where(flat, ops.ones_like(den), den)  # where l_i = l_j
            up, down = den > 0, den < 0
            lo[i] = ops.where(up, ops.maximum(lo[i], cross), lo[i])  # l_i above l_j after
            hi[i] = ops.where(down, ops.minimum(hi[i], cross), hi[i])  # ... before
            lo[j] = ops.where(down, ops.maximum(lo[j], cross), lo[j])
            hi[j] = ops.where(up, ops.minimum(hi[j], cross), hi[j])
            # parallel lines: the lower one never wins; identical ones go to the first
            dead[i] = dead[i] | (flat & (num > 0))
            dead[j] = dead[j] | (flat & (num <= 0))
    shares = [
        ops.where(gone, ops.zeros_like(a), ops.clip(b - a, 0.0, 1.0))
        for a, b, gone in zip(lo, hi, dead, strict=True)
    ]
    out = ops.reshape(ops.stack(shares, axis=-1), (-1, h, w, c, ph, pw))
    return ops.reshape(ops.transpose(out, (0, 1, 4, 2, 5, 3)), (-1, h * ph, w * pw, c))
