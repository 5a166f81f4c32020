"""Training: data -> build -> fit (supervised or GAN) -> evaluate -> store.

`train` is that pipeline and nothing else. What differs between families is the fit: the
task's row in `zoo.registry.FITS` prepares it as a `FitPlan` (`supervised_plan` here for
classifiers and forecasters, `zoo.models.gan_family.gan_plan` for the GAN), built by the
family's row in `zoo.registry.BUILDERS`. Running the fit (history, NaN guard, progress)
and evaluating and storing its result are one shared path for every family.

A supervised fit backs itself up after every epoch in `<store>/.resume/<name>-<hash>/`
(`resume_dir`, keyed by the whole config): a run killed mid-training, even by `kill -9`,
continues from its last completed epoch when the same config is trained again, and the
backup is removed once the version is committed.
"""

from __future__ import annotations

import functools
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from zoo import backend, batchnorm, evaluation, pipeline, tracking
from zoo._tf import keras as _keras
from zoo.compiling import (  # noqa: F401  (public here too: callers import them from zoo.training)
    build_model,
    compile_model,
    encode_labels,
    learning_rate_for,
    optimizer_for,
)
from zoo.config import TrainConfig
from zoo.data import Dataset, dataset_info
from zoo.errors import ConfigError, ZooError
from zoo.registry import fit_planner, get_spec
from zoo.resume import _resume_class, claimed, remove, resume_dir
from zoo.store import Store, write_json
from zoo.trained import PREDICT_BATCH, TrainedModel, dataset_for
from zoo.transfer import init_from

log = logging.getLogger("zoo")

# progress(epoch, epochs, logs): called after every epoch (epoch is 1-based).
ProgressFn = Callable[[int, int, dict[str, float]], None]
History = dict[str, list[float]]


class TrainingError(ZooError):
    """Training ran but could not produce a usable model (e.g. the loss became NaN)."""


@dataclass
class FitPlan:
    """One run's fit as its family prepares it; `train` runs it and stores the result.

    `net.fit(x, y, validation_data=...)` is called with the shared callbacks (history,
    NaN guard, progress) between `first_callbacks` (whatever they add to an epoch's logs
    is recorded, like the GAN's Fréchet distance) and `callbacks` (early stopping,
    schedules). Afterwards `evaluate(history)` gives the test metrics, `models` are saved
    as `<key>.keras` (the keys are `TrainedModel`'s attributes) and `arrays()` as extra
    `.npz` files. `augment`, a Keras layer, is applied to every training batch in the
    input pipeline (`zoo.pipeline.augmented_batches`), never stored with the model. (On TensorFlow a
    CNN's augmentation runs in the train step instead: `net` is then a training-only model
    around the stored one in `models`.)

    Example:
        >>> from zoo.data import load_dataset
        >>> cfg = TrainConfig.for_model("mlp-cancer", epochs=1)
        >>> plan = supervised_plan(cfg, load_dataset("cancer"), Store())
        >>> sorted(plan.models), plan.x.shape, plan.y.shape
        (['model'], (397, 30), (397, 1))
    """

    net: Any
    x: np.ndarray
    y: np.ndarray | None
    validation_data: tuple[np.ndarray, np.ndarray] | None
    models: dict[str, Any]
    evaluate: Callable[[History], dict[str, Any]]
    first_callbacks: list[Any] = field(default_factory=list)
    callbacks: list[Any] = field(default_factory=list)
    arrays: Callable[[], dict[str, dict[str, np.ndarray]]] = dict
    augment: Any = None


