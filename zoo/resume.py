"""Resuming a killed training: an atomic per-epoch backup of one run, keyed by its config.

The backup (weights, history, callback state, and the records of callbacks that keep
their own, like the GAN's samples and Fréchet distances) lives in
`<store>/.resume/<name>-<config hash>/`; `zoo.training` writes it after every epoch and
reads it when the same config is trained into the same store again.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from zoo._tf import keras as _keras
from zoo.config import TrainConfig
from zoo.store import Store

log = logging.getLogger("zoo")


def resume_dir(store: Store, cfg: TrainConfig) -> Path:
    """Where a run of `cfg` backs itself up while it trains: `<store>/.resume/<name>-<hash>`.

    The hash covers the whole config, so a run never resumes one with other settings.

    Example:
        >>> cfg = TrainConfig.for_model("mlp-cancer", epochs=3)
        >>> path = resume_dir(Store("/tmp/zoo"), cfg)
        >>> path.parent.name, path.name.startswith("mlp-cancer-")
        ('.resume', True)
        >>> path == resume_dir(Store("/tmp/zoo"), TrainConfig.for_model("mlp-cancer", epochs=4))
        False
    """
    text = json.dumps(cfg.to_dict(), sort_keys=True, default=str)
    return (
        store.root / RESUME_FOLDER / f"{cfg.model}-{hashlib.sha256(text.encode()).hexdigest()[:16]}"
    )


RESUME_FOLDER = ".resume"
_LOCK_FILE = ".lock"


def claim(folder: Path) -> Any:
    """Take the backup folder `folder` for this process: an open lock file, or None when
    another live process training the same config into the same store holds it.

    Two such trainings would write one backup, each overwriting the slot the other's
    state names; the second one trains without a backup instead. The lock is the
    kernel's (`flock`): it ends with its process, `kill -9` included. Close the returned
    file to release it. Where `fcntl` is missing (Windows) nothing is locked.

    Example:
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp()) / "mlp-cancer-0123"
        >>> mine = claim(folder)
        >>> mine is not None, (folder / ".lock").exists()
        (True, True)
        >>> mine.close()
    """
    try:
        import fcntl
    except ImportError:  # Windows
        return open(os.devnull)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        lock = open(folder / _LOCK_FILE, "a")
    except OSError:
        # A store that cannot be written: the training's own first write says so, in
        # one line (zoo.store); there is nothing to lock.
        return open(os.devnull)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        return None
    return lock


@contextlib.contextmanager
def claimed(folder: Path, *, fresh: bool = False) -> Iterator[Path | None]:
    """The backup folder `folder` as this process's while the block runs, or None (and
    one warning line) when another live process holds it (`claim`).

    `fresh`: what the folder holds is dropped first (its lock stays). On exit the lock is
    released; a folder left holding nothing but its lock (a training that failed before
    its first backup) goes too (`remove`).

    Example:
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp()) / ".resume" / "mlp-cancer-0123"
        >>> with claimed(folder) as mine:
        ...     with claimed(folder) as theirs:  # the same config, trained at once
        ...         mine == folder, theirs
        (True, None)
        >>> folder.parent.exists()  # nothing was backed up: nothing is left
        False
    """
    lock = claim(folder)
    if lock is None:
        log.warning(
            "another process is training the same config into this store (its backup: "
            "%s): this run keeps no resume backup (a kill loses it; that backup stays theirs)",
            folder,
        )
        yield None
        return
    try:
        for path in folder.iterdir() if fresh and folder.is_dir() else []:
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            elif path.name != _LOCK_FILE:
                path.unlink(missing_ok=True)
        yield folder
    finally:
        try:
            if folder.is_dir() and [p.name for p in folder.iterdir()] == [_LOCK_FILE]:
                remove(folder)
        finally:
            lock.close()


def remove(folder: Path) -> None:
    """Remove the backup folder `folder`, and `.resume` once no other backup is in it."""
    shutil.rmtree(folder, ignore_errors=True)
    with contextlib.suppress(OSError):
        folder.parent.rmdir()


_CALLBACK_STATE = ("wait", "best", "best_epoch", "stopped_epoch", "cooldown_counter")
_STATE_FILE = "state.json"


@functools.cache
def _resume_class() -> type:
    # Like keras.callbacks.BackupAndRestore (model and optimizer weights, epoch), plus
    # the history and the other callbacks' state, and written so that `kill -9` at any
    # moment leaves the previous backup or the new one, never a mix: each epoch writes
    # the slot files the current `state.json` does not name, and `state.json`, which
    # names them, is replaced atomically last.
    callback: Any = _keras().callbacks.Callback

    class Resume(callback):
        def __init__(
            self,
            folder: Path,
            name: str,
            history: Any,
            others: list[Any],
            stateful: list[Any] | None = None,
        ) -> None:
            super().__init__()
            self.folder, self.name, self.history, self.others = folder, name, history, others
            # Callbacks with records of their own (the GAN's samples and Fréchet distances):
            # `backup_arrays()` -> {name: array}, `restore_arrays(arrays)`.
            self.stateful = stateful or []

        def on_train_begin(self, logs: Any = None) -> None:
            # Per kind, the file the state names and what was written into it; the
            # array names of each file.
            self._written: dict[str, tuple[str, Any]] = {}
            self._keys: dict[str, list[str]] = {}
            try:
                state = json.loads((self.folder / _STATE_FILE).read_text())
                epoch, done = int(state["epoch"]), bool(state["done"])
                weights, best_file = state["weights"], state["best_weights"]
                rows, saved = list(state["history"]), list(state["callbacks"])
                records = state.get("records")
                keys = state.get("keys", {})
            except FileNotFoundError:
                return
            except (OSError, ValueError, KeyError, TypeError) as err:
                # Nothing was loaded yet: starting over is safe.
                log.warning("ignoring the unreadable backup in %s: %r", self.folder, err)
                return
            log.warning("resuming %s from epoch %d (backup in %s)", self.name, epoch, self.folder)
            try:
                # A GAN builds its own two optimizers when it compiles; its Keras-level
                # `optimizer` is an unused placeholder whose saved state stays empty.
                own = hasattr(self.model, "d_optimizer")
                if self.model.optimizer is not None and not self.model.optimizer.built and not own:
                    self.model.optimizer.build(self.model.trainable_variables)
                if weights.endswith(".weights.h5"):  # a backup written before the arrays
                    self.model.load_weights(self.folder / weights)
                else:
                    _load_variables(self.model, read_arrays(self.folder, weights, keys))
                best = read_arrays(self.folder, best_file, keys) if best_file else {}
                for i, (cb, values) in enumerate(zip(self.others, saved, strict=True)):
                    for key, value in values.items():
                        setattr(cb, key, value)
                    mine = [best[f"{i}_{j}"] for j in range(len(best)) if f"{i}_{j}" in best]
                    if mine:
                        cb.best_weights = mine
                if records:
                    kept = read_arrays(self.folder, records, keys)
                    for i, cb in enumerate(self.stateful):
                        prefix = f"{i}_"
                        cb.restore_arrays(
                            {k[len(prefix) :]: v for k, v in kept.items() if k.startswith(prefix)}
                        )
            except (OSError, ValueError, KeyError, TypeError) as err:
                from zoo.training import TrainingError  # (training imports this module)

                raise TrainingError(
                    f"cannot resume {self.name} from the backup in {self.folder} ({err}); "
                    "train with --fresh (fresh=True) to start over"
                ) from None
            # The files the state names stay whole: the next epoch writes the other slots.
            for kind, name in (("weights", weights), ("best", best_file), ("records", records)):
                if name:
                    self._written[kind] = (name, None)
            self._keys.update(keys)
            self.history.rows = rows
            self.history.write_csv()  # the new staging folder has no CSV yet
            # Read by Model.fit after on_train_begin (as BackupAndRestore does); a run
            # that had finished (or stopped early) trains no further epoch.
            self.model._initial_epoch = self.params["epochs"] if done else epoch

        def _write(self, kind: str, arrays: dict[str, np.ndarray], same_as: Any = None) -> str:
            # Each kind alternates between two slot files, overwritten in place: the one
            # the current state names stays whole while the other is rewritten, and a
            # slot's pages are reused (5 MB of gru-digits: ~1 ms instead of ~6 ms for a
            # new file per epoch). `same_as`: what the arrays are taken from; when it is
            # what the last write of this kind took, that file is still right (early
            # stopping's best weights change only at an improvement).
            last = self._written.get(kind)
            if last is not None and _same(last[1], same_as):
                return last[0]
            slot = _slots(kind)[last is not None and last[0] == _slots(kind)[0]]
            _write_arrays(self.folder / slot, arrays)
            self._keys[slot] = list(arrays)
            self._written[kind] = (slot, same_as)
            return slot

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            self.folder.mkdir(parents=True, exist_ok=True)
            done = epoch + 1 >= self.params["epochs"] or bool(self.model.stop_training)
            weights = self._write("weights", _variables(self.model))
            best: dict[str, np.ndarray] = {}
            states = []
            for i, cb in enumerate(self.others):
                states.append(
                    {k: _plain(getattr(cb, k)) for k in _CALLBACK_STATE if hasattr(cb, k)}
                )
                for j, array in enumerate(getattr(cb, "best_weights", None) or []):
                    best[f"{i}_{j}"] = np.asarray(array)
            owners = tuple(getattr(cb, "best_weights", None) for cb in self.others)
            best_file = self._write("best", best, same_as=owners) if best else None
            records = None
            if self.stateful:
                arrays = {
                    f"{i}_{key}": np.asarray(value)
                    for i, cb in enumerate(self.stateful)
                    for key, value in cb.backup_arrays().items()
                }
                records = self._write("records", arrays)
            named = [f for f in (weights, best_file, records) if f]
            state = {
                "epoch": epoch + 1,
                "done": done,
                "weights": weights,
                "best_weights": best_file,
                "records": records,
                "keys": {f: self._keys[f] for f in named},
                "history": self.history.rows,
                "callbacks": states,
            }
            tmp = self.folder / f".{_STATE_FILE}.tmp"
            with open(tmp, "w") as f:
                f.write(json.dumps(state))
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.folder / _STATE_FILE)
            _fsync(self.folder)
            for old in self.folder.glob("epoch-*"):  # files of a backup in the former format
                old.unlink(missing_ok=True)

    return Resume


def _same(a: Any, b: Any) -> bool:
    # The same objects, one by one (early stopping replaces its list at an improvement).
    return (
        a is not None
        and b is not None
        and len(a) == len(b)
        and all(x is y for x, y in zip(a, b, strict=True))
    )


@functools.cache
def _slots(kind: str) -> tuple[str, str]:
    return (f"{kind}-a.npy", f"{kind}-b.npy")


def _write_arrays(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Arrays as consecutive `.npy` records, overwriting `path` in place, on disk before
    the state that names the file is replaced (an OS crash leaves the previous state)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    with os.fdopen(fd, "wb") as f:
        for array in arrays.values():
            np.lib.format.write_array(f, np.asarray(array), allow_pickle=False)
        f.truncate()
        f.flush()
        os.fsync(f.fileno())


def read_arrays(folder: Path, name: str, keys: dict[str, list[str]]) -> dict[str, np.ndarray]:
    """The arrays a backup's state names: `name` in `folder`, its array names in `keys`.

    Reads a slot written by `_write_arrays` (the names in order) or a backup of the
    former `.npz` format; a ValueError when the file holds more or fewer arrays.

    Example:
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> _write_arrays(folder / "w.npy", {"w0": np.ones(2), "w1": np.zeros((1, 3))})
        >>> {k: v.shape for k, v in read_arrays(folder, "w.npy", {"w.npy": ["w0", "w1"]}).items()}
        {'w0': (2,), 'w1': (1, 3)}
    """
    path = folder / name
    if name.endswith(".npz"):
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    with open(path, "rb") as f:
        arrays = {key: np.lib.format.read_array(f, allow_pickle=False) for key in keys[name]}
        if f.read(1):
            raise ValueError(f"{name} holds more arrays than the backup's state names")
    return arrays


def _optimizers(model: Any) -> list[Any]:
    # The model's own optimizer, or a GAN's two (its Keras-level one is a placeholder).
    if hasattr(model, "d_optimizer"):
        return [model.d_optimizer, model.g_optimizer]
    return [model.optimizer] if getattr(model, "optimizer", None) is not None else []


def _variables(model: Any) -> dict[str, np.ndarray]:
    """Every weight of `model` and every variable of its optimizer(s), by position.

    What `save_weights` keeps, as plain arrays: ~4x faster here (cnn-digits: 26 ms
    against 111 ms of Keras' `.weights.h5`), paid after every epoch.

    Example:
        >>> import keras
        >>> m = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
        >>> m.compile("adam", "mse")
        >>> sorted(_variables(m))  # no optimizer variable before the optimizer is built
        ['w0', 'w1']
    """
    arrays = {f"w{i}": np.asarray(w) for i, w in enumerate(model.get_weights())}
    for k, optimizer in enumerate(_optimizers(model)):
        if optimizer.built:
            for i, variable in enumerate(optimizer.variables):
                # .numpy(), as get_weights: also reads a variable mirrored by a strategy
                arrays[f"o{k}_{i}"] = np.asarray(variable.numpy())
    return arrays


def _load_variables(model: Any, saved: dict[str, np.ndarray]) -> None:
    """Restore what `_variables` saved (its optimizers already built); a KeyError or
    ValueError when the arrays do not match the model."""
    weights = [saved[f"w{i}"] for i in range(len(model.weights))]
    if any(k.startswith("w") and int(k[1:]) >= len(weights) for k in saved):
        raise ValueError("the backup holds more weights than the model has")
    # Read every array before assigning any: a missing one leaves the model untouched.
    optimizers = [
        [saved[f"o{k}_{i}"] for i in range(len(optimizer.variables))]
        for k, optimizer in enumerate(_optimizers(model))
    ]
    model.set_weights(weights)
    for optimizer, values in zip(_optimizers(model), optimizers, strict=True):
        for variable, value in zip(optimizer.variables, values, strict=True):
            variable.assign(value)


def _plain(value: Any) -> Any:
    # A callback's state as JSON: NumPy / tensor scalars become numbers (inf stays inf).
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return np.asarray(value).item()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
