"""Import Keras on TensorFlow quietly, once, with the settings the zoo relies on."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from typing import Any

# TensorFlow's import is not safe to run in two threads at once: its modules import each
# other in cycles, and a second thread entering them mid-import gets a half-initialized
# module or Python's `_DeadlockError` (seen: the dashboard's explainer warm-up thread
# loading a model while a page loads another). One lock, held for the whole first import.
_IMPORT_LOCK = threading.RLock()
_imported = False


@contextlib.contextmanager
def _quiet_stderr():
    # TensorFlow's C++ runtime prints CUDA / oneDNN / CPU-feature notices straight to
    # file descriptor 2 before its log level applies; they drown the zoo's own messages.
    # Python-level errors still surface as exceptions after stderr is restored.
    if os.environ.get("ZOO_TF_LOGS") or "tensorflow" in sys.modules:
        yield
        return
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        yield
        return
    sys.stderr.flush()
    saved = os.dup(fd)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    try:
        yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)
        os.close(devnull)


def _backend() -> str:
    # The backend Keras runs on (or will, once imported): KERAS_BACKEND, else TensorFlow.
    module = sys.modules.get("keras")
    if module is not None and hasattr(module, "backend"):
        return str(module.backend.backend())
    return os.environ.setdefault("KERAS_BACKEND", "tensorflow")


def keras() -> Any:
    """The `keras` module, imported once without TensorFlow's start-up noise.

    On the TensorFlow backend (the default) TensorFlow is imported quietly first; on JAX
    (`KERAS_BACKEND=jax`) TensorFlow is not imported at all. Set ZOO_TF_LOGS=1 to see
    TensorFlow's own start-up messages.

    Example:
        >>> k = keras()  # the backend KERAS_BACKEND names, TensorFlow when it is unset
        >>> k.backend.backend() == os.environ.get("KERAS_BACKEND", "tensorflow")
        True
        >>> keras() is k  # imported once
        True
    """
    global _imported
    if _imported:  # no lock once done: this runs on every load and training
        return sys.modules["keras"]
    with _IMPORT_LOCK:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        if _backend() == "tensorflow" and "tensorflow" not in sys.modules:
            with _quiet_stderr():
                import tensorflow as tf

                tf.config.list_physical_devices("GPU")  # CUDA's probe logs on first use
                # Retracing notices fire whenever a new small model predicts; not actionable.
                tf.get_logger().setLevel("ERROR")
        import keras as _keras

        _imported = True
    return _keras
