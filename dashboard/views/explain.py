"""Explain page: a test sample or the user's own input, its prediction and its SHAP
explanation (method, additivity, sanity check), and global importance.

Everything is shown in the data's units (the dataset's `to_units` / `features_to_units`):
raw feature values, the forecaster's inputs, forecast, SHAP values and base value in ppm.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from dashboard import charts, data, inputs, model_data, prefetch, ui
from explain.units import tidy_inputs
from zoo.errors import DataError
from zoo.evaluation import time_step
from zoo.trained import validate_input

INDEX_KEY = "explain_index"
FILTER_KEY = "explain_filter"
PREFETCH_KEY = "explain_prefetch"  # session state: this visitor's prefetch (dashboard.prefetch)
VIEW_KEY = "explain_view"
PICKED_KEY = "explain_picked"  # session state: the visitor picked a test sample just now


def _is_digit_image(m: Any) -> bool:
    return m.spec.dataset.startswith("digits")


def _is_user_image(m: Any) -> bool:
    # An entry on the user's image folder (or images in an .npz) read as images.
    return not _is_digit_image(m) and m.dataset().input_kind == "image"


def _user_image(m: Any, raw: bytes) -> np.ndarray:
    """An uploaded image as the input of an entry on the user's images: converted and
    resized like its training images (the version's stored preprocessing)."""
    import io

    from PIL import Image, UnidentifiedImageError

    from zoo import preprocessing

    prep = m.preprocessing
    if prep is None or prep.get("kind") != "images":
        raise DataError(f"{m.ref} has no stored image preprocessing; explain a test sample")
    try:
        img = Image.open(io.BytesIO(raw))
        too_large = img.width * img.height > inputs.MAX_PIXELS
        if not too_large:
            img.load()
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        raise DataError("the uploaded file is not an image Pillow can read") from None
    if too_large:
        raise DataError(f"the image has more than {inputs.MAX_PIXELS / 1e6:.1f} MP; shrink it")
    return preprocessing.to_model_input(prep, img)


# --------------------------------------------------------------------------- choosing


def _candidates(m: Any, out: dict, choice: str) -> list[int]:
    n = len(out["y"])
    if m.task == "classification":
        if choice == "misclassified":
            return [int(i) for i in np.flatnonzero(out["predicted"] != out["y"])]
        if choice == "least confident":
            return [int(i) for i in np.argsort(out["confidence"])[:50]]
        if choice.startswith("class "):
            k = list(m.class_names).index(choice.removeprefix("class "))
            return [int(i) for i in np.flatnonzero(out["y"] == k)]
    elif choice == "largest error":
        return [int(i) for i in np.argsort(-out["error"])[:50]]
    return list(range(n))


def _label(m: Any, out: dict, i: int) -> str:
    if m.task == "classification":
        names = list(m.class_names)
        true, pred = names[out["y"][i]], names[out["predicted"][i]]
        mark = "" if true == pred else " ✗"
        return f"#{i}: true {true}, predicted {pred} ({out['confidence'][i]:.2f}){mark}"
    d = m.dataset()
    return f"#{i}: error {out['error'][i] * d.target_scale:.3f} {d.unit}".rstrip()


def _pick_test_sample(m: Any, out: dict) -> int | None:
    options = ["all"]
    if m.task == "classification":
        options += ["misclassified", "least confident"]
        options += [f"class {c}" for c in m.class_names]
    else:
        options += ["largest error"]
    choice = st.selectbox("Show", options, key=FILTER_KEY)
    cands = _candidates(m, out, choice)
    if not cands:
        st.info(f"No test sample is {choice}.")
        return None
    if st.session_state.get(INDEX_KEY) not in cands:
        st.session_state[INDEX_KEY] = cands[0]
    return st.selectbox(
        f"Test sample ({len(cands)} of {len(out['y'])})",
        cands,
        key=INDEX_KEY,
        format_func=lambda i: _label(m, out, i),
        on_change=st.session_state.__setitem__,  # a visitor's pick, not a reset by the page
        args=(PICKED_KEY, True),
    )


# --------------------------------------------------------------------------- uploads


def _upload(m: Any) -> tuple[np.ndarray, str, float | None] | None:
    """The user's own input as a model batch, a cache key and, for a series given as its
    values, its last value (the forecast level builds on it); or None."""
    d = m.dataset()
    last: float | None = None
    if _is_digit_image(m):
        up = st.file_uploader(
            "A picture of one digit (PNG or JPEG)", type=["png", "jpg", "jpeg"], key="upload"
        )
        ink = st.radio("Ink", ["auto", "dark", "light"], horizontal=True, key="upload_ink")
        if up is None:
            return None
        raw = up.getvalue()
        x = inputs.image_to_digit(raw, ink=ink)
        st.image(charts.digit(x), caption="as the model sees it (8x8)", width=128)
    elif _is_user_image(m):
        kinds = ["png", "jpg", "jpeg", "bmp", "gif"]
        up = st.file_uploader("An image (PNG, JPEG, BMP or GIF)", type=kinds, key="upload")
        if up is None:
            return None
        raw = up.getvalue()
        x = _user_image(m, raw)
    elif (m.preprocessing or {}).get("kind") == "table":
        got = _user_table(m)
        if got is None:
            return None
        x, raw = got
    elif (m.preprocessing or {}).get("kind") == "series":
        got_series = _user_series(m)
        if got_series is None:
            return None
        x, raw, last = got_series
    elif d.input_kind == "tabular":
        names = list(d.feature_names or [])
        example = tidy_inputs(d.features_to_units(d.x_test[:3]), d)
        st.download_button(
            "Example CSV (3 test rows)",
            pd.DataFrame(example, columns=names).to_csv(index=False),
            file_name=f"{m.name}-example.csv",
            mime="text/csv",
            on_click="ignore",
        )
        up = st.file_uploader(
            "A CSV with one row per sample and the features as columns", type=["csv"], key="upload"
        )
        if up is None:
            return None
        raw = up.getvalue()
        rows = d.features_from_units(inputs.csv_rows(raw, names))
        row = 0
        if len(rows) > 1:
            row = int(st.number_input("Row", 0, len(rows) - 1, 0, key="upload_row"))
        x = rows[row]
        raw += f"#row{row}".encode()
    else:
        column = (d.feature_names or ("value",))[0]
        length = int(d.input_shape[0])
        example = tidy_inputs(d.features_to_units(d.x_test[0, :, 0]), d)
        raw = _window_upload(m, column, example, "one test window", d.feature_unit)
        if raw is None:
            return None
        x = d.features_from_units(inputs.csv_window(raw, column, length))
    batch = validate_input(m.model, x, what=m.ref)
    return batch, "upload:" + hashlib.sha1(raw).hexdigest(), last


def _window_upload(
    m: Any, column: str, example: np.ndarray, what: str, unit: str, whose: str = ""
) -> bytes | None:
    """An example CSV of one window (`example` in column `column`) and the uploader for
    the user's own; the uploaded bytes, or None before an upload."""
    st.download_button(
        f"Example CSV ({what})",
        pd.DataFrame({column: example}).to_csv(index=False),
        file_name=f"{m.name}-example.csv",
        mime="text/csv",
        on_click="ignore",
    )
    up = st.file_uploader(
        f"A CSV with a column {column!r} of {whose}{len(example)} values"
        + (f" ({unit})" if unit else "")
        + ", oldest first",
        type=["csv"],
        key="upload",
    )
    return None if up is None else up.getvalue()


def _user_series(m: Any) -> tuple[np.ndarray, bytes, float] | None:
    """A user's series entry takes its own values (levels), as `predict_raw` does: the
    last window + 1 of them, turned into the model's standardized changes by the stored
    preprocessing. Returns (input, raw bytes, last level) or None before an upload."""
    from zoo import preprocessing

    prep = m.preprocessing
    column, window = str(prep["column"]), int(prep["window"])
    d = m.dataset()
    # The first test window's levels, rebuilt from its last level and its changes.
    changes = d.features_to_units(d.x_test[0, :, 0])
    last_level = float(d.extra["last_level_test"][0])
    levels = last_level - np.concatenate([np.cumsum(changes[::-1])[::-1], [0.0]])
    what = f"one test window: {window + 1} values"
    raw = _window_upload(m, column, tidy_inputs(levels, d), what, d.unit, "the series' last ")
    if raw is None:
        return None
    values = inputs.csv_window(raw, column, window + 1)[:, 0]
    x = preprocessing.to_model_input(prep, values)[0]
    return x, raw, float(values[-1])


def _user_table(m: Any) -> tuple[np.ndarray, bytes] | None:
    """An entry on the user's own CSV: rows as written in that file (raw columns, text
    categories, blanks allowed), converted with the version's stored preprocessing."""
    from zoo import preprocessing

    prep = m.preprocessing
    transform = preprocessing.TableTransform.from_json(prep.get("transform"))
    columns = [*transform.numeric, *transform.categorical]
    example = _raw_test_rows(m, columns)
    if example is not None:
        st.download_button(
            "Example CSV (3 test rows, as in your file)",
            example.to_csv(index=False),
            file_name=f"{m.name}-example.csv",
            mime="text/csv",
            on_click="ignore",
        )
    up = st.file_uploader(
        "A CSV with one row per sample and your file's own columns", type=["csv"], key="upload"
    )
    st.caption(
        f"Columns: {', '.join(columns)}. Values as in your file: text categories, blanks "
        "allowed (filled like the training data)."
    )
    if up is None:
        return None
    raw = up.getvalue()
    header, rows = inputs.csv_table(raw)  # the cheap checks first: size, width, fields
    frame = pd.DataFrame(rows, columns=header).replace("", None)
    for name in transform.numeric:
        if name in frame:
            frame[name] = pd.to_numeric(frame[name], errors="coerce")
    batch = preprocessing.to_model_input(prep, frame)
    row = 0
    if len(batch) > 1:
        row = int(st.number_input("Row", 0, len(batch) - 1, 0, key="upload_row"))
    return batch[row], raw + f"#row{row}".encode()


def _raw_test_rows(m: Any, columns: list[str]) -> pd.DataFrame | None:
    # The first test rows as the user's file has them, when that file is still there.
    from zoo.userdata import Source, read_table

    d = m.dataset()
    url = str((d.description or {}).get("url", ""))
    rows = d.extra.get("rows_test") if getattr(d, "extra", None) else None
    if not url.startswith("file://") or rows is None:
        return None
    try:
        from urllib.parse import unquote, urlparse

        path = unquote(urlparse(url).path)
        table = read_table(Source("csv", path, target=m.preprocessing.get("target") or ""))
        return table.iloc[list(rows[:3])][[c for c in columns if c in table]]
    except Exception:  # the file moved or changed: no example, the upload still works
        return None


# --------------------------------------------------------------------------- showing


def _show_input(m: Any, x: np.ndarray) -> None:
    d = m.dataset()
    if _is_digit_image(m):
        st.image(charts.digit(x[0]), caption="input", width=128)
    elif _is_user_image(m):
        image = np.clip(np.asarray(x[0], "float64"), 0.0, 1.0)
        rgb = image.ndim == 3 and image.shape[-1] == 3
        st.image(image if rgb else charts.digit(image), caption="input", width=128)
    elif d.input_kind == "tabular":
        st.dataframe(
            pd.DataFrame(
                {
                    "feature": list(d.feature_names),
                    "value": d.features_to_units(x[0]),
                    "model input (standardized)": x[0],
                }
            ),
            hide_index=True,
            height=220,
        )
    else:
        name = (d.feature_names or ("input",))[0]
        label = f"{name} ({d.feature_unit})" if d.feature_unit else name
        values = [float(v) for v in d.features_to_units(x[0, :, 0])]
        spec = charts.series_spec({label: values}, x_title="step") | {"height": 200}
        st.vega_lite_chart(spec=spec, width="stretch")


def _show_prediction(m: Any, x: np.ndarray, true: Any = None, last_level: Any = None) -> None:
    from zoo.evaluation import class_probabilities

    raw = m.predict(x)
    if m.task == "classification":
        proba = class_probabilities(raw)[0]
        names = list(m.class_names)
        k = int(proba.argmax())
        text = f"Predicted **{names[k]}** with probability {proba[k]:.3f}"
        if true is not None:
            text += f" · true class **{names[int(true)]}**"
        st.markdown(text)
        spec = charts.bars_spec(dict(zip(names, proba, strict=True)))
        st.vega_lite_chart(spec=spec, width="stretch")
    else:
        d = m.dataset()
        u = f" {d.unit}" if d.unit else ""
        if "last_level_test" not in d.extra:  # a regression on the user's table or arrays
            st.markdown(f"Predicted **{float(d.to_units(raw[0, 0])):.4g}{u}**")
            return
        change = float(d.to_units(raw[0, 0]))
        text = f"Forecast change **{change:+.3f}{u}** next {time_step(d)}"
        if last_level is not None:
            text += f" → level **{float(last_level) + change:.2f}{u}**"
        st.markdown(text)


def _show_explanation(root: str, ref: str, m: Any, sample: str, x: np.ndarray, y: Any) -> None:
    import explain

    e, meta, fid = data.explained(root, ref, sample, x, y)  # in the model's space (cached)
    d = m.dataset()
    shown = explain.plots.in_units(e, d)  # what a person reads: the data's units
    u = f" {shown.zoo_units.output}" if shown.zoo_units.output else ""
    cols = st.columns([3, 2, 2, 2])
    cols[0].metric("method", meta.method)
    add_max = fid["additivity_max"] * abs(d.target_scale)
    cols[1].metric("additivity error (max)", f"{add_max:.2g}{u}")
    cols[2].metric("additivity error (normalized)", f"{fid['additivity_normalized_max']:.2%}")
    cols[3].metric("compute time", f"{meta.ms_per_sample:.0f} ms")
    st.caption(
        f"{explain.describe_method(meta)}. Additivity = |Σ SHAP + base − f(x)|, measured "
        "against the model's own output; normalized by max(|f(x) − base|, 0.1 × the "
        "output's spread over the background)."
    )
    # The kind's own view first (what dashboard.prefetch draws); a waterfall works for every kind.
    view = st.radio(
        "View", prefetch.explanation_views(meta.input_kind), horizontal=True, key=VIEW_KEY
    )
    with st.container(key="explain_figure"):  # what the browser tests and benches wait for
        st.image(data.explanation_png(root, ref, sample, view, shown), width="content")

    sanity_key = ("sanity", ref, sample)
    if st.button("Run the sanity check (randomized model)", key="explain_sanity"):
        st.session_state["explain_sanity_for"] = sanity_key
    if st.session_state.get("explain_sanity_for") == sanity_key:
        with st.spinner("Explaining a randomized copy of the model…"):
            full = data.fidelity(root, ref, sample, True, e)
        cols = st.columns(3)
        cols[0].metric("rank corr. trained vs trained", f"{full['rank_corr_trained']:.3f}")
        cols[1].metric("rank corr. trained vs randomized", f"{full['rank_corr_randomized']:.3f}")
        cols[2].metric("sanity check", "passed" if full["sanity_passed"] else "failed")
        st.caption(
            "A faithful explanation changes when the model's weights are re-initialized: "
            "the correlation with the randomized model should be far below the correlation "
            "between two runs on the trained model."
        )


def _global(root: str, ref: str) -> None:
    import explain

    st.subheader("Global importance")
    if st.toggle("Show mean |SHAP| over the test split", key="explain_global"):
        g = data.global_importance(root, ref)
        d = data.load(root, ref).dataset()
        ui.pyplot(explain.plots.global_importance(explain.plots.in_units(g, d)))
        meta = explain.info(g)
        st.caption(f"{meta.method}; {'read from the disk cache' if meta.cached else 'computed'}")


def body() -> None:
    """The Explain page: choose an input, predict, explain on request."""
    # The explainer is built in the background, so the Explain click is fast.
    page = ui.model_page("Explain", exclude=["gan"], warm_explainer=True)
    if page is None:
        return
    root, ref, m = page.root, page.ref, page.model
    d = m.dataset()
    source = st.radio(
        "Input", ["test sample", "your own input"], horizontal=True, key="explain_source"
    )
    y = true = last_level = None
    if source == "test sample":
        out = model_data.test_outputs(root, ref)
        index = _pick_test_sample(m, out)
        if index is None:
            return
        x = d.x_test[index : index + 1]
        sample = f"test:{index}"
        if m.task == "classification":
            true = int(out["y"][index])
            y = np.array([true])
        else:
            levels = d.extra.get("last_level_test")  # forecasters only
            last_level = None if levels is None else levels[index]
        if st.session_state.pop(PICKED_KEY, False):
            _prefetch(root, ref, sample, x, y)
    else:
        try:
            got = _upload(m)
        except DataError as err:
            st.error(f"Cannot use this file: {err}")
            got = None
        if got is None:
            _global(root, ref)
            return
        x, sample, last_level = got

    left, right = st.columns([1, 2])
    with left:
        _show_input(m, x)
    with right:
        _show_prediction(m, x, true=true, last_level=last_level)

    _explain_part(root, ref, m, sample, x, y)
    _global(root, ref)


def _prefetch(root: str, ref: str, sample: str, x: np.ndarray, y: Any) -> None:
    # A visitor who picks a sample usually explains it next: the explanation and its
    # figure are computed meanwhile (dashboard.prefetch). Only for a pick (the box's
    # on_change), not for the sample a new model or filter starts on.
    earlier = st.session_state.get(PREFETCH_KEY)
    if earlier is not None:
        earlier.cancel()  # still queued: that sample was passed over
    if st.session_state.get("explained") != (ref, sample):
        view = st.session_state.get(VIEW_KEY)  # the visitor's view, when chosen before
        st.session_state[PREFETCH_KEY] = prefetch.prefetch(root, ref, sample, x, y, view)


@st.fragment
def _explain_part(root: str, ref: str, m: Any, sample: str, x: np.ndarray, y: Any) -> None:
    """The Explain button and what it shows. A fragment: the click, the view radio and the
    sanity check rerun this part only, not the pickers, the prediction and its chart above
    (less server work per click, and the browser redraws only what changed). Its errors
    are shown here as on any page (`ui.run_page`): Streamlit would show an exception
    raised in a fragment with its traceback."""
    ui.run_page(lambda: _explain_click(root, ref, m, sample, x, y))


def _explain_click(root: str, ref: str, m: Any, sample: str, x: np.ndarray, y: Any) -> None:
    target = (ref, sample)
    if st.button("Explain", type="primary", key="explain_go"):
        st.session_state["explained"] = target
    if st.session_state.get("explained") == target:
        try:
            with st.spinner("Computing SHAP values…"):
                _show_explanation(root, ref, m, sample, x, y)
        except DataError as err:
            st.error(f"Cannot explain this input: {err}")
    else:
        st.caption("Press Explain to compute the SHAP explanation of this input.")


ui.run_page(body)
