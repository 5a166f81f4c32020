"""Widgets every page shares: the page guard, the model picker, the model-page preamble
and links between pages.

UI functions here only draw widgets and return plain values; the work happens in the
cached loaders of `dashboard.data`.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import streamlit as st

from dashboard import charts, data
from zoo.errors import ZooError

if TYPE_CHECKING:
    from zoo.trained import TrainedModel

log = logging.getLogger("dashboard")

# key: (file relative to app.py, title, icon, url path). The Zoo page is the default.
PAGES: dict[str, tuple[str, str, str, str]] = {
    "zoo": ("views/zoo.py", "Zoo", ":material/pets:", "zoo"),
    "model": ("views/model.py", "Model", ":material/model_training:", "model"),
    "curves": ("views/curves.py", "Training curves", ":material/show_chart:", "curves"),
    "explain": ("views/explain.py", "Explain", ":material/psychology:", "explain"),
    "gan": ("views/gan.py", "GAN", ":material/auto_awesome:", "gan"),
    "compare": ("views/compare.py", "Compare", ":material/compare_arrows:", "compare"),
    "sweeps": ("views/sweeps.py", "Sweeps", ":material/tune:", "sweeps"),
    "train": ("views/train.py", "Train", ":material/fitness_center:", "train"),
    "data": ("views/data.py", "Data", ":material/upload_file:", "data"),
    "report": ("views/report.py", "Report", ":material/description:", "report"),
}

# Session-state key of the model the user is looking at, shared by every page; the
# `model` query parameter (set by links and by the pickers) wins over it.
SELECTED = "selected_ref"
QUERY = "model"


def keep_keras_state() -> bool:
    """Stop Streamlit from resetting Keras / TensorFlow after every script run.

    Streamlit's script runner calls `keras.backend.clear_session()` after each run (its
    `_clean_problem_modules`), which empties TensorFlow's kernel cache: the first call of
    every cached model or explainer in the next run is re-instantiated (measured: 3.5 s
    for the GRU explainer instead of 40 ms), and a reset in one session can hit a
    training running in another. The zoo keeps its models in `st.cache_resource`, so that
    reset buys nothing here; this keeps the pyplot clean-up and drops the Keras one.
    Returns True when the hook is in place; when Streamlit has no such private hook,
    logs a warning (on this module's logger) and returns False. Idempotent.

    Example:
        >>> keep_keras_state()
        True
    """
    try:
        from streamlit.runtime.scriptrunner import script_runner
    except ImportError:
        script_runner = None
    current = getattr(script_runner, "_clean_problem_modules", None)
    if current is None:
        # A Streamlit release that moved or renamed the hook (the dependency's upper bound
        # in pyproject.toml is the last release tested): the dashboard still works, but
        # every rerun resets Keras again and cached models pay their first call again.
        logging.getLogger(__name__).warning(
            "streamlit %s has no streamlit.runtime.scriptrunner.script_runner."
            "_clean_problem_modules: Keras state is reset after every script run "
            "(slower first calls of cached models and explainers)",
            getattr(st, "__version__", "?"),
        )
        return False
    if getattr(current, "keeps_keras", False):
        return True

    def clean_pyplot_only() -> None:
        plt = sys.modules.get("matplotlib.pyplot")
        if plt is not None:
            plt.close("all")

    clean_pyplot_only.keeps_keras = True  # type: ignore[attr-defined]
    script_runner._clean_problem_modules = clean_pyplot_only
    return True


def run_page(body: Callable[[], None]) -> None:
    """Run a page's body; show zoo errors as messages and log anything unexpected.

    A `ZooError` (bad input, bad config, corrupted artifact) is the user's to fix: its
    message is shown as-is. Anything else is a bug: logged with its traceback on the
    server, shown as one short line. Streamlit's own control flow (st.stop, st.rerun,
    st.switch_page) raises BaseException subclasses and passes through.

    Example:
        >>> run_page(lambda: None)  # doctest: +SKIP
    """
    try:
        body()
    except ZooError as err:
        st.error(str(err))
    except Exception as err:
        log.exception("dashboard page failed")
        st.error(
            f"Something went wrong while drawing this page ({type(err).__name__}). "
            "The details are in the server log; other pages and models keep working."
        )


def page_file(key: str) -> str:
    """The file of page `key` (for `st.page_link` / `st.switch_page`).

    Example:
        >>> page_file("model")
        'views/model.py'
    """
    return PAGES[key][0]


def links(ref: str, keys: Iterable[str], *, columns: bool = True) -> None:
    """Links to pages `keys` that open with model `ref` selected.

    Example:
        >>> links("cnn-digits@1", ["model", "curves"])  # doctest: +SKIP
    """
    keys = list(keys)
    slots = st.columns(len(keys)) if columns and keys else [st.container() for _ in keys]
    for slot, key in zip(slots, keys, strict=True):
        _, title, icon, _ = PAGES[key]
        with slot:
            st.page_link(page_file(key), label=title, icon=icon, query_params={QUERY: ref})


def _remember(key: str) -> None:
    ref = st.session_state.get(key)
    if ref:
        st.session_state[SELECTED] = ref
        st.query_params[QUERY] = ref


def pick_model(
    *,
    families: Iterable[str] | None = None,
    exclude: Iterable[str] = (),
    label: str = "Model version",
    key: str = "model_picker",
) -> str | None:
    """A select box of the store's good versions; returns the chosen `name@version`.

    Only versions whose artifact verifies (status 'ok') are offered, so a corrupted or
    failed version can never be picked. The choice is shared with the other pages
    (session state) and the URL (`?model=`). Returns None, after saying so, when the
    store has no suitable version.

    Example:
        >>> ref = pick_model(families=["gan"])  # doctest: +SKIP
    """
    root = data.store_root()
    refs = data.good_refs(root, families=families, exclude=exclude)
    if not refs:
        kinds = f" ({', '.join(families)})" if families else ""
        st.info(
            f"No usable trained model{kinds} in the store {root}. Train one on the Train "
            "page, or on the Zoo page when the store is empty."
        )
        st.page_link(page_file("train"), label="Train a model", icon=PAGES["train"][2])
        return None
    wanted = data.resolve_ref(root, st.query_params.get(QUERY, ""), refs)
    if wanted is None:
        wanted = data.resolve_ref(root, st.session_state.get(SELECTED, ""), refs)
    if wanted is None:
        wanted = refs[0]
    # Set the widget's value before it is drawn (no `index`, so no double default).
    st.session_state[key] = wanted
    labels = data.ref_labels(root)
    ref = st.selectbox(
        label,
        refs,
        key=key,
        format_func=lambda r: labels.get(r, r),
        on_change=_remember,
        args=(key,),
    )
    st.session_state[SELECTED] = ref
    if st.query_params.get(QUERY) != ref:
        st.query_params[QUERY] = ref
    return ref


@dataclass(frozen=True)
class ModelPage:
    """The model version a page shows: the store folder, `name@version`, the model."""

    root: str
    ref: str

    @cached_property
    def model(self) -> TrainedModel:
        """The loaded, verified model (`data.load`, cached per server); loaded on first use."""
        return data.load(self.root, self.ref)


def model_page(
    title: str,
    *,
    families: Iterable[str] | None = None,
    exclude: Iterable[str] = (),
    warm_explainer: bool = False,
) -> ModelPage | None:
    """The preamble of a page about one model: its title, the picker, the chosen model.

    Draws `title` and `pick_model(families=, exclude=)`; returns None when the store has
    no suitable version (the picker has said so), else the page's `ModelPage`. With
    `warm_explainer` the model is loaded and its explainer built in the background
    (`data.warm_explainer`), for pages with an Explain button. Loading errors are
    `ZooError`s that `run_page` shows.

    Example:
        >>> page = model_page("Model")  # doctest: +SKIP
        >>> page and page.model.ref  # doctest: +SKIP
        'cnn-digits@1'
    """
    st.title(title)
    ref = pick_model(families=families, exclude=exclude)
    if ref is None:
        return None
    page = ModelPage(data.store_root(), ref)
    info = data.run_info(page.root, ref)
    for warning in info.warnings if info is not None else ():
        # A file in the version folder that the manifest does not list: never read,
        # but someone put it there (the CLI's `zoo runs` flags it the same way).
        st.warning(f"{ref}: {warning}", icon="⚠️")
    if warm_explainer:
        data.warm_explainer(page.root, page.ref)
    return page


def pyplot(fig: object) -> None:
    """Show a matplotlib Figure made by `explain.plots` (no global pyplot state).

    Saved once at 144 dpi and shown as an image (`charts.png`).
    Usage: `pyplot(explain.plots.waterfall(e))` inside a page.
    """
    st.image(charts.png(fig), width="content")
