"""Classic baselines on a run's own splits, and how the trained model compares with them.

Does the deep model beat the simple thing on the same data? Per task: classifiers get
logistic regression and an RBF SVC (regularization and kernel width by 3-fold stratified
`GridSearchCV`, small fixed grids); forecasters the naive forecast (no change) and a ridge
regression on the same window (penalty by time-ordered CV, `TimeSeriesSplit`: every fold
validates on weeks after the ones it fits); other regressions (a user's table) the
training mean and a ridge regression on the standardized features (penalty by shuffled
5-fold CV: rows have no order); the GAN Gaussian "generators" fitted to the
training images (independent pixels; one full pixel covariance), scored by the Fréchet
distance in the GAN's own feature space against the same real images.

Baselines learn from what the model learned from or was selected with, never the test
split: for classifiers and forecasters the training split (the subset `max_train_samples`
picks) plus the validation split, which the model uses for early stopping and its
learning-rate schedule and the baselines inside cross-validation (`fit_split`); for the
GAN the training images alone, since its Fréchet distance compares with the validation
and test images. Model and baselines are scored on the same test samples; every headline
number gets a 95 % bootstrap interval (`zoo.intervals`), model − best baseline a paired one.

Images and windows are flattened for scikit-learn; tabular features are standardized in
the pipeline (pixels share one scale, and standardizing near-constant border pixels only
amplifies noise). Fits run with one BLAS thread: on two shared cores, two threads per
process made logistic regression ~100x slower (measured).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from zoo import intervals
from zoo.errors import ConfigError, ZooError

SVC_C = (1.0, 10.0, 100.0)
# Multiples of scikit-learn's "scale" kernel width, 1 / (n_features * X.var()).
SVC_GAMMA_FACTORS = (0.25, 1.0, 4.0)
LOGISTIC_C = (0.1, 1.0, 10.0)
RIDGE_ALPHAS = (0.01, 0.1, 1.0, 10.0, 100.0, 1000.0, 10000.0)
# CV folds: 3 for classifiers (digits' SVC grid: 1.5 s instead of 3.8 s with 5, measured;
# each fold still validates on ~500 images), 5 for the cheap ridge.
CLASSIFIER_FOLDS, FORECASTER_FOLDS = 3, 5
# Kernel SVMs scale with n²: larger fit sets are cut to a seeded, stratified subset of
# this size (`n_fit` says so), which keeps MNIST-sized user data in seconds.
MAX_FIT_SAMPLES = 5000
LABELS = {
    "logistic_regression": "logistic regression",
    "svc_rbf": "RBF SVC",
    "naive": "naive (no change)",
    "mean": "training mean",
    "ridge": "ridge regression",
    "gaussian_pixels": "per-pixel Gaussian",
    "gaussian_full": "Gaussian, full covariance",
}
# Fitted baselines by a digest of their fit data: the three digits classifiers of one
# `zoo train --all` share it, and a fit depends on nothing else.
_CACHE: dict[str, dict[str, Fitted]] = {}
_CACHE_SIZE = 8


@dataclass(frozen=True)
class Fitted:
    """One fitted baseline: its estimator, the hyper-parameters cross-validation chose,
    its mean validation score there, and how many samples it was fitted on.

    Example:
        >>> Fitted("ridge", None, {"alpha": 1.0}, -0.5, 100).n_fit
        100
    """

    name: str
    estimator: Any
    params: dict[str, Any]
    cv_score: float | None
    n_fit: int


def flatten(x: np.ndarray) -> np.ndarray:
    """Samples as rows of float64 features (images and windows flattened).

    Example:
        >>> flatten(np.zeros((3, 8, 8, 1))).shape
        (3, 64)
    """
    x = np.asarray(x, np.float64)
    return x.reshape(len(x), -1)


def fit_split(
    x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray, y_val: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """What a classifier's or forecaster's baselines are fitted on: the training split the
    model fitted (possibly its `max_train_samples` subset) followed by the validation split
    it was selected with; flattened, time order kept.

    Example:
        >>> x, y = fit_split(np.zeros((4, 2, 2)), np.arange(4), np.ones((2, 2, 2)), np.arange(2))
        >>> x.shape, y.tolist()
        ((6, 4), [0, 1, 2, 3, 0, 1])
    """
    x = np.concatenate([flatten(x_train), flatten(x_val)])
    y = np.concatenate([np.ravel(y_train), np.ravel(y_val)])
    return x, y


def fit_classifiers(
    x: np.ndarray, y: np.ndarray, *, standardize: bool = False, seed: int = 0
) -> dict[str, Fitted]:
    """Logistic regression and an RBF SVC, hyper-parameters by 3-fold stratified CV on
    `(x, y)` only (accuracy), refitted on all of it. Deterministic.

    Example:
        >>> from sklearn.datasets import load_iris
        >>> x, y = load_iris(return_X_y=True)
        >>> fits = fit_classifiers(x, y, standardize=True)
        >>> sorted(fits), fits["svc_rbf"].n_fit, sorted(fits["svc_rbf"].params)
        (['logistic_regression', 'svc_rbf'], 150, ['C', 'gamma'])
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold
    from sklearn.svm import SVC

    x, y = _limit(flatten(x), np.ravel(y).astype(int), seed)
    spread = float(x.var()) if not standardize else 1.0
    gamma0 = 1.0 / (x.shape[1] * spread) if spread > 0 else 1.0
    # Fewer folds when the rarest class has fewer than CLASSIFIER_FOLDS samples.
    rarest = int(np.unique(y, return_counts=True)[1].min()) if len(y) else 2
    cv = StratifiedKFold(max(2, min(CLASSIFIER_FOLDS, rarest)))
    grids = {
        "logistic_regression": (LogisticRegression(max_iter=2000), {"C": list(LOGISTIC_C)}),
        "svc_rbf": (
            SVC(kernel="rbf"),
            {"C": list(SVC_C), "gamma": [gamma0 * f for f in SVC_GAMMA_FACTORS]},
        ),
    }
    return _cached(
        _digest("classifiers", x, y, standardize, seed),
        lambda: {
            name: _grid_search(name, est, grid, x, y, cv, "accuracy", standardize)
            for name, (est, grid) in grids.items()
        },
    )


