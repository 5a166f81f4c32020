"""Every dashboard page, run by AppTest against a tiny store of real trained models."""

from __future__ import annotations

import json

import pytest

import zoo
from zoo import intervals
from zoo.registry import default_order
from zoo.summary import comparison

# Where the Model page shows the comparison line, by its verdict.
BOX = {intervals.BEATS: "success", intervals.SAME: "info", intervals.WORSE: "warning"}


def _metrics(store, name):
    return json.loads((store / name / "1/metrics.json").read_text())


def _strip_baselines(store, name):
    """Make `name@1` in `store` look like a version stored before baselines: drop the keys
    from its metrics.json and re-seal the file's manifest entry, so it stays 'ok'."""
    from zoo.artifact import MANIFEST
    from zoo.store import Store, sha256, write_json

    folder = store / name / "1"
    metrics = _metrics(store, name)
    for key in ("baselines", "intervals", "vs_baseline"):
        del metrics[key]
    write_json(folder, "metrics.json", metrics)
    manifest = json.loads((folder / MANIFEST).read_text())
    path = folder / "metrics.json"
    manifest["files"]["metrics.json"] = {"sha256": sha256(path), "bytes": path.stat().st_size}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2))
    info = Store(store).verify(name, 1)
    assert info.status == "ok" and "vs_baseline" not in info.metrics


PAGES = ["zoo", "model", "curves", "explain", "gan", "compare", "train", "data", "report"]


@pytest.mark.parametrize("page", PAGES)
def test_every_page_runs(open_page, page):
    at = open_page(page)
    assert not at.exception
    assert at.title[0].value


def test_zoo_page_lists_every_entry_with_status(open_page, tiny_store, frame):
    at = open_page("zoo")
    table = frame(at, "status")
    assert list(table["entry"]) == zoo.list_models()
    assert set(table["status"]) == {"ok"}
    assert (table["versions"] == 1).all()
    accuracy = json.loads((tiny_store / "cnn-digits/1/metrics.json").read_text())["accuracy"]
    row = table.set_index("entry").loc["cnn-digits"]
    assert row["latest metric"] == f"accuracy {accuracy:.4g}"
    # Each entry's best version vs its best baseline: the verdict, then the difference.
    for name in default_order():
        vs = comparison(_metrics(tiny_store, name))
        assert vs is not None, f"{name}@1 was trained without baselines"
        shown = table.set_index("entry").loc[name, "vs best baseline"]
        assert shown.startswith(vs["verdict"] + ": ")
        assert shown.endswith(f" vs {vs['baseline']}")
    # Every entry links to its pages with its version in the query string.
    links = {(link.value, link.proto.query_string) for link in at.get("page_link")}
    for name in default_order():
        assert ("Model", f"model={name}%401") in links or ("Model", f"model={name}@1") in links
    assert ("GAN", "model=gan-digits%401") in links or ("GAN", "model=gan-digits@1") in links


@pytest.mark.parametrize("name", default_order())
def test_model_page_shows_stored_metrics(open_page, tiny_store, metric, frame, name):
    at = open_page("model", model=f"{name}@1")
    assert not at.exception
    assert at.selectbox(key="model_picker").value == f"{name}@1"
    metrics = json.loads((tiny_store / name / "1/metrics.json").read_text())
    if name == "lstm-co2":
        assert metric(at, "MSE (ppm²)") == f"{metrics['mse']:.4g}"
        assert at.get("vega_lite_chart")  # the forecast plot
    elif name == "gan-digits":
        assert metric(at, "fid final") == f"{metrics['fid_final']:.4g}"
    else:
        assert metric(at, "accuracy") == f"{metrics['accuracy']:.4f}"
        per_class = frame(at, "precision")
        assert len(per_class) == len(metrics["per_class"])
    # The tabs are lazy: the architecture's table is drawn only when its tab is open.
    assert not any("parameters" in el.value.columns for el in at.dataframe)
    at = open_page("model", model=f"{name}@1", tab="Architecture")
    assert not at.exception
    layers = frame(at, "parameters")
    assert layers["parameters"].sum() > 0


