"""Shared fixtures: a small trained store built once per test session.

Every default zoo entry is trained for real on a slice of its real data (1-2 epochs),
so tests of loading, explaining and the dashboard run against genuine artifacts.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")
# The suite runs on one backend (KERAS_BACKEND, TensorFlow unless set), trainings in
# child processes included: `zoo train`'s auto choice per family is tested on purpose
# (tests/zoo/test_cli_backend.py), not by every CLI test.
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
# JAX trainings of the suite (and their child processes) keep their compiled programs in
# a folder of this run, not in the user's ~/.cache (tests/zoo/test_cli_backend.py tests
# the default location with a cache folder of its own).
# (xdist's workers inherit the controller's folder; the process that made it removes it.)
if "JAX_COMPILATION_CACHE_DIR" not in os.environ:
    import atexit
    import shutil
    import tempfile

    os.environ["JAX_COMPILATION_CACHE_DIR"] = tempfile.mkdtemp(prefix="zoo-tests-jax-cache-")
    atexit.register(shutil.rmtree, os.environ["JAX_COMPILATION_CACHE_DIR"], True)


@pytest.fixture(autouse=True)
def _main_module_kept():
    """Every test leaves `sys.modules["__main__"]` as it found it.

    Streamlit's script runner (AppTest) leaves `__main__` pointing at the temporary script
    it ran; a process spawned later in the same pytest worker (explain's `workers=N`)
    would first re-run that script as its main module and die (BrokenProcessPool).
    """
    main = sys.modules["__main__"]
    yield
    sys.modules["__main__"] = main


# Small but real: enough samples for every class, one or two epochs.
TINY = {
    "cnn-digits": dict(epochs=2, max_train_samples=400, early_stopping=0, augment=False),
    "gru-digits": dict(epochs=2, max_train_samples=400, early_stopping=0, units=16),
    "lstm-digits": dict(epochs=1, max_train_samples=200, early_stopping=0, units=16),
    "lstm-co2": dict(epochs=2, max_train_samples=400, early_stopping=0, units=16),
    "mlp-cancer": dict(epochs=3, early_stopping=0),
    "gan-digits": dict(epochs=2, max_train_samples=400, fid_samples=100),
}


@pytest.fixture
def overfit_mlp() -> dict:
    """mlp-cancer options built to overfit: 60 training samples, a wide network, no
    dropout or L2, a constant high learning rate, relu (add `epochs` and
    `early_stopping`). Pinned rather than inherited: the entry's defaults (tanh, the plateau
    schedule) are chosen to generalize."""
    return dict(
        max_train_samples=60,
        dense_units=(256, 256),
        activation="relu",
        dropout=0.0,
        l2=0.0,
        learning_rate=1e-2,
        schedule="constant",
        batch_size=16,
    )


@pytest.fixture(scope="session")
def tiny_runs(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Every default zoo entry trained tiny into one store: {name: in-memory TrainedModel}."""
    import zoo
    from zoo.registry import default_order

    root = tmp_path_factory.mktemp("store")
    return {
        name: zoo.train(name, store=root, **TINY.get(name, dict(epochs=1, max_train_samples=200)))
        for name in default_order()
    }


@pytest.fixture(scope="session")
def tiny_store(tiny_runs: dict) -> Path:
    """The folder of the store that `tiny_runs` trained into."""
    return next(iter(tiny_runs.values())).path.parent.parent


@pytest.fixture(scope="session")
def trained(tiny_store: Path):
    """`trained("cnn-digits")`: the tiny store's model, loaded once per session."""
    import zoo

    cache: dict[str, object] = {}

    def get(name: str):
        if name not in cache:
            cache[name] = zoo.load(name, store=tiny_store)
        return cache[name]

    return get


# The files that go first. xdist hands out whole files (`--dist loadfile`) in collection
# order (`--no-loadscope-reorder`); this hook makes that order xdist's own default (files
# with the most tests first, which keeps both workers busy) with one exception:
# test_backends.py has 4 tests but runs ~2.5 min of child processes, and scheduled by its
# count it started last and ran alone at the end while the other worker had nothing left.
FIRST = ("tests/test_backends.py",)


def pytest_collection_modifyitems(config, items):
    counts: dict[str, int] = {}
    for item in items:
        counts[item.nodeid.split("::")[0]] = counts.get(item.nodeid.split("::")[0], 0) + 1

    def rank(item):
        file = item.nodeid.split("::")[0]
        return (file not in FIRST, -counts[file])

    items.sort(key=rank)  # stable: the tests of a file keep their order
