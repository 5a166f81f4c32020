"""Report page: the self-contained HTML explainability report of one version, to download."""

from __future__ import annotations

import streamlit as st

from dashboard import data, ui

SAMPLES = 6


@st.cache_data(max_entries=8, show_spinner=False)
def _report(root: str, ref: str, samples: int) -> str:
    from explain.reporting import build_report, log_to_mlflow

    model = data.load(root, ref)
    html = build_report(model, samples=samples)
    log_to_mlflow(model, html)  # with MLFLOW_TRACKING_URI set: into the version's run
    return html


def body() -> None:
    """The Report page: build on request, then offer the download."""
    from explain.reporting import default_filename

    page = ui.model_page("Report")
    if page is None:
        return
    root, ref = page.root, page.ref
    st.markdown(
        f"A single HTML file about **{ref}**: model card, metrics, training curves and "
        f"SHAP explanations of {SAMPLES} test samples, with their fidelity checks."
    )
    target = (ref, SAMPLES)
    if st.button("Build the report", type="primary", key="report_build"):
        st.session_state["report_for"] = target
    if st.session_state.get("report_for") != target:
        return
    with st.spinner("Building the report…"):
        html = _report(root, ref, SAMPLES)
    st.download_button(
        "Download the HTML report",
        html,
        file_name=default_filename(page.model),
        mime="text/html",
        on_click="ignore",
        key="report_download",
        type="primary",
    )
    st.caption(f"{len(html) / 1024:.0f} KiB, self-contained (images inline).")
    with st.expander("Preview"):
        st.iframe(html, height=700)


ui.run_page(body)
