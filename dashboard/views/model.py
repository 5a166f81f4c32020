"""Model page: card, config, architecture and test metrics of one `name@version`."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import charts, data, ui
from zoo.config import TrainConfig


def _config(m: object) -> None:
    cfg = m.config  # type: ignore[attr-defined]
    changed = TrainConfig.for_model(cfg.model).diff(cfg)
    rows = [
        {
            "option": k,
            "value": str(v),
            "entry default": str(changed[k][0]) if k in changed else "",
        }
        for k, v in cfg.to_dict().items()
        if k != "model"
    ]
    st.caption(
        f"{len(changed)} option(s) differ from {cfg.model}'s defaults"
        + (f": {', '.join(changed)}" if changed else "")
    )
    st.dataframe(pd.DataFrame(rows), hide_index=True)


def _architecture(m: object) -> None:
    nets = (
        {"generator": m.generator, "discriminator": m.discriminator}  # type: ignore[attr-defined]
        if m.family == "gan"  # type: ignore[attr-defined]
        else {"model": m.model}  # type: ignore[attr-defined]
    )
    for label, net in nets.items():
        layers = data.layer_table(net)
        st.markdown(
            f"**{label}** `{net.name}`: {len(layers)} layers, {net.count_params():,} parameters, "
            f"input {tuple(net.input_shape)} → output {tuple(net.output_shape)}"
        )
        st.dataframe(layers, hide_index=True)


def _classification(root: str, ref: str, m: object) -> None:
    metrics = m.metrics  # type: ignore[attr-defined]
    cols = st.columns(5)
    for col, key in zip(
        cols, ["accuracy", "precision_macro", "recall_macro", "f1_macro", "roc_auc"], strict=True
    ):
        value = metrics.get(key)
        col.metric(key.replace("_", " "), f"{value:.4f}" if value is not None else "–")
    st.caption(f"on {metrics.get('n_test', '?')} test samples (metrics.json)")
    names = list(m.class_names or [])  # type: ignore[attr-defined]
    left, right = st.columns(2)
    with left:
        st.markdown("**Confusion matrix** (rows: true class)")
        if "confusion_matrix" in metrics:
            st.altair_chart(charts.confusion(metrics["confusion_matrix"], names))
    with right:
        st.markdown("**Per class**")
        per = pd.DataFrame(metrics.get("per_class", {})).T.reset_index(names="class")
        st.dataframe(per, hide_index=True)
    curves, aucs = data.roc(root, ref)
    if len(curves):
        st.markdown("**ROC curves** (test split" + (", one-vs-rest)" if len(aucs) > 1 else ")"))
        st.altair_chart(charts.roc(curves, aucs), width="stretch")


def _regression(root: str, ref: str, m: object) -> None:
    metrics = m.metrics  # type: ignore[attr-defined]
    unit = metrics.get("unit", "")
    cols = st.columns(5)
    for col, (key, label) in zip(
        cols,
        [
            ("mse", f"MSE ({unit}²)"),
            ("mae", f"MAE ({unit})"),
            ("r2", "R²"),
            ("naive_mse", f"naive MSE ({unit}²)"),
            ("skill", "skill vs naive"),
        ],
        strict=True,
    ):
        value = metrics.get(key)
        col.metric(label, f"{value:.4g}" if value is not None else "–")
    verdict = "beats" if metrics.get("beats_naive") else "does not beat"
    st.caption(
        f"The forecaster {verdict} the naive 'no change' forecast on "
        f"{metrics.get('n_test', '?')} test weeks (skill = 1 - MSE / naive MSE)."
    )
    st.markdown("**Forecast vs truth** (test period)")
    st.altair_chart(charts.forecast(data.forecast(root, ref), unit), width="stretch")


def _generation(m: object) -> None:
    metrics = m.metrics  # type: ignore[attr-defined]
    cols = st.columns(4)
    for col, key in zip(cols, ["fid_untrained", "fid_final", "fid_best", "fid_ratio"], strict=True):
        value = metrics.get(key)
        col.metric(key.replace("_", " "), f"{value:.4g}" if value is not None else "–")
    st.caption(
        f"Fréchet distance in {metrics.get('fid_feature_model', 'cnn-digits')}'s feature "
        "space; fid ratio = untrained / final (higher is better)."
    )
    ui.links(m.ref, ["gan"])  # type: ignore[attr-defined]


def body() -> None:
    """The Model page of the chosen version."""
    page = ui.model_page("Model")
    if page is None:
        return
    root, ref, m = page.root, page.ref, page.model
    info = data.run_info(root, ref)
    st.markdown(
        f"**{m.ref}** · {m.family} · {m.task} · dataset `{m.spec.dataset}` · "
        f"{m.metrics.get('parameters', 0):,} parameters"
        + (f" · trained {info.created}" if info and info.created else "")
    )
    tab_metrics, tab_card, tab_config, tab_arch = st.tabs(
        ["Test metrics", "Model card", "Config", "Architecture"]
    )
    with tab_metrics:
        if m.task == "classification":
            _classification(root, ref, m)
        elif m.task == "regression":
            _regression(root, ref, m)
        else:
            _generation(m)
    with tab_card:
        text = data.card(root, ref)
        st.markdown(text or "_This version has no model card._")
    with tab_config:
        _config(m)
    with tab_arch:
        _architecture(m)
    ui.links(ref, ["curves", "gan" if m.family == "gan" else "explain", "compare", "report"])


ui.run_page(body)
