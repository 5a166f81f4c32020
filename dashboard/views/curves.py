"""Training curves: train vs validation per epoch, best / early-stop epochs, the gap,
the overfitting diagnosis in words and the learning rate per epoch."""

from __future__ import annotations

import streamlit as st

from dashboard import charts, model_data, ui


def _diagnosis(diag: dict) -> None:
    message = diag.get("message")
    if not message:
        return
    verdict = diag.get("verdict", "")
    show = {"good fit": st.success, "overfitting": st.warning, "underfitting": st.warning}
    show.get(verdict, st.info)(f"**Diagnosis:** {message}")
    facts = []
    if diag.get("best_epoch"):
        facts.append(f"best epoch {diag['best_epoch']} of {diag.get('epochs_run', '?')}")
    if diag.get("early_stopped_at"):
        facts.append(f"early stopping at epoch {diag['early_stopped_at']}")
    if diag.get("stored_epoch"):
        facts.append(f"stored weights from epoch {diag['stored_epoch']}")
    for key, label in (("gap_at_best", "gap at best"), ("gap_at_end", "gap at end")):
        if diag.get(key) is not None:
            facts.append(f"{label} (val − train loss) {diag[key]:+.4g}")
    if facts:
        st.caption(" · ".join(facts))


def body() -> None:
    """The Training curves page of the chosen version."""
    page = ui.model_page("Training curves")
    if page is None:
        return
    ref, m = page.ref, page.model
    history = m.history
    diag = m.diagnosis
    _diagnosis(diag)
    if m.family == "gan":
        st.markdown("**Discriminator and generator losses**")
        losses = {k: history[k] for k in ("d_loss", "g_loss") if k in history}
        if losses:
            st.vega_lite_chart(spec=charts.series_spec(losses), width="stretch")
        fid = m.metrics.get("fid_by_epoch") or history.get("fid")
        if fid:
            st.markdown("**Fréchet distance** (epoch 0 = untrained generator)")
            st.vega_lite_chart(spec=charts.series_spec({"FID": fid}, start=0), width="stretch")
        others = [
            q for q in charts.curve_quantities(history) if q not in ("d_loss", "g_loss", "fid")
        ]
    else:
        others = charts.curve_quantities(history)
        st.caption(
            "Shaded: the generalization gap between the training and validation curves. "
            "Dashed lines, named in the legend: best epoch (lowest validation loss), early "
            "stop, start of overfitting."
            + (
                " Losses and errors here are on the standardized target the model is "
                "trained on (the Model page reports them in the data's units)."
                if m.task == "regression"
                else ""
            )
        )
    for quantity in others:
        st.markdown(f"**{quantity}**")
        spec = model_data.chart_spec(page.root, ref, "curves", quantity)
        st.vega_lite_chart(spec=spec, width="stretch")
    if history.get("lr"):
        st.markdown("**Learning rate per epoch**")
        spec = charts.series_spec({"learning rate": history["lr"]})
        st.vega_lite_chart(spec=spec, width="stretch")
    if history.get("epoch_time"):
        total = sum(history["epoch_time"])
        st.caption(f"{len(history['epoch_time'])} epochs in {total:.1f} s of training time")
    ui.links(ref, ["model", "compare", "train"])


ui.run_page(body)
