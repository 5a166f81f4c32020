"""Fidelity: additivity figures and the model-randomization sanity check."""

from __future__ import annotations

import numpy as np
import pytest

import explain
from explain.fidelity import randomized_clone, rank_correlation
from zoo.errors import DataError


@pytest.mark.parametrize("name", ["cnn-digits", "gru-digits", "mlp-cancer"])
def test_randomized_model_gives_clearly_different_attributions(load_model, name):
    m = load_model(name)
    e = explain.explain(m, m.dataset().x_test[:12])
    report = explain.fidelity(m, e)
    assert report["method"] == "expected_gradients" and report["n_randomization"] == 12
    assert report["additivity_max"] >= report["additivity_mean"] >= 0
    assert report["rank_corr_trained"] > 0.9  # two runs agree with each other ...
    assert abs(report["rank_corr_randomized"]) < report["rank_corr_trained"] - 0.3  # ... not this
    assert report["sanity_passed"]


def test_fidelity_with_deep_and_without_randomization(load_model):
    m = load_model("mlp-cancer")
    e = explain.explain(m, m.dataset().x_test[:8], method="deep")
    quick = explain.fidelity(m, e, randomization=False)
    assert set(quick) == {
        "method",
        "n",
        "additivity_max",
        "additivity_mean",
        "additivity_relative",
    }
    assert quick["additivity_max"] < 1e-3
    full = explain.fidelity(m, e, max_samples=8)
    assert full["rank_corr_trained"] == pytest.approx(1.0)  # Deep is deterministic
    assert full["sanity_passed"]


def test_randomized_clone_is_seeded_and_fresh(load_model):
    model = load_model("gru-digits").model
    a, b = randomized_clone(model, seed=5), randomized_clone(model, seed=5)
    for wa, wb, wm in zip(a.get_weights(), b.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(wa, wb)
        assert wa.shape == wm.shape
    assert not np.allclose(a.get_weights()[0], model.get_weights()[0])


def test_rank_correlation_and_input_checks(load_model):
    a = np.random.default_rng(0).normal(size=(3, 5, 2))
    assert rank_correlation(a, a) == pytest.approx(1.0)
    assert rank_correlation(a, -a) == pytest.approx(-1.0)
    m = load_model("mlp-cancer")
    g = explain.global_importance(m, m.dataset().x_test[:4])
    with pytest.raises(DataError, match="per-sample explanation"):
        explain.fidelity(m, g)
    with pytest.raises(DataError, match="shap.Explanation"):
        explain.fidelity(m, np.zeros((2, 30, 1)))
    e = explain.explain(m.model, m.dataset().x_test[:4], background=m.dataset().x_train[:50])
    with pytest.raises(DataError, match="background array"):
        explain.fidelity(m.model, e)
    assert explain.fidelity(m.model, e, background=m.dataset().x_train[:50])["sanity_passed"]
