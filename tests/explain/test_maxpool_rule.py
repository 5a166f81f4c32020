"""The max-pooling rule's shares: each position's share of the straight path on which it
is its window's maximum, checked against a dense grid along the path (hypothesis draws
windows with ties, zeros and parallel lines, as ReLU outputs have them)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from explain.pooling import fused_shares, window_shares

GRID = 4000  # points on the path for the reference shares


def _grid_shares(start: np.ndarray, end: np.ndarray, ph: int, pw: int) -> np.ndarray:
    """Per window position: the fraction of GRID midpoints where it is the (first) max."""
    n, hh, ww, c = start.shape
    h, w = hh // ph, ww // pw

    def windows(t: np.ndarray) -> np.ndarray:  # (n, h, w, c, ph * pw)
        t = t.reshape(n, h, ph, w, pw, c).transpose(0, 1, 3, 5, 2, 4)
        return t.reshape(n, h, w, c, ph * pw)

    s, d = windows(start).astype(np.float64), windows(end - start).astype(np.float64)
    t = (np.arange(GRID) + 0.5) / GRID
    lines = s[..., None, :] + t[:, None] * d[..., None, :]  # (..., GRID, k)
    wins = np.eye(ph * pw)[lines.argmax(axis=-1)].mean(axis=-2)  # first max, as the rule
    wins = wins.reshape(n, h, w, c, ph, pw).transpose(0, 1, 4, 2, 5, 3)
    return wins.reshape(n, hh, ww, c)


@st.composite
def pooled_inputs(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, int, int]:
    ph, pw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    shape = (draw(st.integers(1, 2)), ph * draw(st.integers(1, 2)), pw * draw(st.integers(1, 2)))
    shape = (*shape, draw(st.integers(1, 2)))
    # few distinct values: ties, zeros and parallel lines are common, as after a ReLU
    values = st.sampled_from([0.0, 0.0, 0.5, 1.0, 2.0, -1.0, 0.25, 1.5])
    start = draw(arrays(np.float32, shape, elements=values))
    end = draw(arrays(np.float32, shape, elements=values))
    return start, end, ph, pw


@settings(max_examples=150, deadline=None)
@given(pooled_inputs())
def test_shares_partition_the_path_and_match_a_dense_grid(case):
    from keras import ops

    start, end, ph, pw = case
    shares = ops.convert_to_numpy(window_shares(ops.array(start), ops.array(end), ph, pw))
    assert shares.shape == start.shape
    assert shares.min() >= 0.0 and shares.max() <= 1.0
    n, hh, ww, c = start.shape
    per_window = shares.reshape(n, hh // ph, ph, ww // pw, pw, c).sum(axis=(2, 4))
    np.testing.assert_allclose(per_window, 1.0, atol=1e-6)
    # summation to delta: sum of share * (end - start) is the change of the window's max
    moved = (shares * (end - start)).reshape(n, hh // ph, ph, ww // pw, pw, c).sum(axis=(2, 4))
    maxes = [t.reshape(n, hh // ph, ph, ww // pw, pw, c).max(axis=(2, 4)) for t in (start, end)]
    np.testing.assert_allclose(moved, maxes[1] - maxes[0], atol=1e-5)
    # each share is the length of the stretch its position wins (grid resolution 1/GRID)
    np.testing.assert_allclose(shares, _grid_shares(start, end, ph, pw), atol=3.0 / GRID)


def test_the_fused_kernel_gives_the_same_shares():
    from keras import ops

    rng = np.random.default_rng(0)
    start = np.maximum(rng.normal(size=(3, 4, 6, 5)), 0).astype(np.float32)  # ReLU zeros
    end = np.maximum(rng.normal(size=(3, 4, 6, 5)), 0).astype(np.float32)
    plain = window_shares(ops.array(start), ops.array(end), 2, 3)
    fused = fused_shares()(ops.array(start), ops.array(end), 2, 3)
    plain = ops.convert_to_numpy(plain)
    np.testing.assert_allclose(ops.convert_to_numpy(fused), plain, atol=1e-6)
    np.testing.assert_allclose(plain, _grid_shares(start, end, 2, 3), atol=3e-3)
