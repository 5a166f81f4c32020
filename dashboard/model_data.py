"""What the Model and GAN pages show of one stored version, derived from the loaded model
and cached per (store, ref): its card, test-split outputs, ROC curves, forecast, layer
table and GAN samples. The loading itself (`dashboard.data.load`) and everything about
explanations stay in `dashboard.data`; `data.forget_version` clears these caches too.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from dashboard.data import load, store_root  # noqa: F401  (store_root: the examples')


@st.cache_data(max_entries=32, show_spinner=False)
def card(root: str, ref: str) -> str:
    """The model card (card.md) written with the artifact.

    Example:
        >>> card(store_root(), "mlp-cancer@1").startswith("#")
        True
    """
    path = load(root, ref).path / "card.md"
    return path.read_text() if path.is_file() else ""


@st.cache_data(max_entries=32, show_spinner="Predicting the test split…")
def test_outputs(root: str, ref: str) -> dict[str, np.ndarray]:
    """Model outputs on the test split.

    Classification: `proba` (n, K), `predicted`, `confidence` (probability of the
    predicted class), `y`. Regression: `pred` (scaled units), `y`, `error` (|pred - y|).

    Example:
        >>> sorted(test_outputs(store_root(), "mlp-cancer@1"))
        ['confidence', 'predicted', 'proba', 'y']
    """
    from zoo.evaluation import class_probabilities

    m = load(root, ref)
    d = m.dataset()
    raw = m.predict(d.x_test)
    if m.task == "classification":
        proba = class_probabilities(raw)
        predicted = proba.argmax(axis=1)
        return {
            "proba": proba,
            "predicted": predicted,
            "confidence": proba[np.arange(len(proba)), predicted],
            "y": np.asarray(d.y_test).astype(int).ravel(),
        }
    pred = np.asarray(raw, "float64").ravel()
    y = np.asarray(d.y_test, "float64").ravel()
    return {"pred": pred, "y": y, "error": np.abs(pred - y)}


@st.cache_data(max_entries=32, show_spinner=False)
def roc(root: str, ref: str) -> tuple[pd.DataFrame, dict[str, float]]:
    """ROC curves of a classifier on the test split (one-vs-rest for K > 2).

    Returns a long table (class, fpr, tpr) and the AUC per class. Binary models get one
    curve, for the positive class (the second class name).

    Example:
        >>> curves, aucs = roc(store_root(), "mlp-cancer@1")
        >>> curves.columns.tolist(), list(aucs)
        (['class', 'fpr', 'tpr'], ['benign'])
    """
    from sklearn.metrics import auc, roc_curve

    m = load(root, ref)
    out = test_outputs(root, ref)
    names = list(m.class_names or [str(i) for i in range(out["proba"].shape[1])])
    classes = [1] if len(names) == 2 else list(range(len(names)))
    frames, aucs = [], {}
    for k in classes:
        positives = out["y"] == k
        if positives.all() or not positives.any():
            continue  # one class missing from the test split: no curve
        fpr, tpr, _ = roc_curve(positives, out["proba"][:, k])
        aucs[names[k]] = float(auc(fpr, tpr))
        frames.append(pd.DataFrame({"class": names[k], "fpr": fpr, "tpr": tpr}))
    table_ = pd.concat(frames) if frames else pd.DataFrame(columns=["class", "fpr", "tpr"])
    return table_, aucs


@st.cache_data(max_entries=8, show_spinner=False)
def forecast(root: str, ref: str) -> pd.DataFrame:
    """The forecaster's test period: true level, forecast level and the naive forecast.

    Forecast level = last observed level + the predicted change (back in ppm); the
    naive forecast is "no change" (the last observed level).

    Example:
        >>> forecast(store_root(), "lstm-co2@1").columns.tolist()
        ['date', 'truth', 'forecast', 'naive (no change)']
    """
    d = load(root, ref).dataset()
    extra = d.extra
    out = test_outputs(root, ref)
    last = np.asarray(extra["last_level_test"], "float64")
    # A user's series added without a date column has none: its test steps are numbered.
    dates = extra.get("dates_test")
    return pd.DataFrame(
        {
            "date": pd.to_datetime(np.asarray(dates))
            if dates is not None
            else np.arange(len(last)),
            "truth": np.asarray(extra["next_level_test"], "float64"),
            "forecast": last + d.to_units(out["pred"]),
            "naive (no change)": last,
        }
    )


def layer_table(model: Any) -> pd.DataFrame:
    """One row per layer of a Keras model: name, type, output shape, parameters.

    Example:
        >>> net = zoo.load("mlp-cancer").model
        >>> t = layer_table(net)
        >>> t.columns.tolist(), int(t["parameters"].sum()) == net.count_params()
        (['layer', 'type', 'output shape', 'parameters', 'trainable'], True)
    """
    rows = []
    for layer in model.layers:
        try:
            shape = str(tuple(layer.output.shape))
        except (AttributeError, ValueError):
            shape = ""
        rows.append(
            {
                "layer": layer.name,
                "type": type(layer).__name__,
                "output shape": shape,
                "parameters": int(layer.count_params()),
                "trainable": bool(layer.trainable),
            }
        )
    return pd.DataFrame(rows)


@st.cache_data(max_entries=8, show_spinner=False)
def predictions(root: str, ref: str) -> pd.DataFrame:
    """A regression's test split in data units: `actual` and `predicted` per sample.

    Example:
        >>> predictions(store_root(), "lstm-co2@1").columns.tolist()
        ['actual', 'predicted']
    """
    d = load(root, ref).dataset()
    out = test_outputs(root, ref)
    return pd.DataFrame({"actual": d.to_units(out["y"]), "predicted": d.to_units(out["pred"])})


# Marked epochs of the training curves, from the stored diagnosis (its key per label).
_MARKS = {"best": "best_epoch", "early stop": "early_stopped_at", "overfit from": "overfit_from"}
CHARTS = ("curves", "confusion", "roc", "forecast", "predicted vs actual")


@st.cache_data(max_entries=64, show_spinner=False)
def chart_spec(root: str, ref: str, chart: str, quantity: str = "") -> dict[str, Any]:
    """The Vega-Lite spec (for `st.vega_lite_chart`) of one of a version's own charts:
    `curves` of `quantity` (Training curves page), `confusion`, `roc`, `forecast` or
    `predicted vs actual` (Model page), data inline.

    Built with Altair once per (store, ref, chart), then a copy of the cached dict on
    every visit: building and converting a chart cost the server 40-150 ms of Python
    under the GIL (every session's script waits) on each visit of each visitor, for a
    chart of a version that never changes (bench/dashboard_load.py).

    Example:
        >>> spec = chart_spec(store_root(), "mlp-cancer@1", "curves", "loss")
        >>> [layer["mark"]["type"] for layer in spec["layer"]][:2]
        ['area', 'line']
    """
    from dashboard import charts

    m = load(root, ref)
    if chart == "curves":
        diag = m.diagnosis
        marks = {label: diag.get(key) for label, key in _MARKS.items()}
        built: Any = charts.curves(m.history, quantity, marks=marks)
    elif chart == "confusion":
        names = list(m.class_names or [])
        built = charts.confusion(m.metrics["confusion_matrix"], names)
    elif chart == "roc":
        built = charts.roc(*roc(root, ref))
    elif chart == "forecast":
        built = charts.forecast(forecast(root, ref), m.metrics.get("unit", ""))
    elif chart == "predicted vs actual":
        built = charts.predicted_vs_actual(predictions(root, ref), m.metrics.get("unit", ""))
    else:
        raise ValueError(f"unknown chart {chart!r}; expected one of {', '.join(CHARTS)}")
    return charts.spec(built, chart.replace(" ", "-"))


@st.cache_data(max_entries=8, show_spinner=False)
def gan_samples(root: str, ref: str) -> np.ndarray:
    """The GAN's fixed-noise samples per epoch, (epochs + 1, n, H, W, 1) in [-1, 1].

    Example:
        >>> gan_samples(store_root(), "gan-digits@1").shape[2:]
        (8, 8, 1)
    """
    return load(root, ref).samples()


@st.cache_data(max_entries=32, show_spinner=False)
def gan_fresh(root: str, ref: str, seed: int, n: int = 16) -> np.ndarray:
    """`n` new images from the generator on standard-normal noise drawn with `seed`.

    Example:
        >>> gan_fresh(store_root(), "gan-digits@1", seed=0, n=4).shape
        (4, 8, 8, 1)
    """
    m = load(root, ref)
    latent = int(m.model.input_shape[-1])
    noise = np.random.default_rng(seed).standard_normal((n, latent)).astype("float32")
    return m.predict(noise)