def train(
    name: str,
    *,
    store: Store | str | Path | None = None,
    quick: bool = False,
    config: TrainConfig | None = None,
    progress: ProgressFn | None = None,
    verbose: int = 0,
    fresh: bool = False,
    **options: Any,
) -> TrainedModel:
    """Train zoo entry `name`, evaluate it on the test split and store it as a new version.

    Options are `TrainConfig` fields (loss, optimizer, learning_rate, activation, l1, l2,
    dropout, batch_norm, epochs, early_stopping, ...); they are validated before any data
    is loaded. Returns the stored model, ready to use.

    A training killed mid-run resumes from its last completed epoch when the same config
    is trained into the same store again (`resume_dir`; the GAN with its per-epoch samples
    and Fréchet distances); `fresh=True` drops such a backup and starts over.

    Example:
        >>> import tempfile
        >>> run = train("mlp-cancer", epochs=2, store=tempfile.mkdtemp())
        >>> run.ref, sorted(run.history)[:2]
        ('mlp-cancer@1', ['accuracy', 'epoch_time'])
    """
    cfg = _config_for(name, config, quick, options)
    store = store if isinstance(store, Store) else Store(store)
    spec = get_spec(name)
    data = dataset_for(cfg, spec.dataset)
    with claimed(resume_dir(store, cfg), fresh=fresh) as backup:
        _keras().utils.set_random_seed(cfg.seed)
        start = time.perf_counter()
        with store.staging(name) as folder:
            with backend.strategy_scope(cfg.strategy):
                plan = fit_planner(spec.task)(cfg, data, store)
            history = _fit(name, plan, cfg, folder, progress, verbose, backup)
            seconds = time.perf_counter() - start
            try:
                version, metrics = _evaluate_and_store(
                    name, cfg, data, plan, history, seconds, store, folder
                )
            finally:
                # Committed (the folder was renamed away), also as a failed version:
                # nothing is left to resume. Failing before the commit keeps the backup.
                if backup is not None and not folder.exists():
                    remove(backup)
    log.info("stored %s@%d in %s", name, version, store.root)
    # Only with MLFLOW_TRACKING_URI set; never raises (zoo.tracking).
    tracking.log_mlflow(store.path(name, version), cfg, history, metrics, ref=f"{name}@{version}")
    return TrainedModel(
        name=name,
        version=version,
        path=store.path(name, version),
        config=cfg,
        history=history,
        metrics=metrics,
        **plan.models,
    )


def _config_for(
    name: str, config: TrainConfig | None, quick: bool, options: dict[str, Any]
) -> TrainConfig:
    cfg = config or TrainConfig.for_model(name, quick=quick, **options)
    if config is not None and options:
        raise ConfigError("pass either config= or options, not both")
    if cfg.model != name:
        raise ConfigError(f"config is for {cfg.model!r} but train() was asked for {name!r}")
    return cfg


# --- fitting --------------------------------------------------------------------------