def fit_forecasters(x: np.ndarray, y: np.ndarray, *, ordered: bool = True) -> dict[str, Fitted]:
    """A ridge regression on the flattened windows, its penalty chosen by 5-fold
    time-ordered CV (`TimeSeriesSplit`, mean squared error) on `(x, y)` only, refitted
    on all of it. The naive forecast needs no fit. `ordered=False` (rows of a table,
    which have no order): shuffled, seeded 5-fold CV on standardized features.

    Example:
        >>> t = np.arange(200.0)
        >>> x = np.stack([np.sin(t + k) for k in range(5)], axis=1)
        >>> fits = fit_forecasters(x, np.sin(t + 5))
        >>> fits["ridge"].estimator.n_features_in_, fits["ridge"].n_fit
        (5, 200)
    """
    from sklearn.linear_model import Ridge
    from sklearn.model_selection import KFold, TimeSeriesSplit

    x, y = flatten(x), np.ravel(y).astype(np.float64)
    folds = min(FORECASTER_FOLDS, max(2, len(x) // 10))
    cv = TimeSeriesSplit(n_splits=folds) if ordered else KFold(folds, shuffle=True, random_state=0)
    grid = {"alpha": list(RIDGE_ALPHAS)}
    mse = "neg_mean_squared_error"
    return _cached(
        _digest("forecasters" if ordered else "regressors", x, y),
        lambda: {"ridge": _grid_search("ridge", Ridge(), grid, x, y, cv, mse, not ordered)},
    )


def compare_classifier(
    fit: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray],
    proba: np.ndarray,
    *,
    n_classes: int,
    standardize: bool = False,
    seed: int = 0,
    resamples: int = intervals.RESAMPLES,
) -> dict[str, Any]:
    """A classifier's baselines, the intervals of its test metrics and its comparison
    with the best baseline on accuracy (the `metrics.json` keys `baselines`, `intervals`,
    `vs_baseline`). `proba` is the model's (n, K) output on `test`'s inputs.

    Example:
        >>> from sklearn.datasets import load_iris
        >>> x, y = load_iris(return_X_y=True)
        >>> test = np.arange(0, 150, 5)
        >>> fit = np.setdiff1d(np.arange(150), test)
        >>> out = compare_classifier((x[fit], y[fit]), (x[test], y[test]), np.eye(3)[y[test]],
        ...                          n_classes=3, standardize=True)
        >>> out["baselines"]["n_fit"], out["intervals"]["metrics"]["accuracy"]
        (120, [1.0, 1.0])
        >>> out["vs_baseline"]["verdict"] in (intervals.SAME, intervals.BEATS)
        True
    """
    from sklearn.metrics import f1_score

    from zoo.evaluation import class_probabilities

    start = time.perf_counter()
    (x_fit, y_fit), (x_test, y_test) = fit, test
    y_test = np.ravel(y_test).astype(int)
    with _one_thread():
        fits = fit_classifiers(x_fit, y_fit, standardize=standardize, seed=seed)
        preds = {n: f.estimator.predict(flatten(x_test)) for n, f in fits.items()}
        scores = {n: p == y_test for n, p in preds.items()}
        labels = list(range(n_classes))
        f1 = {
            n: f1_score(y_test, p, labels=labels, average="macro", zero_division=0)
            for n, p in preds.items()
        }
        records = {
            n: _record(f, scores[n], seed, resamples, f1_macro=float(f1[n]))
            for n, f in fits.items()
        }
        model_correct = class_probabilities(proba).argmax(axis=1) == y_test
        metric_iv = intervals.classification_intervals(
            y_test, proba, n_classes, resamples=resamples, seed=seed
        )
    n_fit = next(iter(fits.values())).n_fit
    return _paired_blocks(
        "accuracy", True, records, scores, model_correct, metric_iv, n_fit, seed, resamples, start
    )


def compare_forecaster(
    fit: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray],
    prediction: np.ndarray,
    *,
    to_units: Callable[[np.ndarray], np.ndarray] = np.asarray,
    naive: tuple[str, np.ndarray] | None = None,
    seed: int = 0,
    resamples: int = intervals.RESAMPLES,
) -> dict[str, Any]:
    """A forecaster's baselines (naive, ridge), the intervals of its test metrics and its
    comparison with the best baseline on MSE, all in data units (`to_units` converts
    model outputs). `prediction` is the model's output on `test`'s inputs.

    `naive` is `zoo.evaluation.naive_baseline`'s (rule, test-split prediction); by
    default no change (zeros). With the training-mean rule (a table regression) the
    baseline is called `mean` and the ridge is cross-validated on shuffled rows.

    Example:
        >>> t = np.arange(300.0)
        >>> x = np.stack([np.sin(0.3 * (t + k)) for k in range(6)], axis=1)
        >>> y = np.sin(0.3 * (t + 6))
        >>> out = compare_forecaster((x[:240], y[:240]), (x[240:], y[240:]), np.zeros(60))
        >>> out["baselines"]["best"], out["vs_baseline"]["verdict"]
        ('ridge', 'the baseline is better')
    """
    start = time.perf_counter()
    (x_fit, y_fit), (x_test, y_test) = fit, test
    y_true = np.asarray(to_units(np.ravel(y_test)), np.float64)
    from zoo.evaluation import NO_CHANGE

    # What `zoo.training.test_metrics` scores the naive baseline with (no change by default).
    rule, given = naive if naive is not None else (NO_CHANGE, np.zeros_like(y_true))
    naive_pred = np.asarray(given, np.float64).ravel()
    key = "naive" if rule == NO_CHANGE else "mean"
    with _one_thread():
        fits = fit_forecasters(x_fit, y_fit, ordered=rule == NO_CHANGE)
        preds = {key: naive_pred}
        preds |= {n: to_units(f.estimator.predict(flatten(x_test))) for n, f in fits.items()}
        scores = {n: (np.ravel(p) - y_true) ** 2 for n, p in preds.items()}
        every = {key: Fitted(key, None, {}, None, 0), **fits}
        records = {
            n: _record(f, scores[n], seed, resamples, mae=float(np.abs(preds[n] - y_true).mean()))
            for n, f in every.items()
        }
        model = np.ravel(to_units(np.ravel(prediction)))
        metric_iv = intervals.regression_intervals(
            y_true, model, naive_pred, resamples=resamples, seed=seed
        )
    model_se = (model - y_true) ** 2
    n_fit = fits["ridge"].n_fit
    return _paired_blocks(
        "mse", False, records, scores, model_se, metric_iv, n_fit, seed, resamples, start
    )


