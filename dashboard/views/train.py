"""Train page: every training option of the zoo in one form; trains here with live
progress and curves; the new version is stored and shows on every other page."""

from __future__ import annotations

import logging
import os
import time
import typing
import uuid
from collections.abc import Callable
from typing import Any

import streamlit as st

from dashboard import access, audit, charts, data, limits, ui
from dashboard.child_training import train_for_job
from zoo import config as zconfig
from zoo.errors import ConfigError, StorageError
from zoo.options import GROUPS
from zoo.registry import get_spec, list_models

log = logging.getLogger("dashboard")


def applicable_options(name: str) -> list[str]:
    """The options that apply to entry `name`'s family, in `option_names()` order.

    Example:
        >>> "filters" in applicable_options("mlp-cancer")
        False
    """
    return zconfig.options_for(get_spec(name).family)


def _widget(name: str, option: str, default: Any) -> Any:
    kind = zconfig.option_type(option)
    tip = zconfig.option_spec(option).describe(option)
    key = f"train_{name}_{option}"
    if kind is bool:
        return st.checkbox(option, value=bool(default), key=key, help=tip)
    # Closed sets and the common Keras names; other Keras names work from CLI and TOML.
    choices = list(zconfig.choices_for(name, option))
    if choices:
        index = choices.index(default) if default in choices else 0
        return st.selectbox(
            option, choices, index=index, key=key, help=tip, format_func=lambda v: v or "(not set)"
        )
    if kind is int:
        return st.number_input(option, value=int(default), step=1, key=key, help=tip)
    if kind is float:
        # Free text: learning rates like 3e-4 read better than a spinner, and an invalid
        # value becomes a ConfigError with the field's name.
        return st.text_input(option, value=f"{default:g}", key=key, help=tip)
    if typing.get_origin(kind) is tuple:
        return st.text_input(option, value=",".join(map(str, default)), key=key, help=tip)
    return st.text_input(option, value=str(default), key=key, help=tip)


def _form(name: str) -> dict[str, Any] | None:
    defaults = zconfig.TrainConfig.for_model(name).to_dict()
    options = applicable_options(name)
    values: dict[str, Any] = {}
    with st.form(f"train_form_{name}"):
        for group in GROUPS:
            opts = [o for o in options if zconfig.option_spec(o).group == group]
            if not opts:
                continue
            st.markdown(f"**{group}**")
            cols = st.columns(4)
            for i, option in enumerate(opts):
                with cols[i % 4]:
                    values[option] = _widget(name, option, defaults[option])
        submitted = st.form_submit_button("Train", type="primary", key="train_submit")
    return values if submitted else None


JOB = "train_job"  # session state: the id of this session's latest training job
OWNER = "train_owner"  # session state: who this session is, without sign-in


def _owner(who: access.Visitor) -> str:
    # Signed-in trainers own their trainings across tabs; without sign-in, one session.
    if who.signed_in:
        return who.who
    if OWNER not in st.session_state:
        st.session_state[OWNER] = f"session-{uuid.uuid4().hex[:12]}"
    return str(st.session_state[OWNER])


def _work(name: str, cfg: zconfig.TrainConfig, who: access.Visitor) -> Callable[[Any], Any]:
    """The training, followed by the queue's thread (it runs in a child process); audited."""
    root = data.store_root()
    defaults = zconfig.TrainConfig.for_model(name).to_dict()
    changed = {k: v for k, v in cfg.to_dict().items() if defaults.get(k) != v}

    def work(job: limits.Job) -> Any:
        outcome, target, start = "failed", name, time.time()
        try:
            # In a child process: the pages keep the server's GIL (dashboard.child_training).
            run = train_for_job(job, name, store=root, config=cfg)
            outcome, target = "ok", run.ref
            return run
        except limits.Cancelled:
            outcome = "cancelled"
            raise
        finally:
            data.clear_store_caches()
            seconds = round(time.time() - start, 1)
            queued = round(job.started - job.submitted, 1)
            try:
                audit.record(
                    root,
                    who.who,
                    "train",
                    target,
                    outcome,
                    options=changed,
                    seconds=seconds,
                    queued_s=queued,
                )
            except StorageError as err:  # the model is stored; the log says what is missing
                log.error("%s", err)

    return work


