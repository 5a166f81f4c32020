"""Layer-wise DeepSHAP: exact rules per layer, path integrals only inside smooth blocks.

DeepLIFT / DeepSHAP (Lundberg & Lee 2017; the method of ``shap.DeepExplainer``) explains
``f(x) - f(r)`` for every background reference ``r`` by walking the network once and
giving every layer a *multiplier* whose product with the layer's input difference is
exactly its output difference ("summation to delta"); chained by the chain rule, the
attributions of one reference sum to ``f(x) - f(r)`` and their mean over references to
``f(x) - base``. shap implements the rules by patching TensorFlow's process-wide gradient
registry, has no rule for recurrent loops or ``LeakyRelu`` and leaves the registry
patched when it fails. Here the same idea is written as a *modified forward pass* of the
Keras graph in which each layer returns its true output value but carries the rule's
multiplier as its gradient (``y + lin(u) - stop_gradient(lin(u))``: the value is exactly
``y``, so ties and zeros of ReLU outputs stay exact for the next layer's rule), so one ordinary
gradient gives the attributions and nothing global is touched:

- linear and identity-at-inference layers (Dense/Conv without activation, BatchNorm at
  inference, pooling by average, Flatten, Dropout, the ``Random*`` augmentation layers,
  Add, Concatenate, ...): their own gradient — exact;
- elementwise activations (ReLU, LeakyReLU, sigmoid, tanh, ELU, GELU, ...), also the
  activation inside a Dense/Conv layer: the *rescale* rule, slope
  ``(s(u_x) - s(u_r)) / (u_x - u_r)`` — exact;
- max pooling (non-overlapping windows): the path integral of each window's max,
  computed exactly from the crossings of its straight lines — exact, multipliers in
  [0, 1];
- LSTM and GRU layers (also inside Bidirectional): the cell unrolled over time with
  exact rules for its gates and products (:mod:`explain.recurrent`) — exact;
- every other layer with one input (softmax, LayerNormalization, SimpleRNN, nested
  models, unknown layers) is a *smooth block*: its
  multiplier is its Jacobian integrated along the straight path between its own input
  values for ``x`` and ``r`` (composite Gauss-Legendre; the integral of a Jacobian along
  a path satisfies summation to delta up to quadrature error). Inside a softmax there
  are no ReLU kinks, so a few nodes are very accurate.

**Path segments.** One walk from ``r`` to ``x`` is DeepLIFT's single step: every rule
linearizes its layer over the whole difference at once. With ``segments=m`` the straight
path is cut into ``m`` pieces and each piece is walked with its own start as the
reference (``r + i/m (x - r)`` to ``r + (i+1)/m (x - r)``). Every piece adds up exactly to
its own output change, so the sum over pieces adds up to ``f(x) - f(r)`` at every ``m``;
as the pieces shrink, each rule's multiplier becomes the layer's derivative and the sum
becomes the path integral of expected gradients (integrated gradients averaged over the
background), which measured closest to the true Shapley values on cnn-digits
(``bench/shapley_reference.py``). The cost is one walk per piece.

The additivity error that remains is the smooth blocks' quadrature error; it is measured
against the real model output for every explanation, never forced to zero. A model this
walk cannot handle (subclassed models, layers with several inputs that are not linear)
raises :class:`Unsupported`, and the caller uses adaptive expected gradients instead.

Written with ``keras.ops``, so it runs on every backend; the gradient and the compiled
function come from :mod:`zoo.backend` (a ``GradientTape`` and a concrete ``tf.function`` on
TensorFlow, ``jax.jacrev`` / ``jax.grad`` under ``jax.jit`` on JAX).
"""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np

SMOOTH_NODES = 8  # Gauss-Legendre nodes on a path through a recurrent/unknown block ...
MAX_NODES = 64  # ... doubled up to this many where the measured error is too large
SOFTMAX_NODES = 8  # softmax is cheap and saturates sharply: many fixed nodes
SOFTMAX_PANELS = 8
DEFAULT_TOLERANCE = 0.002  # relative additivity error that triggers refinement
ROW_BUDGET = 2_000_000  # floats of one layer's activations per batch (memory bound)