def compare_run(
    cfg: Any,
    data: Any,
    model: Any,
    *,
    features: Callable[[np.ndarray], np.ndarray] | None = None,
    resamples: int = intervals.RESAMPLES,
) -> dict[str, Any]:
    """The `baselines`, `intervals` and `vs_baseline` blocks of one run: `model` is the
    trained Keras model (the generator for a GAN, with its Fréchet `features` function),
    `cfg` and `data` what it was trained with. The bootstrap is seeded by `cfg.seed`.

    Example:
        >>> m = zoo.load("mlp-cancer")
        >>> out = compare_run(m.config, m.dataset(), m.model, resamples=200)
        >>> out["vs_baseline"]["model"] == m.metrics["accuracy"], out["baselines"]["n_fit"]
        (True, 483)
    """
    from zoo.registry import get_spec
    from zoo.training import train_split

    task = get_spec(cfg.model).task
    x_train, y_train = train_split(cfg, data)
    if task == "generation":
        if features is None:
            raise ConfigError("a generator's baselines need its Fréchet `features` function")
        from zoo.models.gan import generate_from_noise

        real = np.concatenate([data.x_val, data.x_test])
        # The noise `zoo.models.gan.GanMonitor` scores the generator with (its FID rule).
        n_fid = min(cfg.fid_samples, len(real))
        noise = np.random.default_rng(cfg.seed).standard_normal((n_fid, cfg.latent_dim))
        fake = generate_from_noise(model, noise.astype("float32"))
        real_f, fake_f = np.split(np.asarray(features(np.concatenate([real, fake]))), [len(real)])
        from zoo.baselines_gan import compare_generator

        return compare_generator(
            x_train, real_f, fake_f, features, seed=cfg.seed, resamples=resamples
        )
    raw = np.asarray(model.predict(data.x_test, batch_size=1024, verbose=0))
    fit, test = fit_split(x_train, y_train, data.x_val, data.y_val), (data.x_test, data.y_test)
    if task == "classification":
        return compare_classifier(
            fit, test, raw, n_classes=data.n_classes, seed=cfg.seed, resamples=resamples,
            standardize=data.input_kind == "tabular",
        )  # fmt: skip
    from zoo.evaluation import naive_baseline

    return compare_forecaster(
        fit, test, raw, to_units=data.to_units, naive=naive_baseline(data), seed=cfg.seed,
        resamples=resamples,
    )  # fmt: skip


