"""`zoo ensemble`: stored classifiers averaged in one plain Keras model, stored as a
version, scored on the members' shared test split (mean or majority vote) with each
member's score and the gain over the best, and explained: its SHAP values are the mean
of its members'.

The members are three tiny MLPs trained here with plain Keras on the zoo's breast-cancer
split (different initialization seeds, two epochs each), imported into a temporary
store: the shared session store is never written.
"""

from __future__ import annotations

import numpy as np
import pytest

import zoo
from zoo import entries
from zoo.cli import main
from zoo.ensembles import member_outputs

REFS = ["mlp-seeds@1", "mlp-seeds@2", "mlp-seeds@3"]


@pytest.fixture(scope="module")
def members(tmp_path_factory: pytest.TempPathFactory):
    """(store, [the members loaded from it])."""
    import keras

    store = tmp_path_factory.mktemp("ensemble") / "store"
    data = zoo.dataset("mlp-cancer")
    for seed in (1, 2, 3):
        keras.utils.set_random_seed(seed)
        net = keras.Sequential(
            [keras.Input((30,)), keras.layers.Dense(4, "relu"), keras.layers.Dense(2, "softmax")]
        )
        net.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy")
        net.fit(data.x_train, data.y_train, epochs=2, batch_size=64, verbose=0)
        zoo.import_model(net, "cancer", name="mlp-seeds", store=store)
    try:
        yield store, [zoo.load(ref, store=store) for ref in REFS]
    finally:
        for name in ("mlp-seeds", "mlp-mean", "mlp-vote"):
            entries.forget(name)


def test_mean_ensemble_scores_and_gain(members):
    store, loaded = members
    e = zoo.ensemble("mlp-mean", REFS, store=store)
    assert e.ref == "mlp-mean@1" and e.origin["members"] == REFS and e.history == {}
    x = e.dataset().x_test
    mean = np.mean([m.model.predict(x, verbose=0) for m in loaded], axis=0)
    np.testing.assert_allclose(e.predict(x), mean, atol=1e-6)
    # One plain Keras model: loaded with safe_mode, unique layer names, one Average.
    names = [layer.name for layer in e.model.layers]
    assert len(names) == len(set(names)) and names[-1] == "ensemble_mean"
    scores = {m.ref: m.metrics["accuracy"] for m in loaded}
    record = e.metrics["ensemble"]
    assert record["members"] == pytest.approx(scores)
    best = max(scores.values())
    assert record["best_member_value"] == pytest.approx(best)
    assert record["gain"] == pytest.approx(e.metrics["accuracy"] - best)
    assert record["gain"] == pytest.approx(record["difference"])
    lo, hi = record["difference_interval"]
    assert lo <= record["difference"] <= hi
    assert e.metrics["accuracy"] == pytest.approx((mean.argmax(1) == e.dataset().y_test).mean())
    assert "ensemble (mean of the members' probabilities)" in (e.path / "card.md").read_text()


def test_vote_ensemble_scores_the_majority(members, capsys):
    store, loaded = members
    argv = ["--store", str(store), "ensemble", "mlp-vote", "--members", ",".join(REFS)]
    assert main([*argv, "--method", "vote"]) == 0
    assert "vs best member" in capsys.readouterr().out
    e = zoo.load("mlp-vote", store=store)
    data = e.dataset()
    preds = np.stack([m.model.predict(data.x_test, verbose=0) for m in loaded])
    votes = (preds.argmax(2)[:, :, None] == np.arange(2)).sum(0)  # (n, classes)
    mean = preds.mean(0)
    # Majority vote; a tie (impossible with three voters on two classes) by mean.
    majority = np.where(votes.max(1) > 1.5, votes.argmax(1), mean.argmax(1))
    assert e.metrics["accuracy"] == pytest.approx((majority == data.y_test).mean())
    record = e.metrics["ensemble"]
    assert record["gain"] == pytest.approx(
        e.metrics["accuracy"] - max(m.metrics["accuracy"] for m in loaded)
    )
    # The stored model is the mean model (what is explained); its members are readable.
    outs = member_outputs(e.model, data.x_test[:5])
    np.testing.assert_allclose(np.mean(outs, 0), e.predict(data.x_test[:5]), atol=1e-6)


def test_ensemble_shap_is_the_mean_of_its_members(members):
    import explain

    store, loaded = members
    e = zoo.load("mlp-mean", store=store) if zoo.runs("mlp-mean", store=store) else None
    if e is None:
        e = zoo.ensemble("mlp-mean", REFS, store=store)
    x = e.dataset().x_test[:6]
    ens = explain.explain(e, x, method="layerwise")
    parts = [explain.explain(m, x, method="layerwise") for m in loaded]
    mean_values = np.mean([p.values for p in parts], axis=0)
    scale = np.abs(ens.values).max()
    np.testing.assert_allclose(ens.values, mean_values, atol=1e-3 * scale)
    np.testing.assert_allclose(
        ens.base_values, np.mean([p.base_values for p in parts], axis=0), atol=1e-5
    )
    meta = explain.info(ens)
    total = ens.values.reshape(6, -1, ens.values.shape[-1]).sum(axis=1) + ens.base_values
    np.testing.assert_allclose(total, meta.predictions, atol=1e-4)


def test_incompatible_members_refused(members):
    store, _ = members
    with pytest.raises(zoo.ConfigError, match="at least two members"):
        zoo.ensemble("mlp-bad", "mlp-seeds@1", store=store)
    with pytest.raises(zoo.ConfigError, match="named twice"):
        zoo.ensemble("mlp-bad", "mlp-seeds@1,mlp-seeds@1", store=store)
    with pytest.raises(zoo.ConfigError, match="method="):
        zoo.ensemble("mlp-bad", REFS, method="median", store=store)
    assert "mlp-bad" not in zoo.Store(store).names()