def supervised_plan(cfg: TrainConfig, data: Dataset, store: Store) -> FitPlan:
    """The fit of a classifier or forecaster: compiled model, encoded labels, callbacks.

    Early stopping (best weights restored) and the plateau schedule watch the validation
    split; the test metrics come with the overfitting diagnosis of the run's history.
    With `augment`, the CNN's augmentation runs in the input pipeline on JAX and in the
    train step of a training-only model around the stored one on TensorFlow (faster there);
    the stored model never holds it.
    With `init`, the network starts from that stored version's matching layers
    (`zoo.transfer`), read from `store`.

    Example:
        >>> from zoo.data import load_dataset
        >>> cfg = TrainConfig.for_model("cnn-digits", early_stopping=3, schedule="plateau")
        >>> plan = supervised_plan(cfg, load_dataset("digits"), Store())
        >>> [type(c).__name__ for c in plan.callbacks]
        ['EarlyStopping', 'ReduceLROnPlateau']
    """
    task = get_spec(cfg.model).task
    x, y = train_split(cfg, data)
    x_val, y_val = data.x_val, data.y_val
    if task == "classification":
        encoding, n_classes = cfg.label_encoding(), data.n_classes or 0
        y = encode_labels(y, encoding, n_classes)
        y_val = encode_labels(y_val, encoding, n_classes)
    net = build_model(cfg, data)
    # Transfer learning: copy a stored version's matching layers, freeze, then compile
    # (Keras reads `trainable` when it compiles).
    transfer = init_from(net, cfg, store) if cfg.init else None
    from zoo import distribute_jax

    # Steps per epoch (for the learning-rate schedules): several JAX processes drop the
    # uneven last global batch (`distribute_jax.local_batches`), one process keeps it.
    if distribute_jax.active():
        steps = max(len(x) // cfg.batch_size, 1)
    else:
        steps = math.ceil(len(x) / cfg.batch_size)
    batchnorm.settle(net, steps, cfg.early_stopping or cfg.epochs)
    compile_model(net, cfg, task, steps_per_epoch=steps)
    augment, trainer = pipeline.augmentation(cfg), net
    if augment is not None and pipeline.in_step(cfg):
        # TensorFlow: the augmentation runs in the compiled train step, around the same
        # layers (the stored model is still `net` alone, without training-only layers).
        trainer, augment = pipeline.with_augmentation(net, augment), None
        compile_model(trainer, cfg, task, steps_per_epoch=steps, optimizer=net.optimizer)
    early, callbacks = _validation_callbacks(cfg)

    def evaluate(history: History) -> dict[str, Any]:
        metrics = test_metrics(net, data, task)
        metrics["diagnosis"] = evaluation.diagnose(history, **_early_stop_epochs(early))
        if transfer is not None:
            metrics["transfer"] = transfer
        return metrics

    return FitPlan(
        net=trainer,
        x=x,
        y=y,
        validation_data=(x_val, y_val),
        models={"model": net},
        evaluate=evaluate,
        callbacks=callbacks,
        augment=augment,
    )


def _validation_callbacks(cfg: TrainConfig) -> tuple[Any, list[Any]]:
    # Early stopping (or None) and the callbacks that watch the validation split.
    keras = _keras()
    callbacks: list[Any] = []
    early = None
    if cfg.early_stopping:
        early = keras.callbacks.EarlyStopping(
            monitor=cfg.monitor, patience=cfg.early_stopping, restore_best_weights=True
        )
        callbacks.append(early)
    if cfg.schedule == "plateau":
        callbacks.append(
            keras.callbacks.ReduceLROnPlateau(
                monitor=cfg.monitor,
                factor=0.5,
                patience=max(2, cfg.early_stopping // 3 or 3),
                min_lr=cfg.learning_rate / 100,
            )
        )
    return early, callbacks


def _early_stop_epochs(early: Any) -> dict[str, int | None]:
    if early is None:
        return {"early_stopped_at": None, "restored_epoch": None}
    # Keras 3 restores the best weights at the end of training whether or not the
    # patience ran out, so the stored model is from the callback's best epoch.
    restored = getattr(early, "best_weights", None) is not None
    return {
        "early_stopped_at": early.stopped_epoch + 1 if early.stopped_epoch else None,
        "restored_epoch": int(early.best_epoch) + 1 if restored else None,
    }


def train_split(cfg: TrainConfig, data: Dataset) -> tuple[np.ndarray, np.ndarray]:
    """The training split a config fits on: all of it, or `max_train_samples` of it.

    The subset is random (seeded by the config) and keeps the split's order.

    Example:
        >>> from zoo.data import load_dataset
        >>> cfg = TrainConfig.for_model("mlp-cancer", max_train_samples=50)
        >>> x, y = train_split(cfg, load_dataset("cancer"))
        >>> x.shape, y.shape
        ((50, 30), (50,))
    """
    x, y = data.x_train, data.y_train
    if cfg.max_train_samples and cfg.max_train_samples < len(x):
        # A random (seeded) subset, for quick experiments and tests.
        pick = np.sort(np.random.default_rng(cfg.seed).permutation(len(x))[: cfg.max_train_samples])
        x, y = x[pick], y[pick]
    return x, y


# Penalties at or above this are far outside any useful range (1e-6..1e-2 is usual): a
# NaN loss with one of them is blamed on it, not on the learning rate.
HUGE_PENALTY = 1.0


def _nan_advice(cfg: TrainConfig) -> str:
    """What to change after a NaN loss: a huge L1 / L2 / weight decay overflows the loss
    whatever the learning rate; otherwise the step size is the usual cause.

    Example:
        >>> _nan_advice(TrainConfig.for_model("mlp-cancer", l2=1e38))
        'the penalty l2=1e+38 overflows the loss: use values around 1e-4 (at most 1e-2)'
    """
    huge = [k for k in ("l1", "l2", "weight_decay") if getattr(cfg, k, 0) >= HUGE_PENALTY]
    if huge:
        which = ", ".join(f"{k}={getattr(cfg, k):g}" for k in huge)
        subject = (
            f"the penalties {which} overflow" if len(huge) > 1 else f"the penalty {which} overflows"
        )
        return f"{subject} the loss: use values around 1e-4 (at most 1e-2)"
    return (
        f"lower the learning rate (now {cfg.learning_rate:g}), add batch_norm or pick another "
        "optimizer"
    )


def _fit(
    name: str,
    plan: FitPlan,
    cfg: TrainConfig,
    folder: Path,
    progress: ProgressFn | None,
    verbose: int,
    backup: Path | None = None,
) -> History:
    keras = _keras()
    HistoryCallback, Progress = _callback_classes()
    history = HistoryCallback(folder / "history.csv")
    callbacks = [*plan.first_callbacks, history, keras.callbacks.TerminateOnNaN()]
    # After the history and the GAN's sample monitor, whose rows and samples it writes.
    callbacks.append(tracking.tensorboard_callback(folder, cfg, history, plan.first_callbacks))
    callbacks += plan.callbacks
    if backup is not None:
        # After the others, so that it backs up their state after their epoch end.
        stateful = [c for c in plan.first_callbacks if hasattr(c, "backup_arrays")]
        callbacks.append(_resume_class()(backup, name, history, plan.callbacks, stateful))
    if progress is not None:
        # Last: an epoch is reported once it is backed up, so a progress function that
        # stops the training (Ctrl-C, the dashboard's server gone) leaves that epoch's
        # backup behind, never none at all (a dashboard cancel drops it on purpose).
        callbacks.append(Progress(progress, cfg.epochs))
    x: Any = plan.x
    y: Any = plan.y
    from zoo import distribute_jax

    distributed = distribute_jax.active()
    batched = False  # batches from a tf.data pipeline of ours, not Keras' array adapter
    if distributed and plan.y is not None:
        # Several JAX processes: each feeds its slice of every global batch.
        processes, index = distribute_jax.process()
        x = distribute_jax.local_batches(
            plan.x, plan.y, cfg, plan.augment, processes=processes, index=index
        )
        y, batched = None, True
    elif plan.y is not None and (
        plan.augment is not None or pipeline.own_pipeline(cfg, plan.x, plan.y)
    ):
        x = pipeline.augmented_batches(plan.x, plan.y, plan.augment, cfg.batch_size, cfg.seed)
        y, batched = None, True
    validation: Any = plan.validation_data
    # Validation only runs forward, so it takes the batch the test split is predicted
    # with after every training (no more memory than that needs) instead of Keras'
    # default, the training batch: fewer, larger steps, the same samples and losses
    # (gru-digits on JAX: about a fifth less time per epoch; see the README's Backends).
    # On JAX, Keras advances dropout's seed in evaluation steps too, so a model with
    # dropout draws other (equally seeded) masks than at the training batch size.
    # Several JAX processes keep Keras' default (their distribution is set up for it).
    validation_batch = None if distributed else max(cfg.batch_size, PREDICT_BATCH)
    if validation is not None and batched and validation_batch is not None:
        validation = pipeline.in_order(validation, validation_batch)
    try:
        plan.net.fit(
            x,
            y,
            validation_data=validation,
            epochs=cfg.epochs,
            batch_size=None if batched else cfg.batch_size,  # a pipeline has its batches
            validation_batch_size=None if batched else validation_batch,
            shuffle=not batched,  # the pipeline shuffles itself
            callbacks=callbacks,
            verbose=verbose,
        )
    except KeyboardInterrupt:
        log.warning("training of %s interrupted; nothing was stored", name)
        raise
    if distributed:
        distribute_jax.gather(plan.net)  # evaluate and save here, as one process would
    return history.as_dict()


# --- evaluate and store ---------------------------------------------------------------


def _evaluate_and_store(
    name: str,
    cfg: TrainConfig,
    data: Dataset,
    plan: FitPlan,
    history: History,
    train_seconds: float,
    store: Store,
    folder: Path,
) -> tuple[int, dict[str, Any]]:
    # Every family's run ends here: NaN guard, metrics, files, model card, commit.
    failed = _nan_epoch(history)
    if failed:
        message = f"the loss became NaN or infinite at epoch {failed}; " + _nan_advice(cfg)
        _write_run(folder, cfg, history, {"error": message})
        version = store.commit(name, folder, status="failed", error=message)
        raise TrainingError(f"{name}@{version} failed: {message}")
    metrics = plan.evaluate(history)
    metrics.update(_compare_with_baselines(name, cfg, data, plan))
    epoch_times = history.get("epoch_time", [])
    metrics["timing"] = {
        "train_seconds": train_seconds,
        "epochs_run": len(epoch_times),
        "samples_per_second": len(plan.x) * len(epoch_times) / max(sum(epoch_times), 1e-9),
    }
    metrics["dataset"] = dataset_info(data)
    metrics["parameters"] = int(sum(model.count_params() for model in plan.models.values()))
    tracking.write_test_metrics(folder, metrics, history)  # into tensorboard/, before the commit
    _write_run(folder, cfg, history, metrics)
    if data.preprocessing:  # the user's data: its fitted preprocessing, JSON (zoo.preprocessing)
        write_json(folder, "preprocessing.json", data.preprocessing)
    for key, model in plan.models.items():
        model.save(folder / f"{key}.keras")
    for file, arrays in plan.arrays().items():
        # mypy matches the splat against allow_pickle (a bool); the keys are array names
        np.savez_compressed(folder / file, **arrays)  # type: ignore[arg-type]
    from zoo.card import model_card

    (folder / "card.md").write_text(model_card(name, cfg, data, metrics))
    return store.commit(name, folder), metrics


def _compare_with_baselines(
    name: str, cfg: TrainConfig, data: Dataset, plan: FitPlan
) -> dict[str, Any]:
    # Classic baselines fitted on this run's own training data and scored on its test
    # split, bootstrap intervals, model vs best baseline (`zoo.baselines`). A data problem
    # there (a class too rare to cross-validate, say) is recorded, not allowed to lose
    # the trained model.
    from zoo import baselines

    model = plan.models.get("model", plan.models.get("generator"))
    # The GAN's Fréchet monitor carries the feature space its distances are measured in.
    features = next((c.feature_fn for c in plan.first_callbacks if hasattr(c, "feature_fn")), None)
    try:
        return baselines.compare_run(cfg, data, model, features=features)
    except (ValueError, ZooError, np.linalg.LinAlgError) as err:
        log.warning("no baselines for %s: %s", name, err)
        return {"baselines": {"error": f"{type(err).__name__}: {err}"}}


def _write_run(folder: Path, cfg: TrainConfig, history: History, metrics: dict) -> None:
    write_json(folder, "config.json", cfg.to_dict())
    write_json(folder, "history.json", history)
    write_json(folder, "metrics.json", metrics)


# --- evaluation -----------------------------------------------------------------------


def test_metrics(model: Any, data: Dataset, task: str) -> dict[str, Any]:
    """Metrics of a classifier or forecaster on `data`'s test split.

    Regression metrics are in the data's own units (ppm for CO2), with the naive
    baseline of `zoo.evaluation.naive_baseline` (no change for a forecaster, the training
    mean for a table).

    Example:
        >>> from zoo.trained import load_trained
        >>> m = load_trained("mlp-cancer")
        >>> 0 <= test_metrics(m.model, m.dataset(), m.task)["accuracy"] <= 1
        True
    """
    raw = np.asarray(model.predict(data.x_test, batch_size=PREDICT_BATCH, verbose=0))
    return evaluation.test_split_metrics(data, task, raw)


def evaluate_trained(trained: TrainedModel) -> dict[str, Any]:
    """Recompute a stored model's test metrics (a GAN returns its stored ones).

    Example:
        >>> from zoo.trained import load_trained
        >>> m = load_trained("cnn-digits")
        >>> evaluate_trained(m)["accuracy"] == m.metrics["accuracy"]
        True
    """
    if trained.task == "generation":
        return dict(trained.metrics)
    return test_metrics(trained.model, trained.dataset(), trained.task)


def _nan_epoch(hist: History) -> int | None:
    for key in ("loss", "d_loss", "g_loss"):
        for i, value in enumerate(hist.get(key, [])):
            if not math.isfinite(value):
                return i + 1
    return None


# --- callbacks ------------------------------------------------------------------------


@functools.cache
def _callback_classes() -> tuple[type, type]:
    # Keras' Callback base class needs TensorFlow imported: define the subclasses lazily.
    # Any: mypy cannot take a base class from a value (the module comes from _keras()).
    callback: Any = _keras().callbacks.Callback

    class History(callback):
        """Per-epoch logs plus learning rate and epoch time, also streamed to a CSV."""

        def __init__(self, csv_path: Path) -> None:
            super().__init__()
            self.csv_path = csv_path
            self.rows: list[dict[str, float]] = []

        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            self._start = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            row = {k: float(v) for k, v in (logs or {}).items() if np.ndim(v) == 0}
            row["epoch_time"] = time.perf_counter() - self._start
            lr = _current_lr(self.model)
            if lr is not None:
                row["lr"] = lr
            row.pop("learning_rate", None)
            self.rows.append(row)
            self.write_csv()

        def write_csv(self) -> None:
            keys = list(dict.fromkeys(k for r in self.rows for k in r))
            lines = [",".join(["epoch", *keys])]
            for i, r in enumerate(self.rows):
                lines.append(",".join([str(i + 1), *(repr(r.get(k, "")) for k in keys)]))
            self.csv_path.write_text("\n".join(lines) + "\n")

        def as_dict(self) -> dict[str, list[float]]:
            keys = list(dict.fromkeys(k for r in self.rows for k in r))
            return {k: [r.get(k, math.nan) for r in self.rows] for k in keys}

    class Progress(callback):
        def __init__(self, fn: ProgressFn, epochs: int) -> None:
            super().__init__()
            self.fn, self.epochs = fn, epochs

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            self.fn(epoch + 1, self.epochs, {k: float(v) for k, v in (logs or {}).items()})

    return History, Progress


# Callback attributes that carry state from one epoch to the next (EarlyStopping,
# ReduceLROnPlateau); a backup records them so a resumed run stops and decays as the
# uninterrupted one would.
def _current_lr(model: Any) -> float | None:
    # The GAN's generator optimizer, else the model's own.
    opt = getattr(model, "g_optimizer", None)
    if opt is None:
        opt = getattr(model, "optimizer", None)
    if opt is None:
        return None
    try:
        return float(np.asarray(opt.learning_rate))
    except (TypeError, ValueError, AttributeError):
        return None
