"""The report's explained predictions: which test samples, their cards and their fidelity.

Classifiers: in turn the most confident correct, the most confident wrong and the least
confident predictions; forecasters: the largest errors and typical ones; GANs: real test
images and generated ones. Each card holds the facts of one sample and its figure
(:func:`explain.plots.for_explanation`), in the data's units.

Example:
    >>> p = np.array([[.9, .1], [.2, .8]])
    >>> choose_samples("classification", np.array([0, 0]), p, 2)
    [(0, 'correct'), (1, 'wrong')]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from zoo.evaluation import forecasts, time_step

from . import figures
from .sections import fmt

# Cards are shown grouped by why they were chosen, in this order.
_TAG_ORDER = (
    "correct",
    "wrong",
    "least confident",
    "largest error",
    "typical",
    "real",
    "generated",
)
# A tabular card's waterfall: the 9 largest features and one bar for the rest.
_TABULAR_FEATURES = 10


def _round_robin(groups: list[tuple[str, np.ndarray]], n: int) -> list[tuple[int, str]]:
    """Take indices from each group in turn (skipping ones taken) until ``n`` are chosen."""
    chosen: dict[int, str] = {}
    pos = [0] * len(groups)
    while len(chosen) < n:
        progressed = False
        for g, (tag, order) in enumerate(groups):
            while pos[g] < len(order) and int(order[pos[g]]) in chosen:
                pos[g] += 1
            if pos[g] < len(order) and len(chosen) < n:
                chosen[int(order[pos[g]])] = tag
                pos[g] += 1
                progressed = True
        if not progressed:
            break
    return sorted(chosen.items(), key=lambda it: (_TAG_ORDER.index(it[1]), it[0]))


def choose_samples(task: str, y: np.ndarray, pred: np.ndarray, n: int) -> list[tuple[int, str]]:
    """Test indices worth explaining, each with why it was chosen.

    Classification (``pred`` = class probabilities ``(N, K)``): in turn the most confident
    correct, the most confident wrong and the least confident predictions. Regression
    (``pred`` = forecasts ``(N,)``): the largest errors and typical ones (error closest to
    the median error).

    Example:
        >>> p = np.array([[.9, .1], [.2, .8], [.55, .45], [.3, .7]])
        >>> choose_samples("classification", np.array([0, 0, 1, 1]), p, 3)
        [(0, 'correct'), (1, 'wrong'), (2, 'least confident')]
    """
    if task == "classification":
        proba = np.asarray(pred, np.float64)
        if proba.ndim == 2 and proba.shape[1] == 1:
            proba = np.hstack([1.0 - proba, proba])
        guess, conf = proba.argmax(axis=1), proba.max(axis=1)
        y = np.asarray(y).reshape(len(proba), -1)[:, 0].astype(int)
        by_conf = np.argsort(-conf, kind="stable")
        groups = [
            ("correct", by_conf[guess[by_conf] == y[by_conf]]),
            ("wrong", by_conf[guess[by_conf] != y[by_conf]]),
            ("least confident", np.argsort(conf, kind="stable")),
        ]
    else:
        err = np.abs(np.asarray(pred, np.float64).ravel() - np.asarray(y, np.float64).ravel())
        groups = [
            ("largest error", np.argsort(-err, kind="stable")),
            ("typical", np.argsort(np.abs(err - np.median(err)), kind="stable")),
        ]
    return _round_robin(groups, min(n, len(y)))


def _sample_additivity(e: Any) -> np.ndarray:
    import explain

    meta = explain.info(e)
    vals = np.asarray(e.values, np.float64)
    n, k = vals.shape[0], vals.shape[-1]
    total = vals.reshape(n, -1, k).sum(axis=1) + np.asarray(e.base_values, np.float64)
    return np.abs(total - np.asarray(meta.predictions, np.float64)).max(axis=1)


def _fidelity_rows(
    fid: dict[str, Any], scale: float = 1.0, unit: str = ""
) -> list[tuple[str, str]]:
    """Rows of a fidelity report; absolute additivity errors times ``scale``, in ``unit``."""

    def err(key: str) -> str:
        v = fid.get(key)
        return fmt(None if v is None else v * abs(scale)) + (f" {unit}" if unit else "")

    rows = [
        ("samples", fmt(fid.get("n"))),
        ("additivity error, max", err("additivity_max")),
        ("additivity error, mean", err("additivity_mean")),
        ("additivity error / mean |f(x) − base|", fmt(fid.get("additivity_relative"))),
        ("normalized additivity error, p95", fmt(fid.get("additivity_p95"))),
        ("normalized additivity error, max", fmt(fid.get("additivity_normalized_max"))),
    ]
    if "rank_corr_trained" in fid:
        rows += [
            ("rank correlation, two runs on the trained model", fmt(fid["rank_corr_trained"])),
            ("rank correlation, trained vs randomized model", fmt(fid["rank_corr_randomized"])),
            ("same, |attributions|: trained runs", fmt(fid["rank_corr_trained_abs"])),
            ("same, |attributions|: trained vs randomized", fmt(fid["rank_corr_randomized_abs"])),
            ("sanity check passed", fmt(fid["sanity_passed"])),
        ]
    return rows


def _classifier_facts(
    tag: str, y_i: Any, p: np.ndarray, names: list[str]
) -> tuple[str, list[tuple[str, str]]]:
    guess, true = int(p.argmax()), int(np.ravel(y_i)[0])
    label = names[guess] if guess < len(names) else str(guess)
    true_label = names[true] if true < len(names) else str(true)
    facts = [
        ("true", true_label),
        ("predicted", f"{label} (p = {p[guess]:.3f})"),
        ("outcome", "correct" if guess == true else "wrong"),
    ]
    return f"{tag}: true {true_label}, predicted {label}", facts


def _forecast_facts(
    tag: str,
    i: int,
    fc: float,
    actual: float,
    unit: str,
    extra: dict[str, Any],
    forecast: bool = True,
    step: str = "week",
) -> tuple[str, list[tuple[str, str]]]:
    err = fc - actual
    if not forecast:  # a table's regression: a value, not a change
        u = f" {unit}" if unit else ""
        return f"{tag}: error {err:+.4g}{u}", [
            ("predicted", f"{fc:.4g}{u}"),
            ("actual", f"{actual:.4g}{u}"),
            ("error", f"{err:+.4g}{u}"),
        ]
    facts = [
        ("forecast change", f"{fc:+.3f} {unit}"),
        ("actual change", f"{actual:+.3f} {unit}"),
        ("error", f"{err:+.3f} {unit}"),
    ]
    if "last_level_test" in extra:
        level = float(extra["last_level_test"][i])
        facts.insert(0, ("forecast level", f"{level + fc:.2f} {unit}"))
        if "next_level_test" in extra:
            nxt = float(extra["next_level_test"][i])
            facts.insert(1, ("actual level", f"{nxt:.2f} {unit}"))
    if "dates_test" in extra:
        facts.insert(0, (step, str(extra["dates_test"][i])))
    return f"{tag}: error {err:+.3f} {unit}", facts


def explanations_section(trained: Any, data: Any, n: int, method: str) -> dict[str, Any]:
    """``n`` explained test predictions (:func:`choose_samples`), one card each, with the
    fidelity of their explanation (additivity and the randomization sanity check).

    Example:
        >>> m = zoo.load("mlp-cancer")
        >>> s = explanations_section(m, m.dataset(), 2, "auto")
        >>> len(s["cards"]), s["meta"].method, dict(s["fidelity"][0][1])["samples"]
        (2, 'layerwise', '2')
    """
    import explain
    from explain import plots

    if trained.family == "gan":
        return _gan_explanations(trained, data, n, method)
    x, y = np.asarray(data.x_test), np.asarray(data.y_test)
    raw = np.asarray(trained.predict(x), np.float64)
    if trained.task == "classification":
        from zoo.evaluation import class_probabilities

        proba = class_probabilities(raw)
        chosen = choose_samples("classification", y, proba, n)
    else:
        fc = data.to_units(raw.ravel())
        actual = data.to_units(y.ravel())
        chosen = choose_samples("regression", actual, fc, n)
    idx = np.array([i for i, _ in chosen])
    e = explain.explain(trained, x[idx], method=method, y=y[idx])
    fid = explain.fidelity(trained, e, max_samples=len(idx))  # in the model's space
    shown = plots.in_units(e, data)  # what the cards show: raw inputs, forecasts in ppm
    u = f" {shown.zoo_units.output}" if shown.zoo_units.output else ""
    add = _sample_additivity(shown)
    names = list(trained.class_names or [])
    extra = getattr(data, "extra", {}) or {}
    cards: list[dict[str, Any]] = []
    for j, (i, tag) in enumerate(chosen):
        if trained.task == "classification":
            head, facts = _classifier_facts(tag, y[i], proba[i], names)
        else:
            head, facts = _forecast_facts(
                tag,
                i,
                fc[i],
                actual[i],
                data.unit,
                extra,
                forecast=forecasts(data),
                step=time_step(data),
            )
        facts = [("test index", str(i)), *facts, ("additivity error", f"{add[j]:.3g}{u}")]
        cards.append(
            {
                "tag": tag,
                "slug": tag.replace(" ", "-"),
                "heading": head,
                "facts": facts,
                "figure": figures.png(
                    plots.for_explanation(
                        shown, j, label=f"test sample {i}", max_display=_TABULAR_FEATURES
                    ),
                    f"explanation of test sample {i}",
                ),
            }
        )
    meta = explain.info(e)
    rows = _fidelity_rows(fid, data.target_scale, shown.zoo_units.output)
    return {
        "intro": _intro(trained, meta, len(x), data),
        "cards": cards,
        "fidelity": [("chosen test samples", rows)],
        "meta": meta,
    }


def _gan_explanations(trained: Any, data: Any, n: int, method: str) -> dict[str, Any]:
    import explain
    from explain import plots

    n_real = (n + 1) // 2
    n_gen = n - n_real
    x = np.asarray(data.x_test)[:n_real]
    batches = [("real", explain.explain(trained, x, method=method))]
    if n_gen:
        batches.append(("generated", explain.explain(trained, n_gen, method=method, seed=0)))
    cards, fidelity = [], []
    for tag, e in batches:
        fid = explain.fidelity(trained, e, max_samples=len(e.values))
        fidelity.append((f"{tag} samples", _fidelity_rows(fid)))
        add = _sample_additivity(e)
        scores = np.asarray(explain.info(e).predictions)[:, 0]
        for j in range(len(e.values)):
            p_real = 1.0 / (1.0 + np.exp(-scores[j]))
            what = f"test index {j}" if tag == "real" else f"generated #{j} (seed 0)"
            cards.append(
                {
                    "tag": tag,
                    "slug": tag,
                    "heading": f"{tag}: p_real {p_real:.2f}",
                    "facts": [
                        ("sample", what),
                        ("discriminator score (logit)", f"{scores[j]:.3f}"),
                        ("p(real)", f"{p_real:.3f}"),
                        ("additivity error", f"{add[j]:.3g}"),
                    ],
                    "figure": figures.png(
                        plots.for_explanation(e, j),
                        f"discriminator explanation of {what}",
                    ),
                }
            )
    meta = explain.info(batches[0][1])
    return {
        "intro": _intro(trained, meta, len(data.x_test)),
        "cards": cards,
        "fidelity": fidelity,
        "meta": meta,
    }


def _intro(trained: Any, meta: Any, n_test: int, data: Any = None) -> str:
    unit = getattr(data, "unit", "") if data is not None else ""
    if trained.family == "gan":
        return (
            "What drives the discriminator's real-vs-fake score on real test images and on "
            "images from the trained generator. Red pixels push towards 'real'."
        )
    if trained.task == "classification":
        return (
            f"Chosen from {n_test} test predictions: in turn the most confident correct, the "
            "most confident wrong and the least confident ones. Red supports the class shown, "
            "blue opposes it."
            + (" Feature values are the raw measurements." if meta.input_kind == "tabular" else "")
        )
    if data is not None and not forecasts(data):
        return (
            f"Chosen from {n_test} test predictions: the largest errors and typical ones "
            "(error closest to the median). Red raises the prediction, blue lowers it."
            + (
                f" Inputs, attributions, base value and prediction are in {unit}: the "
                "attributions and the base value add up to the prediction."
                if unit
                else ""
            )
        )
    return (
        f"Chosen from {n_test} test forecasts: the largest errors and typical ones (error "
        "closest to the median). Red raises the forecast, blue lowers it."
        + (
            f" Inputs, attributions, base value and forecast are in {unit}: the attributions "
            "and the base value add up to the forecast."
            if unit
            else ""
        )
    )
