"""How close each attribution method is to the true (interventional) Shapley values.

cnn-digits, its 10 softmax outputs, the first N test images, and one 100-image background
(a seeded draw from the training split) shared by every method and by the reference. The
estimand is the interventional Shapley value of each of the 64 pixels: the value function
of a coalition S is the mean over the background rows of f(x_S, background_rest). Methods:

- (a) `explain.explain`'s default: layer-wise DeepSHAP rules over 4 segments of every
  reference's path; (e) the same rules with one segment (DeepLIFT's single step);
- (b) `shap.DeepExplainer` (DeepLIFT rescale), run LAST in the process: it patches
  TensorFlow's gradient registry while it runs;
- (c) `explain.explain(..., method="expected_gradients")`: our expected gradients;
- (d) `shap.GradientExplainer` with nsamples 2,000 (shap's expected gradients; shap runs
  the model in training mode, so its dropout and augmentation layers are active in it).

Every shap call is wrapped in `keep_model_state`, so the model that (a), (c) and the
reference see is the stored one. The reference is `shap.PermutationExplainer` (antithetic
permutations) with an `Independent` masker over all 100 background rows, which estimates
exactly this estimand: two independent runs A and B, each extended chunk by chunk (20
permutation pairs per chunk, fresh seeds), until the rank agreement of A's and B's means
reaches --target (after at least two chunks) or the next chunk would pass --budget
seconds. The reference is (A + B) / 2; the A-vs-B row is its noise floor (what a perfect
method could reach against a reference of that noise, roughly).

Metrics against the reference, one map = one (sample, output) pair of 64 attributions:
mean Spearman rank correlation over maps (`explain.fidelity.rank_correlation`) for all
outputs and for the predicted class only, its standard error over maps, median relative
L2 error |phi - ref| / |ref| per map, Spearman of |phi|, max additivity error
|sum phi - (f(x) - mean f(background))|, the per-map paired win fractions (a beats e,
a beats d, c beats a, c beats d, e beats b: the share of maps whose Spearman is strictly
higher) and each
method's wall time (one cold call each: building the explainer and tracing included).

    python bench/shapley_reference.py [--store DIR] [--n 8] [--budget 900] [--target 0.97]
                                      [--out FILE] [--save-npz FILE]

Without --store cnn-digits is trained with its full defaults (`zoo.train`) into a
temporary store (a --store without a good cnn-digits version is trained into). Writes
bench/results/shapley_reference.json; --save-npz also saves every attribution array,
the reference, runs A and B, x and the background (not meant for bench/results).
Takes about 20 minutes on 2 CPU cores with the defaults, almost all of it the reference.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from _common import (  # bench/ is on sys.path when run as a script
    header,
    store_or_temporary,
    write_results,
)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

RESULTS = Path(__file__).resolve().parent / "results" / "shapley_reference.json"
MODEL = "cnn-digits"
BACKGROUND = 100
GRADIENT_NSAMPLES = 2000  # shap.GradientExplainer, method (d)
PERMS_PER_CHUNK = 20  # antithetic permutation pairs per reference chunk and run
PIXELS, OUTPUTS = 64, 10
METHODS = {
    "a_layerwise": "explain.explain default: layer-wise DeepSHAP rules, 4 path segments",
    "b_deep_shap": "shap.DeepExplainer (DeepLIFT rescale; run last)",
    "c_expected_gradients": "explain.explain(method='expected_gradients')",
    "d_gradient_shap": f"shap.GradientExplainer (nsamples {GRADIENT_NSAMPLES:,})",
    "e_layerwise_1_segment": "explain.explain(method='layerwise', nsamples=1): DeepLIFT's step",
}
NOISE = "reference run A vs run B (noise floor)"
WINS = (  # (winner, loser): share of maps where the winner's Spearman is strictly higher
    ("a_layerwise", "e_layerwise_1_segment"),
    ("a_layerwise", "d_gradient_shap"),
    ("c_expected_gradients", "a_layerwise"),
    ("c_expected_gradients", "d_gradient_shap"),
    ("e_layerwise_1_segment", "b_deep_shap"),
)


def load_or_train(store: str) -> Any:
    import zoo

    if any(r.status == "ok" for r in zoo.runs(MODEL, store=store)):
        return zoo.load(MODEL, store=store)
    print(f"training {MODEL} (full defaults) into {store} ...", flush=True)
    return zoo.train(MODEL, store=store)


def as_maps(values: Any, n: int) -> np.ndarray:
    """Attributions of any of the methods as float64 (n, 64 pixels, 10 outputs)."""
    if isinstance(values, list):  # older shap: one array per output
        values = np.stack([np.asarray(v) for v in values], axis=-1)
    a = np.asarray(values, np.float64)
    if a.shape != (n, 8, 8, 1, OUTPUTS):
        raise ValueError(f"attributions have shape {a.shape}; expected {(n, 8, 8, 1, OUTPUTS)}")
    return a.reshape(n, PIXELS, OUTPUTS)


def shapley_reference(
    model: Any, x: np.ndarray, bg: np.ndarray, budget: float, target: float
) -> dict[str, Any]:
    """Two independent permutation estimates, extended until they agree or time runs out."""
    import shap
    import tensorflow as tf

    from explain.fidelity import rank_correlation

    n = len(x)
    fn = tf.function(
        lambda z: model(z, training=False),
        input_signature=[tf.TensorSpec([None, 8, 8, 1], tf.float32)],
    )

    def f(z: np.ndarray) -> np.ndarray:
        return fn(np.asarray(z, np.float32).reshape(-1, 8, 8, 1)).numpy()

    masker = shap.maskers.Independent(bg.reshape(len(bg), PIXELS), max_samples=len(bg))
    chunk_evals = PERMS_PER_CHUNK * (2 * PIXELS + 1)

    def chunk(seed: int) -> np.ndarray:
        explainer = shap.PermutationExplainer(f, masker, seed=seed)
        np.random.seed(seed)
        out = explainer(x.reshape(n, PIXELS), max_evals=chunk_evals, batch_size=5000, silent=True)
        return np.asarray(out.values, np.float64)

    runs: dict[str, list[np.ndarray]] = {"A": [], "B": []}
    history: list[dict[str, float]] = []
    start = time.perf_counter()
    k = 0
    while True:
        t = time.perf_counter()
        runs["A"].append(chunk(1000 + 2 * k))
        runs["B"].append(chunk(1001 + 2 * k))
        k += 1
        a, b = np.mean(runs["A"], axis=0), np.mean(runs["B"], axis=0)
        rank_ab = rank_correlation(a, b)
        rel = np.linalg.norm(a - b, axis=1) / np.linalg.norm((a + b) / 2, axis=1)
        took, elapsed = time.perf_counter() - t, time.perf_counter() - start
        history.append(
            {
                "max_evals_per_run": k * chunk_evals,
                "rank_AB": rank_ab,
                "relL2_AB_median": float(np.median(rel)),
                "elapsed_s": elapsed,
            }
        )
        print(
            f"reference chunk {k}: max_evals/run {k * chunk_evals}, rank A-B {rank_ab:.4f}, "
            f"rel L2 A-B {np.median(rel):.4f} ({took:.0f} s, {elapsed:.0f} s in all)",
            flush=True,
        )
        if rank_ab >= target and k >= 2:
            stopped_by = "target"
            break
        if elapsed + took > budget:  # the next chunk would (probably) pass the budget
            stopped_by = "budget"
            break
    a, b = np.mean(runs["A"], axis=0), np.mean(runs["B"], axis=0)
    return {
        "A": a,
        "B": b,
        "ref": (a + b) / 2,
        "chunks": k,
        "chunk_evals": chunk_evals,
        "history": history,
        "seconds": time.perf_counter() - start,
        "converged": bool(history[-1]["rank_AB"] >= target),
        "stopped_by": stopped_by,
    }


def per_map_spearman(phi: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Spearman of every (sample, output) map, shape (n, 10)."""
    from explain.fidelity import rank_correlation

    n = len(ref)
    return np.array(
        [
            [
                rank_correlation(phi[i : i + 1, :, k : k + 1], ref[i : i + 1, :, k : k + 1])
                for k in range(OUTPUTS)
            ]
            for i in range(n)
        ]
    )


