"""Expected gradients by adaptive path integration: SHAP values that add up.

Expected gradients (Erion et al. 2021; the estimator behind ``shap.GradientExplainer``)
explains ``f(x)`` against a background ``{r_1, ..., r_R}`` as the mean, over references,
of the integrated gradients along the straight path from ``r`` to ``x``::

    phi(x) = 1/R * sum_r (x - r) * integral_0^1 grad f(r + a (x - r)) da

Each path integral obeys the fundamental theorem of calculus: its attributions sum to
``f(x) - f(r)``. So the mean sums to ``f(x) - mean_r f(r)`` = ``f(x) - base`` — exactly,
if the integrals are exact. shap (and the landed fast path) *sample* the integrals: a few
random points per reference, so the sum misses ``f(x) - base`` by 5-30 %.

Here every path integral is computed deterministically over *all* references with
composite Simpson rules that are refined where they are wrong. On a segment ``[a, b]``
of a path, Simpson's rule on the directional derivative ``(x - r) . grad f`` estimates
``f(p(b)) - f(p(a))``, and both end values are known from the evaluations the rule
already made, so the *segment's own quadrature error is measured exactly*, for free.
Segments whose error is large are halved (two new gradient evaluations each; the
midpoint and end points are reused), until the explanation's additivity error — the
mean of those errors over references — is below ``tolerance`` times the output's scale,
or the per-input evaluation budget is spent. Nothing is rescaled: the error that is
reported is the estimator's real error.

Shared evaluations keep it cheap: the gradient at ``x`` serves every path of that input,
the gradient at each reference serves every input, so the first Simpson pass costs one
gradient evaluation (the midpoint) per reference. Saturated softmax paths, whose output
flips over a short stretch of the path, get refined there and only there.

This module is backend-neutral numpy bookkeeping around one function that returns model
outputs and input gradients for a batch of points (:func:`gradient_function`, written
with ``keras.ops`` over the gradient seam :mod:`zoo.backend`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np

# Default target: additivity error <= 0.2 % of the output's scale, so that the p95 over
# inputs stays well inside 1 % even where the budget runs out first.
DEFAULT_TOLERANCE = 0.002
SCALE_FLOOR = 0.1  # scale = max(|f(x) - base|, SCALE_FLOOR * std of f over the background)
DEFAULT_BUDGET = 40  # gradient evaluations per input and reference, at most
MIN_WIDTH = 2.0**-12  # no segment narrower than this (kinks of ReLU nets)
MAX_POINTS = 8192  # gradient evaluations per call of the gradient function

GradFn = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


def gradient_function(model: Any, outputs: tuple[int, ...], shape: tuple[int, ...]) -> GradFn:
    """``points (P, *shape) -> (f (P, K), grad (P, D, K))`` for ``outputs``, any backend.

    Compiled once (:func:`zoo.backend.compiled`); the gradients are one reverse-mode
    Jacobian of the outputs' sums over the batch (:func:`zoo.backend.jacobian`). ``D``
    is the flattened input size, ``K = len(outputs)``.

    Example:
        >>> import keras
        >>> m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
        >>> fn = gradient_function(m, (0, 1), (3,))
        >>> f, g = fn(np.ones((4, 3), np.float32))
        >>> f.shape, g.shape
        ((4, 2), (4, 3, 2))
    """
    from keras import ops

    from zoo import backend

    d = int(np.prod(shape))
    idx = list(outputs)

    def picked(points: Any) -> Any:
        out = ops.reshape(model(points, training=False), (ops.shape(points)[0], -1))
        return ops.stack([out[:, k] for k in idx], axis=-1)

    def call(points: Any) -> Any:
        grads = backend.jacobian(lambda p: ops.sum(picked(p), axis=0), points)  # (K, P, *S)
        return picked(points), ops.transpose(ops.reshape(grads, (len(idx), -1, d)), (1, 2, 0))

    fn = backend.compiled(call, [(None, *shape)])

    def run(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        fs, gs = [], []
        for i in range(0, len(points), MAX_POINTS):
            f, g = fn(points[i : i + MAX_POINTS])
            fs.append(f)
            gs.append(g)
        return np.concatenate(fs), np.concatenate(gs)

    return run


@dataclasses.dataclass
class PathStats:
    """What the integration did for one batch (for timings and the benchmark)."""

    evaluations: int  # gradient evaluations, all inputs (shared ones counted once)
    rounds: int  # refinement rounds after the first Simpson pass
    converged: np.ndarray  # (B,) every output of the input within tolerance


class AdaptivePaths:
    """Adaptive Simpson integration of expected gradients over a fixed background.

    Args:
        grad_fn: ``points -> (f, grad)`` for the explained outputs (see
            :func:`gradient_function`).
        background: the references, shape ``(R, *shape)``.
        tolerance: stop when ``|sum phi + base - f(x)| <= tolerance * scale`` for every
            explained output, ``scale = max(|f(x) - base|, 0.1 * std_background(f))``.
        budget: gradient evaluations per input *and reference* at most (the first pass
            takes one).

    Example:
        >>> import keras
        >>> m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, "tanh"),
        ...                       keras.layers.Dense(1, "sigmoid")])
        >>> bg = np.random.default_rng(0).normal(size=(20, 4)).astype("float32")
        >>> paths = AdaptivePaths(gradient_function(m, (0,), (4,)), bg)
        >>> x = np.ones((3, 4), np.float32)
        >>> phi, f, _ = paths.attributions(x)
        >>> bool(np.all(np.abs(phi.sum(axis=1) + paths.base - f) <= 0.002 * paths.scale(f)))
        True
    """

    def __init__(
        self,
        grad_fn: GradFn,
        background: np.ndarray,
        *,
        tolerance: float = DEFAULT_TOLERANCE,
        budget: int = DEFAULT_BUDGET,
    ) -> None:
        self.grad_fn = grad_fn
        self.refs = np.ascontiguousarray(background, np.float32)
        self.shape = self.refs.shape[1:]
        self.flat_refs = self.refs.reshape(len(self.refs), -1)
        self.tolerance = float(tolerance)
        self.budget = int(budget)
        self.f_ref, self.g_ref = grad_fn(self.refs)  # (R, K), (R, D, K)
        self.base = self.f_ref.mean(axis=0)
        self.spread = self.f_ref.std(axis=0)

    def scale(self, f: np.ndarray) -> np.ndarray:
        """Per input and output: ``max(|f(x) - base|, 0.1 * background std)``."""
        return np.maximum(np.abs(f - self.base), SCALE_FLOOR * self.spread + 1e-12)

    def attributions(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, PathStats]:
        """SHAP values ``(B, D, K)`` of inputs ``x (B, *shape)``, their ``f(x)`` and stats."""
        x = np.ascontiguousarray(x, np.float32)
        n_in, n_ref = len(x), len(self.refs)
        f_x, g_x = self.grad_fn(x)
        k = f_x.shape[1]
        flat_x = x.reshape(n_in, -1)
        delta = flat_x[:, None, :] - self.flat_refs[None, :, :]  # (B, R, D)
        n_paths = n_in * n_ref
        path_in = np.repeat(np.arange(n_in), n_ref)
        path_ref = np.tile(np.arange(n_ref), n_in)
        delta_p = delta.reshape(n_paths, -1)

        # Gradient store: rows 0..B-1 are the inputs, B..B+R-1 the references, then the
        # interior points in the order they were evaluated.
        grads: list[np.ndarray] = [g_x, self.g_ref]
        n_grads = n_in + n_ref
        # Point table (one row per point *of a path*; shared gradients are referenced).
        p_grad = [path_ref + n_in, path_in]  # alpha = 0 (reference), alpha = 1 (input)
        p_path = [np.arange(n_paths), np.arange(n_paths)]
        p_alpha = [np.zeros(n_paths), np.ones(n_paths)]
        p_f = [self.f_ref[path_ref], f_x[path_in]]
        s_ref = np.einsum("pd,pdk->pk", delta_p, self.g_ref[path_ref])
        s_x = np.einsum("pd,pdk->pk", delta_p, g_x[path_in])
        p_s = [s_ref, s_x]

        def add_points(paths: np.ndarray, alphas: np.ndarray) -> np.ndarray:
            nonlocal n_grads
            pts = self.flat_refs[path_ref[paths]] + alphas[:, None] * delta_p[paths]
            f, g = self.grad_fn(pts.reshape(len(paths), *self.shape).astype(np.float32))
            grads.append(g)
            start = sum(len(a) for a in p_path)
            p_grad.append(np.arange(n_grads, n_grads + len(paths)))
            n_grads += len(paths)
            p_path.append(paths)
            p_alpha.append(alphas)
            p_f.append(f)
            p_s.append(np.einsum("pd,pdk->pk", delta_p[paths], g))
            return np.arange(start, start + len(paths))

        # First pass: one Simpson segment per path, [ref, midpoint, x].
        mids = add_points(np.arange(n_paths), np.full(n_paths, 0.5))
        seg_a = np.arange(n_paths)
        seg_b = np.arange(n_paths) + n_paths
        seg_m = mids
        evaluations = n_in + n_paths
        spent = np.ones(n_in)  # evaluations per input and reference so far
        scale = self.scale(f_x)  # (B, K)
        rounds = 0
        while True:
            alpha = np.concatenate(p_alpha)
            fv = np.concatenate(p_f)
            sv = np.concatenate(p_s)
            seg_path = np.concatenate(p_path)[seg_a]
            seg_in = path_in[seg_path]
            h = alpha[seg_b] - alpha[seg_a]
            quad = (h / 6.0)[:, None] * (sv[seg_a] + 4.0 * sv[seg_m] + sv[seg_b])
            gap = fv[seg_b] - fv[seg_a] - quad  # (S, K): exact error of each segment
            err = np.zeros((n_in, k))
            np.add.at(err, seg_in, gap)
            err = np.abs(err) / n_ref  # the explanation's additivity error
            target = self.tolerance * scale
            bad = err > target  # (B, K)
            open_in = bad.any(axis=1) & (spent < self.budget)
            if not open_in.any():
                break
            # Split the segments that hold more than their equal share of the allowed
            # total error of an unconverged output (and are not too narrow already).
            n_seg = np.bincount(seg_in, minlength=n_in)
            share = target * n_ref / np.maximum(n_seg, 1)[:, None]  # (B, K)
            split = (np.abs(gap) > share[seg_in]) & bad[seg_in]
            split = split.any(axis=1) & open_in[seg_in] & (h > 2 * MIN_WIDTH)
            if not split.any():
                break
            # Each input may spend at most its remaining budget in this round.
            cost = np.bincount(seg_in[split], minlength=n_in) * 2 / n_ref
            over = spent + cost > self.budget
            if over.any():
                split &= ~over[seg_in] | _largest_first(
                    np.abs(gap).max(axis=1), seg_in, split, over, (self.budget - spent) * n_ref
                )
                if not split.any():
                    break
            idx = np.flatnonzero(split)
            paths = seg_path[idx]
            a, m, b = seg_a[idx], seg_m[idx], seg_b[idx]
            q1 = add_points(paths, (alpha[a] + alpha[m]) / 2)
            q3 = add_points(paths, (alpha[m] + alpha[b]) / 2)
            spent += np.bincount(seg_in[idx], minlength=n_in) * 2 / n_ref
            evaluations += 2 * len(idx)
            keep = ~split
            seg_a = np.concatenate([seg_a[keep], a, m])
            seg_m = np.concatenate([seg_m[keep], q1, q3])
            seg_b = np.concatenate([seg_b[keep], m, b])
            rounds += 1

        # Final weights of the composite rule on the leaf segments, per point.
        alpha = np.concatenate(p_alpha)
        h = alpha[seg_b] - alpha[seg_a]
        n_pts = len(alpha)
        w = np.bincount(seg_a, h / 6.0, n_pts)
        w += np.bincount(seg_m, 4.0 * h / 6.0, n_pts)
        w += np.bincount(seg_b, h / 6.0, n_pts)
        phi = self._combine(
            w, np.concatenate(p_path), np.concatenate(p_grad), grads, delta_p, n_in, n_ref
        )
        return phi, f_x, PathStats(evaluations, rounds, ~np.any(bad, axis=1))

    @staticmethod
    def _combine(
        w: np.ndarray,
        pt_path: np.ndarray,
        pt_grad: np.ndarray,
        grads: list[np.ndarray],
        delta_p: np.ndarray,
        n_in: int,
        n_ref: int,
    ) -> np.ndarray:
        """phi_b = 1/R sum_r delta_br * sum_{points p of path br} w_p grad_p."""
        from scipy import sparse

        g = np.concatenate(grads)  # (G, D, K)
        n_grad, d, k = g.shape
        weights = sparse.csr_matrix((w, (pt_path, pt_grad)), shape=(len(delta_p), n_grad))
        per_path = weights @ g.reshape(n_grad, d * k)  # (paths, D*K)
        per_path = np.asarray(per_path).reshape(len(delta_p), d, k)
        per_path *= delta_p[:, :, None]
        return (per_path.reshape(n_in, n_ref, d, k).sum(axis=1) / n_ref).astype(np.float32)


def _largest_first(
    size: np.ndarray, seg_in: np.ndarray, split: np.ndarray, over: np.ndarray, room: np.ndarray
) -> np.ndarray:
    """For inputs over budget: keep only their largest-error splits that still fit."""
    keep = np.zeros_like(split)
    for b in np.flatnonzero(over):
        cand = np.flatnonzero(split & (seg_in == b))
        n_fit = int(max(room[b], 0) // 2)
        if n_fit > 0:
            keep[cand[np.argsort(-size[cand])[:n_fit]]] = True
    return keep
