"""Import Keras on TensorFlow quietly, once, with the settings the zoo relies on."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Mapping
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
        if _backend() == "jax":
            _jax_compilation_cache()
        import keras as _keras

        _imported = True
    return _keras


def jax_cache_dir(env: Mapping[str, str] = os.environ) -> str | None:
    """Where the zoo keeps JAX's compiled programs: `$XDG_CACHE_HOME/keras-zoo/jax`
    (~/.cache/...); None when the user's own `JAX_COMPILATION_CACHE_DIR` is set (JAX then
    reads it itself; "" keeps the cache off).

    Example:
        >>> jax_cache_dir({"XDG_CACHE_HOME": "/tmp/cache"})
        '/tmp/cache/keras-zoo/jax'
        >>> jax_cache_dir({"JAX_COMPILATION_CACHE_DIR": ""}) is None
        True
    """
    if "JAX_COMPILATION_CACHE_DIR" in env:
        return None
    base = env.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "keras-zoo", "jax")


# The compilation cache's bound: least recently used programs go first (a gru-digits
# train step is ~180 KB, so this keeps thousands).
JAX_CACHE_BYTES = 1 << 30


def _repair_jax_cache(folder: str) -> None:
    """Remove the entries of JAX's size-bounded compilation cache that have no "-atime"
    file, under the cache's own lock.

    JAX (`jax._src.lru_cache`) writes an entry as two files, the program ("-cache") then
    its access time ("-atime"), and before writing any new entry reads every entry's
    access time: one program without it (a process killed between the two writes, or
    an entry written by a JAX without the size bound) made every later write fail with
    FileNotFoundError, so nothing new was cached again and each training warned. A
    program without its time may also be half-written; removing it costs one compile.

    Example:
        >>> import tempfile
        >>> folder = tempfile.mkdtemp()
        >>> for name in ("a-cache", "a-atime", "b-cache"):
        ...     _ = open(os.path.join(folder, name), "wb").write(b"x")
        >>> _repair_jax_cache(folder)
        >>> sorted(n for n in os.listdir(folder) if not n.startswith("."))
        ['a-atime', 'a-cache']
    """
    import filelock

    try:
        with filelock.FileLock(os.path.join(folder, ".lockfile"), timeout=10):
            names = set(os.listdir(folder))
            for name in names:
                if name.endswith("-cache") and name[: -len("-cache")] + "-atime" not in names:
                    os.remove(os.path.join(folder, name))
    except (OSError, filelock.Timeout):
        pass  # JAX then warns on the writes it cannot make, as before; training goes on


def _jax_compilation_cache() -> None:
    # XLA compiles a recurrent model's train step in 3-5 s on this CPU, every process,
    # every training: JAX's persistent cache keeps the compiled programs on disk, so a
    # training of an architecture trained before (a retrain, the next sweep trial, the
    # dashboard's next training) loads them instead. The cache is code that runs: it
    # lives in the user's own cache folder, never in a store that others may write.
    folder = jax_cache_dir()
    if folder is None:
        return  # the user's own setting, which JAX reads itself
    if not os.path.isabs(folder):
        return  # no home folder to put it in: compile every time, as without the cache
    import jax

    try:
        os.makedirs(folder, exist_ok=True)
    except OSError:
        return  # an unwritable home: the same
    _repair_jax_cache(folder)
    jax.config.update("jax_compilation_cache_dir", folder)
    # A bound also makes JAX lock the folder while it reads or writes an entry, so two
    # trainings at once (the dashboard's) never read each other's half-written entry.
    jax.config.update("jax_compilation_cache_max_size", JAX_CACHE_BYTES)
