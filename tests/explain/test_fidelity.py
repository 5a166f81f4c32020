"""Fidelity: additivity figures and the model-randomization sanity check."""

from __future__ import annotations

import importlib

import numpy as np
import pytest

import explain
from explain import caching
from explain.fidelity import randomized_clone, rank_correlation
from zoo.errors import DataError, ZooError

# the module, not the function that `explain.fidelity` names (import ... as would give that)
fidelity_module = importlib.import_module("explain.fidelity")


@pytest.mark.parametrize("name", ["cnn-digits", "gru-digits", "mlp-cancer"])
def test_randomized_model_gives_clearly_different_attributions(load_model, name):
    m = load_model(name)
    e = explain.explain(m, m.dataset().x_test[:12])
    report = explain.fidelity(m, e)
    assert report["method"] == "layerwise" and report["n_randomization"] == 12
    assert report["additivity_p95"] <= 0.01
    assert report["additivity_max"] >= report["additivity_mean"] >= 0
    assert report["rank_corr_trained"] > 0.9  # two runs agree with each other ...
    assert abs(report["rank_corr_randomized"]) < report["rank_corr_trained"] - 0.3  # ... not this
    assert report["sanity_passed"]


def test_fidelity_with_deep_and_without_randomization(load_model):
    from zoo import backend

    m = load_model("mlp-cancer")
    if backend.name() != "tensorflow":  # shap's Deep runs on TensorFlow only: one-line refusal
        with pytest.raises(ZooError) as err:
            explain.explain(m, m.dataset().x_test[:8], method="deep")
        assert str(err.value).startswith(
            f"method='deep' (shap.DeepExplainer) is unavailable on the {backend.name()} "
            "backend: shap runs it on TensorFlow only;"
        ), err.value
        assert "\n" not in str(err.value)
        return
    e = explain.explain(m, m.dataset().x_test[:8], method="deep")
    quick = explain.fidelity(m, e, randomization=False)
    assert set(quick) == {
        "method",
        "n",
        "additivity_max",
        "additivity_mean",
        "additivity_relative",
        "additivity_p95",
        "additivity_normalized_max",
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


@pytest.fixture
def clones_built(monkeypatch):
    """A list that grows by one each time fidelity builds a randomized clone."""
    built: list[int] = []
    real = fidelity_module.randomized_clone

    def counting(*args, **kwargs):
        built.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(fidelity_module, "randomized_clone", counting)
    return built


def test_second_fidelity_call_reuses_the_randomized_clone(load_model, clones_built):
    m = load_model("gru-digits")
    e = explain.explain(m, m.dataset().x_test[:4])
    # seed 7: a clone no other test asked for, so the first call really builds one
    first = explain.fidelity(m, e, seed=7)
    second = explain.fidelity(m, e, seed=7)
    assert len(clones_built) == 1  # the clone and its explainer were built once
    assert second == first  # same clone, same explainer: the very same figures
    assert second["rank_corr_randomized"] == first["rank_corr_randomized"]


def test_randomized_clones_cache_is_keyed_bounded_and_cleared(load_model, clones_built):
    m = load_model("mlp-cancer")
    x, bg = m.dataset().x_test[:2], m.dataset().x_train[:20]
    e = explain.explain(m, x)
    explain.clear_cache()
    first = explain.fidelity(m, e)
    assert explain.fidelity(m, e) == first and len(clones_built) == 1
    explain.fidelity(m, e, seed=1)  # another seed: another clone
    assert len(clones_built) == 2
    explain.clear_cache()  # forgets the clones too
    assert len(caching.RANDOMIZED) == 0
    assert explain.fidelity(m, e) == first and len(clones_built) == 3

    for seed in range(caching.RANDOMIZED.maxsize + 2):  # bounded: oldest out first
        explain.fidelity(m, e, seed=seed)
    assert len(caching.RANDOMIZED) == caching.RANDOMIZED.maxsize
    assert not any(k[1] == 1234 for k in caching.RANDOMIZED.keys())  # seed 0 evicted

    # a plain keras.Model is keyed by identity, held weakly
    plain = explain.explain(m.model, x, background=bg)
    before = len(clones_built)
    r = explain.fidelity(m.model, plain, background=bg)
    assert explain.fidelity(m.model, plain, background=bg) == r
    assert len(clones_built) == before + 1
    (entry,) = [v for k, v in caching.RANDOMIZED.items() if k[0] == f"id:{id(m.model)}"]
    assert entry[0]() is m.model
