"""The estimators behind :func:`explain.explain`, one class each, built once per setting.

``_Layerwise`` (:mod:`explain.layerwise`), ``_ExpectedGradients`` (:mod:`explain.paths`),
and shap's own ``DeepExplainer`` and ``GradientExplainer`` behind one interface:
``attributions(x, seed) -> (n, *input_shape, K)``, ``predict``, ``base_values``.
"""

from __future__ import annotations

import contextlib
import threading
import warnings
import weakref
from collections.abc import Iterator
from typing import Any

import numpy as np

from .targets import RANGE_TOLERANCE

DEFAULT_NSAMPLES = 200  # shap.GradientExplainer's samples per input
DEFAULT_EG_NSAMPLES = 4000  # expected gradients: gradient evaluations per input, at most
SCALE_FLOOR = 0.1  # normalized additivity: error / max(|f(x) - base|, 0.1 * std of f)
_FLOAT_BUDGET = 2_000_000  # floats in one (batch x nsamples x input) block: ~50 MB peak
_SHAP_LOCK = threading.RLock()  # shap's TF explainers patch global state; one at a time


# --------------------------------------------------------------------------- explainers


class _Explainer:
    """One model + method + background; built once, reused for every batch."""

    method = ""

    def __init__(
        self,
        model: Any,
        background: np.ndarray,
        outputs: tuple[int, ...],
        nsamples: int | None,
        lo: np.ndarray,
        hi: np.ndarray,
    ) -> None:
        import tensorflow as tf

        self.model_ref = weakref.ref(model)
        self.model = model
        self.background = background
        self.outputs = outputs
        self.nsamples = nsamples
        self.lo, self.hi = lo, hi
        self.range_tolerance = RANGE_TOLERANCE
        shape = background.shape[1:]
        spec = tf.TensorSpec((None, *shape), tf.float32)

        @tf.autograph.experimental.do_not_convert
        def forward(x: Any) -> Any:
            out = model(x, training=False)
            return tf.reshape(out, (tf.shape(x)[0], -1))

        # a concrete function: traced once here, never retraced (and no retracing warnings
        # when many explainers are built in one process)
        self.forward = tf.function(forward).get_concrete_function(spec)
        preds = np.concatenate(
            [self.predict(background[i : i + 256]) for i in range(0, len(background), 256)]
        )
        self.base_values = preds[:, list(outputs)].mean(axis=0).astype(np.float32)
        self.spread = preds[:, list(outputs)].std(axis=0).astype(np.float32)

    def predict(self, x: np.ndarray) -> np.ndarray:
        import tensorflow as tf

        return self.forward(tf.constant(x)).numpy()

    def batch_size(self) -> int:
        return 32

    def attributions(self, x: np.ndarray, seed: int) -> np.ndarray:
        raise NotImplementedError


class _Layerwise(_Explainer):
    """DeepSHAP rules per layer (:mod:`explain.layerwise`), refined to the tolerance."""

    method = "layerwise"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from .layerwise import LayerwiseRules

        self.rules = LayerwiseRules(self.model, self.background, self.outputs)

    def batch_size(self) -> int:
        return self.rules.batch_size()

    def attributions(self, x: np.ndarray, seed: int) -> np.ndarray:
        f = self.predict(x)[:, list(self.outputs)]
        return self.rules.attributions(
            x, f=f, base=self.base_values, scale_floor=SCALE_FLOOR * self.spread
        )


class _ExpectedGradients(_Explainer):
    """Expected gradients, every reference's path integrated adaptively (explain.paths)."""

    method = "expected_gradients"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from .paths import AdaptivePaths, gradient_function

        shape = tuple(self.background.shape[1:])
        fn = gradient_function(self.model, self.outputs, shape)
        per_ref = max(1, int(self.nsamples or DEFAULT_EG_NSAMPLES) // len(self.background))
        self.paths = AdaptivePaths(fn, self.background, budget=per_ref)

    def batch_size(self) -> int:
        per = len(self.background) * 8 * int(np.prod(self.background.shape[1:]))
        return int(np.clip(_FLOAT_BUDGET // max(per * len(self.outputs), 1), 1, 32))

    def attributions(self, x: np.ndarray, seed: int) -> np.ndarray:
        phi, _, _ = self.paths.attributions(x)
        return phi.reshape(*x.shape, len(self.outputs))


@contextlib.contextmanager
def keep_model_state(model: Any) -> Iterator[None]:
    """Restore ``model``'s non-trainable variables after the block.

    shap's TensorFlow explainers run the model in training mode: measured here,
    ``shap.GradientExplainer.shap_values`` updates BatchNormalization's moving statistics
    (and the augmentation layers' seed state), so the stored model predicted differently
    afterwards. Everything shap runs goes through this.

    Example:
        >>> import keras
        >>> m = keras.Sequential([keras.Input((2,)), keras.layers.BatchNormalization()])
        >>> with keep_model_state(m):
        ...     _ = m(np.ones((4, 2), np.float32) * 5, training=True)
        >>> float(m.layers[0].moving_mean.numpy()[0])
        0.0
    """
    saved = [v.numpy() for v in model.non_trainable_variables]
    try:
        yield
    finally:
        for var, value in zip(model.non_trainable_variables, saved, strict=True):
            var.assign(value)


class _ShapBacked(_Explainer):
    """An explainer that wraps one of shap's own (built under the shap lock)."""

    shap_class = ""  # name of the shap explainer class

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        import shap

        with _SHAP_LOCK, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self._shap = getattr(shap, self.shap_class)(self.model, self.background)

    def batch_size(self) -> int:
        return 16


class _ShapDeep(_ShapBacked):
    method = "deep"
    shap_class = "DeepExplainer"

    def attributions(self, x: np.ndarray, seed: int) -> np.ndarray:
        from tensorflow.python.eager import execute as tf_execute

        with _SHAP_LOCK, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            record = tf_execute.record_gradient
            try:
                with keep_model_state(self.model):
                    vals = self._shap.shap_values(x, check_additivity=False)
            finally:  # shap only restores this hook on success; never leave it patched
                tf_execute.record_gradient = record
        return _shap_to_array(vals, x.shape, self.outputs)


class _ShapGradient(_ShapBacked):
    method = "gradient"
    shap_class = "GradientExplainer"

    def attributions(self, x: np.ndarray, seed: int) -> np.ndarray:
        with _SHAP_LOCK, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with keep_model_state(self.model):
                ns = self.nsamples or DEFAULT_NSAMPLES
                vals = self._shap.shap_values(x, nsamples=ns, rseed=seed)
        return _shap_to_array(vals, x.shape, self.outputs)


def _shap_to_array(vals: Any, xshape: tuple[int, ...], outputs: tuple[int, ...]) -> np.ndarray:
    if isinstance(vals, list):  # older shap: one array per output
        vals = np.stack(vals, axis=-1)
    arr = np.asarray(vals, dtype=np.float32)
    if arr.shape == xshape:
        arr = arr[..., None]
    return arr[..., list(outputs)]


_CLASSES: dict[str, type[_Explainer]] = {
    "layerwise": _Layerwise,
    "expected_gradients": _ExpectedGradients,
    "deep": _ShapDeep,
    "gradient": _ShapGradient,
}