def compare_trained(trained: Any, store: Any = None) -> dict[str, Any]:
    """`compare_run` for a stored model (one trained before baselines were stored, say);
    a GAN's features come from the `cnn-digits` version its metrics name.

    Example:
        >>> m = zoo.load("lstm-co2")
        >>> compare_trained(m)["baselines"]["best"] in ("naive", "ridge")
        True
    """
    features = None
    if trained.task == "generation":
        from zoo.models.gan_family import feature_fn
        from zoo.store import Store

        features = feature_fn(store if isinstance(store, Store) else Store(store))
        wanted = trained.metrics.get("fid_feature_model")
        source = getattr(features, "source", wanted)
        if wanted and source != wanted:
            raise ZooError(
                f"{trained.ref} was scored in {wanted}'s feature space but the store's "
                f"latest is {source}; compare in a store whose latest is {wanted}"
            )
    return compare_run(trained.config, trained.dataset(), trained.model, features=features)


# --- helpers ---------------------------------------------------------------------------


def _grid_search(
    name: str,
    estimator: Any,
    grid: dict[str, list[Any]],
    x: np.ndarray,
    y: np.ndarray,
    cv: Any,
    scoring: str,
    standardize: bool,
) -> Fitted:
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if standardize:
        estimator = make_pipeline(StandardScaler(), estimator)
        grid = {f"{type(estimator.steps[-1][1]).__name__.lower()}__{k}": v for k, v in grid.items()}
    search = GridSearchCV(estimator, grid, cv=cv, scoring=scoring, n_jobs=1)
    with warnings.catch_warnings():
        # A weak grid point that does not converge loses the CV; the winner is refitted.
        warnings.simplefilter("ignore", ConvergenceWarning)
        search.fit(x, y)
    # numpy scalars from the grid -> JSON numbers.
    params = {
        k.rsplit("__", 1)[-1]: v.item() if isinstance(v, np.generic) else v
        for k, v in search.best_params_.items()
    }
    return Fitted(name, search.best_estimator_, params, float(search.best_score_), len(x))


