"""Data page: your own data as a zoo entry (trainers only).

Upload a CSV/TSV table, a .zip of an image folder (one sub-folder per class) or a .npz,
within the dashboard's upload cap; the page previews it (the table's first rows with its
numeric and categorical columns; a few images per class; the arrays' shapes), and a
trainer picks the entry's name, family and target / column / image size. "Create the
entry" saves the upload into the store (`<store>/_uploads/<entry>/`) and calls
`zoo.add_entry`, with the same checks as `zoo add`: any problem is one line and nothing
stays written. The new entry shows on the Zoo and Train pages at once, and on the other
pages once it is trained. Each visitor may upload at most N files per window (`zoo
dashboard --upload-rate`, 10 per 10 minutes by default); one more is refused in one line
that says when to try again.

The work is in `dashboard.uploads`; `body()` draws the page, so a test can run this file
on its own (`AppTest.from_file`) as well as through the app's navigation.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st
from streamlit.errors import StreamlitAPIException

from dashboard import access, data, deletes, limits, ui, uploads
from zoo.errors import StorageError, ZooError

log = logging.getLogger("dashboard")

UPLOAD_KEY = "data_upload"
COUNTED_KEY = "data_counted"  # session state: ids of the uploads counted by the rate limit
FOR_KEY = "data_for"  # session state: the digest of the upload the form's defaults are for
NAME_KEY = "data_name"
FAMILY_KEY = "data_family"
# Form keys reset when another file is uploaded.
FORM_KEYS = (
    NAME_KEY, FAMILY_KEY, "data_csv_as", "data_target", "data_task", "data_categorical",
    "data_drop", "data_column", "data_date", "data_window", "data_size", "data_color",
    "data_replace", "data_family_before",
)  # fmt: skip
CSV_AS = {
    "table": "a table: predict one column (mlp)",
    "series": "a series: forecast one column (rnn)",
}
SHOWN_CLASSES = 10
PER_CLASS = 4  # images shown per class
AUTO = "detect"
DELETED_KEY = "data_deleted"  # session state: the line to show after a deletion
DELETE_KEYS = ("data_delete_name", "data_delete_versions", "data_delete_confirm")


def _cap_mb() -> float:
    return float(st.get_option("server.maxUploadSize"))


@st.cache_data(max_entries=4, show_spinner=False)
def _preview(kind: str, filename: str, digest: str, _raw: bytes) -> Any:
    """The upload's preview (`uploads.*_preview`), once per file (keyed by its digest)."""
    if kind == "csv":
        return uploads.table_preview(filename, _raw)
    if kind == "images":
        return uploads.image_preview(_raw, per_class=PER_CLASS)
    return uploads.npz_preview(_raw)


def _visitor() -> access.Visitor | None:
    """The visitor when they may add data, else None after one line saying why not."""
    who = access.current_visitor()
    if who is not None and who.trainer:
        return who
    settings = access.settings(os.environ, access.server_secrets())
    nobody = access.Visitor("nobody", access.VIEWER, signed_in=True)
    st.error(access.refusal("Adding your own data", who or nobody, read_only=settings.read_only))
    return None


def _admit(who: access.Visitor, upload: Any) -> None:
    """Count a new upload against its visitor's upload rate, once per file (reruns of
    the page with the same file count nothing); `uploads.UploadLimitError` when over."""
    counted = st.session_state.setdefault(COUNTED_KEY, [])
    if upload.file_id in counted:
        return
    rate = limits.limits_from(os.environ, access.server_secrets()).upload_rate
    visitor = limits.session_owner(who.who if who.signed_in else None, st.session_state)
    uploads.admit(visitor, rate)
    counted[:] = [*counted[-49:], upload.file_id]


def _suggest(filename: str, family: str) -> str:
    from zoo.registry import list_models

    return uploads.suggested_name(filename, family, list_models(include_optional=True))


def _reset_form(digest: str, filename: str, family: str) -> None:
    """New file: forget the previous file's choices, suggest a name."""
    if st.session_state.get(FOR_KEY) == digest:
        return
    for key in FORM_KEYS:
        st.session_state.pop(key, None)
    st.session_state[FOR_KEY] = digest
    st.session_state[FAMILY_KEY] = family
    st.session_state[NAME_KEY] = _suggest(filename, family)


def _family_changed(filename: str, before: dict[str, str]) -> None:
    """Keep the suggested name in step with the family while the user has not edited it."""
    family = st.session_state.get(FAMILY_KEY, "")
    old = before.get("family", "")
    if st.session_state.get(NAME_KEY) == uploads.suggested_name(filename, old):
        st.session_state[NAME_KEY] = _suggest(filename, family)
    before["family"] = family


