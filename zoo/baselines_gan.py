"""The GAN's baselines: Gaussian "generators" fitted to its training images (independent
pixels; one full pixel covariance), scored by the Fréchet distance in the GAN's own
feature space against the same real images, with bias-shifted bootstrap intervals. The
classifiers' and regressions' baselines, and what every comparison returns, are in
`zoo.baselines`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from zoo import intervals
from zoo.baselines import LABELS, _blocks, _one_thread, flatten
from zoo.errors import ConfigError


def gaussian_images(
    train_images: np.ndarray, n: int, *, covariance: str = "diag", seed: int = 0
) -> np.ndarray:
    """`n` images drawn from a Gaussian fitted to the training images, clipped to their
    range: independent pixels (`covariance="diag"`, each pixel its own mean and
    variance) or one full pixel covariance (`"full"`). The simplest generators there are.

    Example:
        >>> train = np.random.default_rng(0).uniform(-1, 1, (100, 8, 8, 1))
        >>> fake = gaussian_images(train, 5, covariance="full")
        >>> fake.shape, bool(fake.min() >= -1 and fake.max() <= 1)
        ((5, 8, 8, 1), True)
    """
    flat = flatten(train_images)
    rng = np.random.default_rng(seed)
    mean = flat.mean(axis=0)
    if covariance == "full":
        samples = rng.multivariate_normal(mean, np.cov(flat, rowvar=False), size=n, method="eigh")
    elif covariance == "diag":
        samples = mean + rng.standard_normal((n, flat.shape[1])) * flat.std(axis=0, ddof=1)
    else:
        raise ConfigError(f"covariance must be 'diag' or 'full', got {covariance!r}")
    samples = np.clip(samples, flat.min(), flat.max())
    return samples.reshape((n, *np.shape(train_images)[1:])).astype(np.float32)


def compare_generator(
    train_images: np.ndarray,
    real_features: np.ndarray,
    model_features: np.ndarray,
    features: Callable[[np.ndarray], np.ndarray],
    *,
    seed: int = 0,
    resamples: int = intervals.RESAMPLES,
) -> dict[str, Any]:
    """A generator's Gaussian baselines and its comparison with the best of them on the
    Fréchet distance, with intervals from resampling real and generated samples.

    Each baseline draws as many images as the model was scored with and goes through the
    same `features` function. Resampling with replacement repeats samples, which raises
    every bootstrap distance; each interval is shifted back by its own bootstrap bias
    (mean bootstrap value − full-sample value), so it sits around the reported number.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> train, real = rng.normal(size=(300, 4, 4, 1)), rng.normal(size=(300, 16))
        >>> flat = lambda images: images.reshape(len(images), -1)
        >>> out = compare_generator(train, real, real + 3.0, flat, resamples=100)
        >>> out["baselines"]["metric"], out["vs_baseline"]["verdict"]
        ('fid_final', 'the baseline is better')
    """
    from zoo.models.gan import frechet_distance

    start = time.perf_counter()
    real = np.asarray(real_features, np.float64)
    model = np.asarray(model_features, np.float64)
    n = len(model)
    names = {"gaussian_pixels": "diag", "gaussian_full": "full"}
    with _one_thread():
        # One pass through the feature model for both (each call costs ~0.3 s of set-up).
        drawn = [gaussian_images(train_images, n, covariance=c, seed=seed) for c in names.values()]
        both = np.asarray(features(np.concatenate(drawn)), np.float64)
        fake = dict(zip(names, np.split(both, len(names)), strict=True))
        point = {"model": frechet_distance(real, model)}
        point |= {name: frechet_distance(real, f) for name, f in fake.items()}
        boot = intervals.frechet_bootstrap(
            real, [model, *fake.values()], resamples=resamples, seed=seed
        )
    boot_of = dict(zip(["model", *fake], boot, strict=True))

    def shifted(values: np.ndarray, at: float) -> intervals.Interval | None:
        # The percentile interval moved by the bootstrap's own bias (see docstring).
        return intervals.percentile_interval(values - (values.mean() - at))

    n_train = len(train_images)
    records = {
        name: {
            "label": LABELS[name],
            "value": point[name],
            "interval": shifted(boot_of[name], point[name]),
            "params": {"covariance": cov},
            "n_fit": n_train,
        }
        for name, cov in names.items()
    }
    best = min(names, key=lambda k: point[k])
    diff = point["model"] - point[best]
    interval = shifted(boot_of["model"] - boot_of[best], diff)
    paired = {
        "difference": diff,
        "interval": interval,
        "verdict": intervals.verdict(interval, higher_is_better=False),
    }
    return _blocks(
        ("fid_final", False, "train", n_train, len(real)), records, point["model"], paired,
        {"fid_final": shifted(boot_of["model"], point["model"])}, seed, resamples, start,
        method="percentile bootstrap over real and generated samples, shifted by the "
        "bootstrap's bias",
    )  # fmt: skip
