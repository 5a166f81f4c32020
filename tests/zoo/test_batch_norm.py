"""BatchNormalization on small data: the moving statistics must settle within the epochs
early stopping waits, or validation, early stopping and the stored model all see
statistics that still hold the layer's initial values.

A user's image folder of three digit classes (every 0, 1 and 2 of scikit-learn's digits:
537 PNGs, 12 training steps per epoch), trained with the CNN's defaults (batch norm on).
With Keras' fixed 0.99 this stored a 37 %-accurate model while training accuracy
reached 99.7 % (validation predicted one class from epoch 2; found by a user review).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import zoo
from zoo import entries
from zoo.batchnorm import BN_MOMENTUM, batch_norm_momentum

NAME = "cnn-three-digits"


def _three_digit_classes(folder: Path) -> None:
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    for label in range(3):
        (folder / str(label)).mkdir(parents=True)
        for i in np.flatnonzero(digits.target == label):
            pixels = (digits.images[i] * 255 / 16).astype("uint8")
            Image.fromarray(pixels).save(folder / str(label) / f"{i}.png")


@pytest.fixture(scope="module")
def three_digits(tmp_path_factory: pytest.TempPathFactory):
    """(the quick training's run, the stored model loaded, training steps per epoch)."""
    folder = tmp_path_factory.mktemp("three-digits")
    _three_digit_classes(folder / "digits")
    store = folder / "store"
    zoo.add_entry(NAME, family="cnn", images=folder / "digits", store=store)
    try:
        run = zoo.train(NAME, store=store, quick=True)
        m = zoo.load(NAME, store=store)
        steps = int(np.ceil(len(m.dataset().x_train) / m.config.batch_size))
        yield run, m, steps
    finally:
        entries.forget(NAME)


def test_a_small_image_folder_trains_with_batch_norm_to_a_good_model(three_digits) -> None:
    run, m, steps = three_digits
    assert m.config.batch_norm
    # The linear baseline is perfect on these three classes; the CNN is at least close.
    assert run.metrics["accuracy"] >= 0.95, run.metrics["diagnosis"]
    momenta = [
        layer.momentum
        for layer in m.model._flatten_layers(include_self=False)
        if type(layer).__name__ == "BatchNormalization"
    ]
    expected = batch_norm_momentum(steps, m.config.early_stopping)
    assert momenta and momenta == pytest.approx([expected] * len(momenta))
    assert expected < BN_MOMENTUM


def test_rows_given_to_an_image_model_name_the_method_it_takes(three_digits) -> None:
    # Column names were read as image file names ("image alcohol cannot be read").
    import pandas as pd

    _, m, _ = three_digits
    with pytest.raises(zoo.DataError, match=r"reads images, not table rows .*predict_images"):
        m.predict_rows(pd.DataFrame({"alcohol": [13.0]}))
    d = m.dataset()
    png, label = d.extra["files_test"][0], d.class_names[int(d.y_test[0])]
    assert m.predict_images([png], labels=True) == [label]


def test_momentum_keeps_keras_default_where_the_statistics_settle_anyway() -> None:
    assert batch_norm_momentum(40, 30) == BN_MOMENTUM  # cnn-digits' full training
    for steps, patience in [(12, 10), (3, 2), (1, 1), (40, 8)]:
        m = batch_norm_momentum(steps, patience)
        assert m < BN_MOMENTUM
        # After half the patience, 5 % of the initial statistics remain: not more.
        assert m ** (steps * max(patience // 2, 1)) == pytest.approx(0.05)
