"""Training on several workers on JAX: Keras' distribution API over multi-process JAX.

The JAX counterpart of `zoo.distribute`'s TensorFlow strategy, used by the same launcher
and cluster flags. Every worker process calls `initialize` first: JAX's distributed runtime
with the chief (worker 0) as coordinator (`keras.distribution.initialize`), CPU
collectives over gloo, and `keras.distribution.DataParallel` over every process's devices,
so the variables are replicated and each global batch is split between the processes.

Each process feeds its own slice of every global batch (`local_batches`; Keras'
auto-sharding is off): the training split as a `tf.data` pipeline of global batches,
shuffled (and augmented) with the config's seed, the same on every worker, an uneven
last batch dropped so that every process takes the same steps, then cut into one slice
per process; JAX joins the slices into the global batch, so the workers take the steps
one process would take on it. The validation arrays stay whole: each process evaluates
all of them (the global batch holds N copies: the same mean). After the fit, `gather`
brings every variable's replicated value into this process and switches the
distribution off, so that evaluation, saving and explanations
run locally on every worker, as on one machine.

Example:
    >>> active()  # no multi-process distribution in this process
    False
"""

from __future__ import annotations

from typing import Any

import numpy as np

from zoo.config import TrainConfig


def initialize(coordinator: str, processes: int, index: int) -> None:
    """Join the JAX cluster (coordinator "host:port", the chief) and distribute data.

    Must come before any JAX computation in the process; blocks until every process has
    joined (the caller's watchdog bounds the wait).

    Example:
        >>> initialize.__name__  # joins a real cluster: tests/zoo/test_distributed.py
        'initialize'
    """
    import jax

    from zoo._tf import keras as _keras

    # Multi-process collectives on CPU need an implementation; gloo ships with jaxlib.
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    keras = _keras()
    keras.distribution.initialize(
        job_addresses=coordinator, num_processes=processes, process_id=index
    )
    devices = keras.distribution.list_devices()
    # Each process feeds its own slice (local_batches), also of array input.
    distribution = keras.distribution.DataParallel(devices=devices, auto_shard_dataset=False)
    keras.distribution.set_distribution(distribution)


def active() -> bool:
    """Whether this process trains as one of several JAX processes (after `initialize`).

    Example:
        >>> active()
        False
    """
    from zoo import backend

    if backend.name() != "jax":
        return False
    from zoo._tf import keras as _keras

    distribution = _keras().distribution.distribution()
    return bool(distribution is not None and getattr(distribution, "_is_multi_process", False))


def local_batches(
    x: Any, y: Any, cfg: TrainConfig, augment: Any = None, *, processes: int, index: int
) -> Any:
    """This process's slices of the global batches of `cfg.batch_size`, as `tf.data`.

    The global batches are reshuffled every epoch with the config's seed (every process
    draws the same order) and augmented (if `augment`); an uneven last batch is dropped;
    process `index` of `processes` gets rows `[index * b, (index + 1) * b)` of each, with
    `b = batch_size / processes`.

    Example:
        >>> cfg = TrainConfig.for_model("mlp-cancer", batch_size=4)
        >>> x, y = np.arange(20, dtype="float32").reshape(10, 2), np.arange(10)
        >>> slices = [list(local_batches(x, y, cfg, processes=2, index=i)) for i in (0, 1)]
        >>> [tuple(b[0].shape) for b in slices[0]]
        [(2, 2), (2, 2)]
        >>> rows = [int(v) for s in slices for b in s for v in b[1]]
        >>> len(rows), len(set(rows))  # 2 steps x 2 processes x 2 rows, none twice
        (8, 8)
    """

    if cfg.batch_size % processes:
        from zoo.errors import ConfigError

        raise ConfigError(
            f"batch_size={cfg.batch_size} does not split evenly over {processes} workers; "
            f"expected a multiple of {processes} (each worker takes an equal slice)"
        )
    from zoo.pipeline import augmented_batches

    data = augmented_batches(x, y, augment, cfg.batch_size, cfg.seed, drop_remainder=True)
    size = cfg.batch_size // processes
    lo, hi = index * size, (index + 1) * size
    return data.map(lambda a, b: (a[lo:hi], b[lo:hi]))


def process() -> tuple[int, int]:
    """(number of processes, this one's index) of the JAX cluster.

    Example:
        >>> process()
        (1, 0)
    """
    import jax

    return jax.process_count(), jax.process_index()


def gather(model: Any) -> None:
    """Bring `model`'s replicated variables into this process; switch distribution off.

    Afterwards `predict`, `evaluate` and saving run on this process alone (a prediction
    of the distributed model would be an array spread over all processes, which no
    single one can read).

    Example:
        >>> gather.__name__  # needs a multi-process run: tests/zoo/test_distributed.py
        'gather'
    """
    import jax.numpy as jnp

    from zoo._tf import keras as _keras

    _keras().distribution.set_distribution(None)
    optimizer = getattr(model, "optimizer", None)
    variables = [
        *model.variables,
        *(optimizer.variables if optimizer is not None else []),
        *getattr(model, "metrics_variables", []),
    ]
    for variable in variables:
        # Fully replicated, so every process can read it; then a plain local array
        # (Keras' JAX variable keeps its layout in `_layout` and would redistribute).
        value = np.asarray(variable.value)
        variable._layout = None
        variable._direct_assign(jnp.asarray(value))
    # The compiled steps were traced for the distributed variables.
    model.train_function = model.test_function = model.predict_function = None
