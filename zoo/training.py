"""Training: data -> model -> `fit` with callbacks -> evaluation -> a stored artifact."""

from __future__ import annotations

import functools
import inspect
import logging
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from zoo import evaluation
from zoo._tf import keras as _keras
from zoo.config import TrainConfig
from zoo.data import Dataset
from zoo.errors import ConfigError, ZooError
from zoo.registry import get_spec
from zoo.store import Store, write_json
from zoo.trained import TrainedModel, dataset_for

log = logging.getLogger("zoo")

# progress(epoch, epochs, logs): called after every epoch (epoch is 1-based).
ProgressFn = Callable[[int, int, dict[str, float]], None]


class TrainingError(ZooError):
    """Training ran but could not produce a usable model (e.g. the loss became NaN)."""


def train(
    name: str,
    *,
    store: Store | str | Path | None = None,
    quick: bool = False,
    config: TrainConfig | None = None,
    progress: ProgressFn | None = None,
    verbose: int = 0,
    **options: Any,
) -> TrainedModel:
    """Train zoo entry `name`, evaluate it on the test split and store it as a new version.

    Options are `TrainConfig` fields (loss, optimizer, learning_rate, activation, l1, l2,
    dropout, batch_norm, epochs, early_stopping, ...); they are validated before any data
    is loaded. Returns the stored model, ready to use.

    Example:
        >>> import tempfile
        >>> run = train("mlp-cancer", epochs=2, store=tempfile.mkdtemp())
        >>> run.ref, sorted(run.history)[:2]
        ('mlp-cancer@1', ['accuracy', 'epoch_time'])
    """
    cfg = config or TrainConfig.for_model(name, quick=quick, **options)
    if config is not None and options:
        raise ConfigError("pass either config= or options, not both")
    if cfg.model != name:
        raise ConfigError(f"config is for {cfg.model!r} but train() was asked for {name!r}")
    store = store if isinstance(store, Store) else Store(store)
    spec = get_spec(name)
    keras = _keras()
    data = dataset_for(cfg, spec.dataset)
    keras.utils.set_random_seed(cfg.seed)
    fit_data = _fit_arrays(cfg, data, spec.task)
    start = time.perf_counter()
    History, Progress = _callback_classes()
    with store.staging(name) as folder:
        history = History(folder / "history.csv")
        callbacks: list[Any] = [history, keras.callbacks.TerminateOnNaN()]
        if progress is not None:
            callbacks.append(Progress(progress, cfg.epochs))
        early = None
        with _strategy(cfg.strategy).scope():
            if spec.family == "gan":
                net = _build_gan(cfg, data, store)
                # First, so the Fréchet distance it adds to the logs reaches the history.
                callbacks.insert(0, net.monitor)
            else:
                net = build_model(cfg, data, spec.task)
                compile_model(net, cfg, spec.task, steps_per_epoch=fit_data["steps"])
        if spec.family != "gan":
            if cfg.early_stopping:
                early = keras.callbacks.EarlyStopping(
                    monitor=cfg.monitor,
                    patience=cfg.early_stopping,
                    restore_best_weights=True,
                    mode="auto",
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
        try:
            net.fit(
                fit_data["x"],
                fit_data["y"],
                validation_data=fit_data["val"],
                epochs=cfg.epochs,
                batch_size=cfg.batch_size,
                shuffle=True,
                callbacks=callbacks,
                verbose=verbose,
            )
        except KeyboardInterrupt:
            log.warning("training of %s interrupted; nothing was stored", name)
            raise
        train_seconds = time.perf_counter() - start
        hist = history.as_dict()
        failed = _nan_epoch(hist)
        if failed:
            message = (
                f"the loss became NaN or infinite at epoch {failed}; lower the learning rate "
                f"(now {cfg.learning_rate:g}), add batch_norm or pick another optimizer"
            )
            write_json(folder, "config.json", cfg.to_dict())
            write_json(folder, "history.json", hist)
            write_json(folder, "metrics.json", {"error": message})
            version = store.commit(name, folder, status="failed", error=message)
            raise TrainingError(f"{name}@{version} failed: {message}")
        stopped = early.stopped_epoch + 1 if early is not None and early.stopped_epoch else None
        # Keras 3 restores the best weights at the end of training whether or not the
        # patience ran out, so the stored model is from the callback's best epoch.
        restored = (
            int(early.best_epoch) + 1
            if early is not None and getattr(early, "best_weights", None) is not None
            else None
        )
        metrics = _evaluate(net, cfg, data, spec.task, hist)
        if spec.family != "gan":
            metrics["diagnosis"] = evaluation.diagnose(
                hist, early_stopped_at=stopped, restored_epoch=restored
            )
        metrics["timing"] = {
            "train_seconds": train_seconds,
            "epochs_run": len(hist.get("epoch_time", [])),
            "samples_per_second": len(fit_data["x"])
            * len(hist.get("epoch_time", []))
            / max(sum(hist.get("epoch_time", [])), 1e-9),
        }
        metrics["dataset"] = _dataset_info(data)
        metrics["parameters"] = int(
            (net.generator.count_params() + net.discriminator.count_params())
            if spec.family == "gan"
            else net.count_params()
        )
        write_json(folder, "config.json", cfg.to_dict())
        write_json(folder, "history.json", hist)
        write_json(folder, "metrics.json", metrics)
        if spec.family == "gan":
            net.generator.save(folder / "generator.keras")
            net.discriminator.save(folder / "discriminator.keras")
            np.savez_compressed(folder / "samples.npz", samples=np.stack(net.monitor.samples))
            models = {"generator": net.generator, "discriminator": net.discriminator}
        else:
            net.save(folder / "model.keras")
            models = {"model": net}
        from zoo.card import model_card

        (folder / "card.md").write_text(model_card(name, cfg, data, metrics))
        version = store.commit(name, folder)
    log.info("stored %s@%d in %s", name, version, store.root)
    return TrainedModel(
        name=name,
        version=version,
        path=store.path(name, version),
        config=cfg,
        history=hist,
        metrics=metrics,
        **models,
    )


# --- building -------------------------------------------------------------------------


def output_head(cfg: TrainConfig, task: str, n_classes: int | None) -> tuple[int, str]:
    """Number of output units and their activation for a config's task and loss.

    Example:
        >>> output_head(TrainConfig.for_model("mlp-cancer"), "classification", 2)
        (1, 'sigmoid')
    """
    if task == "regression":
        return 1, "linear"
    if cfg.label_encoding() == "binary":
        return 1, "sigmoid"
    return int(n_classes or 0), "softmax"


def build_model(cfg: TrainConfig, data: Dataset, task: str) -> Any:
    """The (uncompiled) Keras model a config describes, sized for `data`.

    Example:
        >>> from zoo.data import load_dataset
        >>> cfg = TrainConfig.for_model("mlp-cancer", dense_units=(8,))
        >>> build_model(cfg, load_dataset("cancer"), "classification").output_shape
        (None, 1)
    """
    family = get_spec(cfg.model).family
    n_out, out_act = output_head(cfg, task, data.n_classes)
    common = dict(
        output_activation=out_act,
        dense_units=cfg.dense_units,
        activation=cfg.activation,
        l1=cfg.l1,
        l2=cfg.l2,
        dropout=cfg.dropout,
        batch_norm=cfg.batch_norm,
    )
    if family == "cnn":
        from zoo.models.cnn import build_cnn

        return build_cnn(
            data.input_shape,
            n_out,
            filters=cfg.filters,
            kernel_size=cfg.kernel_size,
            augment=cfg.augment,
            seed=cfg.seed,
            **common,
        )
    if family == "rnn":
        from zoo.models.rnn import build_rnn

        return build_rnn(
            data.input_shape,
            n_out,
            cell=cfg.cell,
            units=cfg.units,
            rnn_layers=cfg.rnn_layers,
            bidirectional=cfg.bidirectional,
            **common,
        )
    if family == "mlp":
        from zoo.models.mlp import build_mlp

        return build_mlp(data.input_shape, n_out, **common)
    raise ConfigError(f"{cfg.model}: family {family!r} is not built by build_model")


def make_optimizer(
    name: str,
    learning_rate: float | Any,
    *,
    momentum: float = 0.0,
    nesterov: bool = False,
    weight_decay: float = 0.0,
) -> Any:
    """A Keras optimizer by name with the settings it supports.

    Setting momentum / nesterov / weight decay on an optimizer that has no such
    parameter is a `ConfigError`, not a silent no-op.

    Example:
        >>> opt = make_optimizer("sgd", 0.01, momentum=0.9, nesterov=True)
        >>> type(opt).__name__, float(opt.momentum), opt.nesterov
        ('SGD', 0.9, True)
    """
    keras = _keras()
    cls = type(keras.optimizers.get(name))
    params = inspect.signature(cls.__init__).parameters
    kwargs: dict[str, Any] = {"learning_rate": learning_rate}
    for key, value, unset in (
        ("momentum", momentum, 0.0),
        ("nesterov", nesterov, False),
        ("weight_decay", weight_decay, 0.0),
    ):
        if value != unset:
            if key not in params:
                supported = [k for k in ("momentum", "nesterov", "weight_decay") if k in params]
                raise ConfigError(
                    f"{key}={value!r} does not apply to optimizer {name!r} ({cls.__name__} "
                    f"takes {', '.join(supported) or 'none of momentum/nesterov/weight_decay'}); "
                    "remove it or pick an optimizer that has it (e.g. sgd, rmsprop, adamw)"
                )
            kwargs[key] = value
    return cls(**kwargs)


def learning_rate_for(cfg: TrainConfig, steps_per_epoch: int) -> Any:
    """A float, or a Keras schedule for `cosine` / `exponential` (plateau is a callback).

    Example:
        >>> cfg = TrainConfig.for_model("mlp-cancer", schedule="cosine", epochs=10)
        >>> type(learning_rate_for(cfg, 20)).__name__
        'CosineDecay'
    """
    keras = _keras()
    total = max(1, cfg.epochs * steps_per_epoch)
    if cfg.schedule == "cosine":
        return keras.optimizers.schedules.CosineDecay(cfg.learning_rate, decay_steps=total)
    if cfg.schedule == "exponential":
        # Decays to 1% of the initial rate over the whole run.
        return keras.optimizers.schedules.ExponentialDecay(
            cfg.learning_rate, decay_steps=total, decay_rate=0.01
        )
    return cfg.learning_rate


def compile_model(model: Any, cfg: TrainConfig, task: str, *, steps_per_epoch: int) -> None:
    """Compile with the config's loss, optimizer (and schedule) and the task's metrics.

    Example:
        >>> from zoo.data import load_dataset
        >>> cfg = TrainConfig.for_model("mlp-cancer", optimizer="sgd", momentum=0.9)
        >>> m = build_model(cfg, load_dataset("cancer"), "classification")
        >>> compile_model(m, cfg, "classification", steps_per_epoch=13)
        >>> type(m.optimizer).__name__
        'SGD'
    """
    keras = _keras()
    optimizer = make_optimizer(
        cfg.optimizer,
        learning_rate_for(cfg, steps_per_epoch),
        momentum=cfg.momentum,
        nesterov=cfg.nesterov,
        weight_decay=cfg.weight_decay,
    )
    metrics = ["accuracy"] if task == "classification" else ["mae"]
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.get(cfg.loss if cfg.loss != "mse" else "mean_squared_error"),
        metrics=metrics,
        # Many small steps per call: measured 1.4x faster than 1 on this CPU; XLA is
        # ~10x slower here, so it stays off.
        steps_per_execution=cfg.steps_per_execution,
        jit_compile=False,
    )


