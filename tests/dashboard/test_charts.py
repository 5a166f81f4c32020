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
