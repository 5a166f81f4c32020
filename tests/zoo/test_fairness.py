"""zoo.fairness: per-group test metrics recomputed independently, the gaps, small groups,
the reading and the refusals; on the session's tiny trained store (no new training)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from zoo import fairness
from zoo.errors import DataError
from zoo.evaluation import class_probabilities


def _outputs(m):
    d = m.dataset()
    proba = class_probabilities(m.predict(d.x_test))
    return d, proba, proba.argmax(axis=1), np.asarray(d.y_test).astype(int).ravel()


def _check_gaps(s: fairness.Slices) -> None:
    """Every gap is max − min of its metric over the groups where it is defined."""
    assert s.gaps, "no gap computed"
    for metric, gap in s.gaps.items():
        values = {g.name: g.value(metric) for g in s.groups if np.isfinite(g.value(metric))}
        assert gap.gap == pytest.approx(max(values.values()) - min(values.values()))
        assert {values[gap.best], values[gap.worst]} == {max(values.values()), min(values.values())}
        better = min if metric in ("fpr", "brier") else max
        assert values[gap.best] == better(values.values())
        assert gap.interval is not None and gap.interval[0] <= gap.interval[1]


def test_tabular_groups_match_predictions_recomputed_by_hand(trained):
    m = trained("mlp-cancer")
    s = fairness.slices(m)  # the default grouping: the first feature at its median
    d, proba, pred, y = _outputs(m)
    radius = d.features_to_units(d.x_test)[:, 0]
    median = np.median(d.features_to_units(d.x_train)[:, 0])
    assert s.grouping == "mean radius" and s.positive == "benign" and s.kind == "feature"
    assert [g.name for g in s.groups] == [
        f"mean radius ≤ {median:.4g}",
        f"mean radius > {median:.4g}",
    ]
    assert sum(g.n for g in s.groups) == s.n_test == len(d.y_test)
    for g, mask in zip(s.groups, (radius <= median, radius > median), strict=True):
        yt, yp, p1 = y[mask], pred[mask], proba[mask, 1]
        assert g.n == mask.sum()
        assert g.accuracy == pytest.approx(np.mean(yt == yp))
        if (yt == 1).any():
            assert g.recall == pytest.approx(np.mean(yp[yt == 1] == 1))
        if (yt == 0).any():
            assert g.fpr == pytest.approx(np.mean(yp[yt == 0] == 1))
        assert g.brier == pytest.approx(np.mean((p1 - yt) ** 2), abs=1e-6)
        assert g.small == (g.n < fairness.MIN_GROUP)
    _check_gaps(s)
    assert s.reading.endswith(".") and ". " not in s.reading  # one sentence


def test_true_class_groups_of_an_image_classifier(trained):
    m = trained("cnn-digits")
    s = fairness.slices(m)
    d, proba, pred, y = _outputs(m)
    assert s.grouping == fairness.TRUE_CLASS and s.positive is None
    assert [g.name for g in s.groups] == list(d.class_names)
    assert sum(g.n for g in s.groups) == s.n_test == len(y)
    for k, g in enumerate(s.groups):
        assert g.n == (y == k).sum()
        accuracy = np.mean(pred[y == k] == k)
        assert g.accuracy == pytest.approx(accuracy)
        assert g.recall == pytest.approx(accuracy)  # one class present: macro recall = recall
        onehot = np.eye(10)[y[y == k]]
        assert g.brier == pytest.approx(np.mean(((proba[y == k] - onehot) ** 2).sum(1)), abs=1e-6)
    _check_gaps(s)
    # 27 test digits per class: every class is flagged, and the reading says so
    assert all(g.small for g in s.groups)
    assert f"fewer than {fairness.MIN_GROUP} test samples" in s.reading
    assert fairness.groupings(m) == [fairness.TRUE_CLASS]


def test_labels_per_sample_flag_a_small_group(trained):
    m = trained("mlp-cancer")
    d, proba, _, y = _outputs(m)
    labels = np.array(["clinic A"] * 10 + ["clinic B"] * (len(y) - 10), dtype=object)
    s = fairness.slices(m, by=labels, label="site", proba=proba)
    a, b = s.groups
    assert (a.name, a.n, a.small) == ("clinic A", 10, True)
    assert (b.name, b.n, b.small) == ("clinic B", len(y) - 10, False)
    assert "site = clinic A has fewer than 30 test samples" in s.reading
    with pytest.raises(DataError, match="expected one per test sample"):
        fairness.slices(m, by=labels[:5], proba=proba)


def test_quantile_bins_and_a_misspelt_feature(trained):
    m = trained("mlp-cancer")
    d, proba, _, _ = _outputs(m)
    s = fairness.slices(m, by="worst area", bins=4, proba=proba)
    edges = np.quantile(d.features_to_units(d.x_train)[:, 23], [0.25, 0.5, 0.75])
    assert len(s.groups) == 4 and s.groups[0].name == f"worst area ≤ {edges[0]:.4g}"
    assert sum(g.n for g in s.groups) == len(d.y_test)
    _check_gaps(s)
    with pytest.raises(DataError, match=r"did you mean 'mean radius'") as err:
        fairness.slices(m, by="mean radus", proba=proba)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("name", ["lstm-co2", "gan-digits"])
def test_not_a_classifier_is_refused_in_one_line(trained, name):
    m = trained(name)
    with pytest.raises(DataError, match="fairness slices need a classifier") as err:
        fairness.slices(m)
    assert "\n" not in str(err.value)
    assert fairness.groupings(m) == []


def _stub(colour: list[str], y: list[int], pred: list[int]):
    """A tabular classifier whose table had one numeric and one categorical column, as a
    user's CSV gives (one-hot inputs `colour=...` named in its fitted preprocessing)."""
    cats = ["blue", "red"]
    x = np.array([[i, c == "blue", c == "red"] for i, c in enumerate(colour)], np.float32)
    data = SimpleNamespace(
        input_kind="tabular",
        feature_names=("size", "colour=blue", "colour=red"),
        class_names=("no", "yes"),
        preprocessing={"transform": {"categorical": [{"name": "colour", "categories": cats}]}},
        x_train=x,
        x_test=x,
        y_test=np.array(y),
        feature_unit="",
        features_to_units=lambda a: a,
    )
    proba = np.eye(2)[pred] * 0.8 + 0.1
    trained = SimpleNamespace(
        task="classification", ref="stub@1", family="mlp", class_names=None, dataset=lambda: data
    )
    return trained, proba


