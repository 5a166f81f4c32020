"""Explanation latency: `explain.explain` against shap's explainers used directly.

One process, the same trained models, the same inputs (the first N test samples) and the
same 100-sample background (a seeded draw from the training split) for every method.
Every method is warmed up once, then the methods take turns for several rounds; the
median round counts. Reported per explained sample (all outputs explained):

- cnn-digits: `explain.explain` (auto), `shap.DeepExplainer`, `shap.GradientExplainer`
  (nsamples 200, as ours), and `explain.explain` with the explainer rebuilt on every
  call (`explain.clear_cache()` first);
- gru-digits and the gan-digits discriminator: `explain.explain` vs `shap.GradientExplainer`
  (shap's DeepExplainer cannot run recurrent models);
- `explain.explain_test_split`: a repeat served from its disk cache vs a fresh computation.

Each method's additivity error (|sum of SHAP + base - f(x)| / mean |f(x) - base|) is
printed beside its latency, so speed is not bought with accuracy.

    python bench/explain_latency.py [--store DIR] [--n 64] [--repeats 5]

Without --store the three models are trained with their quick settings into a temporary
store. Writes bench/results/explain_latency.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from _common import machine  # bench/ is on sys.path when run as a script

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

RESULTS = Path(__file__).resolve().parent / "results" / "explain_latency.json"
MODELS = ("cnn-digits", "gru-digits", "gan-digits")
BACKGROUND = 100
NSAMPLES = 200  # gradient samples per input, ours and shap.GradientExplainer's


def load_or_train(name: str, store: str) -> Any:
    import zoo

    if any(r.status == "ok" for r in zoo.runs(name, store=store)):
        return zoo.load(name, store=store)
    print(f"training {name} (quick settings) into {store} ...", flush=True)
    return zoo.train(name, store=store, quick=True)


def background_for(data: Any) -> np.ndarray:
    """The same 100 training samples for every method: a seeded draw."""
    idx = np.sort(np.random.default_rng(0).choice(len(data.x_train), BACKGROUND, replace=False))
    return np.asarray(data.x_train[idx], np.float32)


def relative_additivity(model: Any, values: np.ndarray, bg: np.ndarray, x: np.ndarray) -> float:
    """Mean |sum of SHAP + base - f(x)| over mean |f(x) - base|, all outputs."""
    import explain

    out = np.asarray(model(x, training=False), np.float64).reshape(len(x), -1)
    base = np.asarray(model(bg, training=False), np.float64).reshape(len(bg), -1).mean(axis=0)
    values = np.asarray(values, np.float64)
    if values.shape == x.shape:  # one output without the trailing axis
        values = values[..., None]
    base_n = np.broadcast_to(base, out.shape)
    return explain.additivity_error(values, base_n, out)["relative"]


def shap_values_array(vals: Any) -> np.ndarray:
    if isinstance(vals, list):  # older shap: one array per output
        return np.stack(vals, axis=-1)
    return np.asarray(vals)


def rounds(
    methods: dict[str, Callable[[], Any]], n: int, repeats: int
) -> tuple[dict[str, float], dict[str, list[float]], dict[str, Any]]:
    """Warm every method once, then alternate them; median ms per sample of each."""
    last: dict[str, Any] = {}
    for name, fn in methods.items():
        last[name] = fn()  # warm-up: explainer built, graphs traced
    times: dict[str, list[float]] = {name: [] for name in methods}
    for _ in range(repeats):
        for name, fn in methods.items():
            start = time.perf_counter()
            last[name] = fn()
            times[name].append(1000.0 * (time.perf_counter() - start) / n)
    med = {name: statistics.median(ts) for name, ts in times.items()}
    return med, times, last


def bench_cnn(m: Any, n: int, repeats: int) -> dict[str, Any]:
    import shap

    import explain

    data = m.dataset()
    x = np.asarray(data.x_test[:n], np.float32)
    bg = background_for(data)
    model = m.model
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        deep = shap.DeepExplainer(model, bg)
        grad = shap.GradientExplainer(model, bg)

    def ours() -> np.ndarray:
        return explain.explain(m, x, background=bg).values

    def rebuilt() -> np.ndarray:
        explain.clear_cache()
        return explain.explain(m, x, background=bg).values

    def shap_deep() -> np.ndarray:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return shap_values_array(deep.shap_values(x, check_additivity=False))

    def shap_gradient() -> np.ndarray:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return shap_values_array(grad.shap_values(x, nsamples=NSAMPLES, rseed=0))

    methods = {
        "explain.explain (auto, warm)": ours,
        "shap.DeepExplainer": shap_deep,
        "shap.GradientExplainer": shap_gradient,
        "explain.explain (explainer rebuilt per call)": rebuilt,
    }
    med, times, last = rounds(methods, n, repeats)
    return {
        "ms_per_sample": med,
        "all_rounds_ms_per_sample": times,
        "additivity_relative": {k: relative_additivity(model, v, bg, x) for k, v in last.items()},
    }


def bench_gradient_pair(m: Any, model: Any, x: np.ndarray, n: int, repeats: int) -> dict[str, Any]:
    import shap

    import explain

    bg = background_for(m.dataset())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        grad = shap.GradientExplainer(model, bg)

    def ours() -> np.ndarray:
        return explain.explain(m, x, background=bg).values

    def shap_gradient() -> np.ndarray:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return shap_values_array(grad.shap_values(x, nsamples=NSAMPLES, rseed=0))

    methods = {"explain.explain (auto, warm)": ours, "shap.GradientExplainer": shap_gradient}
    med, times, last = rounds(methods, n, repeats)
    return {
        "ms_per_sample": med,
        "all_rounds_ms_per_sample": times,
        "additivity_relative": {k: relative_additivity(model, v, bg, x) for k, v in last.items()},
    }


def bench_test_split_cache(m: Any, repeats: int) -> dict[str, Any]:
    import explain

    # warm-up: the explainer is built by a fresh computation; only this one cache file is
    # ever removed (a --store keeps its other cached explanations)
    cache = Path(str(explain.info(explain.explain_test_split(m)).cache_file))
    cache.unlink()
    explain.explain_test_split(m)
    fresh, cached = [], []
    for _ in range(repeats):
        cache.unlink()
        start = time.perf_counter()
        e = explain.explain_test_split(m)
        fresh.append(time.perf_counter() - start)
        assert not explain.info(e).cached
        start = time.perf_counter()
        e = explain.explain_test_split(m)
        cached.append(time.perf_counter() - start)
        assert explain.info(e).cached
    f, c = statistics.median(fresh), statistics.median(cached)
    return {
        "test_samples": int(len(e.values)),
        "fresh_s": f,
        "cached_s": c,
        "ratio_fresh_over_cached": f / c,
        "all_rounds_s": {"fresh": fresh, "cached": cached},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", default=None, help="store with trained models (else: train)")
    parser.add_argument("--n", type=int, default=64, help="test samples explained per call")
    parser.add_argument("--repeats", type=int, default=5, help="timed rounds per method")
    args = parser.parse_args()

    import keras
    import shap
    import tensorflow as tf

    import zoo

    tmp = None
    store = args.store
    if store is None:
        tmp = tempfile.mkdtemp(prefix="bench-explain-")
        store = tmp
    try:
        trained = {name: load_or_train(name, store) for name in MODELS}
        print(f"n={args.n} samples per call, background={BACKGROUND}, repeats={args.repeats}")

        cnn = bench_cnn(trained["cnn-digits"], args.n, args.repeats)
        gru_m = trained["gru-digits"]
        gru_x = np.asarray(gru_m.dataset().x_test[: args.n], np.float32)
        gru = bench_gradient_pair(gru_m, gru_m.model, gru_x, args.n, args.repeats)
        gan_m = trained["gan-digits"]
        gan_x = np.asarray(gan_m.dataset().x_test[: args.n], np.float32)
        gan = bench_gradient_pair(gan_m, gan_m.discriminator, gan_x, args.n, args.repeats)
        split = bench_test_split_cache(trained["cnn-digits"], args.repeats)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)

    ours = "explain.explain (auto, warm)"
    cnn_ms = cnn["ms_per_sample"]
    ratios = {
        "cnn_deep_over_explain": cnn_ms["shap.DeepExplainer"] / cnn_ms[ours],
        "cnn_gradient_over_explain": cnn_ms["shap.GradientExplainer"] / cnn_ms[ours],
        "cnn_rebuilt_over_warm": cnn_ms["explain.explain (explainer rebuilt per call)"]
        / cnn_ms[ours],
        "gru_gradient_over_explain": gru["ms_per_sample"]["shap.GradientExplainer"]
        / gru["ms_per_sample"][ours],
        "gan_gradient_over_explain": gan["ms_per_sample"]["shap.GradientExplainer"]
        / gan["ms_per_sample"][ours],
        "test_split_fresh_over_cached": split["ratio_fresh_over_cached"],
    }
    goals = {
        "cnn_warm_latency_le_shap_deep": {
            "goal": "explain.explain warm ms/sample <= shap.DeepExplainer's (cnn-digits)",
            "met": bool(cnn_ms[ours] <= cnn_ms["shap.DeepExplainer"]),
        },
        "cached_repeat_ge_10x": {
            "goal": "explain_test_split cached repeat >= 10x faster than fresh",
            "met": bool(split["ratio_fresh_over_cached"] >= 10),
        },
    }

    def show(title: str, res: dict[str, Any]) -> None:
        print(f"\n{title} (ms per sample, median; additivity error relative)")
        for k, v in res["ms_per_sample"].items():
            print(f"  {k:<46} {v:9.2f} ms   {res['additivity_relative'][k]:.3f}")

    show("cnn-digits", cnn)
    show("gru-digits", gru)
    show("gan-digits discriminator", gan)
    print(
        f"\nexplain_test_split ({split['test_samples']} samples): fresh {split['fresh_s']:.2f} s, "
        f"cached {1000 * split['cached_s']:.1f} ms, ratio {split['ratio_fresh_over_cached']:.0f}x"
    )
    print("\nratios (>1: explain.explain faster):")
    for k, v in ratios.items():
        print(f"  {k:<32} {v:8.2f}")
    for g in goals.values():
        print(f"goal: {g['goal']}: {'met' if g['met'] else 'NOT met'}")

    result = {
        "benchmark": "explain_latency",
        "date": dt.date.today().isoformat(),
        "machine": machine(),
        "versions": {
            "python": platform.python_version(),
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "shap": shap.__version__,
            "keras-zoo": zoo.__version__,
        },
        "settings": {
            "samples_per_call": args.n,
            "background": f"{BACKGROUND} training samples, seeded draw, same for every method",
            "nsamples": NSAMPLES,
            "repeats": args.repeats,
            "statistic": "median over rounds of (call time / samples); one warm-up call first",
            "store": args.store or "temporary, trained with quick settings",
        },
        "cnn-digits": cnn,
        "gru-digits": gru,
        "gan-digits discriminator": gan,
        "explain_test_split cache (cnn-digits)": split,
        "ratios": ratios,
        "goals": goals,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2, default=float) + "\n")
    print(f"\nwrote {RESULTS}")


if __name__ == "__main__":
    main()
