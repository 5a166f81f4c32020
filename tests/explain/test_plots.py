"""Every plot returns a Figure (no pyplot state) with the expected number of axes."""

from __future__ import annotations

import contextlib
import dataclasses

import numpy as np
import pytest
import shap
from matplotlib.figure import Figure

import explain
from explain import plots
from zoo.errors import DataError


@pytest.fixture(scope="module")
def explained(load_model):
    out = {}
    for name in ("cnn-digits", "gru-digits", "lstm-co2", "mlp-cancer", "gan-digits"):
        m = load_model(name)
        d = m.dataset()
        out[name] = explain.explain(
            m, d.x_test[:6], y=None if name == "gan-digits" else d.y_test[:6]
        )
    return out


def _check(fig, n_axes):
    assert isinstance(fig, Figure)
    assert len(fig.axes) == n_axes, [a.get_label() for a in fig.axes]
    fig.canvas.draw()  # renders without pyplot


def test_no_pyplot_figures_are_left_open(explained):
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    plots.image(explained["cnn-digits"])
    plots.waterfall(explained["mlp-cancer"])
    assert plt.get_fignums() == before


def test_image(explained):
    e = explained["cnn-digits"]
    _check(plots.image(e, index=1), 1 + 3 + 1)  # input, 3 classes, colorbar
    _check(plots.image(e, index=0, classes=["2", 5]), 1 + 2 + 1)
    with pytest.raises(DataError, match="unknown output"):
        plots.image(e, classes=["dog"])
    with pytest.raises(DataError, match="sequence_heatmap"):
        plots.image(explained["mlp-cancer"])
    with pytest.raises(DataError, match="out of range"):
        plots.image(e, index=6)


@contextlib.contextmanager
def _renamed(e, field):
    # A user's data with long names (feature names: y tick labels; output names: panel
    # titles); the module's shared explanation is restored after.
    meta = explain.info(e)
    count = len(getattr(meta, field))
    names = [f"a rather long name of a sensor or class, number {i}" for i in range(count)]
    e.zoo_info = dataclasses.replace(meta, **{field: names})
    try:
        yield e
    finally:
        e.zoo_info = meta


@contextlib.contextmanager
def _large_values(e):
    # A user's series in large units (six-digit, negative levels: wide y tick labels).
    before = getattr(e, "display_data", None)
    e.display_data = np.asarray(e.data) * 1e5 - 3e5
    try:
        yield e
    finally:
        e.display_data = before


LONG_NAMES = {
    "long feature names": ("gru-digits", "feature_names"),
    "long class names": ("cnn-digits", "output_names"),
}


@pytest.mark.parametrize(
    "name",
    ["cnn-digits", "gru-digits", "lstm-co2", "mlp-cancer", "gan-digits", "large values"]
    + list(LONG_NAMES),
)
def test_sample_plots_keep_every_text_inside_the_figure_and_apart(explained, name):
    # The per-sample plots have fixed margins (plots._base.panel_figure), not a layout
    # engine's measurement: check what the engine guaranteed. Every axes with its title,
    # labels and tick labels lies inside the figure, and no two of them overlap.
    if name == "large values":
        with _large_values(explained["lstm-co2"]) as e:
            fig = plots.for_explanation(e, index=1, label="test #1")
    elif name in LONG_NAMES:
        family, field = LONG_NAMES[name]
        with _renamed(explained[family], field) as e:
            fig = plots.for_explanation(e, index=1, label="test #1")
    else:
        fig = plots.for_explanation(explained[name], index=1, label="test #1")
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    page = fig.bbox.padded(1)  # a pixel of rounding
    boxes = [ax.get_tightbbox(renderer) for ax in fig.axes]
    for ax, box in zip(fig.axes, boxes, strict=True):
        inside = page.x0 <= box.x0 and box.x1 <= page.x1 and page.y0 <= box.y0 and box.y1 <= page.y1
        assert inside, (ax.get_title() or ax.get_ylabel(), box.bounds, page.bounds)
    for i, a in enumerate(boxes):
        for j in range(i + 1, len(boxes)):
            assert not a.overlaps(boxes[j]), (name, i, j, a.bounds, boxes[j].bounds)


def test_image_shows_predicted_class_first(explained):
    e = explained["cnn-digits"]
    meta = explain.info(e)
    fig = plots.image(e, index=2)
    predicted = meta.output_names[int(meta.predicted[2])]
    assert fig.axes[1].get_title().startswith(f"predicted {predicted}")
    assert f"true: {meta.y_true[2]}" in fig.axes[0].get_title()


def test_sequence_heatmap(explained):
    _check(plots.sequence_heatmap(explained["gru-digits"], index=0), 3)
    _check(plots.sequence_heatmap(explained["gru-digits"], index=0, output="4"), 3)
    _check(plots.sequence_heatmap(explained["lstm-co2"], index=2), 3)  # series, bars, colorbar


