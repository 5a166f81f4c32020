"""The report's sections about the model: card, data, config, metrics, curves, GAN
samples and global importance. Each returns what ``templates/report.html`` renders:
plain strings, ``(label, value)`` rows and embedded figures (:func:`figures.png`).

The explained predictions are in :mod:`explain.reporting.explanations`.

Example:
    >>> m = zoo.load("mlp-cancer")
    >>> [split for split, _, _ in dataset_section(m, m.dataset())["splits"]]
    ['train', 'validation', 'test']
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from zoo.errors import ZooError
from zoo.evaluation import NO_CHANGE, forecasts
from zoo.intervals import BEATS, SAME, WORSE
from zoo.summary import comparison, naive_verdict

from . import figures
from .markdown import markdown_to_html

# The global importance averages the first GLOBAL_LIMIT test samples, explained with the
# same settings as the chosen samples, so both share one explainer (building one costs
# seconds for a recurrent model) and the result is cached on disk beside the artifact.
GLOBAL_LIMIT = 64
GAN_EPOCH_PANELS = 5
GAN_GRID = 4  # a GAN panel shows GAN_GRID x GAN_GRID samples

_VERDICT_CLASS = {"good fit": "good", "overfitting": "bad", "underfitting": "warn"}
_VERDICT_WORDS = {BEATS: "good", SAME: "warn", WORSE: "bad"}


def fmt(v: Any) -> str:
    """A value as the report shows it: 4 significant digits, yes/no, "–" for nothing.

    Example:
        >>> fmt(0.123456), fmt(True), fmt(None), fmt([1, 2.5]), fmt("adam")
        ('0.1235', 'yes', '–', '1, 2.5', 'adam')
    """
    if v is None or v == "":
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, (float, np.floating)):
        return f"{float(v):.4g}"
    if isinstance(v, (list, tuple)):
        return ", ".join(fmt(x) for x in v) if v else "–"
    return str(v)


def card_section(trained: Any) -> Any:
    """The artifact's ``card.md`` as safe HTML, or a note saying where it was looked for.

    Example:
        >>> str(card_section(zoo.load("mlp-cancer"))).startswith("<h3>mlp-cancer</h3>")
        True
    """
    from markupsafe import Markup, escape

    path = Path(trained.path) / "card.md"
    try:
        return markdown_to_html(path.read_text(encoding="utf-8"))
    except OSError:
        return Markup(f"<p class='note'>No model card found at {escape(str(path))}.</p>")


def dataset_section(trained: Any, data: Any) -> dict[str, Any]:
    """The data's description, the split sizes, the input shape and the class / feature names.

    Example:
        >>> m = zoo.load("mlp-cancer")
        >>> s = dataset_section(m, m.dataset())
        >>> s["input_shape"], s["class_names"]
        ('30', ['malignant', 'benign'])
    """
    desc = dict(getattr(data, "description", {}) or {})
    skip = {"splits", "class_names", "feature_names"}
    rows = [(k.replace("_", " "), fmt(v)) for k, v in desc.items() if k not in skip]
    cap = int(getattr(trained.config, "max_train_samples", 0) or 0)
    n_train = len(data.x_train)
    splits = [
        ("train", n_train, f"model trained on a random {cap}" if 0 < cap < n_train else ""),
        ("validation", len(data.x_val), ""),
        ("test", len(data.x_test), "metrics and explanations below"),
    ]
    return {
        "name": getattr(data, "name", ""),
        "rows": rows,
        "splits": splits,
        "input_shape": "×".join(str(d) for d in data.x_train.shape[1:]),
        "input_kind": getattr(data, "input_kind", ""),
        "class_names": list(data.class_names or trained.class_names or []),
        "feature_names": list(data.feature_names or trained.feature_names or []),
    }


def config_section(trained: Any) -> dict[str, Any]:
    """The training options that apply to the model's family, and the config's summary.

    Example:
        >>> rows = dict(config_section(zoo.load("mlp-cancer"))["rows"])
        >>> "optimizer" in rows, "latent_dim" in rows  # the GAN's option is left out
        (True, False)
        >>> "origin" in rows  # only imported models and ensembles have one
        False
    """
    from zoo.card import origin_text
    from zoo.config import option_names, options_for

    origin = getattr(trained, "origin", None)
    if origin:
        # Imported or an ensemble: no training options were used, only the data split;
        # the defaults a TrainConfig fills in would read as if they had been.
        from zoo.imports import SPLIT_KEYS

        text = origin_text({"origin": origin})
        stored = trained.config.to_dict()
        rows = [("origin", text)] + [(k, fmt(stored[k])) for k in SPLIT_KEYS if k in stored]
        return {"summary": text, "rows": rows}
    applies = set(options_for(trained.family))
    options = set(option_names())
    # A field that is no option (the entry's name) always shows.
    rows = [
        (k, fmt(v)) for k, v in trained.config.to_dict().items() if k in applies or k not in options
    ]
    return {"summary": trained.config.summary(), "rows": rows}


def headline(trained: Any) -> list[tuple[str, str]]:
    """The overview's rows: family and task, the headline test metrics, the fit verdict.

    Example:
        >>> headline(zoo.load("mlp-cancer"))[0]
        ('family / task', 'mlp / classification')
    """
    m, d = trained.metrics, trained.diagnosis
    rows: list[tuple[str, str]] = [("family / task", f"{trained.family} / {trained.task}")]
    if trained.task == "classification":
        rows += [("test accuracy", fmt(m.get("accuracy"))), ("macro F1", fmt(m.get("f1_macro")))]
    elif trained.task == "regression":
        unit = m.get("unit", "")
        rows += [(f"test MAE ({unit})".replace(" ()", ""), fmt(m.get("mae")))]
        rows += [(f"skill vs naive ({m.get('naive', NO_CHANGE)})", fmt(m.get("skill")))]
    else:
        rows += [("Fréchet distance (final)", fmt(m.get("fid_final")))]
        rows += [("untrained / final", fmt(m.get("fid_ratio")))]
    vs = comparison(m)
    if vs:
        rows.append(("vs best baseline", f"{vs['verdict']} ({vs['baseline']})"))
    if d.get("verdict"):
        rows.append(("fit", str(d["verdict"])))
    return rows


def _ci(m: dict[str, Any], key: str) -> str:
    # A metric with its 95 % bootstrap interval where the version stored one.
    iv = m.get("intervals", {}).get("metrics", {}).get(key)
    value = fmt(m.get(key))
    return f"{value} [{fmt(iv[0])}, {fmt(iv[1])}]" if iv and value != "–" else value


def baselines_section(m: dict[str, Any]) -> dict[str, Any]:
    """The baselines table and the model vs best baseline line, from stored metrics.

    Rows are (baseline, chosen hyper-parameters, value [95 % interval]); `versus` is the
    comparison line, `verdict` its words and `verdict_class` their colour; `note` says how
    the baselines were fitted and scored.
    Empty rows for a version stored without baselines.

    Example:
        >>> s = baselines_section(zoo.load("mlp-cancer").metrics)
        >>> [name for name, *_ in s["rows"]], s["verdict_class"] in ("good", "warn", "bad")
        (['logistic regression', 'RBF SVC'], True)
    """
    base = m.get("baselines") or {}
    records = base.get("models") or {}
    rows = [
        (
            r.get("label", key),
            ", ".join(f"{k}={fmt(v)}" for k, v in (r.get("params") or {}).items()) or "–",
            f"{fmt(r.get('value'))} [{fmt(r['interval'][0])}, {fmt(r['interval'][1])}]"
            if r.get("interval")
            else fmt(r.get("value")),
        )
        for key, r in records.items()
    ]
    vs = comparison(m)
    verdict = vs["verdict"] if vs else ""
    note = base.get("error", "")
    if records:
        fit = base.get("fit_on", "")
        note = (
            f"Metric: {base.get('metric')}. Baselines fitted on the {fit} split(s) "
            f"({base.get('n_fit')} samples), never on the test split, and scored on the same "
            f"{base.get('n_test')} samples as the model; brackets: 95 % bootstrap intervals "
            f"({m.get('intervals', {}).get('method', '')}); the difference model − best "
            "baseline has a paired interval, and the words follow it."
        )
    return {
        "rows": rows,
        "versus": vs["text"] if vs else "",
        "verdict": verdict,
        "verdict_class": _VERDICT_WORDS.get(verdict, "warn"),
        "note": note,
    }


def metrics_section(trained: Any, data: Any) -> dict[str, Any]:
    """Test metrics by task: per-class scores and the confusion matrix (classifiers), the
    naive baseline and the forecast figure (forecasters), Fréchet distances (GANs).

    Example:
        >>> m = zoo.load("mlp-cancer")
        >>> s = metrics_section(m, m.dataset())
        >>> s["kind"], [name for name, *_ in s["per_class"]], len(s["figures"])
        ('classification', ['malignant', 'benign'], 1)
    """
    m = trained.metrics
    if trained.task == "classification":
        names = list(trained.class_names or m.get("per_class", {}).keys())
        rows = [
            ("accuracy", _ci(m, "accuracy")),
            ("precision (macro)", _ci(m, "precision_macro")),
            ("recall (macro)", _ci(m, "recall_macro")),
            ("F1 (macro)", _ci(m, "f1_macro")),
            ("ROC-AUC", _ci(m, "roc_auc")),
            ("test samples", fmt(m.get("n_test"))),
        ]
        per_class = [
            (name, fmt(v["precision"]), fmt(v["recall"]), fmt(v["f1"]), v["support"])
            for name, v in m.get("per_class", {}).items()
        ]
        figs = []
        if m.get("confusion_matrix"):
            figs.append(
                figures.png(
                    figures.confusion_matrix(np.asarray(m["confusion_matrix"]), names),
                    "confusion matrix of the test split",
                    "Confusion matrix (rows: true class, columns: predicted).",
                )
            )
        return {
            "kind": "classification",
            "rows": rows,
            "per_class": per_class,
            "figures": figs,
            "baselines": baselines_section(m),
        }
    if trained.task == "regression":
        unit = m.get("unit", "")
        rule = m.get("naive", NO_CHANGE)  # versions stored before the rule was kept: no change
        squared = f" ({unit}²)" if unit else ""
        compare = [
            (label, _ci(m, key), _ci(m, f"naive_{key}"))
            for key, label in (
                ("mse", f"MSE{squared}"),
                ("mae", f"MAE ({unit})" if unit else "MAE"),
                ("r2", "R²"),
            )
        ]
        rows = [
            ("skill (1 − MSE / naive MSE)", _ci(m, "skill")),
            (f"model vs the naive baseline ({rule})", f"{naive_verdict(m)} it"),
            ("test samples", fmt(m.get("n_test"))),
        ]
        y = data.to_units(np.ravel(data.y_test))
        pred = data.to_units(np.asarray(trained.predict(data.x_test), np.float64).ravel())
        if forecasts(data):
            fig = figures.png(
                figures.forecast(y, pred, data.unit, (data.extra or {}).get("dates_test")),
                "forecast against the actual test values",
                "Test split: forecast vs actual (left, in time order) and as a scatter "
                "(right). The naive baseline forecasts no change.",
            )
        else:  # rows of a table have no order: the scatter alone
            fig = figures.png(
                figures.predicted_vs_actual(y, pred, data.unit),
                "predictions against the actual test values",
                "Test split: predicted vs actual, one point per test sample. The naive "
                + (
                    "baseline forecasts no change."
                    if rule == NO_CHANGE
                    else f"baseline predicts the {rule} for every sample."
                ),
            )
        return {
            "kind": "regression",
            "naive": rule,
            "rows": rows,
            "compare": compare,
            "figures": [fig],
            "baselines": baselines_section(m),
        }
    rows = [
        ("Fréchet distance, untrained generator", fmt(m.get("fid_untrained"))),
        ("Fréchet distance, final", _ci(m, "fid_final")),
        ("Fréchet distance, best", fmt(m.get("fid_best"))),
        ("untrained / final (> 1: better than untrained)", fmt(m.get("fid_ratio"))),
        ("feature model", fmt(m.get("fid_feature_model"))),
        ("final discriminator loss", fmt(m.get("d_loss"))),
        ("final generator loss", fmt(m.get("g_loss"))),
    ]
    return {"kind": "generation", "rows": rows, "figures": [], "baselines": baselines_section(m)}


def curves_section(trained: Any) -> dict[str, Any]:
    """The training curves figure, the overfitting verdict in words and the diagnosis facts.

    Example:
        >>> s = curves_section(zoo.load("mlp-cancer"))
        >>> s["figure"]["alt"], s["verdict_class"] in ("good", "bad", "warn", "neutral")
        ('training and validation curves per epoch', True)
    """
    d = trained.diagnosis
    facts = [
        (label, fmt(d.get(key)))
        for key, label in (
            ("epochs_run", "epochs run"),
            ("best_epoch", "best epoch (lowest validation loss)"),
            ("best_val_loss", "best validation loss"),
            ("final_train_loss", "final training loss"),
            ("final_val_loss", "final validation loss"),
            ("gap_at_best", "validation − training loss at the best epoch"),
            ("early_stopped_at", "early stopped at epoch"),
            ("restored_epoch", "weights restored from epoch"),
            ("overfit_from", "overfitting from epoch"),
        )
        if key in d
    ]
    if trained.family == "gan":
        fig = figures.png(
            figures.gan_curves(trained.history, trained.metrics),
            "Fréchet distance and discriminator / generator losses per epoch",
            "Left: Fréchet distance of generated to real test images per epoch (epoch 0 = "
            "untrained generator; lower is better). Right: discriminator and generator losses.",
        )
    else:
        fig = figures.png(
            figures.training_curves(trained.history, d),
            "training and validation curves per epoch",
            "Training vs validation per epoch; the dashed green line marks the best epoch "
            "(lowest validation loss); a red band marks epochs diagnosed as overfitting.",
        )
    verdict = str(d.get("verdict", ""))
    return {
        "figure": fig,
        "verdict": verdict,
        "verdict_class": _VERDICT_CLASS.get(verdict, "neutral"),
        "message": str(d.get("message", "")),
        "facts": facts,
    }


def samples_section(trained: Any) -> dict[str, Any]:
    """A GAN's recorded sample grids at up to five points of its training, or a note.

    Example:
        >>> samples_section(zoo.load("gan-digits"))["figure"]["alt"]
        'generated samples per epoch'
    """
    try:
        grids = np.asarray(trained.samples())  # (epochs + 1, n, H, W, C) in [-1, 1]
    except (OSError, KeyError, ZooError) as err:
        return {"figure": None, "note": f"No sample grids recorded with this artifact ({err})."}
    if grids.ndim != 5 or not grids.size:
        return {"figure": None, "note": f"Sample grids of unexpected shape {grids.shape}."}
    total = len(grids)
    picks = sorted({int(round(v)) for v in np.linspace(0, total - 1, min(GAN_EPOCH_PANELS, total))})
    g = GAN_GRID if grids.shape[1] >= GAN_GRID**2 else max(1, int(np.sqrt(grids.shape[1])))
    caption = (
        f"The same {g * g} latent vectors decoded by the generator at {len(picks)} points of "
        f"its {total - 1} training epochs (epoch 0: untrained)."
    )
    fig = figures.gan_sample_grids(grids, picks, g)
    return {"figure": figures.png(fig, "generated samples per epoch", caption), "note": ""}


def importance_section(trained: Any, method: str) -> tuple[dict[str, Any], Any]:
    """Mean |SHAP| over the first test samples (and a beeswarm for tabular inputs), in the
    data's units; also the ``ExplanationInfo`` of the explanation it averaged.

    Example:
        >>> part, meta = importance_section(zoo.load("mlp-cancer"), "auto")
        >>> len(part["figures"]), meta.input_kind
        (2, 'tabular')
    """
    import explain
    from explain import plots

    data = trained.dataset()
    e_test = explain.explain_test_split(trained, method=method, limit=GLOBAL_LIMIT)
    meta = explain.info(e_test)
    g = explain.global_importance(trained, e_test)
    regression = (
        "the forecast" if trained.task == "regression" and forecasts(data) else "the prediction"
    )
    what = {"gan": "the discriminator's real score", "regression": regression}.get(
        trained.family if trained.family == "gan" else trained.task, "each class"
    )
    in_unit = f", in {data.unit}" if trained.task == "regression" and data.unit else ""
    shown = [
        figures.png(
            plots.global_importance(plots.in_units(g, data)),
            "mean absolute SHAP value per input position",
            f"Mean |SHAP| over {len(e_test.values)} test samples, for {what}{in_unit}.",
        )
    ]
    if meta.input_kind == "tabular":
        shown.append(
            figures.png(
                plots.beeswarm(plots.in_units(e_test, data)),
                "SHAP values of the most important features over the test samples",
                "Each dot is one test sample; colour is the feature's value (the raw "
                "values of its 5th and 95th percentiles are shown beside its name).",
            )
        )
    note = f"{explain.describe_method(meta)}; " + (
        "read from the disk cache." if meta.cached else "computed now and cached on disk."
    )
    return {"figures": shown, "note": note, "n": len(e_test.values)}, meta
