"""Batch normalization on small data: the momentum of a model's BatchNormalization
layers for the length of its training (`zoo.training` sets it before compiling).

Validation, early stopping and the stored model use the layers' moving statistics, so
they must settle within the epochs early stopping waits.
"""

from __future__ import annotations

from typing import Any

# Keras' BatchNormalization default: its moving statistics keep 99 % per step.
BN_MOMENTUM = 0.99
# What is left of the moving statistics' initial values (mean 0, variance 1) after half
# the epochs early stopping waits.
BN_LEFT = 0.05


def batch_norm_momentum(steps_per_epoch: int, patience: int) -> float:
    """The momentum of a model's BatchNormalization layers for a training of
    `steps_per_epoch` steps per epoch whose early stopping waits `patience` epochs:
    Keras' 0.99, unless the moving statistics would then still hold more than 5 % of
    their initial values after half that wait.

    Validation (and early stopping, and the stored model) uses the moving statistics. With
    0.99, a small image folder (375 training images: 12 steps per epoch) still kept 89 %
    of them after the first epoch and 30 % after ten: validation predicted one class
    while training accuracy reached 99.7 %, and early stopping kept an epoch-2 model with
    37 % test accuracy. cnn-digits (40 steps, patience 30) keeps 0.99.

    Example:
        >>> batch_norm_momentum(40, 30), round(batch_norm_momentum(12, 10), 3)
        (0.99, 0.951)
    """
    horizon = max(steps_per_epoch, 1) * max(patience // 2, 1)
    return min(BN_MOMENTUM, BN_LEFT ** (1.0 / horizon))


def settle(net: Any, steps_per_epoch: int, patience: int) -> None:
    """Set `batch_norm_momentum` on every BatchNormalization layer of `net` (before it is
    compiled; the momentum is saved with the model).

    Example:
        >>> import keras
        >>> net = keras.Sequential([keras.Input((4,)), keras.layers.BatchNormalization()])
        >>> settle(net, 12, 10)
        >>> round(net.layers[0].momentum, 3)
        0.951
    """
    from zoo._tf import keras

    momentum = batch_norm_momentum(steps_per_epoch, patience)
    for layer in net._flatten_layers(include_self=False):
        if isinstance(layer, keras().layers.BatchNormalization):
            layer.momentum = momentum