@pytest.mark.parametrize("name", ["mlp-cancer", "cnn-digits", "gru-digits", "lstm-co2"])
def test_waterfall_and_beeswarm(explained, name):
    e = explained[name]
    fig = plots.waterfall(e, index=0, max_display=8)
    _check(fig, 1)
    assert len(fig.axes[0].get_yticklabels()) == 8  # 7 features + "N other features"
    _check(plots.beeswarm(e, max_display=6), 2)  # swarm + feature-value colorbar


def test_global_importance_plots(explained, load_model):
    _check(plots.global_importance(explained["cnn-digits"]), 10 + 1)
    _check(plots.global_importance(explained["cnn-digits"], output=["1", "7"]), 2 + 1)
    _check(plots.global_importance(explained["gru-digits"], output="3"), 1 + 1)
    _check(plots.global_importance(explained["lstm-co2"]), 1)
    _check(plots.global_importance(explain.global_importance(load_model("mlp-cancer"))), 1)


def test_gan_sample(explained, load_model):
    _check(plots.gan_sample(explained["gan-digits"], index=1), 3)
    generated = explain.explain(load_model("gan-digits"), 3, seed=1)
    fig = plots.gan_sample(generated, index=0)
    _check(fig, 3)
    assert "real score" in fig.axes[1].get_title()


def test_plots_reject_non_explanations(explained):
    values = np.asarray(explained["mlp-cancer"].values)
    for fn in (plots.image, plots.waterfall, plots.beeswarm, plots.sequence_heatmap):
        with pytest.raises(DataError, match="shap.Explanation"):
            fn(values)
    with pytest.raises(DataError, match="shap.Explanation"):
        plots.global_importance(values)
    with pytest.raises(DataError, match="shap.Explanation"):
        plots.gan_sample(values)
    # a plain shap.Explanation without zoo info still plots (shapes tell the kind)
    e = explained["mlp-cancer"]
    bare = shap.Explanation(values=np.asarray(e.values), base_values=e.base_values, data=e.data)
    _check(plots.waterfall(bare, index=0), 1)


def test_per_sample_plots_take_a_label(explained):
    wf = plots.waterfall(explained["mlp-cancer"], index=2)
    assert wf.axes[0].get_title().startswith("sample 2: contributions to ")  # default kept
    wf = plots.waterfall(explained["mlp-cancer"], index=2, label="test #17")
    assert wf.axes[0].get_title().startswith("test #17: contributions to ")
    assert "sample 2" not in wf.axes[0].get_title()

    img = plots.image(explained["cnn-digits"], index=1)
    assert img.axes[0].get_title().startswith("input\ntrue: ")
    img = plots.image(explained["cnn-digits"], index=1, label="test #17")
    assert img.axes[0].get_title().startswith("test #17\ntrue: ")
    _check(img, 5)

    seq = plots.sequence_heatmap(explained["lstm-co2"], index=1, label="week 40")
    assert seq.axes[0].get_title().startswith("week 40: forecast")
    assert (
        plots.sequence_heatmap(explained["lstm-co2"], index=1)
        .axes[0]
        .get_title()
        .startswith("forecast")
    )
    multi = plots.sequence_heatmap(explained["gru-digits"], index=0, label="test #3")
    assert multi.axes[1].get_title().startswith("test #3: ")

    gan = plots.gan_sample(explained["gan-digits"], index=0, label="real #0")
    assert gan.axes[0].get_title() == "real #0"
    assert plots.gan_sample(explained["gan-digits"], index=0).axes[0].get_title() == "sample"


@pytest.mark.parametrize(
    ("name", "expected", "n_axes"),
    [
        ("cnn-digits", "image", 5),  # input, 3 classes, colorbar
        ("gru-digits", "sequence_heatmap", 3),  # input, attributions, colorbar
        ("lstm-co2", "sequence_heatmap", 3),  # series, bars, colorbar
        ("mlp-cancer", "waterfall", 1),
        ("gan-digits", "gan_sample", 3),  # a GAN explanation is an image, shown as a sample
    ],
)
def test_for_explanation_picks_the_plot_of_the_kind(explained, name, expected, n_axes):
    e = explained[name]
    fig = plots.for_explanation(e, index=1, label="test #9")
    _check(fig, n_axes)
    same = getattr(plots, expected)(e, index=1, label="test #9")
    assert [ax.get_title() for ax in fig.axes] == [ax.get_title() for ax in same.axes]
    assert any("test #9" in ax.get_title() for ax in fig.axes)


def test_for_explanation_tabular_options_and_bare_explanations(explained):
    e = explained["mlp-cancer"]
    fig = plots.for_explanation(e, index=2, max_display=5)
    assert len(fig.axes[0].get_yticklabels()) == 5  # 4 features + "N other features"
    assert fig.axes[0].get_title().startswith("sample 2: contributions to ")
    # without zoo info the shape of the values tells the kind
    img = explained["cnn-digits"]
    values = np.asarray(img.values)
    bare = shap.Explanation(values=values, base_values=img.base_values, data=img.data)
    _check(plots.for_explanation(bare, index=0), 1 + 3 + 1)
    with pytest.raises(DataError, match="shap.Explanation"):
        plots.for_explanation(np.asarray(e.values))
    with pytest.raises(DataError, match="out of range"):
        plots.for_explanation(e, index=6)


