"""A user's series on the Model and Explain pages: with no date column (its test steps
are numbered; the Model page used to fail on the missing dates) and monthly (its steps
are months, not the CO2 forecaster's weeks). statsmodels' CO2 series, averaged per
month, written as the user's CSV; small recurrent models trained for real."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

import zoo
from zoo import entries
from zoo.evaluation import time_step

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from statsmodels.datasets import co2

    folder = tmp_path_factory.mktemp("series")
    monthly = co2.load_pandas().data["co2"].resample("MS").mean().interpolate()
    dated = pd.DataFrame({"month": monthly.index.strftime("%Y-%m-%d"), "ppm": monthly.values})
    dated.to_csv(folder / "dated.csv", index=False)
    dated[["ppm"]].to_csv(folder / "undated.csv", index=False)
    root = folder / "store"
    options = dict(window=12, epochs=2, early_stopping=0, units=8)
    names = {"rnn-co2-undated": "undated.csv", "rnn-co2-monthly": "dated.csv"}
    try:
        for name, csv in names.items():
            extra = {"date_column": "month"} if csv == "dated.csv" else {}
            zoo.add_entry(name, family="rnn", series=folder / csv, column="ppm", store=root,
                          **extra)  # fmt: skip
            zoo.train(name, store=root, **options)
        yield root
    finally:
        for name in names:
            entries.forget(name)


def _page(store: Path, monkeypatch: pytest.MonkeyPatch, page: str, ref: str):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("ZOO_HOME", str(store))
    monkeypatch.setenv("ZOO_WARM_ON_START", "0")
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.run()
    at.switch_page(f"views/{page}.py")
    at.query_params["model"] = ref
    return at.run()


def _texts(at) -> str:
    return "\n".join(str(el.value) for kind in ("markdown", "caption") for el in getattr(at, kind))


@pytest.mark.parametrize(
    "ref, step", [("rnn-co2-undated@1", "step"), ("rnn-co2-monthly@1", "month")]
)
def test_model_and_explain_pages_name_the_series_steps(store, monkeypatch, ref, step):
    at = _page(store, monkeypatch, "model", ref)
    assert not at.exception and not at.error, (at.exception, [e.value for e in at.error])
    shown = _texts(at)
    assert f"test {step}s" in shown and "weeks" not in shown
    assert "Forecast vs truth" in shown and at.get("vega_lite_chart")
    # Its curves are in the model's (standardized) units, which the page now says.
    at = _page(store, monkeypatch, "curves", ref)
    assert not at.exception and "standardized target" in _texts(at)
    at = _page(store, monkeypatch, "explain", ref)
    at.button(key="explain_go").click().run()
    assert not at.exception and not at.error
    assert f"next {step}" in _texts(at) and "next week" not in _texts(at)


def test_time_step_reads_the_spacing_of_the_test_dates():
    def data(dates):
        return SimpleNamespace(extra={} if dates is None else {"dates_test": np.array(dates)})

    days = pd.date_range("2000-01-01", periods=6, freq="D").values
    months = pd.date_range("2000-01-01", periods=6, freq="MS").values
    odd = np.array(["2000-01-01", "2000-01-04", "2000-01-07"], dtype="datetime64[D]")
    assert [time_step(data(d)) for d in (days, months, odd, None)] == [
        "day", "month", "step", "step"
    ]  # fmt: skip


def test_a_series_upload_takes_the_series_own_values(store, monkeypatch):
    # The upload used to want the model's input feature ('change of ppm'); a user has
    # the series itself. Its last window + 1 values give the same forecast as predict_raw.
    import re

    at = _page(store, monkeypatch, "explain", "rnn-co2-monthly@1")
    at.radio(key="explain_source").set_value("your own input").run()
    assert not at.exception
    levels = 370.0 + np.sin(np.arange(13) / 2.0)
    csv = "ppm\n" + "\n".join(f"{v:.4f}" for v in levels)
    at.file_uploader(key="upload").upload("mine.csv", csv.encode(), "text/csv").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    shown = _texts(at)
    level = float(re.search(r"level \*\*([0-9.]+)", shown).group(1))
    m = zoo.load("rnn-co2-monthly", store=store)
    expected = float(np.ravel(m.predict_raw(np.round(levels, 4)))[0])
    assert level == pytest.approx(expected, abs=0.006) and "next month" in shown
    at.button(key="explain_go").click().run()
    assert not at.exception and not at.error