def metrics(
    phi: np.ndarray, ref: np.ndarray, pred: np.ndarray, gap: np.ndarray
) -> dict[str, float]:
    """Agreement of phi with ref, all outputs and the predicted class; additivity."""
    from explain.fidelity import rank_correlation

    n = len(ref)
    rows = np.arange(n)

    def predicted(a: np.ndarray) -> np.ndarray:
        return a[rows, :, pred][:, :, None]  # (n, 64, 1)

    rel = np.linalg.norm(phi - ref, axis=1) / np.linalg.norm(ref, axis=1)  # (n, 10)
    maps = per_map_spearman(phi, ref)
    return {
        "spearman_all": rank_correlation(phi, ref),
        "spearman_all_se": float(maps.std() / np.sqrt(maps.size)),
        "spearman_pred": rank_correlation(predicted(phi), predicted(ref)),
        "relL2_median_all": float(np.median(rel)),
        "relL2_median_pred": float(np.median(rel[rows, pred])),
        "spearman_abs_all": rank_correlation(phi, ref, absolute=True),
        "additivity_max": float(np.abs(phi.sum(axis=1) - gap).max()),
    }


def paired_wins(values: dict[str, np.ndarray], ref: np.ndarray) -> dict[str, Any]:
    """Share of maps where one method's Spearman with ref is strictly above another's."""
    maps = {name: per_map_spearman(values[name], ref) for name in {m for w in WINS for m in w}}
    out: dict[str, Any] = {"maps": int(maps[WINS[0][0]].size)}
    for winner, loser in WINS:
        out[f"{winner} beats {loser}"] = float((maps[winner] > maps[loser]).mean())
    return out


