"""Compare page: two or more runs side by side — config diff, metrics, overlaid curves.

This is where the effect of an option (L2, dropout, batch norm, ...) on overfitting
shows: the diff table names what changed, the curves and diagnosis what it did. Each
run's metrics carry their 95 % intervals, and each run is set against its own best
baseline (fitted on that run's training data, scored on its test split).
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from dashboard import baseline_text, charts, data, ui
from zoo.registry import get_spec
from zoo.summary import comparison, headline, interval_text, number_text

PICK_KEY = "compare_refs"


def _task(ref: str) -> str:
    return get_spec(ref.partition("@")[0]).task


def _default(refs: list[str]) -> list[str]:
    """Two versions of the selected entry, else two runs of one task (their curves
    overlay), the second on the same data or of the same family where there is one.

    A classifier and the GAN share no per-epoch quantity, so `refs[:2]` (cnn-digits and
    gan-digits in zoo order) would show no curves at all.
    """
    selected = st.session_state.get(ui.SELECTED, "")
    name = selected.partition("@")[0]
    same = [r for r in refs if r.partition("@")[0] == name]
    if len(same) >= 2:
        return same[:2]
    for first in [*same, *refs]:
        alike = [r for r in refs if r != first and _task(r) == _task(first)]
        if alike:
            return [first, _closest(first, alike)]
    return refs[:2]


def _closest(first: str, others: list[str]) -> str:
    # Same data first, then the same family: an MLP on a table was paired with the CO2
    # LSTM, whose options all differed.
    mine = get_spec(first.partition("@")[0])

    def distance(ref: str) -> tuple[bool, bool]:
        spec = get_spec(ref.partition("@")[0])
        return spec.dataset != mine.dataset, spec.family != mine.family

    return min(others, key=distance)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return ",".join(map(str, value))
    return str(value)


def config_diff(models: dict[str, Any]) -> pd.DataFrame:
    """Options that differ between the runs (rows) with each run's value (columns).

    Example:
        >>> config_diff({"a@1": m1, "a@2": m2})  # doctest: +SKIP
    """
    refs = list(models)
    base = models[refs[0]].config
    keys: list[str] = []
    for ref in refs[1:]:
        for key in base.diff(models[ref].config):
            if key not in keys:
                keys.append(key)
    from zoo.card import origin_text
    from zoo.imports import SPLIT_KEYS

    # An imported model or an ensemble used no training options: its config holds only
    # the split, and the defaults a TrainConfig fills in must not read as its choices.
    origins = {r: getattr(models[r], "origin", None) for r in refs}

    def shown(ref: str, key: str) -> str:
        if origins[ref] and key not in SPLIT_KEYS:
            return "–"
        return _fmt(models[ref].config.to_dict()[key])

    rows = [{"option": k, **{r: shown(r, k) for r in refs}} for k in keys]
    if any(origins.values()):
        made = {r: origin_text({"origin": o}) if o else "trained here" for r, o in origins.items()}
        rows.insert(0, {"option": "origin", **made})
    return pd.DataFrame(rows, columns=["option", *refs])


def metrics_table(models: dict[str, Any]) -> pd.DataFrame:
    """Test metrics and fit diagnosis of each run, one row per run.

    Example:
        >>> metrics_table({"a@1": m1})  # doctest: +SKIP
    """
    rows = []
    for ref, m in models.items():
        key, value = headline(m.task, m.metrics)
        diag = m.diagnosis
        rows.append(
            {
                "run": ref,
                "metric": key,
                "value": value,
                "95 % interval": baseline_text.metric_interval(
                    m.metrics, key, accuracy=key == "accuracy"
                ),
                "roc_auc": m.metrics.get("roc_auc"),
                "roc_auc 95 %": baseline_text.metric_interval(m.metrics, "roc_auc", accuracy=True),
                "diagnosis": diag.get("verdict", ""),
                "best epoch": diag.get("best_epoch"),
                "epochs run": diag.get("epochs_run")
                or m.metrics.get("timing", {}).get("epochs_run"),
                "gap at best": diag.get("gap_at_best"),
                "gap at end": diag.get("gap_at_end"),
                "best val loss": diag.get("best_val_loss"),
                "train s": m.metrics.get("timing", {}).get("train_seconds"),
                "parameters": m.metrics.get("parameters"),
            }
        )
    return pd.DataFrame(rows)


def versus_table(models: dict[str, Any]) -> pd.DataFrame:
    """Each run against its own best baseline, one row per run: the compared metric, the
    model's value and the baseline's with 95 % intervals, model − baseline with its paired
    interval, and the verdict ("no baseline stored" for a version trained before them).

    Example:
        >>> versus_table({"a@1": m1})  # doctest: +SKIP
    """
    rows = []
    for ref, m in models.items():
        vs = comparison(m.metrics)
        if vs is None:
            error = (m.metrics.get("baselines") or {}).get("error")
            verdict = f"no baselines: {error}" if error else "no baseline stored"
            rows.append({"run": ref, "verdict": verdict})
            continue
        acc = vs["metric"] == "accuracy"

        def shown(value: Any, iv: Any, *, signed: bool = False, acc: bool = acc) -> str:
            text = number_text(value, signed=signed, accuracy=acc)
            return f"{text} {interval_text(iv, signed=signed, accuracy=acc)}".strip()

        rows.append(
            {
                "run": ref,
                "metric": vs["metric"],
                "model [95 %]": shown(vs["model"], vs["model_interval"]),
                "best baseline": vs["baseline"],
                "baseline [95 %]": shown(vs["baseline_value"], vs["baseline_interval"]),
                "model − baseline [paired 95 %]": shown(
                    vs["difference"], vs["difference_interval"], signed=True
                ),
                "verdict": vs["verdict"],
            }
        )
    columns = [
        "run",
        "metric",
        "model [95 %]",
        "best baseline",
        "baseline [95 %]",
        "model − baseline [paired 95 %]",
        "verdict",
    ]
    return pd.DataFrame(rows, columns=columns).fillna("")


def body() -> None:
    """The Compare page: pick runs, then diff, metrics and curves."""
    st.title("Compare runs")
    root = data.store_root()
    refs = data.good_refs(root)
    if len(refs) < 2:
        st.info("Comparing needs at least two trained versions; train another on the Train page.")
        return
    if PICK_KEY not in st.session_state:
        st.session_state[PICK_KEY] = _default(refs)
    else:
        st.session_state[PICK_KEY] = [r for r in st.session_state[PICK_KEY] if r in refs]
    labels = data.ref_labels(root)
    chosen = st.multiselect(
        "Runs (the first is the reference)",
        refs,
        key=PICK_KEY,
        format_func=lambda r: labels.get(r, r),
    )
    if len(chosen) < 2:
        st.info("Pick two or more runs.")
        return
    models = {ref: data.load(root, ref) for ref in chosen}

    st.subheader("What differs")
    diff = config_diff(models)
    if diff.empty:
        st.caption("The configs are identical (same options, same seed).")
    else:
        st.dataframe(diff, hide_index=True)

    st.subheader("Test metrics and fit")
    st.dataframe(metrics_table(models), hide_index=True)
    notes = {baseline_text.interval_note(m.metrics) for m in models.values()} - {""}
    if notes:
        st.caption("Brackets: " + "; ".join(sorted(notes)) + ".")
    for ref, m in models.items():
        if m.diagnosis.get("message"):
            st.caption(f"**{ref}**: {m.diagnosis['message']}")

    st.subheader("Each run vs its best baseline")
    st.dataframe(versus_table(models), hide_index=True)
    st.caption(
        "Each run is compared with its own best baseline, fitted on that run's training "
        "data and scored on its test samples; the verdict follows the paired interval of "
        "model − baseline. Overlapping intervals of two runs say nothing about run A vs "
        "run B: that needs a paired comparison of the two runs on the same test samples."
    )

    st.subheader("Curves")
    common = [
        q
        for q in charts.curve_quantities(models[chosen[0]].history)
        if all(q in m.history for m in models.values())
    ]
    if not common:
        st.caption("These runs record no common per-epoch quantity.")
        return
    quantity = st.selectbox("Quantity", common, key="compare_quantity")
    histories = {ref: m.history for ref, m in models.items()}
    spec = charts.spec(charts.overlay(histories, quantity), "overlay")
    st.vega_lite_chart(spec=spec, width="stretch")


ui.run_page(body)
