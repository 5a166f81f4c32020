"""The Model page's Groups section (zoo.fairness), run by AppTest on the tiny store."""

from __future__ import annotations

from zoo import fairness

KEY = "groups_by"


def test_groups_section_of_a_tabular_classifier(open_page, trained, frame):
    at = open_page("model", model="mlp-cancer@1", tab="Groups")
    assert not at.exception
    box = at.selectbox(key=KEY)
    m = trained("mlp-cancer")
    assert box.value == "mean radius" and box.options == fairness.groupings(m)
    expected = fairness.slices(m)
    assert expected.reading in [el.value for el in at.info]
    table = frame(at, "note")
    assert list(table["group"]) == [g.name for g in expected.groups]
    assert list(table["n"]) == [g.n for g in expected.groups]
    gaps = frame(at, "better group")
    assert list(gaps["metric"])[0] == "accuracy"
    # Another grouping: the true class
    at = box.set_value(fairness.TRUE_CLASS).run()
    assert not at.exception
    assert list(frame(at, "note")["group"]) == ["malignant", "benign"]
    assert fairness.slices(m, by=fairness.TRUE_CLASS).reading in [el.value for el in at.info]


def test_groups_section_of_an_image_classifier_and_none_for_a_forecaster(open_page, frame):
    at = open_page("model", model="cnn-digits@1", tab="Groups")
    assert not at.exception
    assert at.selectbox(key=KEY).options == [fairness.TRUE_CLASS]
    table = frame(at, "note")
    assert list(table["group"]) == [str(d) for d in range(10)]
    assert table["n"].sum() == 270
    at = open_page("model", model="lstm-co2@1", tab="Groups")
    assert not at.exception
    assert KEY not in [box.key for box in at.selectbox]
