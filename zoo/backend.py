"""The backend seams: the only code that names TensorFlow or JAX, one function per concern.

Everything else in `zoo` and `explain` is written with `keras.ops` and runs on whatever
backend Keras was started with (`KERAS_BACKEND=jax` or `tensorflow`, the default):

- **gradients** of tensors (the explainer's rules and paths): `gradient`, `jacobian`;
  a function compiled once for numpy in, numpy out: `compiled`; a fused kernel inside
  one: `fused`;
- **train steps** that take gradients of variables themselves (the GAN):
  `value_and_gradients` inside a step, and `stateless_step`, which runs such a step on
  JAX the way Keras' guide for a custom `train_step` on JAX prescribes (the trainer hands
  the step its state, the step returns the new state; nothing is assigned in place);
- **distribution**: `strategy_scope` (a `tf.distribute` strategy on TensorFlow);
- **which backend a new training process starts**: `for_training` (the fastest measured
  here for the model's family, unless the user named one).

Example:
    >>> name() in BACKENDS
    True
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

BACKENDS = ("tensorflow", "jax")
SETTING = "ZOO_BACKEND"  # the environment variable that carries `for_training`'s setting
AUTO = "auto"
# The backend each family's `zoo.train` is fastest on, from `bench/train_throughput.py`
# (both backends in one run, steady-state samples/s of the entries' defaults on this
# machine's Intel Xeon, 2 cores, 2026-11-27; the README's Backends section has the
# figures): the recurrent entries 1.1-3.8x faster on JAX, the CNN 2.1x and the GAN 1.9x
# faster on TensorFlow; mlp-cancer's steps are faster on JAX, but its whole training took
# 10.4 s on TensorFlow against 14.1 s on JAX (start-up and compilation). A family missing
# here (a plug-in's) trains on TensorFlow.
FASTEST: dict[str, str] = {
    "cnn": "tensorflow",
    "rnn": "jax",
    "mlp": "tensorflow",
    "gan": "tensorflow",
}


def name() -> str:
    """The backend Keras runs on: 'tensorflow' or 'jax' (Keras is imported if it was not).

    Example:
        >>> name() in ("tensorflow", "jax")
        True
    """
    from zoo._tf import keras as _keras

    return str(_keras().backend.backend())


def recorded() -> str:
    """The backend to record in a version's manifest, without importing Keras: the one
    this process trains on.

    The backend of the Keras already imported, else the one `KERAS_BACKEND` names (the
    zoo's default: tensorflow).

    Example:
        >>> recorded() in BACKENDS
        True
    """
    import os
    import sys

    keras = sys.modules.get("keras")
    if keras is not None and hasattr(keras, "backend"):
        return str(keras.backend.backend())
    return os.environ.get("KERAS_BACKEND", "tensorflow")


# --- gradients of tensors (the explainer) ---------------------------------------------


def gradient(fn: Callable[[Any], Any], x: Any) -> Any:
    """The gradient of the scalar `fn(x)` with respect to the tensor `x` (same shape).

    Works eagerly and inside `compiled` functions.

    Example:
        >>> import keras
        >>> g = gradient(lambda t: keras.ops.sum(t**2), keras.ops.convert_to_tensor([1.0, 2.0]))
        >>> keras.ops.convert_to_numpy(g).tolist()
        [2.0, 4.0]
    """
    if name() == "jax":
        import jax

        return jax.grad(fn)(x)
    import tensorflow as tf

    with tf.GradientTape() as tape:
        tape.watch(x)
        value = fn(x)
    return tape.gradient(value, x)


def jacobian(fn: Callable[[Any], Any], x: Any) -> Any:
    """The Jacobian `(K, *x.shape)` of a vector `fn(x)` of `K` values (reverse mode).

    Example:
        >>> import keras
        >>> x = keras.ops.convert_to_tensor([1.0, 2.0])
        >>> j = jacobian(lambda t: keras.ops.stack([keras.ops.sum(t), keras.ops.sum(t * t)]), x)
        >>> keras.ops.convert_to_numpy(j).tolist()
        [[1.0, 1.0], [2.0, 4.0]]
    """
    if name() == "jax":
        import jax

        return jax.jacrev(fn)(x)
    import tensorflow as tf

    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        values = fn(x)
    # A loop over the outputs (no pfor): one backward graph, the forward pass shared.
    return tape.jacobian(values, x, experimental_use_pfor=False)


def compiled(
    fn: Callable[..., Any], shapes: Sequence[tuple[int | None, ...]]
) -> Callable[..., Any]:
    """`fn` compiled once for float32 inputs of `shapes` (None: any size), numpy in and out.

    TensorFlow: one concrete `tf.function` (traced once here, never retraced); JAX:
    `jax.jit` (traced once per input shape). A tuple result comes back as a tuple.

    Example:
        >>> import keras
        >>> double = compiled(lambda t: t * 2.0, [(None, 3)])
        >>> double(np.ones((2, 3), np.float32)).tolist()
        [[2.0, 2.0, 2.0], [2.0, 2.0, 2.0]]
    """
    if name() == "jax":
        import jax
        import keras

        def stateless(*args: Any) -> Any:
            # What the traced layers assign (a GRU's dropout seed, say) stays in the
            # scope: written to a variable, a traced value would leak out of the jit.
            with keras.StatelessScope():
                return fn(*args)

        jitted = jax.jit(stateless)

        def run_jax(*args: np.ndarray) -> Any:
            return _numpy(jitted(*(np.asarray(a, np.float32) for a in args)))

        return run_jax
    import tensorflow as tf

    specs = [tf.TensorSpec(shape, tf.float32) for shape in shapes]
    concrete = tf.function(fn, autograph=False).get_concrete_function(*specs)

    def run_tf(*args: np.ndarray) -> Any:
        return _numpy(concrete(*(tf.constant(a, tf.float32) for a in args)))

    return run_tf


def fused(fn: Callable[..., Any]) -> Callable[..., Any]:
    """`fn` as one fused kernel where it is called inside a compiled function.

    For chains of many small elementwise ops whose result needs no gradient (the
    explainer's max-pooling shares): on TensorFlow each op is its own kernel that reads and
    writes whole tensors, and XLA (`tf.function(jit_compile=True)`) fuses them into one
    loop (measured 9x faster there); on JAX the enclosing `jax.jit` fuses already, so `fn`
    comes back as it is. Python scalars passed to `fn` are constants of its trace.

    Example:
        >>> import keras
        >>> f = fused(lambda a, b: keras.ops.maximum(a - b, 0.0) * 2.0)
        >>> keras.ops.convert_to_numpy(f(keras.ops.ones(3), keras.ops.zeros(3))).tolist()
        [2.0, 2.0, 2.0]
    """
    if name() == "jax":
        return fn
    import tensorflow as tf

    return tf.function(fn, jit_compile=True, autograph=False)


@contextlib.contextmanager
def full_precision() -> Iterator[None]:
    """Float32 matrix products and convolutions at full float32 precision inside.

    NVIDIA GPUs since Ampere multiply float32 matrices in TF32 (10-bit mantissas) unless
    told otherwise, on both backends; explanations that must add up to the model's output
    to ~1e-6 lost that on an H100 (lstm-co2's normalized additivity p95 went from 5e-7 on
    the CPU to 119 %). JAX: `jax.default_matmul_precision("highest")` for this thread
    while inside (it is part of every trace's key, so what is compiled inside runs
    exactly). TensorFlow's switch is process-wide and not thread-safe to flip back, so it
    is turned off for the rest of the process. Nothing changes on a CPU.

    Example:
        >>> import keras
        >>> a = keras.ops.ones((1, 2))
        >>> with full_precision():
        ...     keras.ops.convert_to_numpy(keras.ops.matmul(a, keras.ops.transpose(a)))
        array([[2.]], dtype=float32)
    """
    if name() == "jax":
        import jax

        with jax.default_matmul_precision("highest"):
            yield
        return
    if name() == "tensorflow":
        import tensorflow as tf

        if tf.config.experimental.tensor_float_32_execution_enabled():
            tf.config.experimental.enable_tensor_float_32_execution(False)
    yield


def _numpy(out: Any) -> Any:
    if isinstance(out, tuple | list):
        return tuple(np.asarray(o) for o in out)
    return np.asarray(out)


# --- train steps that take gradients of variables (the GAN) ---------------------------


def value_and_gradients(
    fn: Callable[[], tuple[Any, Any]], variables: Sequence[Any]
) -> tuple[tuple[Any, Any], list[Any]]:
    """Run `fn() -> (loss, aux)` and return `((loss, aux), d loss / d variables)`.

    Called inside a train step. TensorFlow: a `GradientTape`. JAX: inside the step's
    `stateless_step` scope, `jax.value_and_grad` of `fn` as a function of the variables'
    values; what `fn` assigns on the way (batch-norm statistics, seed states) is kept
    in that scope, as TensorFlow keeps it in the variables.

    Example:
        >>> import keras
        >>> w = keras.Variable([3.0])
        >>> (loss, aux), (g,) = value_and_gradients(lambda: (keras.ops.sum(w * w), 1), [w])
        >>> float(keras.ops.convert_to_numpy(loss)), keras.ops.convert_to_numpy(g).tolist()
        (9.0, [6.0])
    """
    if name() == "jax":
        return _jax_value_and_gradients(fn, list(variables))
    import tensorflow as tf

    with tf.GradientTape() as tape:
        loss, aux = fn()
    return (loss, aux), tape.gradient(loss, list(variables))


def _jax_value_and_gradients(
    fn: Callable[[], tuple[Any, Any]], variables: list[Any]
) -> tuple[tuple[Any, Any], list[Any]]:
    import jax
    import keras

    outer = keras.src.backend.get_stateless_scope()
    base = dict(outer.state_mapping) if outer is not None else {}
    ids = {id(v) for v in variables}

    def run(values: list[Any]) -> tuple[Any, tuple[Any, dict[int, Any]]]:
        scope = keras.StatelessScope()
        scope.state_mapping = {**base, **{id(v): x for v, x in zip(variables, values, strict=True)}}
        with scope:
            loss, aux = fn()
        # Assignments made by fn (not the differentiated variables): returned, not leaked.
        updates = {
            k: v for k, v in scope.state_mapping.items() if k not in ids and base.get(k) is not v
        }
        return loss, (aux, updates)

    values = [v.value for v in variables]
    (loss, (aux, updates)), grads = jax.value_and_grad(run, has_aux=True)(values)
    if outer is not None:
        outer.state_mapping.update(updates)
    return (loss, aux), grads


def stateless_step(
    model: Any, step: Callable[[Any], dict[str, Any]], state: tuple, data: Any
) -> tuple[dict[str, Any], tuple]:
    """JAX: run the stateful `step(data) -> logs` of `model` on the trainer's `state`.

    Keras' JAX trainer calls `train_step(state, data)` with the values of the model's
    trainable, non-trainable, optimizer and metric variables and expects the new values
    back. The step runs inside one `keras.StatelessScope` that maps every variable to
    its value in `state`, so it is written once, with `keras.ops`, as on TensorFlow;
    what it assigns (optimizer updates, statistics, metrics) is collected from the scope.

    Example:
        >>> import keras
        >>> w = keras.Variable(1.0)
        >>> class M:  # what the trainer reads from a keras.Model
        ...     trainable_variables, non_trainable_variables, metrics_variables = [w], [], []
        ...     optimizer = None
        >>> def step(data):
        ...     w.assign(w + data)
        ...     return {}
        >>> logs, state = stateless_step(M(), step, ([1.0], [], [], []), 2.0)
        >>> float(keras.ops.convert_to_numpy(state[0][0])), float(w.numpy())
        (3.0, 1.0)
    """
    import keras

    trainable, non_trainable, optimizer_values, metric_values = state
    opt_vars = list(model.optimizer.variables) if model.optimizer is not None else []
    groups = [
        list(model.trainable_variables),
        list(model.non_trainable_variables),
        opt_vars,
        list(model.metrics_variables),
    ]
    values = [trainable, non_trainable, optimizer_values, metric_values]
    pairs = zip(groups, values, strict=True)
    mapping = [(v, x) for vs, xs in pairs for v, x in zip(vs, xs, strict=True)]
    with keras.StatelessScope(state_mapping=mapping) as scope:
        logs = step(data)
    new_state = tuple(
        [_current(scope, v, x) for v, x in zip(vs, xs, strict=True)]
        for vs, xs in zip(groups, values, strict=True)
    )
    return logs, new_state


def _current(scope: Any, variable: Any, old: Any) -> Any:
    value = scope.get_current_value(variable)
    return old if value is None else value


# --- choosing a backend ---------------------------------------------------------------


def for_training(
    family: str, *, quick: bool = False, strategy: str = "default", setting: str | None = None
) -> str:
    """The backend a new process should train a `family` model on.

    `setting` (else the `ZOO_BACKEND` environment variable, which `zoo` sets from
    `KERAS_BACKEND` when that is given): a backend's name is used as it is; `auto` (or
    nothing) picks the family's fastest measured here (`FASTEST`). A quick run stays on
    TensorFlow: its few epochs are dominated by JAX's first-epoch compilation (the quick
    zoo took 54 s on TensorFlow against 98 s on JAX); so does a `tf.distribute` strategy.

    Example:
        >>> for_training("rnn", setting="auto"), for_training("rnn", quick=True, setting="auto")
        ('jax', 'tensorflow')
        >>> for_training("rnn", setting="tensorflow")
        'tensorflow'
    """
    import os

    chosen = setting or os.environ.get(SETTING) or AUTO
    if chosen in BACKENDS:
        return chosen
    if chosen != AUTO:
        from zoo.errors import ConfigError

        raise ConfigError(
            f"backend {chosen!r} is not one of {', '.join((AUTO, *BACKENDS))}; "
            f"set {SETTING} (or --backend) to one of them"
        )
    if quick or strategy != "default":
        return "tensorflow"
    return FASTEST.get(family, "tensorflow")


# --- distribution ---------------------------------------------------------------------


@contextlib.contextmanager
def strategy_scope(strategy: str) -> Iterator[None]:
    """The scope models are built and compiled in for a `strategy` option.

    TensorFlow: the `tf.distribute` strategy (`default`, `one_device`, `mirrored`). Other
    backends have only `default` (no scope; Keras' own `keras.distribution` is the way
    to shard there).

    Example:
        >>> with strategy_scope("default"):
        ...     pass
    """
    if name() != "tensorflow":
        if strategy != "default":
            from zoo.errors import ConfigError

            raise ConfigError(
                f"strategy={strategy!r} is a tf.distribute strategy, but Keras runs on "
                f"{name()!r}; use strategy='default' or KERAS_BACKEND=tensorflow"
            )
        yield
        return
    import tensorflow as tf

    if strategy == "mirrored":
        chosen = tf.distribute.MirroredStrategy()
    elif strategy == "one_device":
        device = "/gpu:0" if tf.config.list_logical_devices("GPU") else "/cpu:0"
        chosen = tf.distribute.OneDeviceStrategy(device)
    else:
        chosen = tf.distribute.get_strategy()
    with chosen.scope():
        yield