_LINEAR = {
    "InputLayer",
    "Dropout",
    "SpatialDropout1D",
    "SpatialDropout2D",
    "SpatialDropout3D",
    "GaussianNoise",
    "GaussianDropout",
    "AlphaDropout",
    "ActivityRegularization",
    "Flatten",
    "Reshape",
    "Permute",
    "RepeatVector",
    "BatchNormalization",
    "Rescaling",
    "Normalization",
    "GlobalAveragePooling1D",
    "GlobalAveragePooling2D",
    "GlobalAveragePooling3D",
    "AveragePooling1D",
    "AveragePooling2D",
    "AveragePooling3D",
    "ZeroPadding1D",
    "ZeroPadding2D",
    "ZeroPadding3D",
    "Cropping1D",
    "Cropping2D",
    "Cropping3D",
    "UpSampling1D",
    "Add",
    "Subtract",
    "Average",
    "Concatenate",
    "Identity",
}
# Layers whose own computation is linear and which may carry an `activation`.
_WITH_ACTIVATION = {
    "Dense",
    "EinsumDense",
    "Conv1D",
    "Conv2D",
    "Conv3D",
    "Conv1DTranspose",
    "Conv2DTranspose",
    "Conv3DTranspose",
    "DepthwiseConv1D",
    "DepthwiseConv2D",
    "SeparableConv1D",
    "SeparableConv2D",
}
_ELEMENTWISE_LAYERS = {"ReLU", "LeakyReLU", "ELU", "PReLU"}
_NOT_ELEMENTWISE = {"softmax", "log_softmax", "glu", "sparsemax"}


class Unsupported(Exception):
    """The model cannot be walked layer by layer (the caller falls back)."""


def _graph(model: Any) -> Any:
    graph = getattr(model, "_functional", None) or model
    if not hasattr(graph, "_nodes_by_depth") or len(getattr(graph, "inputs", []) or []) != 1:
        raise Unsupported(f"{type(model).__name__} is not a single-input functional model")
    if len(graph.outputs) != 1:
        raise Unsupported("the model has several outputs")
    return graph


def unsupported(model: Any) -> str | None:
    """Why :class:`LayerwiseRules` cannot walk ``model`` (None if it can); nothing traced.

    Example:
        >>> import keras
        >>> unsupported(keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])) is None
        True
    """
    try:
        _classify(_graph(model))
    except Unsupported as err:
        return str(err)
    return None


def _classify(graph: Any) -> dict[int, str]:
    """The rule of every node of ``graph`` (by ``id(node)``)."""
    rules: dict[int, str] = {}
    for depth in sorted(graph._nodes_by_depth, reverse=True):
        for node in graph._nodes_by_depth[depth]:
            if node.is_input or not node.operation:
                continue
            if len(node.outputs) != 1:
                raise Unsupported(f"layer {node.operation.name!r} has several outputs")
            rules[id(node)] = _rule_for(node.operation, len(node.input_tensors))
    return rules


def _activation_of(layer: Any) -> Any:
    act = getattr(layer, "activation", None)
    name = getattr(act, "__name__", "")
    return None if act is None or name == "linear" else act


def _rule_for(layer: Any, n_inputs: int) -> str:
    """'linear', 'split' (linear + activation), 'elementwise', 'maxpool' or 'smooth'."""
    cls = type(layer).__name__
    if cls.startswith("Random"):  # augmentation layers: identity at inference
        return "linear"
    if cls in _LINEAR:
        return "linear"
    if n_inputs != 1:
        raise Unsupported(f"layer {layer.name!r} ({cls}) combines several inputs non-linearly")
    if cls in _WITH_ACTIVATION:
        return "split" if _activation_of(layer) is not None else "linear"
    if cls == "Activation":
        name = getattr(_activation_of(layer), "__name__", "")
        if not name:
            return "linear"
        return "smooth" if name in _NOT_ELEMENTWISE else "elementwise"
    if cls in _ELEMENTWISE_LAYERS:
        return "elementwise"
    if cls == "MaxPooling2D" and _simple_pool(layer):
        return "maxpool"
    from . import recurrent

    if recurrent.supported(layer):
        return "recurrent"
    return "smooth"


def _simple_pool(layer: Any) -> bool:
    pool = tuple(layer.pool_size)
    strides = tuple(layer.strides) if layer.strides is not None else pool
    return pool == strides and layer.padding == "valid" and layer.data_format == "channels_last"