def _record(fit: Fitted, per_sample: np.ndarray, seed: int, resamples: int, **extra: Any) -> dict:
    return {
        "label": LABELS.get(fit.name, fit.name),
        "value": float(np.mean(per_sample)),
        "interval": intervals.mean_interval(per_sample, resamples=resamples, seed=seed),
        "params": fit.params,
        "cv_score": fit.cv_score,
        "n_fit": fit.n_fit,
        **extra,
    }


def _paired_blocks(
    metric: str,
    higher: bool,
    records: dict[str, dict],
    scores: dict[str, np.ndarray],
    model_scores: np.ndarray,
    metric_iv: dict[str, intervals.Interval | None],
    n_fit: int,
    seed: int,
    resamples: int,
    start: float,
) -> dict[str, Any]:
    # A classifier's or forecaster's blocks: the paired difference from per-sample scores.
    best = (max if higher else min)(records, key=lambda k: records[k]["value"])
    model_scores = np.asarray(model_scores, np.float64)
    paired = intervals.paired_difference(
        model_scores, scores[best], higher_is_better=higher, resamples=resamples, seed=seed
    )
    head = (metric, higher, "train + validation", n_fit, len(model_scores))
    return _blocks(
        head, records, float(model_scores.mean()), paired, metric_iv, seed, resamples, start
    )


def _blocks(
    head: tuple[str, bool, str, int, int],
    records: dict[str, dict],
    model_value: float,
    paired: dict[str, Any],
    metric_iv: dict[str, intervals.Interval | None],
    seed: int,
    resamples: int,
    start: float,
    method: str = intervals.METHOD,
) -> dict[str, Any]:
    # The three metrics.json blocks: baselines, intervals, vs_baseline.
    metric, higher, fit_on, n_fit, n_test = head
    best = (max if higher else min)(records, key=lambda k: records[k]["value"])
    return {
        "baselines": {
            "metric": metric,
            "higher_is_better": higher,
            "fit_on": fit_on,
            "n_fit": n_fit,
            "n_test": n_test,
            "models": records,
            "best": best,
            "seconds": time.perf_counter() - start,
        },
        "intervals": {
            "level": intervals.LEVEL,
            "method": method,
            "resamples": resamples,
            "seed": seed,
            "metrics": metric_iv,
        },
        "vs_baseline": {
            "baseline": best,
            "label": records[best]["label"],
            "metric": metric,
            "higher_is_better": higher,
            "model": model_value,
            "baseline_value": records[best]["value"],
            **paired,
        },
    }


def _limit(x: np.ndarray, y: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    # A seeded, stratified MAX_FIT_SAMPLES subset of large fit sets (time order kept).
    if len(x) <= MAX_FIT_SAMPLES:
        return x, y
    from sklearn.model_selection import train_test_split

    keep, _ = train_test_split(
        np.arange(len(x)), train_size=MAX_FIT_SAMPLES, stratify=y, random_state=seed
    )
    keep = np.sort(keep)
    return x[keep], y[keep]


def _digest(*parts: Any) -> str:
    h = hashlib.sha1()
    for part in parts:
        arr = isinstance(part, np.ndarray)
        h.update(repr((part.shape, part.dtype) if arr else part).encode())
        h.update(np.ascontiguousarray(part).tobytes() if arr else b"")
    return h.hexdigest()


def _cached(key: str, fit: Callable[[], dict[str, Fitted]]) -> dict[str, Fitted]:
    if key not in _CACHE:
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = fit()
    return _CACHE[key]


def _one_thread() -> Any:
    from threadpoolctl import threadpool_limits

    return threadpool_limits(1)
