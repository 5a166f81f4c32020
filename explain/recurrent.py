"""Exact DeepLIFT rules inside LSTM and GRU layers (for :mod:`explain.layerwise`).

A recurrent cell is built from three kinds of operation, each with an exact rule for the
difference between the input ``x`` and a reference ``r``:

- linear maps (the kernels, biases, ``1 - z``): their own gradient;
- elementwise activations (the sigmoid gates, tanh): the rescale rule, slope
  ``(s(a_x) - s(a_r)) / (a_x - a_r)``;
- products of two varying values (gates times states): the Shapley split of the product,
  ``d(ab) = mean(a) db + mean(b) da`` with ``mean(a) = (a_x + a_r) / 2`` — exact, it is
  the average of the two orders of changing ``a`` and ``b``.

Unrolling the cell over time with these rules (both sides carried along: a :class:`Pair`)
gives multipliers whose product with the input difference is exactly the layer's output
difference, with one pass instead of a path integral of the whole layer: exact and cheap
where shap's DeepExplainer cannot run at all. Keras' LSTM and GRU (``reset_after`` either
way), ``go_backwards``, ``return_sequences`` and ``Bidirectional`` (concat, sum, ave, mul)
are covered; :func:`supported` says which layers, and :class:`explain.layerwise` checks
the unrolled values against the layer itself before it uses them.
"""

from __future__ import annotations

import dataclasses
from typing import Any

_MERGES = ("concat", "sum", "ave", "mul")
UNROLL_STEPS = 16  # sequences up to this long are unrolled; longer ones run as ops.scan


@dataclasses.dataclass
class Pair:
    """A value on the input side (``x``: its gradient is the rule's multiplier) and on the
    reference side (``r``: a constant)."""

    x: Any
    r: Any

    @property
    def one(self) -> bool:
        """Both sides are the same tensor: a plain forward pass (the segments' start
        activations), computed once, not twice and through the rules."""
        return self.x is self.r

    def __add__(self, other: Pair) -> Pair:
        if self.one and other.one:
            return _both(self.x + other.x)
        return Pair(self.x + other.x, self.r + other.r)


def _both(value: Any) -> Pair:
    return Pair(value, value)


def _cell_ok(layer: Any) -> bool:
    cell = getattr(layer, "cell", None)
    name = type(layer).__name__
    if name not in ("LSTM", "GRU") or cell is None:
        return False
    acts = (getattr(cell.activation, "__name__", ""), cell.recurrent_activation.__name__)
    return (
        acts == ("tanh", "sigmoid")
        and not getattr(layer, "stateful", False)
        and not getattr(layer, "return_state", False)
    )


def supported(layer: Any) -> bool:
    """Whether ``layer`` is an LSTM/GRU (or a Bidirectional of them) these rules cover.

    Example:
        >>> import keras
        >>> supported(keras.layers.GRU(4)), supported(keras.layers.SimpleRNN(4))
        (True, False)
    """
    if type(layer).__name__ == "Bidirectional":
        return (
            getattr(layer, "merge_mode", None) in _MERGES
            and _cell_ok(layer.forward_layer)
            and _cell_ok(layer.backward_layer)
        )
    return _cell_ok(layer)


def _lin(fn: Any, a: Pair) -> Pair:
    if a.one:
        return _both(fn(a.x))
    return Pair(fn(a.x), fn(a.r))


def _act(fn: Any, a: Pair) -> Pair:
    """Rescale rule; the input side's value is exactly ``fn(a.x)``."""
    from keras import ops

    if a.one:  # the plain value; its gradient, were one taken, is the derivative
        return _both(fn(a.x))
    sg = ops.stop_gradient
    y, y_ref = fn(a.x), fn(a.r)
    d = a.x - a.r
    small = ops.abs(d) < 1e-6
    eps = 1e-3
    deriv = (fn(a.x + eps) - fn(a.x - eps)) / (2 * eps)
    slope = sg(ops.where(small, deriv, (y - y_ref) / ops.where(small, ops.ones_like(d), d)))
    return Pair(sg(y) + slope * (a.x - sg(a.x)), y_ref)


