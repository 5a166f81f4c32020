"""A regression on the user's own table, through every layer: its naive baseline is the
training mean (not the forecaster's "no change", which for a table is a prediction of 0),
its classic baselines are cross-validated on shuffled rows, and the report, the
explanations and the Model page speak of predictions, not forecasts.

The table is scikit-learn's diabetes data (442 patients, 10 features, a disease
progression score of 25-346) written as the user's CSV; one small MLP trained for real.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import zoo
from zoo import entries

NAME = "mlp-diabetes-table"
APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory):
    from sklearn.datasets import load_diabetes

    folder = tmp_path_factory.mktemp("table-regression")
    csv = folder / "diabetes.csv"
    load_diabetes(as_frame=True, scaled=False).frame.to_csv(csv, index=False)
    store = folder / "store"
    zoo.add_entry(NAME, family="mlp", csv=csv, target="target", store=store)
    try:
        zoo.train(NAME, store=store, epochs=30, early_stopping=0)
        yield store, zoo.load(NAME, store=store)
    finally:
        entries.forget(NAME)


def test_the_naive_baseline_is_the_training_mean_and_skill_is_measured_against_it(trained):
    _, m = trained
    d, metrics = m.dataset(), m.metrics
    y_test = d.to_units(np.ravel(d.y_test))
    mean = d.to_units(np.concatenate([np.ravel(d.y_train), np.ravel(d.y_val)])).mean()
    assert metrics["naive"] == "training mean"
    assert metrics["naive_mse"] == pytest.approx(np.mean((y_test - mean) ** 2), rel=1e-9)
    # The old rule (predict 0) scored the naive baseline against mean(y²): ~6x worse here.
    assert metrics["naive_mse"] < 0.5 * np.mean(y_test**2)
    assert metrics["skill"] == pytest.approx(1 - metrics["mse"] / metrics["naive_mse"])
    base = metrics["baselines"]
    assert set(base["models"]) == {"mean", "ridge"}
    assert base["models"]["mean"]["label"] == "training mean"
    assert base["models"]["mean"]["value"] == pytest.approx(metrics["naive_mse"], rel=1e-9)
    # A linear model explains part of the progression (R² ~0.45 on this data): it beats
    # the mean, so the model is compared with the ridge.
    assert base["models"]["ridge"]["value"] < 0.8 * base["models"]["mean"]["value"]
    assert base["best"] == "ridge" and metrics["vs_baseline"]["label"] == "ridge regression"


def test_report_and_explanations_speak_of_predictions(trained, tmp_path: Path):
    import explain

    _, m = trained
    e = explain.explain(m, m.dataset().x_test[:3])
    assert explain.info(e).output_names == ("prediction",)
    html = explain.report(m, out=tmp_path / "r.html", samples=2).read_text()
    assert "naive baseline (training mean)" in html
    assert "predicts the training mean for every sample" in html
    assert "predictions against the actual test values" in html
    assert "forecast change" not in html and "no change" not in html


def test_model_page_shows_predicted_vs_actual(trained, monkeypatch: pytest.MonkeyPatch, texts):
    from streamlit.testing.v1 import AppTest

    store, m = trained
    monkeypatch.setenv("ZOO_HOME", str(store))
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.run()
    at.switch_page("views/model.py")
    at.query_params["model"] = m.ref
    at.run()
    assert not at.exception, at.exception
    shown = texts(at)
    assert "Predicted vs actual" in shown and "Forecast vs truth" not in shown
    assert "baseline (the training mean)" in shown and "test samples" in shown
