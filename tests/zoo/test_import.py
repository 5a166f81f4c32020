"""`zoo import`: a Keras model trained outside the zoo becomes a stored version that
loads in a new process, is explained and reported; models that need custom objects or
do not fit the data are refused in one line and store nothing.

The outside model is a tiny MLP trained here, with plain Keras, on the breast-cancer
split the zoo uses (bundled with scikit-learn), two epochs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import zoo
from zoo import entries
from zoo.cli import main

ROOT = Path(__file__).resolve().parents[2]


def _outside_mlp(seed: int = 0):
    import keras

    data = zoo.dataset("mlp-cancer")
    keras.utils.set_random_seed(seed)
    net = keras.Sequential(
        [
            keras.Input((30,)),
            keras.layers.Dense(8, activation="relu"),
            keras.layers.Dense(2, activation="softmax"),
        ],
        name="outside",
    )
    net.compile("adam", "sparse_categorical_crossentropy")
    net.fit(data.x_train, data.y_train, epochs=2, batch_size=32, verbose=0)
    return net, data


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory):
    """(store, path of the .keras file, the outside model, the imported TrainedModel)."""
    folder = tmp_path_factory.mktemp("import")
    store = folder / "store"
    net, _ = _outside_mlp()
    path = folder / "outside.keras"
    net.save(path)
    argv = ["--store", str(store), "import", str(path), "--data", "cancer"]
    assert main([*argv, "--name", "mlp-outside"]) == 0
    try:
        yield store, path, net, zoo.load("mlp-outside", store=store)
    finally:
        entries.forget("mlp-outside")


def test_import_stores_a_checked_version(imported, capsys):
    store, path, net, m = imported
    info = zoo.runs("mlp-outside", store=store)[0]
    assert info.status == "ok" and not info.warnings
    # The config records the import and the split, no training options.
    assert info.config["origin"]["kind"] == "imported"
    assert info.config["origin"]["source"] == str(path)
    assert "epochs" not in info.config and info.config["seed"] == 0
    assert m.history == {} and m.origin["kind"] == "imported"
    # Evaluated on the same test split as mlp-cancer, against the same baselines.
    x = m.dataset().x_test
    assert len(x) == 86
    expected = (net.predict(x, verbose=0).argmax(1) == m.dataset().y_test).mean()
    assert m.metrics["accuracy"] == pytest.approx(expected)
    assert m.metrics["vs_baseline"]["baseline"] in ("logistic_regression", "svc_rbf")
    assert "imported from" in (m.path / "card.md").read_text()
    assert (store / "_entries" / "mlp-outside.toml").read_text().count('dataset = "cancer"') == 1
    # `zoo runs` and `zoo list` show it.
    capsys.readouterr()
    assert main(["--store", str(store), "runs", "mlp-outside"]) == 0
    assert "imported from" in capsys.readouterr().out
    assert main(["--store", str(store), "list"]) == 0
    assert "mlp-outside" in capsys.readouterr().out


CHILD = r"""
import json, sys
import numpy as np
import zoo
m = zoo.load("mlp-outside", store=sys.argv[1])
x = zoo.dataset("mlp-cancer").x_test[:10]
print(json.dumps({"ref": m.ref, "p": m.predict(x).tolist()}))
"""


def test_loads_in_a_new_process_with_identical_predictions(imported):
    store, _, net, _ = imported
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(store)],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    child = json.loads(out.stdout.strip().splitlines()[-1])
    assert child["ref"] == "mlp-outside@1"
    x = zoo.dataset("mlp-cancer").x_test[:10]
    np.testing.assert_allclose(child["p"], net.predict(x, verbose=0), atol=1e-6)


def test_explained_and_reported(imported, tmp_path):
    import explain

    _, _, _, m = imported
    x = m.dataset().x_test[:4]
    e = explain.explain(m, x)
    meta = explain.info(e)
    assert meta.method == "layerwise"
    total = e.values.reshape(4, -1, e.values.shape[-1]).sum(axis=1) + e.base_values
    np.testing.assert_allclose(total, meta.predictions, atol=1e-4)
    page = explain.report(m, out=tmp_path / "imported.html", samples=2)
    html = page.read_text()
    assert "mlp-outside" in html and "imported from" in html
    # Its configuration is where it came from and the split, not training defaults.
    from explain.reporting.sections import config_section

    rows = dict(config_section(m)["rows"])
    assert rows["origin"].startswith("imported from") and "test_fraction" in rows
    assert not {"epochs", "optimizer", "learning_rate"} & set(rows)


def test_custom_objects_refused_in_one_line(tmp_path, capsys):
    import keras

    @keras.saving.register_keras_serializable(package="outside")
    class Twice(keras.layers.Layer):
        def call(self, x):
            return 2 * x

    net = keras.Sequential([keras.Input((30,)), Twice(), keras.layers.Dense(2, "softmax")])
    path = tmp_path / "custom.keras"
    net.save(path)
    store = tmp_path / "store"
    argv = ["--store", str(store), "import", str(path), "--data", "cancer", "--name", "mlp-x"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "custom objects" in err and "Twice" in err
    with pytest.raises(zoo.ConfigError, match="custom objects: outside>Twice"):
        zoo.import_model(net, "cancer", name="mlp-x", store=store)
    assert not store.exists() or not any(store.rglob("*.keras"))
    assert not (store / "_entries" / "mlp-x.toml").exists()


def test_input_shape_mismatch_refused(tmp_path, capsys):
    import keras

    net = keras.Sequential([keras.Input((64,)), keras.layers.Dense(10, "softmax")])
    path = tmp_path / "flat.keras"
    net.save(path)
    store = tmp_path / "store"
    assert main(["--store", str(store), "import", str(path), "--data", "digits"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "input is (64,)" in err and "(8, 8, 1)" in err
    wrong_out = keras.Sequential([keras.Input((30,)), keras.layers.Dense(3, "softmax")])
    with pytest.raises(zoo.ConfigError, match="has 2 classes"):
        zoo.import_model(wrong_out, "cancer", store=store)
    assert not any(store.rglob("*.keras")) and not (store / "_entries").exists()


def test_a_refused_import_of_a_users_file_leaves_no_entry(tmp_path, capsys):
    # The entry for the user's own file is made before the model is checked against it;
    # a refusal removes it again, so the name stays free and `zoo list` never shows it.
    import keras
    from sklearn.datasets import load_wine

    wine = load_wine(as_frame=True).frame
    csv = tmp_path / "wine.csv"
    wine.to_csv(csv, index=False)
    store = tmp_path / "store"
    wrong = keras.Sequential([keras.Input((30,)), keras.layers.Dense(3, "softmax")])
    path = tmp_path / "wrong.keras"
    wrong.save(path)
    argv = ["--store", str(store), "import", str(path), "--data", str(csv), "--target", "target"]
    assert main([*argv, "--name", "mlp-wine-import"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "input is (30,)" in err and "(13,)" in err
    assert not (store / "_entries" / "mlp-wine-import.toml").exists()
    assert main(["--store", str(store), "list"]) == 0
    assert "mlp-wine-import" not in capsys.readouterr().out
    # The same name takes the model that fits.
    right = keras.Sequential([keras.Input((13,)), keras.layers.Dense(3, "softmax")])
    try:
        m = zoo.import_model(right, csv, name="mlp-wine-import", store=store, target="target")
        assert m.ref == "mlp-wine-import@1"
    finally:
        entries.forget("mlp-wine-import")