def encode_labels(y: np.ndarray, encoding: str, n_classes: int) -> np.ndarray:
    """Integer class labels in the form a loss expects: sparse, one-hot or binary.

    Example:
        >>> encode_labels(np.array([0, 2]), "onehot", 3).tolist()
        [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]
    """
    if encoding == "sparse":
        return y.astype("int64")
    if encoding == "binary":
        return y.astype("float32").reshape(-1, 1)
    return np.eye(n_classes, dtype="float32")[y]


def _fit_arrays(cfg: TrainConfig, data: Dataset, task: str) -> dict[str, Any]:
    x, y = data.x_train, data.y_train
    if cfg.max_train_samples and cfg.max_train_samples < len(x):
        # A random (seeded) subset, for quick experiments and tests.
        pick = np.random.default_rng(cfg.seed).permutation(len(x))[: cfg.max_train_samples]
        x, y = x[np.sort(pick)], y[np.sort(pick)]
    x_val, y_val = data.x_val, data.y_val
    if task == "classification":
        enc = cfg.label_encoding()
        y = encode_labels(y, enc, data.n_classes or 0)
        y_val = encode_labels(y_val, enc, data.n_classes or 0)
    if task == "generation":
        y, y_val = None, None
        val = None
    else:
        val = (x_val, y_val)
    return {"x": x, "y": y, "val": val, "steps": math.ceil(len(x) / cfg.batch_size)}


