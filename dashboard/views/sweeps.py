"""Sweeps page: one sweep's trials ranked by best validation loss, and what each option did.

A sweep (`zoo sweep`, `zoo.sweep`) trains one entry over a grid or a random sample of
options; every trial is a stored version. This page reads the sweep's summary
(`<store>/_sweeps/<id>.json`, rewritten after every trial, so a running sweep fills in
on the next rerun): the ranked table, one chart per swept option (its value against the
best validation loss, coloured by the overfitting verdict, the generalization gap in
the tooltip and as point size), and the best trial linked to its Model page.
"""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import charts, data, ui
from zoo.sweeps import SweepResult, list_sweeps, value_text

QUERY = "sweep"
VERDICT_COLORS = alt.Scale(
    domain=["good fit", "overfitting", "underfitting", "unknown"],
    range=["#2ca02c", "#d62728", "#ff7f0e", "#7f7f7f"],
)


def _points(result: SweepResult) -> pd.DataFrame:
    """One row per good trial: each swept option's value, loss, gap, verdict, version."""
    rows = []
    for t in result.ranked():
        if t.status != "ok" or t.best_val_loss is None:
            continue
        row: dict[str, Any] = {
            "trial": t.index,
            "best val loss": t.best_val_loss,
            "gap": t.gap if t.gap is not None else 0.0,
            "|gap|": abs(t.gap or 0.0),
            "verdict": t.verdict or "unknown",
            "version": t.ref,
        }
        for key in result.space:
            value = t.options.get(key)
            row[key] = value if isinstance(value, int | float) else value_text(value)
        rows.append(row)
    return pd.DataFrame(rows)


def options_chart(result: SweepResult) -> alt.HConcatChart | None:
    """Each swept option (x) against the best validation loss (y), one panel per option;
    colour: the verdict, size: the generalization gap. None when no trial succeeded.

    A grid's values are categories in their own order; a random range is a numeric axis
    (log-scaled for a `:log` range).
    """
    frame = _points(result)
    if frame.empty:
        return None
    panels = []
    for key, text in result.space.items():
        numeric = (
            result.mode == "random" and ".." in text and pd.api.types.is_numeric_dtype(frame[key])
        )
        if numeric:
            scale = alt.Scale(type="log") if text.endswith(":log") else alt.Scale(zero=False)
            x = alt.X(f"{key}:Q", title=key, scale=scale)
        else:
            order = [value_text(v) for v in _grid_values(result, key)]
            frame[f"{key} "] = frame[key].map(value_text)
            x = alt.X(f"{key} :N", title=key, sort=order)
        panels.append(
            alt.Chart(frame)
            .mark_circle(opacity=0.85)
            .encode(
                x=x,
                y=alt.Y("best val loss:Q", scale=alt.Scale(zero=False)),
                color=alt.Color("verdict:N", scale=VERDICT_COLORS),
                size=alt.Size("|gap|:Q", title="|gap| (val - train)"),
                tooltip=["trial", "version", key, "best val loss", "gap", "verdict"],
            )
            .properties(width=260, height=240)
        )
    return alt.hconcat(*panels)


def _grid_values(result: SweepResult, key: str) -> list[Any]:
    values = [t.options.get(key) for t in result.trials]
    seen = dict.fromkeys(tuple(v) if isinstance(v, list) else v for v in values)
    try:
        return sorted(seen)  # numbers low to high; names alphabetically
    except TypeError:
        return list(seen)


def _pick(sweeps: list[SweepResult]) -> SweepResult:
    ids = [s.id for s in reversed(sweeps)]  # newest first
    wanted = st.query_params.get(QUERY)
    index = ids.index(wanted) if wanted in ids else 0
    chosen = st.selectbox("Sweep", ids, index=index, key="sweep_picker")
    st.query_params[QUERY] = chosen
    return next(s for s in sweeps if s.id == chosen)


def body() -> None:
    """The Sweeps page."""
    st.title("Sweeps")
    sweeps = list_sweeps(data.store_root())
    if not sweeps:
        st.info(
            "No sweeps in this store yet. Start one from a terminal, e.g. "
            "`zoo sweep mlp-cancer --grid l2=0,1e-4,1e-3 dropout=0,0.3 --quick`."
        )
        return
    result = _pick(sweeps)
    counts = ", ".join(f"{n} {status}" for status, n in result.counts().items())
    took = f" in {result.seconds:.0f} s" if result.seconds else ""
    st.caption(
        f"**{result.name}**, {result.mode} search over "
        + "; ".join(f"{k}: {v}" for k, v in result.space.items())
        + f" — {result.status}{took}, {counts}, {result.parallel} at a time ({result.engine})"
        + (
            "; fixed: " + " ".join(f"{k}={v}" for k, v in result.options.items())
            if result.options
            else ""
        )
    )
    best = result.best
    if best is not None:
        value = "-" if best.value is None else f"{best.value:.4g}"
        st.success(
            f"**Best trial:** {best.ref} ({best.options_text()}) — best validation loss "
            f"{best.best_val_loss:.4g}, gap (val − train) {best.gap or 0:+.4g}, "
            f"test {best.metric} {value}, {best.verdict}"
        )
        ui.links(best.ref, ["model", "curves", "compare"])
    else:
        st.warning("No trial of this sweep has finished well yet.")
    st.markdown("**Trials**, ranked by best validation loss (lower is better)")
    table = pd.DataFrame(result.table())
    if not table["reason"].astype(bool).any():
        table = table.drop(columns=["reason"])
    st.dataframe(table, hide_index=True, width="stretch")
    chart = options_chart(result)
    if chart is not None:
        st.markdown("**Each option against the best validation loss**")
        st.caption(
            "Colour: the overfitting verdict of the trial's training curves; size: the "
            "generalization gap (validation − training loss at the best epoch)."
        )
        st.vega_lite_chart(spec=charts.spec(chart, "options"))


ui.run_page(body)