def gauss_legendre(panels: int, nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """Composite Gauss-Legendre nodes and weights on [0, 1].

    Example:
        >>> a, w = gauss_legendre(2, 3)
        >>> round(float(w.sum()), 6), round(float((w * a**5).sum()), 6)  # exact: 1/6
        (1.0, 0.166667)
    """
    t, w = np.polynomial.legendre.leggauss(nodes)
    edges = np.linspace(0.0, 1.0, panels + 1)
    pairs = list(zip(edges[:-1], edges[1:], strict=True))
    a = np.concatenate([lo + (hi - lo) * (t + 1) / 2 for lo, hi in pairs])
    ws = np.concatenate([(hi - lo) * w / 2 for lo, hi in pairs])
    return a.astype(np.float32), ws.astype(np.float32)


class LayerwiseRules:
    """DeepSHAP attributions of ``model`` against a fixed background, one compiled function.

    Args:
        model: a functional or Sequential ``keras.Model`` with one input and output.
        background: references, shape ``(R, *input_shape)``.
        outputs: indices of the explained outputs.

    Raises:
        Unsupported: the graph has a part no rule covers (use expected gradients).

    Example:
        >>> import keras
        >>> m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, "relu"),
        ...                       keras.layers.Dense(3, "softmax")])
        >>> bg = np.random.default_rng(0).normal(size=(10, 4)).astype("float32")
        >>> rules = LayerwiseRules(m, bg, (0, 1, 2))
        >>> x = np.ones((2, 4), np.float32)
        >>> phi = rules.attributions(x)            # (2, 4, 3)
        >>> f = m.predict(x, verbose=0); base = m.predict(bg, verbose=0).mean(axis=0)
        >>> bool(np.abs(phi.sum(axis=1) + base - f).max() < 1e-4)
        True
    """

    def __init__(
        self,
        model: Any,
        background: np.ndarray,
        outputs: tuple[int, ...],
        segments: int = 1,
    ) -> None:
        from keras import ops

        from zoo import backend

        self.model = model
        self.graph = _graph(model)
        self.refs = np.ascontiguousarray(background, np.float32)
        self.outputs = tuple(outputs)
        self.n_refs = len(self.refs)
        self.segments = int(segments)
        if self.segments < 1:
            raise ValueError(f"segments must be at least 1, got {segments}")
        self.rules = _classify(self.graph)
        # Reference-side activations of every tensor: computed once, constants after.
        refs = ops.convert_to_tensor(self.refs)
        plain = self._walk_reference(refs, own_recurrence=False)
        self._check_recurrent(plain)
        # Only a recurrent layer the rules unroll walks differently: without one, the
        # plain walk is the reference walk.
        recurrent = "recurrent" in self.rules.values()
        self.ref_values = self._walk_reference(refs) if recurrent else plain
        # a recurrent/unknown block whose quadrature can be refined
        self.has_smooth = False
        self.width = 1  # largest activation size of one row (for batch sizing)
        for node in self._nodes_in_order():
            rule = self.rules[id(node)]
            if rule == "smooth" and not self._is_softmax(node.operation):
                self.has_smooth = True
            size = int(np.prod([d or 1 for d in node.outputs[0].shape[1:]]))
            if rule == "recurrent":  # the unrolled cell keeps ~8 tensors per time step
                size *= 8 * int(node.input_tensors[0].shape[1] or 1)
            self.width = max(self.width, size * self._nodes(rule))
        shape = self.refs.shape[1:]
        self._fn = backend.compiled(self._attributions, [(None, *shape), (None,), (None,)])

    # ------------------------------------------------------------------ graph walks

    def _nodes_in_order(self) -> list[Any]:
        return [
            node
            for depth in sorted(self.graph._nodes_by_depth, reverse=True)
            for node in self.graph._nodes_by_depth[depth]
            if not node.is_input and node.operation
        ]

    @staticmethod
    def _call(layer: Any, *args: Any, **kwargs: Any) -> Any:
        if "training" in getattr(layer, "_call_context_args", ()):
            kwargs["training"] = False
        return layer(*args, **kwargs)

    def _walk_reference(
        self, refs: Any, own_recurrence: bool = True
    ) -> dict[int | tuple[str, int], Any]:
        # keyed by tensor id; ("pre", node id) holds a split node's pre-activation.
        # A recurrent layer's output comes from the rule's own unrolled cell, the one the
        # pair walk runs, not from the layer: on a GPU Keras' JAX LSTM runs cuDNN, whose
        # numbers differ, and a segment's start then missed the previous segment's end
        # (lstm-digits on an H200: normalized additivity p95 136 % with 4 segments).
        from .recurrent import Pair, layer_pair

        values: dict[int | tuple[str, int], Any] = {id(self.graph.inputs[0]): refs}
        for node in self._nodes_in_order():
            args, kwargs = node.arguments.fill_in(values)
            if own_recurrence and self.rules[id(node)] == "recurrent":
                out = layer_pair(node.operation, Pair(args[0], args[0])).x
            else:
                out = self._call(node.operation, *args, **kwargs)
            values[id(node.outputs[0])] = out
            if self.rules[id(node)] == "split":  # keep the pre-activation too
                values[("pre", id(node))] = self._linear_part(node.operation, *args)
        return values

    def _check_recurrent(self, plain: dict[Any, Any]) -> None:
        """Unrolled LSTM/GRU rules must reproduce the layer's own output (`plain`: the
        reference walked through the layers themselves); else: smooth."""
        from .recurrent import Pair, layer_pair

        for node in self._nodes_in_order():
            if self.rules[id(node)] != "recurrent":
                continue
            u = plain[id(node.input_tensors[0])]
            want = np.asarray(plain[id(node.outputs[0])])
            try:
                got = np.asarray(layer_pair(node.operation, Pair(u, u)).x)
                ok = got.shape == want.shape and np.allclose(got, want, atol=1e-4)
            except Exception:  # an unexpected cell variant: integrate the block instead
                ok = False
            if not ok:
                self.rules[id(node)] = "smooth"

    @staticmethod
    def _nodes(rule: str) -> int:
        return SMOOTH_NODES * 2 if rule == "smooth" else 1  # memory sized for 2 panels

    def _attributions(self, x: Any, alpha: Any, weight: Any) -> Any:
        from keras import ops

        from zoo import backend

        nodes = (alpha, weight)  # of the smooth blocks' paths (passed down: JAX may trace
        # two batch shapes at once from two threads, so no state on self)

        n_ref, k_out, n_seg = self.n_refs, len(self.outputs), self.segments
        shape = tuple(self.refs.shape[1:])
        ones = (1,) * len(shape)
        batch = ops.shape(x)[0]
        xr = ops.repeat(x, n_ref, axis=0)  # row b * R + r pairs input b with reference r
        refs = ops.tile(ops.convert_to_tensor(self.refs), (batch, *ones))
        starts = None  # reference side: the background's own activations (self.ref_values)
        if n_seg > 1:
            # Segment i of the path from r to x runs from r + i/m (x - r) to r + (i+1)/m
            # (x - r); rows are segment-major. Each segment's attributions sum exactly to
            # its output difference, so their sum to f(x) - f(r).
            frac = ops.reshape(ops.arange(n_seg + 1, dtype=x.dtype) / n_seg, (-1, 1, *ones))
            pts = ops.expand_dims(refs, 0) + frac * ops.expand_dims(xr - refs, 0)
            refs = ops.reshape(pts[:-1], (-1, *shape))
            xr = ops.reshape(pts[1:], (-1, *shape))
            starts = self._walk_reference(refs)
            batch = batch * n_seg

        def totals(t: Any) -> Any:
            out = ops.reshape(self._walk_pairs(t, batch, starts, nodes), (-1, self._width))
            return ops.stack([ops.sum(out[:, k]) for k in self.outputs])

        # One backward graph per output, the forward pass shared. (For recurrent models a
        # single backward pass over K copies of the pairs traced ~1.6x faster, 4.6 against
        # 7.5 s on the quick gru-digits, but ran 2-3x slower on every call after: 106
        # against 35 ms per sample with 2 segments. The dashboard builds explainers in the
        # background, so the warm cost counts.)
        if k_out == 1:  # a plain gradient: no loop over outputs (the forecaster: 1.6x faster)
            grads = ops.expand_dims(backend.gradient(lambda t: totals(t)[0], xr), 0)
        else:
            grads = backend.jacobian(totals, xr)  # (K, B*R, *S)
        contrib = grads * ops.expand_dims(xr - refs, 0)
        if n_seg > 1:  # sum the segments of each path
            contrib = ops.sum(ops.reshape(contrib, (k_out, n_seg, -1, *shape)), axis=1)
        phis = ops.mean(ops.reshape(contrib, (k_out, -1, n_ref, *shape)), axis=2)  # (K, B, *S)
        return ops.transpose(phis, (*range(1, len(shape) + 2), 0))

    @property
    def _width(self) -> int:
        return int(np.prod(self.graph.outputs[0].shape[1:]))

    def _ref(self, key: Any, batch: Any, starts: dict[Any, Any] | None) -> Any:
        from keras import ops

        if starts is not None:  # segments: every row has its own start point
            return starts[key]
        ref = self.ref_values[key]
        return ops.tile(ref, (batch, *(1,) * (len(ref.shape) - 1)))

    def _walk_pairs(
        self, xr: Any, batch: Any, starts: dict[Any, Any] | None, nodes: tuple[Any, Any]
    ) -> Any:
        values: dict[int, Any] = {id(self.graph.inputs[0]): xr}
        for node in self._nodes_in_order():
            layer = node.operation
            args, kwargs = node.arguments.fill_in(values)
            rule = self.rules[id(node)]
            if rule == "linear":
                out = self._call(layer, *args, **kwargs)
            else:
                (u,) = args
                u_ref = self._ref(id(node.input_tensors[0]), batch, starts)
                if rule == "split":
                    pre = self._linear_part(layer, u)
                    pre_ref = self._ref(("pre", id(node)), batch, starts)
                    out = self._activation_rule(_activation_of(layer), pre, pre_ref)
                elif rule == "elementwise":
                    out = self._elementwise(lambda t, ly=layer: self._call(ly, t), u, u_ref)
                elif rule == "maxpool":
                    out = self._maxpool(layer, u, u_ref)
                elif rule == "recurrent":
                    from .recurrent import Pair, layer_pair

                    out = layer_pair(layer, Pair(u, u_ref)).x
                else:
                    out = self._smooth(partial(self._call, layer), u, u_ref, layer, nodes)
            values[id(node.outputs[0])] = out
        return values[id(self.graph.outputs[0])]

    # ------------------------------------------------------------------ rules

    @staticmethod
    def _is_softmax(layer: Any) -> bool:
        return type(layer).__name__ in ("Softmax", "Activation")

    @staticmethod
    def _linear_part(layer: Any, u: Any) -> Any:
        # A shallow twin that shares the layer's variables; only its activation differs.
        # (copy.copy would pickle a Keras layer; __setattr__ would track the attribute.)
        lin = object.__new__(type(layer))
        lin.__dict__.update(layer.__dict__)
        object.__setattr__(lin, "activation", lambda t: t)
        return lin.call(u)

    def _activation_rule(self, act: Any, pre: Any, pre_ref: Any) -> Any:
        name = getattr(act, "__name__", "")
        if name in _NOT_ELEMENTWISE:
            return self._smooth(act, pre, pre_ref, None)
        return self._elementwise(act, pre, pre_ref)

    @staticmethod
    def _elementwise(fn: Any, u: Any, u_ref: Any) -> Any:
        """Rescale rule: slope (s(u) - s(u_r)) / (u - u_r); the true value s(u)."""
        from keras import ops

        sg = ops.stop_gradient
        y = fn(u)
        y_ref = fn(u_ref)
        du = u - u_ref
        small = ops.abs(du) < 1e-6
        eps = 1e-3
        # where u == u_r the slope is the derivative (a central difference suffices: its
        # contribution is multiplied by a difference below 1e-6)
        deriv = (fn(u + eps) - fn(u - eps)) / (2 * eps)
        slope = ops.where(small, deriv, (y - y_ref) / ops.where(small, ops.ones_like(du), du))
        return sg(y) + sg(slope) * (u - sg(u))

    def _smooth(
        self, fn: Any, u: Any, u_ref: Any, layer: Any, nodes: tuple[Any, Any] | None = None
    ) -> Any:
        """Jacobian integrated along [u_r, u] (composite Gauss-Legendre); true value."""
        from keras import ops

        sg = ops.stop_gradient
        if layer is None or self._is_softmax(layer):
            alpha, weight = (
                ops.convert_to_tensor(a) for a in gauss_legendre(SOFTMAX_PANELS, SOFTMAX_NODES)
            )
        else:  # recurrent and unknown blocks: the nodes are an input of the function
            assert nodes is not None  # every other block gets the walk's nodes
            alpha, weight = nodes
        y = sg(fn(u))
        u_c = sg(u)
        du = u_c - u_ref
        lead = (-1, *(1,) * len(u.shape))
        a = ops.reshape(alpha, lead)
        points = ops.expand_dims(u_ref, 0) + a * ops.expand_dims(du, 0)  # (n, N, ...)
        moving = sg(points) + ops.expand_dims(u - u_c, 0)
        flat = ops.reshape(moving, (-1, *u.shape[1:]))
        out = fn(flat)
        out = ops.reshape(out, (-1, *ops.shape(y)))
        w = ops.reshape(weight, (-1, *(1,) * len(y.shape)))
        # d lin / d u = sum_i w_i J(p_i): the Jacobian's path integral. Its value is
        # replaced by the true output (the integral only defines the multiplier).
        lin = ops.sum(w * out, axis=0)
        return y + (lin - sg(lin))

    @staticmethod
    def _maxpool(layer: Any, u: Any, u_ref: Any) -> Any:
        """Max pooling: each window's path integral of max, computed exactly.

        Every position of a window gets, as its multiplier, the fraction of the straight
        path from r to x on which it is the window's maximum
        (:func:`explain.pooling.window_shares`); the fractions partition the path, so
        summation to delta holds and no multiplier is a division by a small difference.
        """
        from keras import ops

        from .pooling import fused_shares

        sg = ops.stop_gradient
        ph, pw = (int(p) for p in layer.pool_size)
        y = sg(layer(u))
        h, w = int(y.shape[1]), int(y.shape[2])
        u_c = u[:, : h * ph, : w * pw, :]  # positions no window covers are dropped
        share = sg(fused_shares()(u_ref[:, : h * ph, : w * pw, :], sg(u_c), ph, pw))
        lin = ops.sum(ops.reshape(share * u_c, (-1, h, ph, w, pw, int(u.shape[3]))), (2, 4))
        return y + (lin - sg(lin))

    # ------------------------------------------------------------------ public

    def batch_size(self) -> int:
        """Inputs per call so that one layer's pair activations stay near ROW_BUDGET."""
        per_input = self.n_refs * self.segments * self.width
        return int(np.clip(ROW_BUDGET // max(per_input, 1), 1, 64))

    def attributions(
        self,
        x: np.ndarray,
        f: np.ndarray | None = None,
        base: np.ndarray | None = None,
        scale_floor: np.ndarray | None = None,
        tolerance: float = DEFAULT_TOLERANCE,
    ) -> np.ndarray:
        """SHAP values ``(B, *input_shape, K)`` of ``x`` (batched to bound memory).

        With the model outputs ``f (B, K)``, the base values and a scale floor per
        output, inputs whose additivity error ``|sum phi + base - f|`` exceeds
        ``tolerance * max(|f - base|, scale_floor)`` are integrated again with twice
        the Gauss-Legendre nodes in every smooth block (up to ``MAX_NODES``): the error is measured,
        never forced. Gauss-Legendre converges exponentially on the analytic paths
        of LSTM/GRU cells, so a few doublings suffice.
        """
        x = np.ascontiguousarray(x, np.float32)
        bs = self.batch_size()
        out = np.empty((*x.shape, len(self.outputs)), np.float32)
        todo = np.arange(len(x))
        nodes = SMOOTH_NODES
        self.nodes_used = np.full(len(x), nodes, np.int32)
        while len(todo):
            alpha, weight = gauss_legendre(1, nodes)
            step = max(1, bs * SMOOTH_NODES // nodes)
            for i in range(0, len(todo), step):
                idx = todo[i : i + step]
                out[idx] = self._fn(x[idx], alpha, weight)
            self.nodes_used[todo] = nodes
            if f is None or base is None or not self.has_smooth or nodes >= MAX_NODES:
                break
            total = out[todo].reshape(len(todo), -1, len(self.outputs)).sum(axis=1)
            err = np.abs(total + base - f[todo])
            floor = 0.0 if scale_floor is None else scale_floor
            scale = np.maximum(np.abs(f[todo] - base), floor)
            todo = todo[(err > tolerance * np.maximum(scale, 1e-12)).any(axis=1)]
            nodes *= 2
        return out
