"""Keras Zoo dashboard: `streamlit run dashboard/app.py` (or `zoo dashboard`).

The store comes from $ZOO_HOME. One file per page under views/; this script only sets
the page up and runs the navigation.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

# `streamlit run` puts this folder, not the project, on sys.path: make the packages
# importable from the source tree too (a no-op when they are installed).
_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

import streamlit as st  # noqa: E402

from dashboard import data  # noqa: E402
from dashboard.ui import PAGES, keep_keras_state  # noqa: E402

logging.getLogger("dashboard").setLevel(logging.INFO)
keep_keras_state()  # cached models stay fast across reruns (see its docstring)

st.set_page_config(page_title="Keras Zoo", page_icon=":material/pets:", layout="wide")
# Never show a traceback in the browser (also passed on `zoo dashboard`'s command line).
st.set_option("client.showErrorDetails", "none")

pages = [
    # The default page (Zoo) lives at "/", so it gets no url_path of its own.
    st.Page(file, title=title, icon=icon, default=True)
    if key == "zoo"
    else st.Page(file, title=title, icon=icon, url_path=url)
    for key, (file, title, icon, url) in PAGES.items()
]
st.navigation(pages).run()
# Explainers of every entry's newest version are built in the background once the first
# page is drawn (once per server), so the first Explain click finds them ready. Queued
# after the page, not before: tracing holds the GIL, and on 2 cores a warm-up started
# first made the first page 1.5-2.5 s slower (bench/dashboard.py, 2026-11-26).
data.warm_store(data.store_root())
