"""Fixtures for the explain tests: the real zoo's tiny trained store, plus a plain model.

`load_model(name)` is the root conftest's `trained`: `zoo.load(name)` from a store where
every default entry was trained for real on a slice of its data.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest


@pytest.fixture(scope="session")
def load_model(trained: Callable[[str], Any]) -> Callable[[str], Any]:
    """`load_model("cnn-digits")` -> the tiny store's `TrainedModel`."""
    return trained


@pytest.fixture(scope="session")
def modules_loaded_by() -> Callable[[str, tuple[str, ...]], list[str]]:
    """`modules_loaded_by("import explain", ("keras", "shap"))`: which of those modules a
    fresh interpreter holds after running the code (the run itself must succeed)."""
    import subprocess
    import sys

    def loaded(code: str, modules: tuple[str, ...]) -> list[str]:
        probe = f"{code}\nimport sys; print([m for m in {modules!r} if m in sys.modules])"
        out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
        assert out.returncode == 0, out.stdout + out.stderr
        return ast.literal_eval(out.stdout.strip().splitlines()[-1])

    return loaded


@pytest.fixture(scope="session")
def bilstm() -> tuple[Any, np.ndarray, np.ndarray, np.ndarray]:
    """A plain keras.Model a user brings (bidirectional LSTM over digit rows), trained 2
    epochs: model, x_train, x_test, y_test."""
    import keras

    import zoo
    from zoo.models.rnn import build_rnn

    keras.utils.set_random_seed(1)
    data = zoo.dataset("gru-digits")
    model = build_rnn((8, 8), 10, cell="lstm", units=16, bidirectional=True, dense_units=())
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(data.x_train, data.y_train, epochs=2, batch_size=64, verbose=0)
    return model, data.x_train, data.x_test, data.y_test