def _train(name: str, values: dict[str, Any], who: access.Visitor) -> None:
    try:
        cfg = zconfig.TrainConfig.for_model(name, **values)
    except ConfigError as err:
        st.error(f"Invalid option: {err}")
        return
    queue = limits.training_queue(_settings().max_trainings)
    owner = _owner(who)
    mine = queue.get(st.session_state.get(JOB))
    if mine is not None and mine.active and mine.owner == owner:
        st.warning(f"Your training of {mine.label} is not finished: wait for it or cancel it.")
        _watch(mine, queue, owner)
        return
    job = queue.submit(owner, name, _work(name, cfg, who))
    st.session_state[JOB] = job.id
    _watch(job, queue, owner)


def _watch(job: limits.Job, queue: limits.TrainingQueue, owner: str) -> None:
    """Show a job's place in the queue, then its progress and live curves, then its end.

    Watching only: a rerun (another click, a reload) stops this view, not the training;
    the next run of the page shows it again.
    """
    cancel = st.empty()
    if job.owner == owner:
        cancel.button(
            "Cancel this training",
            key="train_cancel",
            on_click=queue.cancel,
            args=(job.id, owner),
            help="A queued training leaves the queue; a running one stops at the end of its "
            "epoch and stores nothing.",
        )
    bar = st.progress(0.0, text=limits.queue_text(job, queue.position(job)))
    live = st.empty()
    drawn = 0
    while True:
        finished = job.finished.wait(0.25)
        position = queue.position(job)
        fraction = 0.0 if position else min(job.epoch / max(job.epochs, 1), 1.0)
        text = limits.queue_text(job, position)
        if job.cancel_requested.is_set() and not finished:
            text += " · cancelling…"
        bar.progress(fraction, text=text)
        if job.rows and job.epoch != drawn:
            drawn = job.epoch
            rows = {k: list(v) for k, v in job.rows.items()}
            quantity = "loss" if "loss" in rows else next(iter(rows))
            # stable data set names: the chart is redrawn in place every epoch
            spec = charts.spec(charts.curves(rows, quantity, height=240), "live")
            live.vega_lite_chart(spec=spec, width="stretch")
        if finished:
            break
    cancel.empty()
    _outcome(job, bar)
    st.session_state.pop(JOB, None)  # shown: the next run of the page shows the form only


def _outcome(job: limits.Job, bar: Any = None) -> None:
    if job.state == limits.CANCELLED:
        st.warning(f"Training of {job.label} cancelled: nothing was stored.")
        return
    if job.state != limits.DONE:
        st.error(f"Training failed: {job.error}")
        return
    run = job.result
    if bar is not None:
        bar.progress(1.0, text="done")
    st.session_state[ui.SELECTED] = run.ref
    from zoo.summary import headline

    key, value = headline(run.task, run.metrics)
    st.success(f"Stored **{run.ref}**" + (f": test {key} {value:.4g}" if value is not None else ""))
    message = run.diagnosis.get("message")
    if message:
        st.info(f"**Diagnosis:** {message}")
    ui.links(run.ref, ["model", "curves", "compare"])


def _settings() -> access.Settings:
    return access.settings(os.environ, access.server_secrets())


def _queue_caption(queue: limits.TrainingQueue) -> None:
    jobs = queue.active()
    if jobs:
        shown = ", ".join(
            f"{j.label} ({j.owner if '@' in j.owner else 'a visitor'}, {j.state})" for j in jobs
        )
        st.caption(f"Trainings on this server ({queue.max_running} at a time): {shown}")


def body() -> None:
    """The Train page: entry, form, training with live progress (trainers only)."""
    st.title("Train")
    settings = _settings()
    who = access.current_visitor()
    if who is None or not who.trainer:
        # The page itself refuses: a viewer who opens /train directly starts nothing.
        nobody = access.Visitor("nobody", access.VIEWER, signed_in=True)
        st.error(access.refusal("Training", who or nobody, read_only=settings.read_only))
        return
    queue = limits.training_queue(settings.max_trainings)
    _queue_caption(queue)
    names = list_models()
    selected = st.session_state.get(ui.SELECTED, "").partition("@")[0]
    if st.session_state.get("train_entry") not in names:
        st.session_state["train_entry"] = selected if selected in names else names[0]
    name = st.selectbox("Zoo entry", names, key="train_entry")
    spec = get_spec(name)
    st.caption(
        f"{spec.summary} · {spec.family} · {spec.task} · the form starts from this "
        "entry's defaults; invalid values are reported, nothing is trained then."
    )
    values = _form(name)
    if values is not None:
        _train(name, values, who)
        return
    # A training this session started, still running or finished since it was last shown.
    job = queue.get(st.session_state.get(JOB))
    if job is not None:
        if job.active:
            _watch(job, queue, _owner(who))
        else:
            _outcome(job)
            st.session_state.pop(JOB, None)


ui.run_page(body)
