"""The Fréchet distance that scores `zoo.models.gan`'s generator, and the per-epoch monitor
that records it (with a strip of samples from fixed noise) during a fit.

Both are importable from `zoo.models.gan` too, where they were first defined.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import keras
import numpy as np

from zoo.errors import ConfigError, DataError


def frechet_distance(features_a: np.ndarray, features_b: np.ndarray, eps: float = 1e-6) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (the FID formula).

    ``|mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2))``. When the matrix square root
    is not finite or not accurate (ill-conditioned covariances), ``eps * I`` is added to
    both covariances; the tiny imaginary part ``sqrtm`` can return is dropped.

    Args:
        features_a: ``(n_a, d)`` features, one row per sample (``n_a >= 2``).
        features_b: ``(n_b, d)`` features of the other set.
        eps: Diagonal offset used when the square root is not finite.

    Returns:
        The distance, a float >= 0.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> a = rng.normal(size=(500, 4))
        >>> round(frechet_distance(a, a), 6)
        0.0
        >>> frechet_distance(a, a + 1.0) > 3.9
        True
    """
    a = np.asarray(features_a, dtype=np.float64)
    b = np.asarray(features_b, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise DataError(
            f"features must be two 2-D arrays (n, d) with the same d, got shapes "
            f"{a.shape} and {b.shape}; flatten images or use a feature extractor"
        )
    if len(a) < 2 or len(b) < 2:
        raise DataError(
            f"need at least 2 samples per set to estimate a covariance, got {len(a)} and {len(b)}"
        )
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise DataError("features contain NaN or inf; check the feature_fn and its input")

    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    cov_a = np.atleast_2d(np.cov(a, rowvar=False))
    cov_b = np.atleast_2d(np.cov(b, rowvar=False))
    covmean = _accurate_sqrtm(cov_a @ cov_b)
    if covmean is None:
        offset = np.eye(len(cov_a)) * eps
        covmean = _sqrtm((cov_a + offset) @ (cov_b + offset))
    covmean = np.real(covmean)
    diff = mu_a - mu_b
    value = diff @ diff + np.trace(cov_a) + np.trace(cov_b) - 2.0 * np.trace(covmean)
    # Round-off can push identical sets a hair below zero.
    return float(max(value, 0.0))


def _sqrtm(product: np.ndarray) -> np.ndarray:
    """Matrix square root, unchecked (see `_accurate_sqrtm`)."""
    from scipy import linalg

    with warnings.catch_warnings():
        # sqrtm warns about every singular product (dead ReLU features make many), yet
        # its result is usually exact; the residual check in `_accurate_sqrtm` matters.
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        return linalg.sqrtm(product)


def _accurate_sqrtm(product: np.ndarray) -> np.ndarray | None:
    """Matrix square root, or None when it is not finite or not accurate."""
    root = _sqrtm(product)
    if not np.isfinite(root).all():
        return None
    scale = max(float(np.linalg.norm(product)), 1e-30)
    return root if np.linalg.norm(root @ root - product) / scale < 1e-4 else None


class GanMonitor(keras.callbacks.Callback):
    """Record samples from fixed noise and the FID, before training and after each epoch.

    Entry 0 of ``samples`` and ``fid`` is the untrained generator (recorded at train
    begin); entry ``k`` is after epoch ``k``. The FID also goes into ``logs["fid"]``, so
    it lands in the ``History``.

    Args:
        feature_fn: Maps images in ``[-1, 1]``, ``(n, 8, 8, 1)``, to features ``(n, d)``
            (e.g. a classifier's penultimate layer).
        real_images: Real images in ``[-1, 1]``; their features are computed once.
        noise: Fixed noise ``(n_noise, latent_dim)`` for the sample strips.
        n_fid: Generated images per FID estimate (the same noise every time, so the
            curve shows the generator changing, not the sampling).
        seed: Seed of the FID noise.

    Example:
        >>> import numpy as np
        >>> from zoo.models.gan import GAN, build_discriminator, build_generator
        >>> gan = GAN(build_generator(latent_dim=8, filters=8),
        ...           build_discriminator(filters=8), latent_dim=8)
        >>> gan.compile()
        >>> real = np.random.default_rng(0).uniform(-1, 1, (32, 8, 8, 1)).astype("float32")
        >>> flat = lambda images: images.reshape(len(images), -1)[:, :8]
        >>> monitor = GanMonitor(flat, real, np.zeros((4, 8), "float32"), n_fid=32)
        >>> history = gan.fit(real, epochs=2, batch_size=16, verbose=0, callbacks=[monitor])
        >>> len(monitor.fid), monitor.samples[0].shape, len(history.history["fid"])
        (3, (4, 8, 8, 1), 2)
    """

    def __init__(
        self,
        feature_fn: Callable[[np.ndarray], np.ndarray],
        real_images: np.ndarray,
        noise: np.ndarray,
        n_fid: int = 500,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if n_fid < 2:
            raise ConfigError(f"n_fid must be >= 2 to estimate a covariance, got {n_fid}")
        self.feature_fn = feature_fn
        self.real_images = np.asarray(real_images, dtype="float32")
        self.noise = np.asarray(noise, dtype="float32")
        self.n_fid = int(n_fid)
        self.seed = int(seed)
        self.samples: list[np.ndarray] = []
        self.fid: list[float] = []
        self._real_features: np.ndarray | None = None
        self._fid_noise: np.ndarray | None = None

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        generator = self.model.generator
        latent_dim = generator.input_shape[-1]
        if self.noise.ndim != 2 or self.noise.shape[1] != latent_dim:
            raise DataError(
                f"noise must have shape (n, {latent_dim}) to match the generator, got "
                f"{self.noise.shape}"
            )
        if self._real_features is None:
            self._real_features = np.asarray(self.feature_fn(self.real_images))
        if self._fid_noise is None:
            rng = np.random.default_rng(self.seed)
            self._fid_noise = rng.standard_normal((self.n_fid, latent_dim)).astype("float32")
        # A second fit() continues the curves; only the first records the untrained state.
        if not self.fid:
            self._record()

    def backup_arrays(self) -> dict[str, np.ndarray]:
        """The records so far, for a resumable backup (`zoo.resume`).

        Example:
            >>> m = GanMonitor(lambda x: x, np.zeros((2, 1)), np.zeros((1, 2)), n_fid=2)
            >>> m.samples, m.fid = [np.zeros((1, 8, 8, 1))], [3.5]
            >>> {k: v.shape for k, v in m.backup_arrays().items()}
            {'samples': (1, 1, 8, 8, 1), 'fid': (1,)}
        """
        return {"samples": np.stack(self.samples), "fid": np.asarray(self.fid, np.float64)}

    def restore_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        """Continue from a backup's records (replacing what on_train_begin recorded).

        Example:
            >>> m = GanMonitor(lambda x: x, np.zeros((2, 1)), np.zeros((1, 2)), n_fid=2)
            >>> m.restore_arrays({"samples": np.zeros((3, 1, 8, 8, 1)), "fid": np.ones(3)})
            >>> len(m.samples), m.fid
            (3, [1.0, 1.0, 1.0])
        """
        self.samples = list(np.asarray(arrays["samples"]))
        self.fid = [float(v) for v in arrays["fid"]]

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        fid = self._record()
        if logs is not None:
            logs["fid"] = fid

    def _record(self) -> float:
        # on_train_begin sets both before the first record, and fit() always calls it first
        assert self._fid_noise is not None and self._real_features is not None
        from zoo.models.gan import generate_from_noise  # gan re-exports this module's names

        generator = self.model.generator
        self.samples.append(generate_from_noise(generator, self.noise))
        fake = generate_from_noise(generator, self._fid_noise)
        fid = frechet_distance(self._real_features, np.asarray(self.feature_fn(fake)))
        self.fid.append(fid)
        return fid
