"""The dashboard's Altair charts skip schema validation when shown: it happens here instead."""

from __future__ import annotations

import altair as alt
import jsonschema
import pandas as pd
import pytest

from dashboard import charts

HISTORY = {"loss": [1.0, 0.6, 0.5], "val_loss": [1.1, 0.7, 0.8], "accuracy": [0.5, 0.7, 0.8]}
BUILT = {
    "curves": lambda: charts.curves(HISTORY, "loss", marks={"best": 2, "early stop": 3}),
    "series": lambda: charts.series({"lr": [0.1, 0.05], "loss": [1.0, 0.5]}),
    "overlay": lambda: charts.overlay({"a@1": HISTORY, "a@2": HISTORY}, "loss"),
    "confusion": lambda: charts.confusion([[3, 1], [0, 4]], ["cat", "dog"]),
    "roc": lambda: charts.roc(
        pd.DataFrame({"class": "dog", "fpr": [0.0, 0.2, 1.0], "tpr": [0.0, 0.9, 1.0]}),
        {"dog": 0.93},
    ),
    "forecast": lambda: charts.forecast(
        pd.DataFrame(
            {
                "date": pd.date_range("2000-01-01", periods=3, freq="W"),
                "truth": [1.0, 2.0, 3.0],
                "forecast": [1.1, 1.9, 3.2],
            }
        ),
        "ppm",
    ),
    "bars": lambda: charts.bars({"malignant": 0.001, "benign": 0.999}),
}


@pytest.mark.parametrize("name", sorted(BUILT))
def test_every_chart_is_valid_vega_lite_and_shown_unchanged(name):
    chart = BUILT[name]()
    checked = type(chart).to_dict(chart, validate=True)  # raises on an invalid spec
    assert chart.to_dict() == checked  # what st.altair_chart gets: the same spec


def test_unvalidated_skips_only_the_validation():
    bad = alt.Chart(pd.DataFrame({"a": [1]})).mark_point().encode(x="a:Q")
    bad["width"] = "wide"  # not a number, "container" or a step
    with pytest.raises(jsonschema.ValidationError):
        bad.to_dict()
    assert charts.unvalidated(bad).to_dict()["width"] == "wide"
    # A copy made from it (as `.properties` makes) is validated again.
    with pytest.raises(jsonschema.ValidationError):
        charts.unvalidated(bad).properties(height=100).to_dict()


def test_bars_spec_is_the_bars_chart_with_new_values_and_valid():
    # Built once per label set, then only the rows change: the spec of a fresh chart.
    charts.bars_spec({"malignant": 0.001, "benign": 0.999})
    spec = charts.bars_spec({"malignant": 0.6, "benign": 0.4})
    fresh = charts.spec(charts.bars({"malignant": 0.6, "benign": 0.4}), "bars")
    assert list(spec["datasets"].values()) == list(fresh["datasets"].values())
    (name,) = spec["datasets"]
    assert spec["data"] == {"name": name}  # the one table its layers draw
    assert {k: v for k, v in spec.items() if k not in ("data", "datasets")} == {
        k: v for k, v in fresh.items() if k not in ("data", "datasets")
    }
    alt.LayerChart.from_dict(spec, validate=True)  # raises on an invalid spec
    # A copy per call: what one page (or Streamlit) does to its spec never reaches the next.
    spec["datasets"].clear()
    spec["layer"][2]["encoding"]["color"]["condition"]["value"] = "red"
    again = charts.bars_spec({"malignant": 0.6, "benign": 0.4})
    assert again["datasets"] and again["layer"] == fresh["layer"]


@pytest.mark.parametrize(
    "ref, chart, quantity",
    [
        ("mlp-cancer@1", "curves", "loss"),
        ("cnn-digits@1", "curves", "accuracy"),
        ("cnn-digits@1", "confusion", ""),
        ("mlp-cancer@1", "roc", ""),
        ("lstm-co2@1", "forecast", ""),
    ],
)
def test_a_versions_cached_chart_spec_is_its_chart(tiny_store, ref, chart, quantity):
    from dashboard import model_data

    spec = model_data.chart_spec(str(tiny_store), ref, chart, quantity)
    kind = alt.LayerChart if "layer" in spec else alt.Chart
    kind.from_dict(spec, validate=True)  # raises on an invalid spec
    again = model_data.chart_spec(str(tiny_store), ref, chart, quantity)
    assert again == spec and again is not spec  # a copy per visit (Streamlit edits it)
    if chart == "curves":  # the stored history's values, train and validation
        from zoo import load

        history = load(ref, store=tiny_store).history
        rows = [r for rows in spec["datasets"].values() for r in rows if "split" in r]
        assert sorted(r["value"] for r in rows) == sorted(
            history[quantity] + history[f"val_{quantity}"]
        )


def test_an_unknown_chart_is_named_with_the_known_ones(tiny_store):
    from dashboard import model_data

    with pytest.raises(ValueError, match="expected one of curves, confusion"):
        model_data.chart_spec(str(tiny_store), "mlp-cancer@1", "pie")


def test_spec_names_the_data_sets_and_keeps_the_chart():
    chart = BUILT["curves"]()  # three layers, three data sets
    renamed = charts.spec(chart, "curves")
    assert list(renamed["datasets"]) == ["curves", "curves-1", "curves-2"]
    original = chart.to_dict()
    assert list(renamed["datasets"].values()) == list(original["datasets"].values())
    names = [layer["data"]["name"] for layer in renamed["layer"]]
    assert sorted(names) == ["curves", "curves-1", "curves-2"]
    alt.LayerChart.from_dict(renamed, validate=True)
    # Other data, the same names: a chart redrawn in place keeps its data sets.
    later = charts.spec(charts.curves({"loss": [2.0], "val_loss": [3.0]}, "loss"), "curves")
    assert list(later["datasets"])[:2] == ["curves", "curves-1"]


def test_series_spec_is_the_series_chart_with_new_values():
    charts.series_spec({"co2 (ppm)": [0.0, 0.0, 0.0]}, x_title="step")
    spec = charts.series_spec({"co2 (ppm)": [1.0, 2.5]}, x_title="step")
    fresh = charts.spec(charts.series({"co2 (ppm)": [1.0, 2.5]}, x_title="step"), "series")
    assert spec == fresh
    alt.Chart.from_dict(spec, validate=True)


def test_spec_takes_data_of_any_size_and_streamlits_theme():
    # Altair's own defaults: a MaxRowsError over 5,000 rows, and a 300 px view config.
    frame = pd.DataFrame({"actual": range(6000), "predicted": range(6000)})
    big = charts.spec(charts.predicted_vs_actual(frame), "predicted")
    assert sum(len(rows) for rows in big["datasets"].values()) >= 6000
    assert "config" not in big
    with pytest.raises(alt.MaxRowsError):  # the global default is left as it was
        charts.predicted_vs_actual(frame).to_dict()