def _strategy(name: str) -> Any:
    import tensorflow as tf

    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "one_device":
        device = "/gpu:0" if tf.config.list_logical_devices("GPU") else "/cpu:0"
        return tf.distribute.OneDeviceStrategy(device)
    return tf.distribute.get_strategy()


# --- GAN ------------------------------------------------------------------------------


def _build_gan(cfg: TrainConfig, data: Dataset, store: Store) -> Any:
    from zoo.config import GAN_LOSSES
    from zoo.models import gan

    generator = gan.build_generator(
        latent_dim=cfg.latent_dim,
        filters=cfg.gan_filters,
        activation=cfg.activation,
        batch_norm=cfg.batch_norm,
        l1=cfg.l1,
        l2=cfg.l2,
    )
    # The discriminator is twice as wide as the generator's last block (tuned pairing).
    discriminator = gan.build_discriminator(
        filters=2 * cfg.gan_filters, l1=cfg.l1, l2=cfg.l2, dropout=cfg.dropout
    )
    net = gan.GAN(generator, discriminator, latent_dim=cfg.latent_dim, seed=cfg.seed)
    net.compile(
        d_optimizer=_gan_optimizer(cfg, cfg.d_optimizer, cfg.d_learning_rate),
        g_optimizer=_gan_optimizer(cfg, cfg.g_optimizer, cfg.g_learning_rate),
        loss=GAN_LOSSES[cfg.loss],
        steps_per_execution=cfg.steps_per_execution,
    )
    features = gan_feature_fn(store, seed=cfg.seed)
    real = np.concatenate([data.x_val, data.x_test])
    noise = np.random.default_rng(cfg.seed).normal(size=(64, cfg.latent_dim)).astype("float32")
    net.monitor = gan.GanMonitor(
        features, real, noise, n_fid=min(cfg.fid_samples, len(real)), seed=cfg.seed
    )
    return net


