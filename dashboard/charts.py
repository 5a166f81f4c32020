"""Altair charts of values the zoo stored (histories, metrics, forecasts) and image grids.

Each function takes plain values and returns a chart (or an array for `st.image`); no
numbers are computed here beyond arranging them for display.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

import altair as alt
import numpy as np
import pandas as pd

ChartT = TypeVar("ChartT", bound=alt.TopLevelMixin)
_ALTAIR_SETTINGS = threading.Lock()  # `spec` flips Altair's global theme and row limit
SPLIT_COLORS = alt.Scale(domain=["train", "validation"], range=["#1f77b4", "#d62728"])


def curve_quantities(history: Mapping[str, Sequence[float]]) -> list[str]:
    """Per-epoch quantities with a train curve: loss first, then metrics (no lr / time).

    Example:
        >>> curve_quantities({"loss": [1], "val_loss": [1], "accuracy": [0.5], "lr": [0.1]})
        ['loss', 'accuracy']
    """
    skip = {"lr", "epoch_time", "learning_rate"}
    keys = [k for k in history if not k.startswith("val_") and k not in skip]
    return sorted(keys, key=lambda k: (k != "loss", k))


# Marked epochs of the training curves, coloured like the report's figure.
MARK_COLORS = {"best": "#2ca02c", "early stop": "#555555", "overfit from": "#d62728"}


def unvalidated(chart: ChartT) -> ChartT:
    """`chart`, whose `to_dict()` (what `st.altair_chart` calls) skips Altair's validation.

    Validating a spec against the Vega-Lite JSON schema is about half of a chart's
    conversion (20 of 38 ms for a curves or confusion chart, measured), paid on every
    page run of every visitor for charts this module builds the same way each time;
    tests/dashboard/test_charts.py validates every builder's output instead. A copy
    (`.properties(...)`, `+`) is validated again, as Altair does by default.

    Example:
        >>> spec = unvalidated(alt.Chart(pd.DataFrame({"a": [1]})).mark_point()).to_dict()
        >>> spec["mark"]["type"]
        'point'
    """
    import types

    # A bound method of this chart (a deep copy rebinds it to the copy); object.__setattr__
    # because Altair's own __setattr__ would store it as a chart property.
    object.__setattr__(chart, "to_dict", types.MethodType(_unvalidated_to_dict, chart))
    return chart


def _unvalidated_to_dict(self: Any, *args: Any, validate: bool = False, **kwargs: Any) -> dict:
    return type(self).to_dict(self, *args, validate=validate, **kwargs)


def _marks(marks: Mapping[str, int | None]) -> pd.DataFrame:
    """One row per marked epoch: its epoch, its legend label and its colour.

    Example:
        >>> _marks({"best": 20, "early stop": None, "overfit from": 21})["mark"].tolist()
        ['best (20)', 'overfit from (21)']
    """
    rows = [
        {"epoch": int(e), "mark": f"{label} ({int(e)})", "color": MARK_COLORS.get(label, "#555")}
        for label, e in marks.items()
        if e
    ]
    return pd.DataFrame(rows, columns=["epoch", "mark", "color"])


def curves(
    history: Mapping[str, Sequence[float]],
    quantity: str,
    *,
    marks: Mapping[str, int | None] | None = None,
    height: int = 220,
) -> alt.LayerChart:
    """Train vs validation `quantity` per epoch, the gap between them shaded, and
    vertical rules at marked epochs (best epoch, early stop, ...).

    The marked epochs are named in a legend of their own, never in text at the rules:
    neighbouring epochs (best 20, overfitting from 21) would print over each other.

    Example:
        >>> h = {"loss": [1.0, 0.5], "val_loss": [1.1, 0.7]}
        >>> spec = curves(h, "loss", marks={"best": 1, "overfit from": 2}).to_dict()
        >>> spec["layer"][0]["mark"]["type"], [l["mark"]["type"] for l in spec["layer"]][-1]
        ('area', 'rule')
    """
    train = list(history.get(quantity, []))
    val = list(history.get(f"val_{quantity}", []))
    n = max(len(train), len(val))
    epochs = np.arange(1, n + 1)
    long = pd.DataFrame(
        [
            {"epoch": int(e), "split": "train", "value": v}
            for e, v in zip(epochs, train, strict=False)
        ]
        + [
            {"epoch": int(e), "split": "validation", "value": v}
            for e, v in zip(epochs, val, strict=False)
        ]
    )
    x = alt.X("epoch:Q", title="epoch", axis=alt.Axis(tickMinStep=1))
    lines = (
        alt.Chart(long)
        .mark_line(point=n <= 30)
        .encode(
            x=x,
            y=alt.Y("value:Q", title=quantity, scale=alt.Scale(zero=False)),
            color=alt.Color("split:N", scale=SPLIT_COLORS, title=None),
            tooltip=["epoch", "split", alt.Tooltip("value:Q", format=".4g")],
        )
    )
    layers: list[Any] = []
    if train and val:
        m = min(len(train), len(val))
        gap = pd.DataFrame({"epoch": epochs[:m], "train": train[:m], "validation": val[:m]})
        layers.append(
            alt.Chart(gap)
            .mark_area(opacity=0.15, color="#d62728")
            .encode(x=x, y="train:Q", y2="validation:Q", tooltip=[])
        )
    layers.append(lines)
    marked = _marks(marks or {})
    if len(marked):
        scale = alt.Scale(domain=list(marked["mark"]), range=list(marked["color"]))
        layers.append(
            alt.Chart(marked)
            .mark_rule(strokeDash=[4, 3], strokeWidth=1.5)
            .encode(
                x="epoch:Q",
                color=alt.Color(
                    "mark:N",
                    scale=scale,
                    sort=None,
                    legend=alt.Legend(title="epochs", symbolType="stroke"),
                ),
                tooltip=["mark"],
            )
        )
    # Two legends: the splits (train / validation) and the marked epochs.
    return unvalidated(
        alt.layer(*layers).resolve_scale(color="independent").properties(height=height)
    )


def series(
    values: Mapping[str, Sequence[float]], *, x_title: str = "epoch", start: int = 1
) -> alt.Chart:
    """Lines of one or more per-epoch series sharing an axis (losses, FID, lr).

    Example:
        >>> series({"lr": [0.1, 0.05]}).to_dict()["mark"]["type"]
        'line'
    """
    long = pd.DataFrame(_series_rows(values, x_title, start))
    return unvalidated(
        alt.Chart(long)
        .mark_line(point=True)
        .encode(
            x=alt.X(f"{x_title}:Q", axis=alt.Axis(tickMinStep=1)),
            # One series: its name on the axis too (units included: "co2 (ppm)").
            y=alt.Y(
                "value:Q",
                title=one[0] if len(one := list(values)) == 1 else None,
                scale=alt.Scale(zero=False),
            ),
            color=alt.Color("series:N", title=None),
            tooltip=[x_title, "series", alt.Tooltip("value:Q", format=".4g")],
        )
        .properties(height=220)
    )


def overlay(histories: Mapping[str, Mapping[str, Sequence[float]]], quantity: str) -> alt.Chart:
    """The same quantity of several runs on one chart: colour = run, dash = split.

    Example:
        >>> overlay({"a@1": {"loss": [1, .5], "val_loss": [1, .8]}}, "loss").mark
        'line'
    """
    rows = []
    for ref, h in histories.items():
        for split, key in (("train", quantity), ("validation", f"val_{quantity}")):
            for i, v in enumerate(h.get(key, [])):
                rows.append({"run": ref, "split": split, "epoch": i + 1, "value": v})
    return unvalidated(
        alt.Chart(pd.DataFrame(rows))
        .mark_line()
        .encode(
            x=alt.X("epoch:Q", axis=alt.Axis(tickMinStep=1)),
            y=alt.Y("value:Q", title=quantity, scale=alt.Scale(zero=False)),
            color=alt.Color("run:N"),
            strokeDash=alt.StrokeDash("split:N", title=None),
            tooltip=["run", "split", "epoch", alt.Tooltip("value:Q", format=".4g")],
        )
        .properties(height=300)
    )


def confusion(matrix: Sequence[Sequence[int]], class_names: Sequence[str]) -> alt.LayerChart:
    """Heatmap of a confusion matrix (rows: true class, columns: predicted), with counts.

    Example:
        >>> confusion([[3, 1], [0, 4]], ["a", "b"]).to_dict()["layer"][0]["mark"]["type"]
        'rect'
    """
    names = [str(c) for c in class_names]
    cells = pd.DataFrame(
        [
            {"true": names[i], "predicted": names[j], "count": int(c)}
            for i, row in enumerate(matrix)
            for j, c in enumerate(row)
        ]
    )
    base = alt.Chart(cells).encode(
        x=alt.X("predicted:N", sort=names, title="predicted"),
        y=alt.Y("true:N", sort=names, title="true"),
    )
    heat = base.mark_rect().encode(
        color=alt.Color("count:Q", scale=alt.Scale(scheme="blues")),
        tooltip=["true", "predicted", "count"],
    )
    text = base.mark_text(fontSize=11).encode(
        text="count:Q",
        color=alt.condition(
            alt.datum.count > max(1, cells["count"].max()) / 2,
            alt.value("white"),
            alt.value("black"),
        ),
    )
    size = max(220, 34 * len(names))
    return unvalidated((heat + text).properties(width=size, height=size))


def roc(curves_: pd.DataFrame, aucs: Mapping[str, float]) -> alt.LayerChart:
    """ROC curves (one per class) over the chance diagonal; legend shows each AUC.

    Example:
        >>> df = pd.DataFrame({"class": "b", "fpr": [0, 1], "tpr": [0, 1]})
        >>> roc(df, {"b": 0.5}).to_dict()["layer"][1]["mark"]["type"]
        'line'
    """
    df = curves_.copy()
    df["curve"] = df["class"].map(lambda c: f"{c} (AUC {aucs.get(c, float('nan')):.3f})")
    chance = pd.DataFrame({"fpr": [0, 1], "tpr": [0, 1]})
    diag = alt.Chart(chance).mark_line(strokeDash=[4, 4], color="#999").encode(x="fpr", y="tpr")
    lines = (
        alt.Chart(df)
        .mark_line()
        .encode(
            x=alt.X("fpr:Q", title="false positive rate"),
            y=alt.Y("tpr:Q", title="true positive rate"),
            color=alt.Color("curve:N", title=None),
            order="fpr:Q",
        )
    )
    return unvalidated((diag + lines).properties(height=320))


def forecast(frame: pd.DataFrame, unit: str = "") -> alt.Chart:
    """Forecast vs truth vs the naive forecast over the test period.

    Example:
        >>> f = pd.DataFrame({"date": pd.to_datetime(["2000-01-01"]), "truth": [1.0]})
        >>> forecast(f).to_dict()["mark"]["type"]
        'line'
    """
    long = frame.melt("date", var_name="series", value_name="level")
    dated = pd.api.types.is_datetime64_any_dtype(frame["date"])  # else numbered test steps
    return unvalidated(
        alt.Chart(long)
        .mark_line()
        .encode(
            x=alt.X("date:T", title=None) if dated else alt.X("date:Q", title="test step"),
            y=alt.Y(
                "level:Q", title=f"level ({unit})" if unit else "level", scale=alt.Scale(zero=False)
            ),
            color=alt.Color("series:N", title=None),
            tooltip=[
                "date:T" if dated else "date:Q",
                "series",
                alt.Tooltip("level:Q", format=".2f"),
            ],
        )
        .properties(height=320)
        .interactive(bind_y=False)
    )


def predicted_vs_actual(frame: pd.DataFrame, unit: str = "") -> alt.LayerChart:
    """A table regression's test predictions against the actual values (`frame`: columns
    `actual`, `predicted`), with the diagonal where they agree.

    Example:
        >>> f = pd.DataFrame({"actual": [1.0, 2.0], "predicted": [1.5, 1.8]})
        >>> [layer["mark"]["type"] for layer in predicted_vs_actual(f).to_dict()["layer"]]
        ['circle', 'line']
    """
    suffix = f" ({unit})" if unit else ""
    lo = float(min(frame["actual"].min(), frame["predicted"].min()))
    hi = float(max(frame["actual"].max(), frame["predicted"].max()))
    points = (
        alt.Chart(frame)
        .mark_circle(size=28, opacity=0.6)
        .encode(
            x=alt.X("actual:Q", title="actual" + suffix, scale=alt.Scale(zero=False)),
            y=alt.Y("predicted:Q", title="predicted" + suffix, scale=alt.Scale(zero=False)),
            tooltip=[
                alt.Tooltip("actual:Q", format=".4g"),
                alt.Tooltip("predicted:Q", format=".4g"),
            ],
        )
    )
    diagonal = (
        alt.Chart(pd.DataFrame({"actual": [lo, hi], "predicted": [lo, hi]}))
        .mark_line(color="#999", strokeDash=[4, 4])
        .encode(x="actual:Q", y="predicted:Q")
    )
    return unvalidated(alt.layer(points, diagonal).properties(height=320))


def bars(values: Mapping[str, float], *, title: str = "probability") -> alt.LayerChart:
    """Horizontal bars on [0, 1], one row per label (class probabilities).

    Each row has a grey track from 0 to 1 under its bar and the value written at the
    track's end, so a class with a tiny probability still shows as a row with a readable
    value (for a one-sigmoid model: both classes, 1 - p and p). The height grows with the
    number of rows and includes the axis, which a fixed small height would squeeze the
    bars out of.

    Example:
        >>> chart = bars({"malignant": 0.001, "benign": 0.999}).to_dict()
        >>> [layer["mark"]["type"] for layer in chart["layer"]], chart["height"]
        (['bar', 'bar', 'text'], {'step': 30})
    """
    labels = [str(k) for k in values]
    df = pd.DataFrame(_bar_rows(labels, [float(v) for v in values.values()], title))
    y = alt.Y(
        "label:N",
        sort=labels,
        title=None,
        axis=alt.Axis(labelOverlap=False, labelLimit=240, labelFontSize=12),
    )
    scale = alt.Scale(domain=[0, 1], nice=False)
    base = alt.Chart(df).encode(y=y)
    track = base.mark_bar(color="#eeeeee", height={"band": 0.75}).encode(
        x=alt.X("track:Q", scale=scale, title=title), tooltip=[]
    )
    bar = base.mark_bar(color="#1f77b4", height={"band": 0.75}).encode(
        x=alt.X(f"{title}:Q", scale=scale),
        tooltip=["label", alt.Tooltip(f"{title}:Q", format=".3f")],
    )
    text = base.mark_text(align="right", dx=-4, fontSize=12).encode(
        x=alt.X("track:Q", scale=scale),
        text="shown:N",
        # the value sits at the track's end: white where the bar reaches under it
        color=alt.condition(alt.datum[title] > 0.92, alt.value("white"), alt.value("#262730")),
    )
    # A step per row, not a total height: Streamlit fits the whole chart (axis, title and
    # its padding included) into a fixed height, which squeezed two rows to nothing.
    return unvalidated(alt.layer(track, bar, text).properties(height=alt.Step(30)))


def spec(chart: alt.TopLevelMixin, name: str) -> dict:
    """`chart` as a Vega-Lite dict for `st.vega_lite_chart`, its data sets renamed `name`,
    `name-1`, ... (in the order Altair lists them).

    Altair names a data set by a hash of its content, so a chart whose data changes in
    place (another test sample, the next epoch of a live training) got a new data set
    name on every run, and Streamlit's browser side, updating the chart it had drawn,
    sometimes looked the new name up in the old view: "Unrecognized data set" and a
    blank chart (seen under bench/dashboard_load.py; streamlit/streamlit#11342). With a
    stable name the update replaces that data set's rows instead.

    Example:
        >>> s = spec(series({"lr": [0.1, 0.05]}), "lr")
        >>> list(s["datasets"]), s["data"]
        (['lr'], {'name': 'lr'})
    """
    import json

    # Streamlit's own conversion draws with theme "none" and no row limit; Altair's
    # defaults would add a 300 px view and refuse data of over 5,000 rows (a user's
    # large test split). Both settings are global: one conversion at a time.
    with _ALTAIR_SETTINGS, alt.theme.enable("none"), alt.data_transformers.disable_max_rows():
        built = chart.to_dict()
    datasets = built.pop("datasets", {})
    text = json.dumps(built)
    renamed = {}
    for i, old in enumerate(datasets):
        new = name if i == 0 else f"{name}-{i}"
        text = text.replace(json.dumps(old), json.dumps(new))  # every {"name": old}
        renamed[new] = datasets[old]
    out = json.loads(text)
    out["datasets"] = renamed
    return out


def _filled(template: dict, rows: list[dict]) -> dict:
    # A template of `spec` with one data set, holding `rows` instead: a deep copy, since
    # Streamlit edits a spec's nested parts (legend titles) and the template is shared.
    import copy

    (name,) = template["datasets"]
    out = copy.deepcopy({k: v for k, v in template.items() if k != "datasets"})
    out["datasets"] = {name: rows}
    return out


def _series_rows(values: Mapping[str, Sequence[float]], x_title: str, start: int) -> list[dict]:
    return [
        {x_title: start + i, "series": name, "value": float(v)}
        for name, vals in values.items()
        for i, v in enumerate(vals)
    ]


@functools.lru_cache(maxsize=64)
def _series_template(names: tuple[str, ...], x_title: str, start: int) -> dict:
    return spec(series(dict.fromkeys(names, [0.0]), x_title=x_title, start=start), "series")


def series_spec(
    values: Mapping[str, Sequence[float]], *, x_title: str = "epoch", start: int = 1
) -> dict:
    """`series(values)` as a Vega-Lite spec (`spec`), built with Altair once per set of
    names and filled with `values` on each call (the Explain page draws a forecaster's
    input window on every run of the page).

    Example:
        >>> s = series_spec({"co2 (ppm)": [1.0, 2.0]}, x_title="step")
        >>> [(r["step"], r["value"]) for r in s["datasets"]["series"]]
        [(1, 1.0), (2, 2.0)]
    """
    template = _series_template(tuple(str(k) for k in values), x_title, start)
    return _filled(template, _series_rows(values, x_title, start))


def _bar_rows(labels: Sequence[str], probs: Sequence[float], title: str) -> list[dict]:
    return [
        {"label": k, title: v, "track": 1.0, "shown": f"{v:.3f}"}
        for k, v in zip(labels, probs, strict=True)
    ]


@functools.lru_cache(maxsize=64)
def _bars_template(labels: tuple[str, ...], title: str) -> dict:
    return spec(bars(dict.fromkeys(labels, 0.0), title=title), "bars")


def bars_spec(values: Mapping[str, float], *, title: str = "probability") -> dict:
    """`bars(values)` as a Vega-Lite spec (for `st.vega_lite_chart`), without Altair.

    The spec is built with Altair once per set of labels and kept; each call puts its
    values into a copy of it. Building the chart cost the server ~50 ms of Python under
    the GIL on every run of the Explain page (three per explained sample: the page, the
    model picked, the sample picked), while only the ten numbers change.

    Example:
        >>> spec = bars_spec({"malignant": 0.25, "benign": 0.75})
        >>> [row["shown"] for row in next(iter(spec["datasets"].values()))]
        ['0.250', '0.750']
        >>> fresh = bars({"malignant": 0.25, "benign": 0.75}).to_dict()  # the same rows
        >>> list(spec["datasets"].values()) == list(fresh["datasets"].values())
        True
    """
    labels = tuple(str(k) for k in values)
    rows = _bar_rows(labels, [float(v) for v in values.values()], title)
    return _filled(_bars_template(labels, title), rows)  # one table, for all three layers


def image_grid(
    images: np.ndarray, *, cols: int = 8, scale: int = 8, low: float = 0.0, high: float = 1.0
) -> np.ndarray:
    """Tile (n, H, W[, 1]) images into one grayscale picture in [0, 1] for `st.image`.

    Values are mapped from [low, high]; every pixel becomes a `scale` x `scale` block
    (8x8 digits are too small to see otherwise); tiles are separated by 1 block.

    Example:
        >>> image_grid(np.zeros((3, 8, 8, 1)), cols=2, scale=1).shape
        (17, 17)
    """
    imgs = np.asarray(images, "float64")
    if imgs.ndim == 4:
        imgs = imgs[..., 0]
    if imgs.ndim == 2:
        imgs = imgs[None]
    imgs = np.clip((imgs - low) / (high - low), 0.0, 1.0)
    n, h, w = imgs.shape
    cols = max(1, min(cols, n))
    rows = -(-n // cols)
    grid = np.ones((rows * (h + 1) - 1, cols * (w + 1) - 1))
    for k in range(n):
        r, c = divmod(k, cols)
        grid[r * (h + 1) : r * (h + 1) + h, c * (w + 1) : c * (w + 1) + w] = 1.0 - imgs[k]
    return np.kron(grid, np.ones((scale, scale)))


def digit(image: np.ndarray, *, scale: int = 16, low: float = 0.0, high: float = 1.0) -> np.ndarray:
    """One 8x8 input as a picture for `st.image` (ink dark on white).

    Example:
        >>> digit(np.zeros((8, 8)), scale=2).shape
        (16, 16)
    """
    return image_grid(np.asarray(image)[None], cols=1, scale=scale, low=low, high=high)


def png(fig: Any, dpi: int = 144) -> bytes:
    """A matplotlib Figure (from `explain.plots`) as PNG bytes, drawn once at `dpi`.

    `st.pyplot` renders at 200 dpi with a tight bounding box (two draws) and re-encodes,
    measured 0.3-0.7 s per figure; one `savefig` at 144 dpi is enough for the page.

    Example:
        >>> from matplotlib.figure import Figure
        >>> png(Figure(figsize=(1, 1)))[1:4]  # the PNG signature
        b'PNG'
    """
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()
