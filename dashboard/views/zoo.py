"""Zoo page: every entry with its versions, latest metric, status and best version vs its
best baseline; links to its pages.

On an empty store it offers one-click quick training of the default zoo.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import baseline_text, data, ui
from zoo.registry import default_order, get_spec
from zoo.store import Store


def _train_default_zoo(root: str) -> None:
    from zoo.training import train

    names = default_order()
    bar = st.progress(0.0, text="starting…")
    status = st.empty()
    for i, name in enumerate(names):

        def progress(epoch: int, epochs: int, logs: dict, i: int = i, name: str = name) -> None:
            done = (i + epoch / max(epochs, 1)) / len(names)
            loss = logs.get("loss", logs.get("g_loss"))
            shown = f", loss {loss:.4g}" if loss is not None else ""
            bar.progress(min(done, 1.0), text=f"{name}: epoch {epoch}/{epochs}{shown}")

        status.write(f"Training **{name}** ({i + 1}/{len(names)}, quick settings)…")
        run = train(name, store=Store(root), quick=True, progress=progress)
        data.clear_store_caches()
        status.write(f"Stored **{run.ref}**.")
    bar.progress(1.0, text="done")
    st.success(f"Trained {len(names)} models into {root}.")


def _metric(key: str, value: float | None) -> str:
    return f"{key} {value:.4g}" if value is not None else ""


def _versus(row: dict) -> str:
    # The best version vs its best baseline; versions trained before baselines have none.
    if row["vs_baseline"]:
        return baseline_text.versus_text(row["vs_baseline"])
    return "none stored" if row["best"] else ""


def body() -> None:
    """The Zoo page: the zoo table, unusable versions, links; quick training when empty."""
    st.title("Keras Zoo")
    root = data.store_root()
    st.caption(f"Store: `{root}`")
    rows = data.table(root)
    good = data.good_refs(root)
    if not good:
        st.info(
            "The store has no trained model yet. Train the default zoo with its quick "
            "settings (a few minutes on a CPU), or train single entries on the Train page."
        )
        if st.button("Train the default zoo (quick)", type="primary", key="train_default"):
            _train_default_zoo(root)
            st.rerun()

    frame = pd.DataFrame(
        {
            "entry": [r["name"] for r in rows],
            "family": [r["family"] for r in rows],
            "task": [r["task"] for r in rows],
            "dataset": [r["dataset"] for r in rows],
            "versions": [r["versions"] for r in rows],
            "latest": [r["latest"] for r in rows],
            "status": [r["status"] for r in rows],
            "latest metric": [_metric(r["latest_metric"], r["latest_value"]) for r in rows],
            "best": [
                f"{r['best']} ({_metric(r['metric'], r['value'])})" if r["best"] else ""
                for r in rows
            ],
            "vs best baseline": [_versus(r) for r in rows],
            "problem": [r["reason"] if r["status"] != "ok" else "" for r in rows],
        }
    )
    st.dataframe(frame, hide_index=True)
    st.caption(
        "vs best baseline: the best version against the best classic baseline fitted on its "
        "own training data and scored on its test samples; model − baseline with its paired "
        "95 % bootstrap interval, and the words that interval earns."
    )

    problems = [bad for r in rows for bad in r["bad_versions"]]
    if problems:
        st.subheader("Versions that cannot be used")
        for bad in problems:
            st.warning(bad)

    st.subheader("Open an entry")
    for r in rows:
        ref = r["best"] or next((g for g in good if g.startswith(r["name"] + "@")), "")
        cols = st.columns([2, 5])
        cols[0].markdown(f"**{r['name']}** · {get_spec(r['name']).summary}")
        with cols[1]:
            if not ref:
                st.caption(f"no usable version ({r['status']}); train one on the Train page")
                continue
            family = get_spec(r["name"]).family
            keys = ["model", "curves", "gan" if family == "gan" else "explain", "report"]
            ui.links(ref, keys)


ui.run_page(body)