def _gan_optimizer(cfg: TrainConfig, name: str, learning_rate: float) -> Any:
    # One fresh optimizer per network; the shared options apply to both.
    opt = make_optimizer(
        name or cfg.optimizer,
        learning_rate or cfg.learning_rate,
        momentum=cfg.momentum,
        nesterov=cfg.nesterov,
        weight_decay=cfg.weight_decay,
    )
    if hasattr(opt, "beta_1"):
        # Adam-style optimizers: beta_1 = 0.5 keeps the two players' updates from
        # building up momentum against each other (DCGAN paper; tuned here too).
        opt.beta_1 = 0.5
    return opt


def gan_feature_fn(store: Store, *, seed: int = 0) -> Callable[[np.ndarray], np.ndarray]:
    """Features for the GAN's Fréchet distance: the penultimate layer of `cnn-digits`.

    Uses the latest good `cnn-digits` in `store`; when there is none, trains one with
    its quick settings first (and stores it, so it is a real, inspectable zoo model).
    Images in [-1, 1] are mapped to the classifier's [0, 1] first.

    Example:
        >>> fn = gan_feature_fn(Store())  # the store in $ZOO_HOME
        >>> fn(np.zeros((4, 8, 8, 1), "float32")).shape
        (4, 64)
    """
    from zoo.errors import ArtifactError, UnknownModelError
    from zoo.trained import load_trained

    keras = _keras()
    try:
        clf = load_trained("cnn-digits", store)
    except (UnknownModelError, ArtifactError):
        log.warning("no good cnn-digits in %s: training one (quick) for the GAN's FID", store)
        clf = train("cnn-digits", store=store, quick=True, seed=seed)
    model = clf.model
    feature_layer = model.get_layer("output").input
    extractor = keras.Model(model.inputs, feature_layer)

    def features(images: np.ndarray) -> np.ndarray:
        x = (np.asarray(images, "float32") + 1.0) / 2.0
        return np.asarray(extractor.predict(x, batch_size=512, verbose=0), "float64")

    features.source = clf.ref  # type: ignore[attr-defined]
    return features


