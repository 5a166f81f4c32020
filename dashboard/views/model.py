"""Model page: card, config, architecture and test metrics of one `name@version`; for
trainers, a confirmed "Delete this version" (`dashboard.deletes`)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import access, baseline_text, data, deletes, fairness_view, model_data, ui
from zoo import fairness, intervals
from zoo.config import TrainConfig
from zoo.errors import ZooError
from zoo.evaluation import NO_CHANGE, forecasts, time_step
from zoo.summary import comparison, naive_verdict

# How the comparison line is shown, by the words its paired interval earned.
_VERDICT_BOX = {
    intervals.BEATS: st.success,
    intervals.SAME: st.info,
    intervals.WORSE: st.warning,
}
NO_BASELINE = "no baseline stored for this version (trained before baselines were added)"
# The Groups section's select box: one key for every model; a grouping the newly shown
# model does not have falls back to its default before the box is drawn.
GROUPS_KEY = "groups_by"
DELETED_KEY = "model_deleted"  # session state: the line to show after a deletion
TAB_KEY = "tab"  # the open tab: session state and the URL's query parameter


def _config(m: object) -> None:
    cfg = m.config  # type: ignore[attr-defined]
    changed = TrainConfig.for_model(cfg.model).diff(cfg)
    rows = [
        {
            "option": k,
            "value": str(v),
            "entry default": str(changed[k][0]) if k in changed else "",
        }
        for k, v in cfg.to_dict().items()
        if k != "model"
    ]
    st.caption(
        f"{len(changed)} option(s) differ from {cfg.model}'s defaults"
        + (f": {', '.join(changed)}" if changed else "")
    )
    st.dataframe(pd.DataFrame(rows), hide_index=True)


def _architecture(m: object) -> None:
    nets = (
        {"generator": m.generator, "discriminator": m.discriminator}  # type: ignore[attr-defined]
        if m.family == "gan"  # type: ignore[attr-defined]
        else {"model": m.model}  # type: ignore[attr-defined]
    )
    for label, net in nets.items():
        layers = model_data.layer_table(net)
        st.markdown(
            f"**{label}** `{net.name}`: {len(layers)} layers, {net.count_params():,} parameters, "
            f"input {tuple(net.input_shape)} → output {tuple(net.output_shape)}"
        )
        st.dataframe(layers, hide_index=True)


def _interval(col: object, metrics: dict, key: str, *, accuracy: bool = False) -> None:
    # The metric's stored 95 % interval, under it (nothing for a version without one).
    shown = baseline_text.metric_interval(metrics, key, accuracy=accuracy)
    if shown:
        col.caption(f"95 % interval {shown}")  # type: ignore[attr-defined]


def _baselines(m: object) -> None:
    """Model vs best baseline in words, then every stored baseline with its interval."""
    metrics = m.metrics  # type: ignore[attr-defined]
    st.markdown("**Model vs classic baselines** (same training data, same test samples)")
    vs = comparison(metrics)
    base = metrics.get("baselines") or {}
    if vs is None:
        if base.get("error"):
            st.warning(f"No baselines for this version: {base['error']}")
        else:
            st.info(NO_BASELINE.capitalize())
        return
    _VERDICT_BOX.get(vs["verdict"], st.info)(vs["text"])
    table = baseline_text.baselines_table(metrics)
    if len(table):
        st.dataframe(table, hide_index=True)
    fit_on = base.get("fit_on", "training")
    st.caption(
        f"Metric: {base.get('metric', vs['metric'])}. Baselines fitted on the {fit_on} "
        f"split(s) ({base.get('n_fit', '?')} samples), never on the test split, and scored on "
        f"the same {base.get('n_test', '?')} samples as the model; ★ marks the best, the one "
        "the model is compared with. The difference model − best baseline has a paired "
        "interval (both recomputed on the same resamples); the words follow it."
    )
    if base.get("error"):
        st.warning(f"Baselines: {base['error']}")


def _classification(root: str, ref: str, m: object) -> None:
    metrics = m.metrics  # type: ignore[attr-defined]
    cols = st.columns(5)
    for col, key in zip(
        cols, ["accuracy", "precision_macro", "recall_macro", "f1_macro", "roc_auc"], strict=True
    ):
        value = metrics.get(key)
        col.metric(key.replace("_", " "), f"{value:.4f}" if value is not None else "–")
        _interval(col, metrics, key, accuracy=True)
    st.caption(
        f"on {metrics.get('n_test', '?')} test samples (metrics.json)"
        + (f"; {note}" if (note := baseline_text.interval_note(metrics)) else "")
    )
    left, right = st.columns(2)
    with left:
        st.markdown("**Confusion matrix** (rows: true class)")
        if "confusion_matrix" in metrics:
            st.vega_lite_chart(spec=model_data.chart_spec(root, ref, "confusion"))
    with right:
        st.markdown("**Per class**")
        per = pd.DataFrame(metrics.get("per_class", {})).T.reset_index(names="class")
        st.dataframe(per, hide_index=True)
    curves, aucs = model_data.roc(root, ref)
    if len(curves):
        st.markdown("**ROC curves** (test split" + (", one-vs-rest)" if len(aucs) > 1 else ")"))
        st.vega_lite_chart(spec=model_data.chart_spec(root, ref, "roc"), width="stretch")


def _regression(root: str, ref: str, m: object) -> None:
    metrics = m.metrics  # type: ignore[attr-defined]
    unit = metrics.get("unit", "")
    squared, plain = (f" ({unit}²)", f" ({unit})") if unit else ("", "")
    cols = st.columns(5)
    for col, (key, label) in zip(
        cols,
        [
            ("mse", f"MSE{squared}"),
            ("mae", f"MAE{plain}"),
            ("r2", "R²"),
            ("naive_mse", f"naive MSE{squared}"),
            ("skill", "skill vs naive"),
        ],
        strict=True,
    ):
        value = metrics.get(key)
        col.metric(label, f"{value:.4g}" if value is not None else "–")
        _interval(col, metrics, key)
    verdict = naive_verdict(metrics)  # by the skill's interval, as every verdict here
    note = baseline_text.interval_note(metrics)
    rule = metrics.get("naive", NO_CHANGE)  # versions stored before it was kept: no change
    forecaster = forecasts(m.dataset())  # type: ignore[attr-defined]
    naive = "'no change' forecast" if rule == NO_CHANGE else f"baseline (the {rule})"
    what, samples = (
        ("forecaster", f"test {time_step(m.dataset())}s")  # type: ignore[attr-defined]
        if forecaster
        else ("model", "test samples")
    )
    st.caption(
        f"The {what} {verdict} the naive {naive} on {metrics.get('n_test', '?')} {samples} "
        "(skill = 1 - MSE / naive MSE)." + (f" {note}." if note else "")
    )
    if forecaster:
        st.markdown("**Forecast vs truth** (test period)")
        st.vega_lite_chart(spec=model_data.chart_spec(root, ref, "forecast"), width="stretch")
    else:  # rows of a table: no time order to plot along
        st.markdown("**Predicted vs actual** (test split)")
        spec = model_data.chart_spec(root, ref, "predicted vs actual")
        st.vega_lite_chart(spec=spec, width="stretch")


def _generation(m: object) -> None:
    metrics = m.metrics  # type: ignore[attr-defined]
    cols = st.columns(4)
    for col, key in zip(cols, ["fid_untrained", "fid_final", "fid_best", "fid_ratio"], strict=True):
        value = metrics.get(key)
        col.metric(key.replace("_", " "), f"{value:.4g}" if value is not None else "–")
        _interval(col, metrics, key)
    note = baseline_text.interval_note(metrics)
    st.caption(
        f"Fréchet distance in {metrics.get('fid_feature_model', 'cnn-digits')}'s feature "
        "space; fid ratio = untrained / final (higher is better)." + (f" {note}." if note else "")
    )
    ui.links(m.ref, ["gan"])  # type: ignore[attr-defined]


def _groups(root: str, ref: str) -> None:
    """Metrics per group of the test split, the largest gaps and their reading."""
    options = fairness_view.groupings(root, ref)
    if st.session_state.get(GROUPS_KEY) not in options:
        st.session_state[GROUPS_KEY] = options[0]
    by = st.selectbox(
        "Group the test samples by",
        options,
        key=GROUPS_KEY,
        help="A feature is split at its training-split median (in the data's units); "
        "'true class' shows which class is served worst.",
    )
    s = fairness_view.slices(root, ref, by)
    st.info(s.reading)
    st.caption(
        f"{s.how}; {s.n_test} test samples. Groups of fewer than {fairness.MIN_GROUP} test "
        "samples are too small to conclude from."
    )
    st.dataframe(fairness_view.table(s), hide_index=True)
    gaps = fairness_view.gaps_table(s)
    if len(gaps):
        st.markdown("**Largest gap per metric** (max − min over the groups)")
        st.dataframe(gaps, hide_index=True)
    st.caption(
        "Recall and false-positive rate: "
        + (
            f"of the positive class, {s.positive}"
            if s.positive
            else "macro over the classes (one-vs-rest for the false-positive rate)"
        )
        + ". Brier score: mean squared error of the predicted probabilities (lower is "
        "better; calibration and sharpness together). Intervals: 95 % bootstrap, each group "
        "resampled on its own; the largest of several gaps is picked after the fact, so "
        "read one whose interval reaches 0 as no evidence of a gap."
    )


def _delete_control(root: str, ref: str) -> None:
    """Trainers only: delete this version, after ticking a confirmation box."""
    who = access.current_visitor()
    if who is None or not who.trainer:
        return
    with st.expander("Delete this version"):
        st.caption(
            f"Removes {ref} from the store {root} for everyone (its model, metrics, card "
            "and cached explanations); the other versions stay, and the number is never "
            "given to another version. Recorded in the audit log."
        )
        sure = st.checkbox(f"Yes, delete {ref}", key=f"model_delete_confirm:{ref}")
        if st.button(f"Delete {ref}", key="model_delete", type="primary", disabled=not sure):
            try:
                done = deletes.delete_version(root, ref)
            except ZooError as err:
                st.error(" ".join(str(err).split()))
                return
            # The next run opens another version: the deleted one is not offered again.
            st.session_state[DELETED_KEY] = deletes.summary(done)
            st.session_state.pop(ui.SELECTED, None)
            st.session_state.pop(f"model_delete_confirm:{ref}", None)
            if ui.QUERY in st.query_params:
                del st.query_params[ui.QUERY]
            st.rerun()


def body() -> None:
    """The Model page of the chosen version."""
    deleted = st.session_state.pop(DELETED_KEY, None)
    if deleted:
        st.success(deleted)
    page = ui.model_page("Model")
    if page is None:
        return
    root, ref, m = page.root, page.ref, page.model
    info = data.run_info(root, ref)
    st.markdown(
        f"**{m.ref}** · {m.family} · {m.task} · dataset `{m.spec.dataset}` · "
        f"{m.metrics.get('parameters', 0):,} parameters"
        + (f" · trained {info.created}" if info and info.created else "")
    )
    classifier = m.task == "classification"
    # Lazy tabs: only the open tab's content runs and is sent. All five drew 6 tables and
    # 2 charts on every visit, though a visitor reads one tab (a browser's work per visit
    # roughly halved, bench/dashboard_load.py). Bound to the URL (`?tab=Groups`), so a tab
    # can be linked to; a tab this model lacks is ignored there.
    labels = ["Test metrics", *(["Groups"] if classifier else []), "Model card", "Config"]
    labels.append("Architecture")
    tabs = dict(zip(labels, st.tabs(labels, key=TAB_KEY, bind="query-params"), strict=True))
    if tabs["Test metrics"].open:
        with tabs["Test metrics"]:
            if m.task == "classification":
                _classification(root, ref, m)
            elif m.task == "regression":
                _regression(root, ref, m)
            else:
                _generation(m)
            _baselines(m)
    if classifier and tabs["Groups"].open:
        with tabs["Groups"]:
            try:
                _groups(root, ref)
            except ZooError as err:  # a grouping this data cannot give: the rest still shows
                st.warning(f"No groups: {err}")
    if tabs["Model card"].open:
        with tabs["Model card"]:
            text = model_data.card(root, ref)
            st.markdown(text or "_This version has no model card._")
    if tabs["Config"].open:
        with tabs["Config"]:
            _config(m)
    if tabs["Architecture"].open:
        with tabs["Architecture"]:
            _architecture(m)
    ui.links(ref, ["curves", "gan" if m.family == "gan" else "explain", "compare", "report"])
    _delete_control(root, ref)


ui.run_page(body)