def _mul(a: Pair, b: Pair) -> Pair:
    """Shapley split of a product: exact, d(ab) = mean(b) da + mean(a) db."""
    from keras import ops

    if a.one and b.one:
        return _both(a.x * b.x)
    sg = ops.stop_gradient
    mean_a, mean_b = sg((a.x + a.r) / 2), sg((b.x + b.r) / 2)
    x = sg(a.x * b.x) + mean_b * (a.x - sg(a.x)) + mean_a * (b.x - sg(b.x))
    return Pair(x, a.r * b.r)


def _gate_weights(cell: Any, gates: int) -> tuple[list[Any], list[Any], list[Any], list[Any]]:
    """The cell's kernels and biases cut per gate, read once per layer (not once per step:
    slicing a Keras variable inside the step made tracing an unrolled cell 10x slower)."""
    from keras import ops

    u = cell.units
    kernel = ops.convert_to_tensor(cell.kernel)
    rec = ops.convert_to_tensor(cell.recurrent_kernel)
    in_b = rec_b = None
    if cell.use_bias:
        bias = ops.convert_to_tensor(cell.bias)
        reset_after = getattr(cell, "reset_after", False)
        in_b, rec_b = (bias[0], bias[1]) if reset_after else (bias, None)

    def cut(w: Any) -> list[Any]:
        return [None if w is None else w[..., j * u : (j + 1) * u] for j in range(gates)]

    return cut(kernel), cut(rec), cut(in_b), cut(rec_b)


def _affine(w: Any, b: Any) -> Any:
    from keras import ops

    def f(t: Any) -> Any:
        out = ops.matmul(t, w)
        return out if b is None else out + b

    return f


def _gru_step(cell: Any, weights: Any, x_t: Pair, h: Pair) -> Pair:
    kernel, rec, in_b, rec_b = weights
    x_z, x_r, x_h = (_lin(_affine(kernel[j], in_b[j]), x_t) for j in range(3))
    h_z, h_r = (_lin(_affine(rec[j], rec_b[j]), h) for j in range(2))
    sig = cell.recurrent_activation
    z = _act(sig, x_z + h_z)
    r = _act(sig, x_r + h_r)
    if cell.reset_after:
        rec_h = _mul(r, _lin(_affine(rec[2], rec_b[2]), h))
    else:
        rec_h = _lin(_affine(rec[2], None), _mul(r, h))
    hh = _act(cell.activation, x_h + rec_h)
    return _mul(z, h) + _mul(_lin(lambda t: 1.0 - t, z), hh)


def _lstm_step(cell: Any, weights: Any, x_t: Pair, h: Pair, c: Pair) -> tuple[Pair, Pair]:
    kernel, rec, bias, _ = weights

    def part(j: int) -> Any:
        lin_x, lin_h = _affine(kernel[j], bias[j]), _affine(rec[j], None)
        return lambda t, s: lin_x(t) + lin_h(s)

    if x_t.one and h.one:
        pre = [_both(part(j)(x_t.x, h.x)) for j in range(4)]
    else:
        pre = [Pair(part(j)(x_t.x, h.x), part(j)(x_t.r, h.r)) for j in range(4)]
    sig, tanh = cell.recurrent_activation, cell.activation
    i, f, g, o = _act(sig, pre[0]), _act(sig, pre[1]), _act(tanh, pre[2]), _act(sig, pre[3])
    c = _mul(f, c) + _mul(i, g)
    return _mul(o, _act(tanh, c)), c


