"""Zoo page: every entry with its versions, latest metric, status and best version vs its
best baseline; links to its pages.

On an empty store it offers trainers one-click quick training of the default zoo, in the
server's training queue; the trainer who started it may cancel it (the entry being
trained stops at the end of its epoch and stores nothing, the rest are not trained), and
the page then says what was trained and what was cancelled. Trainers also see the audit
log (the dashboard's and the `zoo` commands' actions).
"""

from __future__ import annotations

import logging
import os
from typing import Any

import pandas as pd
import streamlit as st

from dashboard import access, audit, baseline_text, data, limits, ui
from dashboard.child_training import train_for_job
from zoo.errors import StorageError
from zoo.registry import default_order, get_spec

log = logging.getLogger("dashboard")


DEFAULT_KIND = "default-zoo"  # Job.info["kind"] of the first-start training
DEFAULT_JOB = "zoo_default_job"  # session state: this session's default-zoo training
OUTCOME = "zoo_default_outcome"  # session state: how it ended, shown once after the rerun


def _default_zoo_work(root: str, who: access.Visitor, names: list[str]) -> Any:
    """Train `names` one after another with their quick settings, each in a child process.

    A cancel stops the running entry at the end of its epoch (nothing stored, its resume
    backup dropped) and the remaining entries are not trained. Every entry is audited.
    """

    def work(job: limits.Job) -> list[str]:
        trained: list[str] = job.info.setdefault("trained", [])
        for i, name in enumerate(names):
            job.info["at"] = i
            job.label = f"{name} ({i + 1}/{len(names)}, quick settings)"
            job.epoch, job.epochs, job.rows = 0, 0, {}
            outcome, target = "failed", name
            try:
                # In a child process: the pages keep the server's GIL (dashboard.child_training).
                run = train_for_job(job, name, store=root, quick=True)
                outcome, target = "ok", run.ref
                trained.append(run.ref)
            except limits.Cancelled:  # the child stored nothing and dropped its backup
                outcome = "cancelled"
                job.info["cancelled"] = name
                raise
            finally:
                data.clear_store_caches()
                try:
                    audit.record(root, who.who, "train", target, outcome, quick=True)
                except StorageError as err:  # the model is stored; the log says what is missing
                    log.error("%s", err)
        return trained

    return work


def _default_outcome(job: limits.Job, names: list[str], root: str) -> tuple[str, str]:
    """(level, text): what the page says once the default zoo's training has ended."""
    trained = list(job.info.get("trained", []))
    done = ", ".join(trained) if trained else "none"
    if job.state == limits.DONE:
        return "success", f"Trained {len(trained)} models into {root}: {done}."
    at = int(job.info.get("at", 0))
    if job.state == limits.CANCELLED:
        stopped = job.info.get("cancelled")
        rest = names[at + 1 :] if stopped else names[at:]
        parts = [f"Training of the default zoo cancelled. Trained: {done}."]
        if stopped:
            parts.append(f"Cancelled: {stopped} (stopped at the end of its epoch; nothing stored).")
        if rest:
            parts.append(f"Not trained: {', '.join(rest)}.")
        return "warning", " ".join(parts)
    return "error", f"Training the default zoo stopped: {job.error or job.state}. Trained: {done}."


def _watch_default(job: limits.Job, queue: limits.TrainingQueue, owner: str) -> None:
    """Follow this session's default-zoo training (its owner may cancel it) until it ends.

    A rerun (the Cancel click, a reload) only stops this view; the next run of the page
    follows the training again.
    """
    names = list(job.info["names"])
    if job.owner == owner and job.active:
        st.button(
            "Cancel the training of the default zoo",
            key="zoo_default_cancel",
            on_click=queue.cancel,
            args=(job.id, owner),
            help="The entry being trained stops at the end of its epoch and stores nothing; "
            "the entries after it are not trained. Entries already trained stay.",
        )
    bar = st.progress(0.0, text="starting…")
    while True:
        finished = job.finished.wait(0.25)
        position = queue.position(job)
        at = int(job.info.get("at", 0))
        done = 0.0 if position else (at + job.epoch / max(job.epochs, 1)) / len(names)
        text = limits.queue_text(job, position)
        if job.cancel_requested.is_set() and not finished:
            text += " · cancelling…"
        bar.progress(min(done, 1.0), text=text)
        if finished:
            break
    data.clear_store_caches()
    st.session_state.pop(DEFAULT_JOB, None)
    st.session_state[OUTCOME] = _default_outcome(job, names, data.store_root())
    st.rerun()  # the zoo table with what was trained, and the outcome on top


def _train_default_zoo(root: str, who: access.Visitor, owner: str) -> None:
    names = default_order()
    queue = limits.training_queue(
        access.settings(os.environ, access.server_secrets()).max_trainings
    )
    work = _default_zoo_work(root, who, names)
    job = queue.submit(owner, "the default zoo", work, kind=DEFAULT_KIND, names=names)
    st.session_state[DEFAULT_JOB] = job.id
    _watch_default(job, queue, owner)


def _default_job(queue: limits.TrainingQueue) -> limits.Job | None:
    """The default-zoo training queued or running on this server, if any."""
    return next((j for j in queue.active() if j.info.get("kind") == DEFAULT_KIND), None)


def _audit_log(root: str) -> None:
    lines = audit.read(root, 100)
    if not lines:
        return
    with st.expander(f"Audit log: the latest {len(lines)} actions (trainers see this)"):
        keys = ("time", "who", "via", "action", "target", "outcome")
        # Lines written before `via` was recorded all came from the dashboard.
        shown = [
            {k: line.get(k, "dashboard" if k == "via" else "") for k in keys} for line in lines
        ]
        st.dataframe(pd.DataFrame(shown), hide_index=True)
        st.caption(
            f"All of it: `{audit.audit_path(root)}`, one JSON object per line: the "
            "dashboard's actions (via dashboard, by visitor) and the `zoo` commands' (via "
            "cli, by OS user)."
        )


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
    outcome = st.session_state.pop(OUTCOME, None)
    if outcome:
        getattr(st, outcome[0])(outcome[1])
    settings = access.settings(os.environ, access.server_secrets())
    queue = limits.training_queue(settings.max_trainings)
    trainer = who is not None and who.trainer
    owner = limits.session_owner(who.who if who and who.signed_in else None, st.session_state)
    running = _default_job(queue)
    mine = queue.get(st.session_state.get(DEFAULT_JOB))
    if mine is None and running is not None and running.owner == owner:
        mine = running  # the trainer's own, from another tab (signed in)
    if mine is not None and trainer:
        _watch_default(mine, queue, owner)  # until it ends, then a rerun with the outcome
    elif running is not None:
        st.caption(
            f"The default zoo is being trained on this server: {running.label} "
            f"({running.state}); the zoo fills as each entry is stored."
        )
    rows = data.table(root)
    good = data.good_refs(root)
    if not good:
        st.info(
            "The store has no trained model yet. Train the default zoo with its quick "
            "settings (a few minutes on a CPU), or train single entries on the Train page."
        )
        if not trainer:
            nobody = access.Visitor("nobody", access.VIEWER, signed_in=True)
            st.caption(access.refusal("Training", who or nobody, read_only=settings.read_only))
        elif running is None and st.button(
            "Train the default zoo (quick)", type="primary", key="train_default"
        ):
            _train_default_zoo(root, who, owner)

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
    strays = [(info.ref, w) for info in data.runs(root) for w in info.warnings]
    if strays:
        st.subheader("Files the manifests do not list")
        for ref, warning in strays:
            st.warning(f"{ref}: {warning}")

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
