"""Training on several workers on TensorFlow: `tf.distribute.MultiWorkerMirroredStrategy`.

The TensorFlow counterpart of `zoo.distribute_jax`, used by `zoo.distribute.run_worker`:
the strategy built from the cluster's `TF_CONFIG`, and the two Keras 3.15 functions that
fail under it replaced in worker processes (keras-team/keras#20585).

Example:
    >>> strategy.__name__  # joins a real cluster: tests/zoo/test_distributed.py
    'strategy'
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Mapping
from typing import Any


def strategy(tf_config: Mapping[str, Any]) -> Any:
    """The `MultiWorkerMirroredStrategy` of the cluster `tf_config` (TensorFlow's
    `TF_CONFIG` layout); blocks until every worker has started.

    Example:
        >>> strategy.__name__  # joins a real cluster: tests/zoo/test_distributed.py
        'strategy'
    """
    # TF_CONFIG is how MultiWorkerMirroredStrategy learns the cluster; it must be set
    # before the strategy exists, and the strategy before any other TensorFlow work.
    os.environ["TF_CONFIG"] = json.dumps(dict(tf_config))
    from zoo._tf import keras

    keras()
    import tensorflow as tf

    _fix_keras_multi_worker()
    # Waits (the watchdog bounds it) until every worker has started its server.
    return tf.distribute.MultiWorkerMirroredStrategy()


@functools.cache
def _fix_keras_multi_worker() -> None:
    # Keras 3's TensorFlow trainer fails under MultiWorkerMirroredStrategy (keras-team/
    # keras#20585, still in 3.15): (1) `_maybe_symbolic_build` reduces the first input
    # batch, a tuple, with `strategy.reduce`, which takes one tensor ("Attempt to convert
    # a value (PerReplica...)"); it only needs the batch's shapes, so this takes the local
    # slice. (2) `reduce_per_replica` averages scalar logs (loss, metrics) with `axis=0`
    # ("Invalid reduction dimension 0 for input with 0 dimensions"); scalars are averaged
    # across workers with `axis=None`. Both only change what happens under a multi-worker
    # strategy, and only in worker processes (nothing else calls this).
    import tensorflow as tf
    from keras.src import tree
    from keras.src.backend.tensorflow import trainer

    multi_worker = trainer._collective_all_reduce_multi_worker
    build = trainer.TensorFlowTrainer._maybe_symbolic_build
    reduce = trainer.reduce_per_replica

    def local(value: Any, strategy: Any) -> Any:
        if isinstance(value, tf.distribute.DistributedValues):
            return strategy.experimental_local_results(value)[0]
        return value

    def maybe_symbolic_build(self: Any, iterator: Any = None, data_batch: Any = None) -> None:
        strategy = self._distribute_strategy
        if iterator is None or strategy is None or not multi_worker(strategy):
            return build(self, iterator=iterator, data_batch=data_batch)
        for _, _, batches in iterator:
            data_batch = tree.map_structure(lambda v: local(v, strategy), next(batches))
            break
        with strategy.scope():
            self._symbolic_build(data_batch=data_batch)

    def reduce_per_replica(values: Any, strategy: Any, reduction: str) -> Any:
        if reduction not in ("auto", "mean") or not multi_worker(strategy):
            return reduce(values, strategy, reduction)

        def mean(value: Any) -> Any:
            rank = local(value, strategy).shape.rank
            return strategy.reduce("MEAN", value, axis=0 if rank else None)

        return tree.map_structure(mean, values)

    trainer.TensorFlowTrainer._maybe_symbolic_build = maybe_symbolic_build
    trainer.reduce_per_replica = reduce_per_replica