# --------------------------------------------------------------------------- data units


def _texts(fig):
    out = []
    for ax in fig.axes:
        out += [ax.get_title(), ax.get_xlabel(), ax.get_ylabel()]
        out += [t.get_text() for t in ax.get_yticklabels()]
    return out


def test_tabular_plots_show_raw_feature_values(explained, load_model):
    from sklearn.datasets import load_breast_cancer

    m = load_model("mlp-cancer")
    d = m.dataset()
    e = explained["mlp-cancer"]
    shown = plots.in_units(e, d)
    raw = d.features_to_units(d.x_test[0])
    original = load_breast_cancer().data
    np.testing.assert_allclose(
        raw, original[np.abs(original - raw).max(axis=1).argmin()], rtol=1e-5
    )
    # classifier scores are not converted; the model-space explanation is untouched
    np.testing.assert_array_equal(shown.values, e.values)
    np.testing.assert_array_equal(shown.data, e.data)
    np.testing.assert_allclose(shown.display_data, d.features_to_units(e.data))

    labels = _texts(plots.waterfall(shown, index=0, max_display=31))
    for j, name in enumerate(d.feature_names):
        assert f"{name} = {raw[j]:.4g}" in labels  # 'mean radius = 9.567', not -1.29
    standardized = _texts(plots.waterfall(e, index=0, max_display=31))
    assert f"{d.feature_names[0]} = {d.x_test[0, 0]:.4g}" in standardized

    bee = plots.beeswarm(shown, max_display=30)
    ticks = [t.get_text() for t in bee.axes[0].get_yticklabels()]
    col = shown.display_data[:, 0]
    lo, hi = np.percentile(col, [5, 95])
    assert f"{d.feature_names[0]}  [{lo:.3g} … {hi:.3g}]" in ticks  # raw range per feature


def test_forecaster_explanation_is_in_ppm_and_stays_additive(explained, load_model):
    m = load_model("lstm-co2")
    d = m.dataset()
    e = explained["lstm-co2"]
    shown = plots.in_units(e, d)
    a = d.target_scale
    assert shown.zoo_units == plots.Units(output="ppm", features="ppm")
    np.testing.assert_allclose(shown.values, np.asarray(e.values) * a)
    np.testing.assert_allclose(shown.base_values, d.to_units(e.base_values))
    forecast_ppm = d.to_units(m.predict(d.x_test[:6]))
    np.testing.assert_allclose(explain.info(shown).predictions, forecast_ppm, rtol=1e-5)
    # Σφ_ppm + base_ppm - forecast_ppm is the model-space additivity error times a:
    # the conversion keeps the explanation exactly as additive as the estimator made it
    gap_ppm = shown.values.sum(axis=(1, 2)) + shown.base_values - explain.info(shown).predictions
    gap = np.asarray(e.values).sum(axis=(1, 2)) + e.base_values - explain.info(e).predictions
    np.testing.assert_allclose(gap_ppm, a * gap, atol=1e-5)
    add, add_ppm = explain.info(e).additivity, explain.info(shown).additivity
    assert add_ppm["max"] == pytest.approx(a * add["max"])
    assert add_ppm["relative"] == pytest.approx(add["relative"])
    for ratio in ("p50", "p95", "normalized_max"):  # dimensionless: unchanged by the unit
        assert add_ppm[ratio] == pytest.approx(add[ratio])
    # the heading, axes and colorbar say ppm, with the values converted
    fig = plots.sequence_heatmap(shown, index=2)
    p, base = float(forecast_ppm[2, 0]), float(shown.base_values[2, 0])
    assert fig.axes[0].get_title() == f"forecast = {p:.3g} ppm (base {base:.3g} ppm)"
    assert fig.axes[0].get_ylabel() == "weekly change (ppm)"
    assert fig.axes[1].get_ylabel() == "SHAP (ppm)" and "ppm" in fig.axes[2].get_ylabel()
    np.testing.assert_allclose(
        fig.axes[0].collections[0].get_offsets()[:, 1], d.features_to_units(e.data[2, :, 0])
    )
    assert "ppm" in plots.waterfall(shown, index=2).axes[0].get_xlabel()
    g = plots.in_units(explain.global_importance(m, e), d)
    assert plots.global_importance(g).axes[0].get_ylabel() == "mean |SHAP| (ppm)"
    np.testing.assert_allclose(g.values, np.abs(np.asarray(e.values) * a).mean(axis=0), rtol=1e-5)


def test_in_units_is_idempotent_and_checks_the_dataset(explained, load_model):
    e = explained["lstm-co2"]
    d = load_model("lstm-co2").dataset()
    once = plots.in_units(e, d)
    assert plots.in_units(once, d) is once
    with pytest.raises(DataError, match="own dataset"):
        plots.in_units(e, load_model("mlp-cancer").dataset())
    digits = plots.in_units(explained["cnn-digits"], load_model("cnn-digits").dataset())
    np.testing.assert_array_equal(digits.display_data, explained["cnn-digits"].data)
    _check(plots.image(digits, index=0), 5)
