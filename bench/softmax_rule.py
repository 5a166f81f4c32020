"""Which softmax rule for the default explainer: ours, or the one shap.DeepExplainer uses?

The fidelity issue asks the default explainer for a rank correlation >= 0.9 with shap's
DeepExplainer on cnn-digits. Our `layerwise` default reaches ~0.85 there, and the
difference is the output softmax (0.93 on the logits): ours integrates the softmax's
Jacobian along the straight path between the logits of x and of a reference (summation
to delta up to quadrature error), shap decomposes it into exp (rescale rule on logits
centred by their row maximum), a sum (linear) and a division (the two-player Shapley
split of numerator and denominator). Both are exactly additive. This script runs our
walk with each rule on the arrays that `bench/shapley_reference.py --save-npz` saved (the
same model, inputs and background) and measures each against the converged true
(interventional) Shapley values of that run and against shap.DeepExplainer's output.

    python bench/shapley_reference.py --store S --save-npz F   # once, ~20 min
    python bench/softmax_rule.py --store S --npz F [--out FILE]

Writes bench/results/softmax_rule.json.
"""

from __future__ import annotations

import argparse
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from _common import header, write_results  # bench/ is on sys.path when run as a script

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
RESULTS = Path(__file__).parent / "results" / "softmax_rule.json"


def shap_softmax(rules: Any, u: Any, u_ref: Any) -> Any:
    """shap.DeepExplainer's softmax rule, written as a layer-wise multiplier.

    Logits centred by their own row maximum (shap does it for stability, and the exp
    rescale depends on it), then rescaled back so that the multipliers sum to delta in
    the uncentred logits; exp: rescale; sum: linear; division: Shapley split.
    """
    from keras import ops

    sg = ops.stop_gradient
    c_x = u - ops.max(u, axis=-1, keepdims=True)
    c_r = u_ref - ops.max(u_ref, axis=-1, keepdims=True)
    du, dc = sg(u) - u_ref, sg(c_x) - c_r
    small = ops.abs(du) < 1e-6
    ratio = ops.where(small, ops.ones_like(du), dc / ops.where(small, ops.ones_like(du), du))
    c = sg(c_x) + sg(ratio) * (u - sg(u))
    e = rules._elementwise(ops.exp, c, c_r)
    e_r = ops.exp(c_r)
    s = ops.sum(e, axis=-1, keepdims=True)
    s_r = ops.sum(e_r, axis=-1, keepdims=True)
    ex, sx = sg(e), sg(s)
    y11, y00, y10, y01 = ex / sx, e_r / s_r, ex / s_r, e_r / sx
    de, ds = ex - e_r, sx - s_r
    part_e = 0.5 * (y11 - y01 + y10 - y00)  # the two orders of adding e and s, averaged
    part_s = 0.5 * (y11 - y10 + y01 - y00)
    se, ss = ops.abs(de) < 1e-7, ops.abs(ds) < 1e-7
    one_e, one_s = ops.ones_like(de), ops.ones_like(ds)
    m_e = ops.where(se, 0.5 * (1 / sx + 1 / s_r) * one_e, part_e / ops.where(se, one_e, de))
    m_s = ops.where(ss, -0.5 * (ex / sx**2 + e_r / s_r**2), part_s / ops.where(ss, one_s, ds))
    return y11 + sg(m_e) * (e - ex) + sg(m_s) * (s - sx)


def measure(store: str, npz: str) -> dict[str, Any]:
    import keras

    import zoo
    from explain import layerwise
    from explain.fidelity import rank_correlation

    saved = np.load(npz)
    x, bg, truth, deep = saved["x"], saved["bg"], saved["ref"], saved["b_deep_shap"]
    n = len(x)
    model = zoo.load("cnn-digits", store=store).model
    gap = np.asarray(model(x, training=False)) - np.asarray(model(bg, training=False)).mean(0)

    def per_map(phi: np.ndarray, ref: np.ndarray) -> np.ndarray:
        return np.array(
            [
                [
                    rank_correlation(phi[i : i + 1, :, k : k + 1], ref[i : i + 1, :, k : k + 1])
                    for k in range(ref.shape[2])
                ]
                for i in range(n)
            ]
        )

    ours = layerwise.LayerwiseRules._activation_rule

    def with_shap_softmax(self: Any, act: Any, pre: Any, pre_ref: Any) -> Any:
        if getattr(act, "__name__", "") == "softmax":
            return shap_softmax(self, pre, pre_ref)
        return ours(self, act, pre, pre_ref)

    rows: dict[str, Any] = {}
    for name, rule in (("ours (integrated Jacobian)", ours), ("shap's", with_shap_softmax)):
        layerwise.LayerwiseRules._activation_rule = rule  # type: ignore[method-assign]
        try:
            walk = layerwise.LayerwiseRules(model, bg, tuple(range(truth.shape[2])))
            phi = walk.attributions(x).reshape(truth.shape).astype(np.float64)
        finally:
            layerwise.LayerwiseRules._activation_rule = ours  # type: ignore[method-assign]
        vs_truth, vs_deep = per_map(phi, truth), per_map(phi, deep)
        rows[name] = {
            "spearman_vs_true_shapley": float(vs_truth.mean()),
            "spearman_vs_true_shapley_se": float(vs_truth.std() / np.sqrt(vs_truth.size)),
            "spearman_vs_shap_deep": float(vs_deep.mean()),
            "additivity_max": float(np.abs(phi.sum(1) - gap).max()),
            "maps_closer_to_truth_than_shap_deep": float((vs_truth > per_map(deep, truth)).mean()),
        }
    rows["shap.DeepExplainer itself"] = {
        "spearman_vs_true_shapley": float(per_map(deep, truth).mean())
    }
    result = header("softmax_rule", {"keras": keras, "numpy": np})
    result["settings"] = {"store": store, "arrays": npz, "samples": n, "outputs": truth.shape[2]}
    result["rules"] = rows
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", required=True, help="the store shapley_reference.py used")
    parser.add_argument("--npz", required=True, help="its --save-npz arrays")
    parser.add_argument("--out", default=str(RESULTS), help="where the JSON goes")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    result = measure(args.store, args.npz)
    for name, row in result["rules"].items():
        print(f"{name:30s} " + "  ".join(f"{k} {v:.3g}" for k, v in row.items()))
    write_results(args.out, result)


if __name__ == "__main__":
    main()