@pytest.mark.parametrize("name", ["mlp-cancer", "lstm-co2", "gan-digits"])
def test_model_page_shows_intervals_and_baselines(open_page, tiny_store, frame, name):
    from dashboard.baseline_text import metric_interval

    at = open_page("model", model=f"{name}@1")
    assert not at.exception
    metrics = _metrics(tiny_store, name)
    vs = comparison(metrics)
    # The comparison line, in the box its verdict earns.
    box = [el.value for el in getattr(at, BOX[vs["verdict"]])]
    assert vs["text"] in box
    # The compared metric's 95 % interval, beside the metric.
    shown = metric_interval(metrics, vs["metric"], accuracy=vs["metric"] == "accuracy")
    assert shown and metrics["intervals"]["metrics"][vs["metric"]]
    captions = [el.value for el in at.caption]
    assert f"95 % interval {shown}" in captions
    level = f"{metrics['intervals']['level'] * 100:g} %"
    resamples = f"{metrics['intervals']['resamples']:,} resamples"
    assert any(level in c and resamples in c for c in captions)
    # Every stored baseline, the best one marked.
    table = frame(at, "baseline")
    records = metrics["baselines"]["models"]
    assert sorted(table["baseline"]) == sorted(r["label"] for r in records.values())
    best = table[table["best"] != ""]
    assert list(best["baseline"]) == [records[metrics["baselines"]["best"]]["label"]]


def test_version_without_baselines_says_so(open_page, store_copy, frame, texts):
    from dashboard.views.model import NO_BASELINE

    _strip_baselines(store_copy, "mlp-cancer")
    at = open_page("model", store=store_copy, model="mlp-cancer@1")
    assert not at.exception
    assert NO_BASELINE in texts(at).lower()
    assert not any(el.value.startswith("95 % interval") for el in at.caption)
    assert not any("baseline" in el.value.columns for el in at.dataframe)
    at = open_page("zoo", store=store_copy)
    assert not at.exception
    column = frame(at, "vs best baseline").set_index("entry")["vs best baseline"]
    assert column["mlp-cancer"] == "none stored"
    other = comparison(_metrics(store_copy, "cnn-digits"))
    assert column["cnn-digits"].startswith(other["verdict"])


def test_curves_page_states_the_diagnosis(open_page, tiny_store, texts):
    at = open_page("curves", model="mlp-cancer@1")
    assert not at.exception
    message = json.loads((tiny_store / "mlp-cancer/1/metrics.json").read_text())["diagnosis"][
        "message"
    ]
    assert message in texts(at)
    assert "Learning rate per epoch" in texts(at)


def test_selected_model_is_shared_between_pages(open_page):
    at = open_page("model", model="gru-digits@1")
    at.switch_page("views/curves.py")
    at.query_params.clear()
    at.run()
    assert at.selectbox(key="model_picker").value == "gru-digits@1"


@pytest.mark.parametrize("name", ["cnn-digits", "gru-digits", "mlp-cancer", "lstm-co2"])
def test_explain_a_test_sample(open_page, metric, texts, name):
    at = open_page("explain", model=f"{name}@1")
    at.selectbox(key="explain_index").set_value(3).run()
    assert "Press Explain" in texts(at)
    at.button(key="explain_go").click().run()
    assert not at.exception
    assert metric(at, "method") == "layerwise"
    add = metric(at, "additivity error (max)")  # "0.037 ppm" for the forecaster
    assert float(add.split()[0]) < 0.5 and add.endswith(" ppm") == (name == "lstm-co2")
    # a second view of the same explanation (no recomputation) works too
    at.radio(key="explain_view").set_value("waterfall").run()
    assert not at.exception and at.get("image")


def test_picking_a_test_sample_prefetches_its_explanation(open_page, metric):
    import explain
    from dashboard import data
    from dashboard.views.explain import PREFETCH_KEY

    at = open_page("explain", model="cnn-digits@1")
    assert PREFETCH_KEY not in at.session_state  # the sample a model starts on: no prefetch
    at.selectbox(key="explain_index").set_value(5).run()
    assert at.session_state[PREFETCH_KEY].result(timeout=120) is True
    # Cached before the click: returned without its input, so never computed again.
    e = data.explanation(data.store_root(), "cnn-digits@1", "test:5", None)
    at.button(key="explain_go").click().run()
    assert not at.exception and at.get("image")
    assert metric(at, "compute time") == f"{explain.info(e).ms_per_sample:.0f} ms"
    # Every pick by the visitor starts its own.
    at.selectbox(key="explain_index").set_value(6).run()
    assert at.session_state[PREFETCH_KEY].result(timeout=120) is True


