"""Resuming a killed training: an atomic per-epoch backup of one run, keyed by its config.

The backup (weights, history, callback state, and the records of callbacks that keep
their own, like the GAN's samples and Fréchet distances) lives in
`<store>/.resume/<name>-<config hash>/`; `zoo.training` writes it after every epoch and
reads it when the same config is trained into the same store again.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
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


_CALLBACK_STATE = ("wait", "best", "best_epoch", "stopped_epoch", "cooldown_counter")
_STATE_FILE = "state.json"


@functools.cache
def _resume_class() -> type:
    # Like keras.callbacks.BackupAndRestore (model and optimizer weights, epoch), plus
    # the history and the other callbacks' state, and written so that `kill -9` at any
    # moment leaves the previous backup or the new one, never a mix: each epoch's files
    # get new names, and `state.json`, which names them, is replaced atomically last.
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
            try:
                state = json.loads((self.folder / _STATE_FILE).read_text())
                epoch, done = int(state["epoch"]), bool(state["done"])
                weights, best_file = self.folder / state["weights"], state["best_weights"]
                rows, saved = list(state["history"]), list(state["callbacks"])
                records = state.get("records")
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
                if weights.suffix == ".npz":
                    _load_variables(self.model, weights)
                else:  # a backup written before the .npz format
                    self.model.load_weights(weights)
                best = np.load(self.folder / best_file) if best_file else {}
                for i, (cb, values) in enumerate(zip(self.others, saved, strict=True)):
                    for key, value in values.items():
                        setattr(cb, key, value)
                    arrays = [best[f"{i}_{j}"] for j in range(len(best)) if f"{i}_{j}" in best]
                    if arrays:
                        cb.best_weights = arrays
                if records:
                    with np.load(self.folder / records, allow_pickle=False) as z:
                        for i, cb in enumerate(self.stateful):
                            prefix = f"{i}_"
                            cb.restore_arrays(
                                {k[len(prefix) :]: z[k] for k in z.files if k.startswith(prefix)}
                            )
            except (OSError, ValueError, KeyError, TypeError) as err:
                from zoo.training import TrainingError  # (training imports this module)

                raise TrainingError(
                    f"cannot resume {self.name} from the backup in {self.folder} ({err}); "
                    "train with --fresh (fresh=True) to start over"
                ) from None
            self.history.rows = rows
            self.history.write_csv()  # the new staging folder has no CSV yet
            # Read by Model.fit after on_train_begin (as BackupAndRestore does); a run
            # that had finished (or stopped early) trains no further epoch.
            self.model._initial_epoch = self.params["epochs"] if done else epoch

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            self.folder.mkdir(parents=True, exist_ok=True)
            done = epoch + 1 >= self.params["epochs"] or bool(self.model.stop_training)
            weights = f"epoch-{epoch + 1}.weights.npz"
            with open(self.folder / weights, "wb") as f:
                np.savez(f, **_variables(self.model))  # type: ignore[arg-type]
                f.flush()
                os.fsync(f.fileno())
            best: dict[str, np.ndarray] = {}
            states = []
            for i, cb in enumerate(self.others):
                states.append(
                    {k: _plain(getattr(cb, k)) for k in _CALLBACK_STATE if hasattr(cb, k)}
                )
                for j, array in enumerate(getattr(cb, "best_weights", None) or []):
                    best[f"{i}_{j}"] = np.asarray(array)
            best_file = f"epoch-{epoch + 1}.best.npz" if best else None
            if best_file:
                with open(self.folder / best_file, "wb") as f:
                    np.savez(f, **best)  # type: ignore[arg-type]
                    f.flush()
                    os.fsync(f.fileno())
            records = f"epoch-{epoch + 1}.records.npz" if self.stateful else None
            if records:
                arrays = {
                    f"{i}_{key}": np.asarray(value)
                    for i, cb in enumerate(self.stateful)
                    for key, value in cb.backup_arrays().items()
                }
                with open(self.folder / records, "wb") as f:
                    np.savez(f, **arrays)  # type: ignore[arg-type]
                    f.flush()
                    os.fsync(f.fileno())
            state = {
                "epoch": epoch + 1,
                "done": done,
                "weights": weights,
                "best_weights": best_file,
                "records": records,
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
            for old in self.folder.glob("epoch-*"):
                if old.name not in (weights, best_file, records):
                    old.unlink(missing_ok=True)

    return Resume


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


def _load_variables(model: Any, path: Path) -> None:
    """Restore what `_variables` saved (its optimizers already built); a KeyError or
    ValueError when the file does not match the model."""
    with np.load(path, allow_pickle=False) as saved:
        weights = [saved[f"w{i}"] for i in range(len(model.weights))]
        if any(k.startswith("w") and int(k[1:]) >= len(weights) for k in saved.files):
            raise ValueError(f"{path.name} holds more weights than the model has")
        model.set_weights(weights)
        for k, optimizer in enumerate(_optimizers(model)):
            for i, variable in enumerate(optimizer.variables):
                variable.assign(saved[f"o{k}_{i}"])


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
