"""The GAN as a zoo family: built from a `TrainConfig`, fitted with its FID monitor, scored.

`from_config` is the family's row in the builder table and `gan_plan` the generation
task's row in the fit table (`zoo.registry.BUILDERS`, `zoo.registry.FITS`); `zoo.training`
runs the plan and stores the result like any other family's. Everything the zoo does
differently for a GAN is here: the tuned optimizers, the Fréchet distance in the feature
space of the zoo's own `cnn-digits`, the per-epoch samples saved with the artifact.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from zoo.config import GAN_LOSSES, TrainConfig
from zoo.data import Dataset
from zoo.errors import ArtifactError, UnknownModelError
from zoo.models import gan
from zoo.models.gan_tuning import DEFAULTS, DISCRIMINATOR_WIDTH
from zoo.store import Store
from zoo.training import FitPlan, History, optimizer_for, train, train_split

log = logging.getLogger("zoo")

# The zoo entry whose classifier gives the Fréchet distance its feature space.
FEATURE_MODEL = "cnn-digits"


def from_config(cfg: TrainConfig, data: Dataset) -> gan.GAN:
    """The (uncompiled) GAN a config describes; `data` is unused (8x8 images always).

    Example:
        >>> from zoo.data import load_dataset
        >>> cfg = TrainConfig.for_model("gan-digits", gan_filters=8)
        >>> net = from_config(cfg, load_dataset("digits-signed"))
        >>> net.generator.output_shape, net.discriminator.get_layer(index=1).filters
        ((None, 8, 8, 1), 16)
    """
    generator = gan.build_generator(
        latent_dim=cfg.latent_dim,
        filters=cfg.gan_filters,
        activation=cfg.activation,
        batch_norm=cfg.batch_norm,
        l1=cfg.l1,
        l2=cfg.l2,
    )
    # The discriminator keeps the tuned width ratio; its activation and normalization
    # stay the DCGAN's own (leaky ReLU, none on the first conv).
    discriminator = gan.build_discriminator(
        filters=DISCRIMINATOR_WIDTH * cfg.gan_filters, l1=cfg.l1, l2=cfg.l2, dropout=cfg.dropout
    )
    return gan.GAN(generator, discriminator, latent_dim=cfg.latent_dim, seed=cfg.seed)


def tuned_optimizer(cfg: TrainConfig, name: str, learning_rate: float) -> Any:
    """One network's optimizer: `name` / `learning_rate`, else the config's shared ones.

    Adam-style optimizers get the tuned `beta_1` (0.5, as in the DCGAN paper).

    Example:
        >>> cfg = TrainConfig.for_model("gan-digits")
        >>> opt = tuned_optimizer(cfg, cfg.d_optimizer, cfg.d_learning_rate)
        >>> type(opt).__name__, float(opt.beta_1)
        ('Adam', 0.5)
    """
    opt = optimizer_for(cfg, name=name, learning_rate=learning_rate or cfg.learning_rate)
    if hasattr(opt, "beta_1"):
        opt.beta_1 = DEFAULTS["beta_1"]
    return opt


def gan_plan(cfg: TrainConfig, data: Dataset, store: Store) -> FitPlan:
    """The GAN's fit: compiled GAN, real images only, the FID monitor first.

    The FID is measured on the validation and test images in the feature space of the
    latest good `cnn-digits` in `store` (trained first, quick, when there is none).

    Example:
        >>> from zoo.data import load_dataset
        >>> cfg = TrainConfig.for_model("gan-digits", fid_samples=50)
        >>> plan = gan_plan(cfg, load_dataset("digits-signed"), Store())
        >>> sorted(plan.models), plan.y is None, type(plan.first_callbacks[0]).__name__
        (['discriminator', 'generator'], True, 'GanMonitor')
    """
    x, _ = train_split(cfg, data)
    net = from_config(cfg, data)
    net.compile(
        d_optimizer=tuned_optimizer(cfg, cfg.d_optimizer, cfg.d_learning_rate),
        g_optimizer=tuned_optimizer(cfg, cfg.g_optimizer, cfg.g_learning_rate),
        loss=GAN_LOSSES[cfg.loss],
        steps_per_execution=cfg.steps_per_execution,
    )
    real = np.concatenate([data.x_val, data.x_test])
    features = feature_fn(store, seed=cfg.seed)
    noise = np.random.default_rng(cfg.seed).normal(size=(64, cfg.latent_dim)).astype("float32")
    monitor = gan.GanMonitor(
        features, real, noise, n_fid=min(cfg.fid_samples, len(real)), seed=cfg.seed
    )
    return FitPlan(
        net=net,
        x=x,
        y=None,
        validation_data=None,
        models={"generator": net.generator, "discriminator": net.discriminator},
        evaluate=lambda history: fid_metrics(monitor, history),
        # First, so the Fréchet distance it adds to the logs reaches the history.
        first_callbacks=[monitor],
        arrays=lambda: {"samples.npz": {"samples": np.stack(monitor.samples)}},
    )


def fid_metrics(monitor: gan.GanMonitor, history: History) -> dict[str, Any]:
    """A GAN run's test metrics: the Fréchet distance before, after and per epoch.

    Example:
        >>> class Run:  # what a GanMonitor records over two epochs
        ...     fid, feature_fn = [90.0, 30.0, 15.0], None
        >>> m = fid_metrics(Run(), {"d_loss": [0.7, 0.6], "g_loss": [1.1, 1.2]})
        >>> m["fid_ratio"], m["fid_feature_model"], m["g_loss"]
        (6.0, 'cnn-digits', 1.2)
    """
    untrained, final = float(monitor.fid[0]), float(monitor.fid[-1])
    return {
        "fid_untrained": untrained,
        "fid_final": final,
        "fid_best": float(min(monitor.fid)),
        "fid_ratio": untrained / final if final > 0 else math.inf,
        "fid_by_epoch": [float(v) for v in monitor.fid],
        "fid_feature_model": getattr(monitor.feature_fn, "source", FEATURE_MODEL),
        "d_loss": float(history["d_loss"][-1]) if history.get("d_loss") else None,
        "g_loss": float(history["g_loss"][-1]) if history.get("g_loss") else None,
        "epochs_with_fid": len(history.get("fid", [])),
    }


def feature_fn(store: Store, *, seed: int = 0) -> Callable[[np.ndarray], np.ndarray]:
    """Features for the GAN's Fréchet distance: the penultimate layer of `cnn-digits`.

    Uses the latest good `cnn-digits` in `store`; when there is none, trains one with
    its quick settings first (and stores it, so it is a real, inspectable zoo model).
    Images in [-1, 1] are mapped to the classifier's [0, 1] first.

    Example:
        >>> fn = feature_fn(Store())  # the store in $ZOO_HOME
        >>> fn(np.zeros((4, 8, 8, 1), "float32")).shape
        (4, 64)
    """
    from zoo._tf import keras as _keras
    from zoo.trained import load_trained

    keras = _keras()
    try:
        clf = load_trained(FEATURE_MODEL, store)
    except (UnknownModelError, ArtifactError):
        log.warning(
            "no good %s in %s: training one (quick) for the GAN's FID", FEATURE_MODEL, store
        )
        clf = train(FEATURE_MODEL, store=store, quick=True, seed=seed)
    model = clf.model
    extractor = keras.Model(model.inputs, model.get_layer("output").input)

    def features(images: np.ndarray) -> np.ndarray:
        x = (np.asarray(images, "float32") + 1.0) / 2.0
        return np.asarray(extractor.predict(x, batch_size=512, verbose=0), "float64")

    features.source = clf.ref  # type: ignore[attr-defined]
    return features