def test_categorical_column_of_a_user_table():
    colour = ["blue"] * 40 + ["red"] * 40 + ["green"] * 5  # green: unseen in training
    y = [0, 1] * 20 + [0, 1] * 20 + [1] * 5
    pred = [0, 1] * 20 + [1, 1] * 20 + [1] * 5  # red: every 'no' called 'yes'
    trained, proba = _stub(colour, y, pred)
    assert fairness.groupings(trained) == ["size", "colour", fairness.TRUE_CLASS]
    s = fairness.slices(trained, by="colour", proba=proba)
    by_name = {g.name: g for g in s.groups}
    assert {k: g.n for k, g in by_name.items()} == {
        "blue": 40,
        "red": 40,
        "(not seen in training)": 5,
    }
    assert by_name["blue"].accuracy == 1.0 and by_name["red"].accuracy == 0.5
    assert by_name["blue"].fpr == 0.0 and by_name["red"].fpr == 1.0
    gap = s.gaps["fpr"]
    assert (gap.gap, gap.best, gap.worst, gap.interval) == (1.0, "blue", "red", [1.0, 1.0])
    assert s.reading.startswith(
        "False-positive rate of yes differs most between groups of colour: 1.00 for colour = "
        "red (n=40) vs 0.00 for colour = blue (n=40), a gap of 1.00 (95 % interval 1.00 to 1.00)"
    )


def test_no_gap_says_so():
    colour = ["blue"] * 40 + ["red"] * 40
    y = [0, 1] * 40
    trained, proba = _stub(colour, y, y)  # always right
    s = fairness.slices(trained, by="colour", proba=proba)
    assert s.gaps["accuracy"].gap == 0.0
    assert s.reading.startswith("No gap between the 2 groups of colour")
    # The gap table names no better or worse group, and no interval end reads -0.00.
    rows = {r["metric"]: r for r in s.gap_rows()}
    accuracy = rows[s.label("accuracy")]
    assert accuracy["better group"] == accuracy["worse group"] == "– (all equal)"
    assert all("-0.00" not in r["95 % interval"] for r in rows.values())
