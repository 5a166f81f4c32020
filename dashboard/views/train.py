"""Train page: every training option of the zoo in one form; trains here with live
progress and curves; the new version is stored and shows on every other page."""

from __future__ import annotations

import typing
from typing import Any

import streamlit as st

from dashboard import charts, data, ui
from zoo import config as zconfig
from zoo.errors import ConfigError
from zoo.options import GROUPS
from zoo.registry import get_spec, list_models


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


def _train(name: str, values: dict[str, Any]) -> None:
    from zoo.training import TrainingError, train

    try:
        cfg = zconfig.TrainConfig.for_model(name, **values)
    except ConfigError as err:
        st.error(f"Invalid option: {err}")
        return
    root = data.store_root()
    bar = st.progress(0.0, text=f"training {name}…")
    live = st.empty()
    rows: dict[str, list[float]] = {}

    def progress(epoch: int, epochs: int, logs: dict[str, float]) -> None:
        for key, value in logs.items():
            rows.setdefault(key, []).append(value)
        loss = logs.get("val_loss", logs.get("loss", logs.get("g_loss")))
        shown = f" · {'val_loss' if 'val_loss' in logs else 'loss'} {loss:.4g}" if loss else ""
        bar.progress(min(epoch / max(epochs, 1), 1.0), text=f"epoch {epoch}/{epochs}{shown}")
        quantity = "loss" if "loss" in rows else next(iter(rows), None)
        if quantity is not None:
            live.altair_chart(charts.curves(rows, quantity, height=240), width="stretch")

    try:
        run = train(name, config=cfg, store=root, progress=progress)
    except TrainingError as err:
        st.error(f"Training failed: {err}")
        return
    finally:
        data.clear_store_caches()
    bar.progress(1.0, text="done")
    st.session_state[ui.SELECTED] = run.ref
    from zoo.summary import headline

    key, value = headline(run.task, run.metrics)
    st.success(f"Stored **{run.ref}**" + (f": test {key} {value:.4g}" if value is not None else ""))
    message = run.diagnosis.get("message")
    if message:
        st.info(f"**Diagnosis:** {message}")
    ui.links(run.ref, ["model", "curves", "compare"])


def body() -> None:
    """The Train page: entry, form, training with live progress."""
    st.title("Train")
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
        _train(name, values)


ui.run_page(body)
