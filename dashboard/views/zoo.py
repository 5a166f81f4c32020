"""Zoo page: every entry with its versions, latest metric, status and best version vs its
best baseline; links to its pages.

On an empty store it offers one-click quick training of the default zoo.
"""

from __future__ import annotations

import os

import pandas as pd
import streamlit as st

from dashboard import access, audit, baseline_text, data, limits, ui
from zoo.registry import default_order, get_spec
from zoo.store import Store


def _train_default_zoo(root: str, who: access.Visitor) -> None:
    from zoo.training import train

    names = default_order()
    at = {"i": 0}

    def work(job: limits.Job) -> None:
        for i, name in enumerate(names):
            at["i"] = i
            job.label = f"{name} ({i + 1}/{len(names)}, quick settings)"
            try:
                run = train(name, store=Store(root), quick=True, progress=job.progress)
            except BaseException:
                audit.record(root, who.who, "train", name, "failed", quick=True)
                raise
            data.clear_store_caches()
            audit.record(root, who.who, "train", run.ref, "ok", quick=True)

    queue = limits.training_queue(
        access.settings(os.environ, access.server_secrets()).max_trainings
    )
    job = queue.submit(who.who, "the default zoo", work)
    bar = st.progress(0.0, text="starting…")
    while not job.finished.wait(0.25):
        position = queue.position(job)
        done = 0.0 if position else (at["i"] + job.epoch / max(job.epochs, 1)) / len(names)
        bar.progress(min(done, 1.0), text=limits.queue_text(job, position))
    data.clear_store_caches()
    if job.state != limits.DONE:
        st.error(f"Training the default zoo stopped: {job.error or job.state}")
        return
    bar.progress(1.0, text="done")
    st.success(f"Trained {len(names)} models into {root}.")


def _audit_log(root: str) -> None:
    lines = audit.read(root, 100)
    if not lines:
        return
    with st.expander(f"Audit log: the latest {len(lines)} actions (trainers see this)"):
        keys = ("time", "who", "action", "target", "outcome")
        st.dataframe(
            pd.DataFrame([{k: line.get(k, "") for k in keys} for line in lines]), hide_index=True
        )
        st.caption(f"All of it: `{audit.audit_path(root)}`, one JSON object per line.")


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
    who = access.current_visitor()
    root = data.store_root()
    st.caption(f"Store: `{root}`")
    rows = data.table(root)
    good = data.good_refs(root)
    if not good:
        st.info(
            "The store has no trained model yet. Train the default zoo with its quick "
            "settings (a few minutes on a CPU), or train single entries on the Train page."
        )
        if not who or not who.trainer:
            nobody = access.Visitor("nobody", access.VIEWER, signed_in=True)
            read_only = access.settings(os.environ, access.server_secrets()).read_only
            st.caption(access.refusal("Training", who or nobody, read_only=read_only))
        elif st.button("Train the default zoo (quick)", type="primary", key="train_default"):
            _train_default_zoo(root, who)
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

    if who is not None and who.trainer:
        _audit_log(root)


ui.run_page(body)
