import json
import os

import numpy as np
import pytest

import zoo
from zoo.store import Store, parse_ref


@pytest.fixture(scope="module")
def two_versions(tmp_path_factory):
    root = tmp_path_factory.mktemp("store")
    runs = [zoo.train("mlp-cancer", store=root, epochs=2, seed=s) for s in (0, 1)]
    return root, runs


def test_versions_count_up_and_load_takes_latest(two_versions):
    root, runs = two_versions
    assert [r.ref for r in runs] == ["mlp-cancer@1", "mlp-cancer@2"]
    assert zoo.load("mlp-cancer", store=root).version == 2
    assert zoo.load("mlp-cancer@1", store=root).config.seed == 0
    assert [r.status for r in zoo.runs("mlp-cancer", store=root)] == ["ok", "ok"]


def test_corrupted_file_is_named_and_other_versions_still_load(tmp_path, two_versions):
    import shutil

    root, _ = two_versions
    copy = tmp_path / "store"
    shutil.copytree(root, copy)
    model_file = copy / "mlp-cancer" / "2" / "model.keras"
    data = model_file.read_bytes()
    model_file.write_bytes(data[: len(data) // 2])  # truncated
    with pytest.raises(zoo.ArtifactError) as err:
        zoo.load("mlp-cancer@2", store=copy)
    assert "model.keras" in str(err.value) and "fails its checksum" in str(err.value)
    assert "zoo train mlp-cancer" in str(err.value)
    # The latest *good* version is used, and the listing still shows both.
    assert zoo.load("mlp-cancer", store=copy).version == 1
    statuses = {r.ref: r.status for r in zoo.runs("mlp-cancer", store=copy)}
    assert statuses == {"mlp-cancer@1": "ok", "mlp-cancer@2": "corrupted"}


def test_edited_json_and_missing_manifest_are_caught(tmp_path, two_versions):
    import shutil

    root, _ = two_versions
    copy = tmp_path / "store"
    shutil.copytree(root, copy)
    metrics = copy / "mlp-cancer" / "1" / "metrics.json"
    metrics.write_text(metrics.read_text().replace('"accuracy": 0.', '"accuracy": 1.'))
    (copy / "mlp-cancer" / "2" / "manifest.json").unlink()
    infos = {r.ref: r for r in zoo.runs("mlp-cancer", store=copy)}
    assert (
        infos["mlp-cancer@1"].status == "corrupted"
        and "metrics.json" in infos["mlp-cancer@1"].reason
    )
    assert "manifest.json is missing" in infos["mlp-cancer@2"].reason
    with pytest.raises(zoo.ArtifactError, match="no good version of 'mlp-cancer'"):
        zoo.load("mlp-cancer", store=copy)


def test_failed_write_leaves_no_version(tmp_path):
    store = Store(tmp_path)
    with pytest.raises(RuntimeError), store.staging("mlp-cancer") as folder:
        (folder / "config.json").write_text("{}")
        raise RuntimeError("crash while writing")
    assert store.versions("mlp-cancer") == []
    assert os.listdir(tmp_path / "mlp-cancer") == []


def test_interrupted_training_stores_nothing(tmp_path):
    def interrupt(epoch, epochs, logs):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        zoo.train("mlp-cancer", store=tmp_path, epochs=3, progress=interrupt)
    assert zoo.runs("mlp-cancer", store=tmp_path) == []
    assert not [p for p in (tmp_path / "mlp-cancer").iterdir()]


def test_nan_loss_is_recorded_as_failed_run(tmp_path):
    with pytest.raises(zoo.ZooError, match="NaN or infinite at epoch 1; lower the learning rate"):
        zoo.train(
            "lstm-co2",
            store=tmp_path,
            optimizer="sgd",
            learning_rate=1e12,
            epochs=3,
            units=4,
            max_train_samples=64,
        )
    (run,) = zoo.runs("lstm-co2", store=tmp_path)
    assert run.status == "failed" and "NaN" in run.reason
    with pytest.raises(zoo.ArtifactError, match="no good version"):
        zoo.load("lstm-co2", store=tmp_path)


def test_nan_loss_from_a_huge_penalty_blames_the_penalty(tmp_path):
    # l2=1e38 overflows the loss at any learning rate: lowering it would not help.
    with pytest.raises(zoo.ZooError, match=r"the penalty l2=1e\+38 overflows the loss"):
        zoo.train("mlp-cancer", store=tmp_path, l2=1e38, epochs=2, max_train_samples=64)


def test_unknown_refs(two_versions, tmp_path):
    root, _ = two_versions
    with pytest.raises(zoo.UnknownModelError, match=r"mlp-cancer@9 does not exist.*mlp-cancer@1"):
        zoo.load("mlp-cancer@9", store=root)
    with pytest.raises(zoo.UnknownModelError, match="no trained version of 'cnn-digits'"):
        zoo.load("cnn-digits", store=tmp_path)
    with pytest.raises(zoo.UnknownModelError, match="positive integer"):
        parse_ref("cnn-digits@latest")


def test_store_location_from_env(monkeypatch, tmp_path):
    monkeypatch.setenv("ZOO_HOME", str(tmp_path / "home"))
    assert Store().root == tmp_path / "home"


def test_manifest_versions_and_loaded_predictions(two_versions):
    root, runs = two_versions
    manifest = json.loads((runs[0].path / "manifest.json").read_text())
    assert manifest["status"] == "ok" and manifest["versions"]["keras"].startswith("3.")
    x = runs[0].dataset().x_test
    np.testing.assert_allclose(
        zoo.load("mlp-cancer@1", store=root).predict(x), runs[0].predict(x), atol=1e-6
    )
