"""Driven by the registry: every zoo entry trains, saves, loads and predicts identically."""

import json

import numpy as np
import pytest

import zoo
from zoo.store import MANIFEST, UNCHECKED_DIRS


@pytest.mark.parametrize("name", zoo.list_models())
def test_entry_trains_saves_loads_and_predicts_identically(name, tiny_runs, tiny_store):
    run = tiny_runs[name]
    loaded = zoo.load(name, store=tiny_store)
    assert loaded.ref == run.ref == f"{name}@1"
    assert loaded.config == run.config
    assert loaded.history == run.history
    assert set(run.history) >= (
        {"d_loss", "g_loss", "fid"}
        if run.family == "gan"
        else {"loss", "val_loss", "lr", "epoch_time"}
    )
    if run.family == "gan":
        noise = np.random.default_rng(0).normal(size=(5, run.config.latent_dim)).astype("float32")
        np.testing.assert_allclose(loaded.predict(noise), run.predict(noise), atol=1e-6)
        x = run.dataset().x_test[:5]
        np.testing.assert_allclose(
            np.asarray(loaded.discriminator(x)), np.asarray(run.discriminator(x)), atol=1e-6
        )
        assert loaded.samples().shape[0] == len(run.history["fid"]) + 1
        return
    x = run.dataset().x_test[:16]
    before = run.predict(x)
    after = loaded.predict(x)
    np.testing.assert_allclose(after, before, atol=1e-6)
    assert np.isfinite(after).all()
    if run.task == "classification":
        assert (
            after.shape[0] == 16
            and np.allclose(np.asarray(after).sum(-1), 1, atol=1e-4)
            or after.shape[1] == 1
        )


@pytest.mark.parametrize("name", zoo.list_models())
def test_artifact_layout_and_manifest(name, tiny_runs):
    run = tiny_runs[name]
    # explain/ is a derived cache other tests may have filled; it is not checksummed.
    files = {p.name for p in run.path.iterdir() if p.name not in UNCHECKED_DIRS}
    models = {"generator.keras", "discriminator.keras"} if run.family == "gan" else {"model.keras"}
    assert files >= {"config.json", "history.json", "metrics.json", "card.md", MANIFEST} | models
    manifest = json.loads((run.path / MANIFEST).read_text())
    assert set(manifest["files"]) == files - {MANIFEST}
    assert {"python", "tensorflow", "keras", "shap", "keras-zoo"} <= set(manifest["versions"])
    assert all(len(meta["sha256"]) == 64 for meta in manifest["files"].values())
    card = (run.path / "card.md").read_text()
    assert card.startswith(f"# {name}") and "## Limits" in card
    info = run.metrics["dataset"]
    assert info["description"]["source"] and set(info["description"]["splits"]) == {
        "train",
        "val",
        "test",
    }


def test_predict_validates_input(trained):
    m = trained("cnn-digits")
    with pytest.raises(zoo.DataError, match=r"has shape \(3, 9, 9, 1\); expected \(n, 8, 8, 1\)"):
        m.predict(np.zeros((3, 9, 9, 1)))
    with pytest.raises(zoo.DataError, match="NaN"):
        m.predict(np.full((1, 8, 8, 1), np.nan))
    with pytest.raises(zoo.DataError, match="empty batch"):
        m.predict(np.zeros((0, 8, 8, 1)))
    with pytest.raises(zoo.DataError, match="dtype"):
        m.predict(np.array([["a"] * 8] * 8))
    # A single image without batch or channel axis is accepted.
    assert m.predict(np.zeros((8, 8))).shape == (1, 10)


def test_dataset_matches_the_training_splits(trained):
    m = trained("mlp-cancer")
    d = zoo.dataset("mlp-cancer")
    np.testing.assert_array_equal(m.dataset().x_test, d.x_test)
    assert d.feature_names[0] == "mean radius" and d.class_names == ("malignant", "benign")
    assert m.feature_names == d.feature_names
