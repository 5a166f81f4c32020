"""Report page: the self-contained HTML explainability report of one version, to download."""

from __future__ import annotations

import importlib
from types import ModuleType

import streamlit as st

from dashboard import data, ui

SAMPLES = 6


@st.cache_data(max_entries=8, show_spinner=False)
def _report(root: str, ref: str, samples: int) -> str:
    module = importlib.import_module("explain.report")
    return module.build_report(data.load(root, ref), samples=samples)


def _module() -> ModuleType | None:
    try:
        module = importlib.import_module("explain.report")
    except ImportError:
        return None
    return module if hasattr(module, "build_report") else None


def _file_name(module: ModuleType, trained: object) -> str:
    if hasattr(module, "default_filename"):
        return module.default_filename(trained)
    return f"{trained.name}-{trained.version}-report.html"  # type: ignore[attr-defined]


def body() -> None:
    """The Report page: build on request, then offer the download."""
    st.title("Report")
    ref = ui.pick_model()
    if ref is None:
        return
    module = _module()
    if module is None:
        st.warning(
            "The HTML report is not available in this installation "
            "(explain.report.build_report is missing). The other pages work without it."
        )
        return
    st.markdown(
        f"A single HTML file about **{ref}**: model card, metrics, training curves and "
        f"SHAP explanations of {SAMPLES} test samples, with their fidelity checks."
    )
    root = data.store_root()
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
        file_name=_file_name(module, data.load(root, ref)),
        mime="text/html",
        on_click="ignore",
        key="report_download",
        type="primary",
    )
    st.caption(f"{len(html) / 1024:.0f} KiB, self-contained (images inline).")
    with st.expander("Preview"):
        st.iframe(html, height=700)


ui.run_page(body)
