"""Keras Zoo dashboard: `streamlit run dashboard/app.py` (or `zoo dashboard`).

The store comes from $ZOO_HOME. One file per page under views/; this script only sets
the page up and runs the navigation.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

# `streamlit run` puts this folder, not the project, on sys.path: make the packages
# importable from the source tree too (a no-op when they are installed).
_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

import streamlit as st  # noqa: E402

from dashboard import access, data  # noqa: E402
from dashboard.ui import PAGES, keep_keras_state  # noqa: E402

logging.getLogger("dashboard").setLevel(logging.INFO)
keep_keras_state()  # cached models stay fast across reruns (see its docstring)

st.set_page_config(page_title="Keras Zoo", page_icon=":material/pets:", layout="wide")
# Never show a traceback in the browser (also passed on `zoo dashboard`'s command line).
st.set_option("client.showErrorDetails", "none")


def _visitor() -> access.Visitor:
    """Who is looking; stops the run with one line (or the sign-in page) when nobody may."""
    secrets = access.server_secrets()
    try:
        config = access.settings(os.environ, secrets)
    except access.AccessError as err:
        st.error(str(err))
        st.stop()
    # The same check as `zoo dashboard`'s, for `streamlit run` started by hand: an unset
    # address means every interface. (AppTest's runtime is a mock: no server, no address.)
    from streamlit.runtime import Runtime

    served = Runtime.exists() and type(Runtime.instance()) is Runtime
    host = st.get_option("server.address") or ("0.0.0.0" if served else "")
    problem = host and access.start_problem(
        host,
        signs_in=access.signs_in(secrets, config),
        no_auth=config.no_auth,
        read_only=config.read_only,
    )
    if problem:
        st.error(problem)
        st.stop()
    who = access.visitor(st.user.to_dict(), secrets, config)
    if who is None:
        st.title("Keras Zoo")
        st.info("Sign in to see the zoo.")
        for provider in access.providers(secrets["auth"]):
            label = "Sign in" + (f" with {provider}" if provider else "")
            st.button(label, key=f"login_{provider}", on_click=st.login, args=(provider,))
        st.stop()
    if who.signed_in:
        st.sidebar.caption(f"Signed in as **{who.who}** ({who.role})")
        st.sidebar.button("Sign out", key="logout", on_click=st.logout)
    elif config.read_only:
        st.sidebar.caption("Read-only: training is off on this dashboard.")
    return who


visitor = _visitor()
pages = [
    # The default page (Zoo) lives at "/", so it gets no url_path of its own.
    st.Page(file, title=title, icon=icon, default=True)
    if key == "zoo"
    # Pages a viewer may not use stay routable but unlisted: the page itself refuses.
    else st.Page(
        file,
        title=title,
        icon=icon,
        url_path=url,
        visibility="visible" if access.may_open(key, visitor) else "hidden",
    )
    for key, (file, title, icon, url) in PAGES.items()
]
st.navigation(pages).run()
# Explainers of every entry's newest version are built in the background once the first
# page is drawn (once per server), so the first Explain click finds them ready. Queued
# after the page, not before: tracing holds the GIL, and on 2 cores a warm-up started
# first made the first page 1.5-2.5 s slower (bench/dashboard.py, 2026-11-26).
data.warm_store(data.store_root())