def _run(layer: Any, seq: Pair) -> Pair:
    """One LSTM/GRU layer over a sequence pair ``(N, T, F)``, as an ``ops.scan`` over time
    (a loop in the graph: tracing and gradients stay small however long the sequence)."""
    from keras import ops

    cell = layer.cell
    gru = type(layer).__name__ == "GRU"
    one = seq.one  # a plain forward pass: every Pair below keeps one tensor for both sides
    xs = ops.transpose(seq.x, (1, 0, 2))  # time-major
    rs = xs if one else ops.transpose(seq.r, (1, 0, 2))
    if layer.go_backwards:
        xs = ops.flip(xs, axis=0)
        rs = xs if one else ops.flip(rs, axis=0)
    # zeros (N, units) shaped like the batch, whatever the backend knows of N statically
    zeros = ops.zeros_like(ops.matmul(seq.x[:, 0, :], ops.zeros((seq.x.shape[-1], cell.units))))
    zeros_r = (
        zeros
        if one
        else ops.zeros_like(ops.matmul(seq.r[:, 0, :], ops.zeros((seq.r.shape[-1], cell.units))))
    )

    weights = _gate_weights(cell, 3 if gru else 4)

    def step(state: Any, inputs: Any) -> Any:
        hx, hr, cx, cr = state
        if one:  # a scan hands the carry and the inputs back as separate tensors
            hr, cr, inputs = hx, cx, (inputs[0], inputs[0])
        x_t = Pair(inputs[0], inputs[1])
        if gru:
            h = _gru_step(cell, weights, x_t, Pair(hx, hr))
            return h.x, h.r, cx, cr
        h, c = _lstm_step(cell, weights, x_t, Pair(hx, hr), Pair(cx, cr))
        return h.x, h.r, c.x, c.r

    state = (zeros, zeros_r, zeros, zeros_r)
    steps = xs.shape[0]
    if steps is not None and steps <= UNROLL_STEPS:  # short: unrolled runs ~2x faster
        outs = []
        for t in range(steps):
            state = step(state, (xs[t], rs[t]))
            outs.append(state)
        hx = ops.stack([o[0] for o in outs])
        hr = hx if one else ops.stack([o[1] for o in outs])
    else:

        def scan_step(carry: Any, inputs: Any) -> tuple[Any, Any]:
            new = step(carry, inputs)
            # the whole state as the stacked output: Keras' TensorFlow scan expects the
            # outputs shaped like the carry
            return new, new

        _, (hx, hr, _, _) = ops.scan(scan_step, state, (xs, rs))
    if one:
        return _both(hx[-1] if not layer.return_sequences else ops.transpose(hx, (1, 0, 2)))
    if not layer.return_sequences:
        return Pair(hx[-1], hr[-1])
    return Pair(ops.transpose(hx, (1, 0, 2)), ops.transpose(hr, (1, 0, 2)))


def layer_pair(layer: Any, seq: Pair) -> Pair:
    """The rules applied to a supported recurrent layer (see :func:`supported`).

    Example:
        >>> import keras, numpy as np
        >>> gru = keras.layers.GRU(3)
        >>> x = np.random.default_rng(0).normal(size=(2, 5, 4)).astype("float32")
        >>> y = gru(x)
        >>> out = layer_pair(gru, Pair(x, x[::-1].copy()))
        >>> bool(np.allclose(out.x, y, atol=1e-5))
        True
    """
    from keras import ops

    if type(layer).__name__ != "Bidirectional":
        return _run(layer, seq)
    fwd = _run(layer.forward_layer, seq)
    bwd = _run(layer.backward_layer, seq)
    if layer.return_sequences:  # Keras puts the backward outputs back in time order
        bwd = Pair(ops.flip(bwd.x, axis=1), ops.flip(bwd.r, axis=1))
    mode = layer.merge_mode
    if mode == "concat":
        return Pair(ops.concatenate([fwd.x, bwd.x], -1), ops.concatenate([fwd.r, bwd.r], -1))
    if mode == "sum":
        return fwd + bwd
    if mode == "ave":
        return _lin(lambda t: t / 2.0, fwd + bwd)
    return _mul(fwd, bwd)