def _table_form(preview: uploads.TablePreview) -> tuple[str, dict[str, Any]]:
    """The table's preview and options: (family, add_entry options)."""
    st.dataframe(preview.head, hide_index=True)
    missing = ", ".join(f"{c} {n}" for c, n in preview.missing.items()) or "none"
    st.caption(
        f"{preview.rows} rows · numeric columns: {', '.join(preview.numeric) or 'none'} · "
        f"categorical columns: {', '.join(preview.categorical) or 'none'} · missing values: "
        f"{missing} (filled from the training split: median / most frequent value)"
    )
    columns = list(preview.head.columns)
    use = st.radio(
        "Use it as", list(CSV_AS), format_func=CSV_AS.get, key="data_csv_as", horizontal=True
    )
    if use == "series":
        numeric = preview.numeric or columns
        column = st.selectbox("Column to forecast", numeric, key="data_column")
        dates = st.selectbox("Date column (optional)", ["(none)", *columns], key="data_date")
        window = st.number_input(
            "Window (past values per forecast; 0: fit the series)", 0, 10_000, 0, key="data_window"
        )
        options: dict[str, Any] = {"column": column}
        if dates != "(none)":
            options["date_column"] = dates
        if window:
            options["window"] = int(window)
        return "rnn", options
    if st.session_state.get("data_target") not in columns:
        st.session_state["data_target"] = preview.suggested_target
    target = st.selectbox("Target: the column to predict", columns, key="data_target")
    task = st.selectbox(
        "Task", [AUTO, "classification", "regression"], key="data_task",
        help="detect: classification when the target is text or has at most 20 whole values",
    )  # fmt: skip
    features = [c for c in columns if c != target]
    detected = [c for c in preview.categorical if c != target]
    categorical = st.multiselect(
        "Categorical columns (one-hot encoded); the others are numeric",
        features,
        default=detected,
        key="data_categorical",
    )
    drop = st.multiselect("Columns to leave out", features, key="data_drop")
    options = {"target": target, "categorical": [c for c in categorical if c not in drop]}
    options["numeric"] = [c for c in detected if c not in categorical and c not in drop]
    options["drop"] = drop
    if task != AUTO:
        options["task"] = task
    return "mlp", options


def _image_form(preview: uploads.ImagePreview, filename: str, before: dict) -> tuple[str, dict]:
    """A few images per class, then the family, size and colour."""
    total = sum(preview.counts.values())
    st.caption(
        f"{len(preview.classes)} classes, {total} images: "
        + ", ".join(f"{c} {preview.counts[c]}" for c in preview.classes)
    )
    for c in preview.classes[:SHOWN_CLASSES]:
        cols = st.columns(1 + PER_CLASS)
        cols[0].markdown(f"**{c}**")
        for col, blob in zip(cols[1:], preview.samples[c], strict=False):
            col.image(blob, width=64)
    if len(preview.classes) > SHOWN_CLASSES:
        st.caption(f"… and {len(preview.classes) - SHOWN_CLASSES} more classes")
    family = st.selectbox(
        "Family", ["cnn", "rnn", "mlp"], key=FAMILY_KEY, on_change=_family_changed,
        args=(filename, before),
        help="cnn reads images; rnn reads them row by row; mlp reads the pixels as features",
    )  # fmt: skip
    common = next(iter(preview.sizes), "")
    if "data_size" not in st.session_state:
        st.session_state["data_size"] = common
    found = ", ".join(f"{s} ({n})" for s, n in preview.sizes.items())
    size = st.text_input(
        "Image size WIDTHxHEIGHT (every image is resized to it)",
        key="data_size",
        help=f"sizes of the images previewed: {found or 'unknown'}",
    )
    color = st.selectbox("Colour", [AUTO, "grayscale", "rgb"], key="data_color")
    options: dict[str, Any] = {}
    if size.strip():
        options["size"] = size.strip()
    if color != AUTO:
        options["color"] = color
    return family, options


def _npz_form(arrays: dict, filename: str, before: dict) -> tuple[str, dict[str, Any]]:
    """The arrays' shapes, then the family and task."""
    st.dataframe(
        pd.DataFrame(
            {
                "array": list(arrays),
                "shape": [str(shape) for shape, _ in arrays.values()],
                "dtype": [dtype for _, dtype in arrays.values()],
            }
        ),
        hide_index=True,
    )
    families = uploads.npz_families(arrays)
    if st.session_state.get(FAMILY_KEY) not in families:
        st.session_state[FAMILY_KEY] = families[0]
    family = st.selectbox(
        "Family", families, key=FAMILY_KEY, on_change=_family_changed, args=(filename, before)
    )
    task = st.selectbox("Task", [AUTO, "classification", "regression"], key="data_task")
    return family, ({"task": task} if task != AUTO else {})