def print_table(
    table: dict[str, dict[str, float]], wins: dict[str, Any], times: dict[str, float]
) -> None:
    print(
        f"\n{'method':40s} {'rho_all':>8s} {'±se':>6s} {'rho_pred':>8s} {'L2_all':>8s} "
        f"{'L2_pred':>8s} {'|rho|all':>8s} {'add_err':>8s} {'time_s':>7s}"
    )
    for name, t in table.items():
        secs = f"{times[name]:7.1f}" if name in times else f"{times['reference']:7.1f}"
        print(
            f"{name:40s} {t['spearman_all']:8.4f} {t['spearman_all_se']:6.3f} "
            f"{t['spearman_pred']:8.4f} {t['relL2_median_all']:8.4f} "
            f"{t['relL2_median_pred']:8.4f} {t['spearman_abs_all']:8.4f} "
            f"{t['additivity_max']:8.1e} {secs}"
        )
    print(f"\npaired per-map wins (of {wins['maps']} maps):")
    for k, v in wins.items():
        if k != "maps":
            print(f"  {k:<45} {v:.3f}")


def measure(
    m: Any, args: argparse.Namespace, t_start: float
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Every method, the reference, the metrics: the results JSON and the arrays."""
    import keras
    import shap
    import tensorflow as tf

    import explain
    import zoo
    from explain.estimators import keep_model_state

    data, model, n = m.dataset(), m.model, args.n
    rng = np.random.default_rng(0)
    bg = np.asarray(data.x_train[rng.choice(len(data.x_train), BACKGROUND, replace=False)])
    bg = bg.astype(np.float32)
    x = np.asarray(data.x_test[:n], np.float32)
    fx = np.asarray(model(x, training=False), np.float64)
    fbg = np.asarray(model(bg, training=False), np.float64)
    pred, gap = fx.argmax(axis=1), fx - fbg.mean(axis=0)  # gap: the additivity target
    labels = np.asarray(data.y_test[:n]).ravel()
    print(f"{m.ref}: n={n}, predicted {pred.tolist()}, labels {labels.tolist()}", flush=True)

    values: dict[str, np.ndarray] = {}
    times: dict[str, float] = {}

    def timed(name: str, fn: Callable[[], Any]) -> None:
        start = time.perf_counter()
        values[name] = as_maps(fn(), n)
        times[name] = time.perf_counter() - start
        err = np.abs(values[name].sum(axis=1) - gap).max()
        print(f"{name}: {times[name]:.1f} s, max additivity error {err:.2e}", flush=True)

    def gradient_shap() -> Any:
        with keep_model_state(model):  # shap runs the model in training mode
            explainer = shap.GradientExplainer(model, bg)
            return explainer.shap_values(x, nsamples=GRADIENT_NSAMPLES, rseed=0)

    def deep_shap() -> Any:
        with keep_model_state(model):
            return shap.DeepExplainer(model, bg).shap_values(x, check_additivity=False)

    timed("a_layerwise", lambda: explain.explain(m, x, background=bg).values)
    timed(
        "e_layerwise_1_segment",
        lambda: explain.explain(m, x, background=bg, method="layerwise", nsamples=1).values,
    )
    timed(
        "c_expected_gradients",
        lambda: explain.explain(m, x, background=bg, method="expected_gradients").values,
    )
    timed("d_gradient_shap", gradient_shap)
    ref = shapley_reference(model, x, bg, args.budget, args.target)
    times["reference"] = ref["seconds"]
    ref_err = float(np.abs(ref["ref"].sum(axis=1) - gap).max())
    print(f"reference: max additivity error {ref_err:.2e}", flush=True)
    timed("b_deep_shap", deep_shap)  # last: patches TensorFlow's gradient registry
    times["total"] = time.perf_counter() - t_start

    table = {name: metrics(values[name], ref["ref"], pred, gap) for name in METHODS}
    table[NOISE] = metrics(ref["A"], ref["B"], pred, gap)
    wins = paired_wins(values, ref["ref"])
    print_table(table, wins, times)
    print("times (s):", {k: round(v, 1) for k, v in times.items()})

    result = {
        **header(
            "shapley_reference",
            {"numpy": np, "tensorflow": tf, "keras": keras, "shap": shap, "keras-zoo": zoo},
        ),
        "settings": {
            "model": m.ref,
            "store": args.store or "temporary, cnn-digits trained with its full defaults",
            "samples": n,
            "inputs": f"the first {n} test images",
            "outputs": "all 10 softmax outputs",
            "background": f"{BACKGROUND} training images, seeded draw, the same for every "
            "method and the reference",
            "estimand": "interventional Shapley values of the 64 pixels w.r.t. the background",
            "methods": METHODS,
            "reference": {
                "explainer": "shap.PermutationExplainer, shap.maskers.Independent over all "
                f"{BACKGROUND} background rows, two independent runs A and B averaged",
                "permutation_pairs_per_chunk": PERMS_PER_CHUNK,
                "max_evals_per_chunk": ref["chunk_evals"],
                "target_rank_AB": args.target,
                "budget_s": args.budget,
                "stop": "rank A-B >= target after >= 2 chunks, or the next chunk would pass "
                "the budget",
            },
            "map": "one (sample, output) pair: 64 pixel attributions",
            "metrics": {
                "spearman_all": "mean Spearman over all maps (explain.fidelity.rank_correlation)",
                "spearman_all_se": "its standard error over maps",
                "spearman_pred": "mean Spearman over the predicted class's maps",
                "relL2_median_all": "median over maps of |phi - ref| / |ref|",
                "relL2_median_pred": "the same, predicted class's maps",
                "spearman_abs_all": "mean Spearman of |phi| and |ref|",
                "additivity_max": "max |sum phi - (f(x) - mean f(background))|",
            },
            "times": "wall seconds of one cold call per method (explainer built, traced)",
        },
        "predicted": pred.tolist(),
        "labels": labels.tolist(),
        "f_x_predicted": fx[np.arange(n), pred].tolist(),
        "reference": {
            "chunks": ref["chunks"],
            "max_evals_per_run": ref["chunks"] * ref["chunk_evals"],
            "max_evals_total": 2 * ref["chunks"] * ref["chunk_evals"],
            "converged": ref["converged"],
            "stopped_by": ref["stopped_by"],
            "rank_AB": ref["history"][-1]["rank_AB"],
            "additivity_max": ref_err,
            "history": ref["history"],
        },
        "metrics": table,
        "paired_wins": wins,
        "times_s": times,
    }
    arrays = {"pred": pred, "gap": gap, "x": x, "bg": bg, **values}
    arrays.update({k: ref[k] for k in ("ref", "A", "B")})
    return result, arrays


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", default=None, help="store with a trained cnn-digits")
    parser.add_argument("--n", type=int, default=8, help="test images explained")
    parser.add_argument("--budget", type=float, default=900, help="reference time budget, s")
    parser.add_argument("--target", type=float, default=0.97, help="rank agreement A-B to stop")
    parser.add_argument("--out", default=str(RESULTS), help="where the JSON goes")
    parser.add_argument("--save-npz", default=None, help="also save the arrays here")
    args = parser.parse_args()

    warnings.simplefilter("ignore")  # shap's and TensorFlow's deprecation chatter
    t_start = time.perf_counter()
    with store_or_temporary(args.store, "bench-shapref-") as store:
        result, arrays = measure(load_or_train(store), args, t_start)
    write_results(args.out, result)
    if args.save_npz:
        np.savez(args.save_npz, **arrays)
        print(f"wrote {args.save_npz}")


if __name__ == "__main__":
    main()