# --- evaluation -----------------------------------------------------------------------


def _evaluate(
    net: Any, cfg: TrainConfig, data: Dataset, task: str, hist: dict[str, list[float]]
) -> dict[str, Any]:
    if task == "generation":
        fid = hist.get("fid", [])
        monitor = net.monitor
        untrained = float(monitor.fid[0])
        final = float(monitor.fid[-1])
        return {
            "fid_untrained": untrained,
            "fid_final": final,
            "fid_best": float(min(monitor.fid)),
            "fid_ratio": untrained / final if final > 0 else math.inf,
            "fid_by_epoch": [float(v) for v in monitor.fid],
            "fid_feature_model": getattr(monitor.feature_fn, "source", "cnn-digits"),
            "d_loss": float(hist["d_loss"][-1]) if hist.get("d_loss") else None,
            "g_loss": float(hist["g_loss"][-1]) if hist.get("g_loss") else None,
            "epochs_with_fid": len(fid),
        }
    return test_metrics(net, data, task)


def test_metrics(model: Any, data: Dataset, task: str) -> dict[str, Any]:
    """Metrics of a classifier or forecaster on `data`'s test split.

    Regression metrics are in the data's own units (ppm for CO2), with the naive
    last-value forecast as baseline.

    Example:
        >>> from zoo.trained import load_trained
        >>> m = load_trained("mlp-cancer")
        >>> 0 <= test_metrics(m.model, m.dataset(), m.task)["accuracy"] <= 1
        True
    """
    raw = np.asarray(model.predict(data.x_test, batch_size=1024, verbose=0))
    if task == "classification":
        return evaluation.classification_metrics(data.y_test, raw, data.class_names or ())
    y_true = data.to_units(data.y_test.ravel())
    y_pred = data.to_units(raw.ravel())
    return evaluation.regression_metrics(y_true, y_pred, np.zeros_like(y_true), unit=data.unit)


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


def _dataset_info(data: Dataset) -> dict[str, Any]:
    return {
        "name": data.name,
        "input_kind": data.input_kind,
        "input_shape": list(data.input_shape),
        "class_names": list(data.class_names) if data.class_names else None,
        "feature_names": list(data.feature_names) if data.feature_names else None,
        "description": data.description,
    }


def _nan_epoch(hist: dict[str, list[float]]) -> int | None:
    for key in ("loss", "d_loss", "g_loss"):
        for i, value in enumerate(hist.get(key, [])):
            if not math.isfinite(value):
                return i + 1
    return None


# --- callbacks ------------------------------------------------------------------------


@functools.cache
def _callback_classes() -> tuple[type, type]:
    # Keras' Callback base class needs TensorFlow imported: define the subclasses lazily.
    keras = _keras()

    class History(keras.callbacks.Callback):
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
            keys = list(dict.fromkeys(k for r in self.rows for k in r))
            lines = [",".join(["epoch", *keys])]
            for i, r in enumerate(self.rows):
                lines.append(",".join([str(i + 1), *(repr(r.get(k, "")) for k in keys)]))
            self.csv_path.write_text("\n".join(lines) + "\n")

        def as_dict(self) -> dict[str, list[float]]:
            keys = list(dict.fromkeys(k for r in self.rows for k in r))
            return {k: [r.get(k, math.nan) for r in self.rows] for k in keys}

    class Progress(keras.callbacks.Callback):
        def __init__(self, fn: ProgressFn, epochs: int) -> None:
            super().__init__()
            self.fn, self.epochs = fn, epochs

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            self.fn(epoch + 1, self.epochs, {k: float(v) for k, v in (logs or {}).items()})

    return History, Progress


def _current_lr(model: Any) -> float | None:
    opt = getattr(model, "optimizer", None)
    if opt is None:
        opt = getattr(model, "g_optimizer", None)
    if opt is None:
        return None
    try:
        return float(np.asarray(opt.learning_rate))
    except (TypeError, ValueError, AttributeError):
        return None