def _create(root: str, who: access.Visitor, upload: Any, family: str, options: dict) -> None:
    """Create the entry; one line on any problem (nothing written), else what to do next."""
    from dashboard import audit

    name = str(st.session_state.get(NAME_KEY, "")).strip()
    replace = bool(st.session_state.get("data_replace", False))
    try:
        with st.spinner(f"Reading {upload.name} and creating {name}…"):
            spec = uploads.create_entry(
                root, name, upload.name, upload.getvalue(), family=family, replace=replace,
                **options,
            )  # fmt: skip
    except ZooError as err:
        st.error(str(err))
        return
    data.clear_store_caches()
    st.session_state[ui.SELECTED] = name  # the Train page opens on it
    try:
        audit.record(root, who.who, "create", name, family=family, file=upload.name)
    except StorageError as err:  # the entry is stored; the log says what is missing
        log.error("%s", err)
    st.success(
        f"Entry **{name}** created: {spec.summary}. It is on the Zoo page now; train it on "
        "the Train page, then its Model, Explain and Report pages show it."
    )
    try:
        st.page_link(ui.page_file("train"), label=f"Train {name}", icon=ui.PAGES["train"][2])
    except StreamlitAPIException:
        pass  # run on its own (tests): no navigation to link into


def _delete_section(root: str) -> None:
    """Delete a custom entry of this store (with its versions when ticked), confirmed."""
    from zoo.entries import ENTRIES_DIR
    from zoo.store import Store

    folder = Path(root) / ENTRIES_DIR
    names = sorted(p.stem for p in folder.glob("*.toml")) if folder.is_dir() else []
    if not names:
        return
    with st.expander("Delete a custom entry"):
        name = st.selectbox("Entry", names, key="data_delete_name")
        stored = [f"{name}@{v}" for v in Store(root).versions(name)]
        versions = False
        if stored:
            versions = st.checkbox(
                f"with its {len(stored)} version(s): {', '.join(stored)}",
                key="data_delete_versions",
                help="an entry that has versions is deleted only with them",
            )
        sure = st.checkbox(f"Yes, delete {name} for everyone", key="data_delete_confirm")
        if st.button("Delete the entry", key="data_delete", disabled=not sure):
            try:
                done = deletes.delete_entry(root, name, versions=versions)
            except ZooError as err:
                st.error(" ".join(str(err).split()))
                return
            st.session_state[DELETED_KEY] = deletes.summary(done)
            for key in DELETE_KEYS:
                st.session_state.pop(key, None)
            if st.session_state.get(ui.SELECTED, "").split("@")[0] == name:
                st.session_state.pop(ui.SELECTED, None)
            st.rerun()


def body() -> None:
    """The Data page: upload, preview, options, create.

    Example:
        >>> body()  # doctest: +SKIP
    """
    st.title("Data")
    who = _visitor()
    if who is None:
        return
    root = data.store_root()
    deleted = st.session_state.pop(DELETED_KEY, None)
    if deleted:
        st.success(deleted)
    _delete_section(root)
    cap = _cap_mb()
    st.markdown(
        "Your own data as a zoo entry, like `zoo add`: a **CSV/TSV table** (one column to "
        "predict, or a series to forecast), a **.zip of an image folder** (one sub-folder "
        "per class) or a **.npz** (`x`, `y` or `x_train` … `y_test`). The file is kept in "
        f"the store `{root}`."
    )
    upload = st.file_uploader(
        f"Data file (at most {cap:g} MB)", type=["csv", "tsv", "zip", "npz"], key=UPLOAD_KEY
    )
    if upload is None:
        return
    try:
        _admit(who, upload)
    except uploads.UploadLimitError as err:
        st.error(str(err))
        return
    raw = upload.getvalue()
    uploads.check_size(upload.name, raw, cap)
    kind = uploads.upload_kind(upload.name)
    digest = hashlib.sha1(raw).hexdigest()
    preview = _preview(kind, upload.name, digest, raw)
    first = {"csv": "mlp", "images": "cnn"}.get(kind) or uploads.npz_families(preview)[0]
    _reset_form(digest, upload.name, first)
    before = st.session_state.setdefault("data_family_before", {})
    before.setdefault("family", first)
    if kind == "csv":
        family, options = _table_form(preview)
        if st.session_state.get(FAMILY_KEY) != family:
            st.session_state[FAMILY_KEY] = family
            _family_changed(upload.name, before)
    elif kind == "images":
        family, options = _image_form(preview, upload.name, before)
    else:
        family, options = _npz_form(preview, upload.name, before)
    st.text_input("Entry name", key=NAME_KEY, help="lowercase words and hyphens, e.g. mlp-wine")
    st.checkbox("Replace an existing entry of that name", key="data_replace")
    if st.button("Create the entry", type="primary", key="data_create"):
        _create(root, who, upload, family, options)


ui.run_page(body)