def test_explain_shows_raw_feature_values_and_both_class_probabilities(open_page, frame):
    import numpy as np

    at = open_page("explain", model="mlp-cancer@1")
    at.selectbox(key="explain_index").set_value(3).run()
    d = zoo.load("mlp-cancer@1").dataset()
    table = frame(at, "value")
    assert list(table["feature"]) == list(d.feature_names)
    np.testing.assert_allclose(table["value"], d.features_to_units(d.x_test[3]), rtol=1e-6)
    np.testing.assert_allclose(table["model input (standardized)"], d.x_test[3], rtol=1e-6)
    spec = json.loads(at.get("vega_lite_chart")[0].proto.spec)
    assert spec["height"] == {"step": 30}  # rows of fixed size: never squeezed to nothing
    assert [layer["mark"]["type"] for layer in spec["layer"]] == ["bar", "bar", "text"]


def test_explain_the_forecaster_in_ppm(open_page, texts):
    at = open_page("explain", model="lstm-co2@1")
    options = at.selectbox(key="explain_index").options
    assert all(label.endswith(" ppm") for label in options)  # "#3: error 0.412 ppm"
    at.selectbox(key="explain_index").set_value(3).run()
    m = zoo.load("lstm-co2@1")
    d = m.dataset()
    change = float(d.to_units(m.predict(d.x_test[3:4]))[0, 0])
    assert f"Forecast change **{change:+.3f} ppm**" in texts(at)
    assert "weekly change (ppm)" in at.get("vega_lite_chart")[0].proto.spec


def test_explain_filters_misclassified_samples(open_page):
    at = open_page("explain", model="mlp-cancer@1")
    at.selectbox(key="explain_filter").set_value("misclassified").run()
    assert not at.exception
    assert all("✗" in label for label in at.selectbox(key="explain_index").options)


def test_explain_sanity_check_and_global_importance(open_page, metric):
    at = open_page("explain", model="mlp-cancer@1")
    at.button(key="explain_go").click().run()
    at.button(key="explain_sanity").click().run()
    assert metric(at, "sanity check") in ("passed", "failed")
    at.toggle(key="explain_global").set_value(True).run()
    assert not at.exception


def test_gan_page_samples_fresh_samples_and_discriminator_shap(open_page, metric):
    at = open_page("gan")
    assert not at.exception
    at.slider(key="gan_epoch").set_value(0).run()
    at.button(key="gan_generate").click().run()
    assert not at.exception
    at.number_input(key="gan_sample").set_value(2).run()
    at.button(key="gan_explain").click().run()
    assert not at.exception
    assert metric(at, "method") == "layerwise"


def test_compare_two_runs_shows_the_differing_options(open_page, tiny_store, frame, texts):
    from zoo.summary import interval_text

    at = open_page("compare")
    refs = ["cnn-digits@1", "gru-digits@1"]
    at.multiselect(key="compare_refs").set_value(refs).run()
    assert not at.exception
    diff = frame(at, "option")
    assert {"model", "bidirectional"} <= set(diff["option"])
    side = frame(at, "run")
    assert list(side["run"]) == refs
    # Intervals beside the metrics, then each run against its own best baseline.
    versus = frame(at, "verdict").set_index("run")
    assert list(versus.index) == refs
    for ref in refs:
        metrics = _metrics(tiny_store, ref.partition("@")[0])
        iv = interval_text(metrics["intervals"]["metrics"]["accuracy"], accuracy=True)
        assert side.set_index("run").loc[ref, "95 % interval"] == iv
        vs = comparison(metrics)
        row = versus.loc[ref]
        assert row["verdict"] == vs["verdict"]
        assert row["best baseline"] == vs["baseline"]
        paired = interval_text(vs["difference_interval"], signed=True, accuracy=True)
        assert row["model − baseline [paired 95 %]"].endswith(paired)
    assert "its own best baseline" in texts(at)
    assert "Overlapping intervals of two runs say nothing" in texts(at)


def test_report_page_offers_the_html(open_page):
    at = open_page("report", model="mlp-cancer@1")
    at.button(key="report_build").click().run()
    assert not at.exception
    assert at.get("download_button")


def test_compare_pairs_the_selected_run_with_the_closest_of_its_task(open_page):
    # gru-digits@1 has no second version: its partner is a run of the same task on the
    # same data and of the same family (lstm-digits), not the first classifier in zoo
    # order (cnn-digits, whose every option differs).
    at = open_page("model", model="gru-digits@1")  # the session's selected version
    at.switch_page("views/compare.py")
    at.query_params.clear()
    at.run()
    assert not at.exception
    assert at.multiselect(key="compare_refs").value == ["gru-digits@1", "lstm-digits@1"]
