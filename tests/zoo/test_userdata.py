"""Your own data: a CSV table, an image folder, a series and an .npz become zoo entries
that persist in the store, train, load in a new process and predict from raw data.

The files are written from bundled data (scikit-learn's wine and digits, statsmodels'
co2). One store is trained per module (tiny: one or two epochs on a slice); the
bad-file cases never train anything.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import zoo
from zoo import entries, userdata
from zoo.cli import main

ROOT = Path(__file__).resolve().parents[2]
NAMES = ("mlp-wine", "cnn-pngdigits", "rnn-myco2", "mlp-npzdigits")


# --- the files ----------------------------------------------------------------------------


def _wine_csv(path: Path) -> pd.DataFrame:
    from sklearn.datasets import load_wine

    frame = load_wine(as_frame=True).frame
    rng = np.random.default_rng(0)
    # A categorical column and missing values in a numeric and a categorical column.
    frame.insert(3, "region", rng.choice(["north", "south", "east"], len(frame)))
    frame.loc[rng.choice(len(frame), 20, replace=False), "alcohol"] = np.nan
    frame.loc[rng.choice(len(frame), 12, replace=False), "region"] = None
    frame["target"] = frame["target"].map({0: "barolo", 1: "grignolino", 2: "barbera"})
    frame.to_csv(path, index=False)
    return frame


def _digit_pngs(folder: Path, per_class: int = 15) -> None:
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    for label in range(10):
        (folder / str(label)).mkdir(parents=True)
        for i in np.flatnonzero(digits.target == label)[:per_class]:
            pixels = (digits.images[i] * 255 / 16).astype("uint8")
            Image.fromarray(pixels).save(folder / str(label) / f"{i}.png")


def _co2_csv(path: Path) -> None:
    from statsmodels.datasets import co2

    series = co2.load_pandas().data["co2"]  # weekly, with 59 missing weeks
    frame = pd.DataFrame({"week": series.index.strftime("%Y-%m-%d"), "ppm": series.values})
    frame.to_csv(path, index=False)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from sklearn.datasets import load_digits

    folder = tmp_path_factory.mktemp("mydata")
    _wine_csv(folder / "wine.csv")
    _digit_pngs(folder / "digits")
    _co2_csv(folder / "co2.csv")
    digits = load_digits()
    np.savez(folder / "digits.npz", x=digits.images[:300].astype("uint8"), y=digits.target[:300])
    return folder


@pytest.fixture(scope="module")
def trained(files: Path, tmp_path_factory: pytest.TempPathFactory):
    """A store with the four entries added (CLI and Python) and trained tiny, plus a new
    process already importing TensorFlow for the load test (its import overlaps the
    training): (store, {name: in-memory TrainedModel}, child process)."""
    store = tmp_path_factory.mktemp("store")
    env = {**os.environ, "ZOO_HOME": str(store), "TF_CPP_MIN_LOG_LEVEL": "3"}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT,
    )  # fmt: skip
    try:
        wine = ["mlp-wine", "--family", "mlp", "--csv", str(files / "wine.csv")]
        assert (
            main(["--store", str(store), "add", *wine, "--target", "target", "--epochs", "3"]) == 0
        )
        pngs = ["cnn-pngdigits", "--family", "cnn", "--images", str(files / "digits")]
        assert main(["--store", str(store), "add", *pngs, "--size", "8x8", "--filters", "8"]) == 0
        series = dict(series=files / "co2.csv", column="ppm", date_column="week", window=12)
        zoo.add_entry("rnn-myco2", family="rnn", **series, units=8, cell="simple_rnn", store=store)
        zoo.add_entry("mlp-npzdigits", family="mlp", npz=files / "digits.npz", store=store)
        # Tiny: one epoch (the wine MLP its entry's 3), one batch per compiled step.
        tiny = dict(early_stopping=0, steps_per_execution=1)
        runs = {
            "mlp-wine": zoo.train("mlp-wine", store=store, **tiny),
            "cnn-pngdigits": zoo.train("cnn-pngdigits", store=store, epochs=1, **tiny),
            "rnn-myco2": zoo.train(
                "rnn-myco2", store=store, epochs=1, max_train_samples=300, **tiny
            ),
            "mlp-npzdigits": zoo.train("mlp-npzdigits", store=store, epochs=1, **tiny),
        }
        yield store, runs, child
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
        for name in NAMES:
            entries.forget(name)


# --- every kind: add, train, load in a new process, predict from raw data -------------------

CHILD = r"""
import json, sys
import numpy as np, pandas as pd
import zoo
import zoo._tf
from zoo.cli import main

zoo._tf.keras()  # TensorFlow imported while the parent trains
task = json.loads(sys.stdin.readline())
out = {"listed": zoo.list_models()}
main(["list"])
main(["describe", "mlp-wine"])
wine = zoo.load("mlp-wine")
rows = pd.read_csv(task["wine_csv"]).iloc[task["wine_rows"]]
out["wine"] = wine.predict_rows(rows.drop(columns=["target"])).tolist()
out["wine_labels"] = wine.predict_rows(rows.to_dict("records"), labels=True)
out["wine_one"] = wine.predict_rows({"alcohol": None, "region": "mars"}
                                    | {c: 1.0 for c in task["wine_numeric"]}).tolist()
images = zoo.load("cnn-pngdigits")
out["images"] = images.predict_images(task["png_files"]).tolist()
out["images_labels"] = images.predict_images(task["png_files"], labels=True)
x = np.load(task["npz"])["x"][task["npz_rows"]]
out["npz"] = zoo.load("mlp-npzdigits").predict_raw(x).tolist()
out["co2"] = zoo.load("rnn-myco2").predict_rows(task["co2_levels"]).tolist()
print("RESULT " + json.dumps(out))
"""


def test_every_kind_trains_then_predicts_from_raw_data_in_a_new_process(trained, files):
    store, runs, child = trained
    # What the in-process models predict on their test splits' model inputs.
    wine, images, co2, npz = (runs[n] for n in ("mlp-wine", "cnn-pngdigits", "rnn-myco2",
                                                 "mlp-npzdigits"))  # fmt: skip
    wd, idata, cd, nd = wine.dataset(), images.dataset(), co2.dataset(), npz.dataset()
    levels = pd.read_csv(files / "co2.csv")["ppm"].interpolate().bfill().to_numpy()
    # The last test window ends at the series' second-to-last value.
    expected_co2 = cd.extra["last_level_test"][-1] + cd.to_units(co2.predict(cd.x_test[-1:]))
    assert np.isclose(cd.extra["last_level_test"][-1], levels[-2])
    task = {
        "wine_csv": str(files / "wine.csv"),
        "wine_rows": wd.extra["rows_test"].tolist(),
        "wine_numeric": [c for c in wd.description["numeric_columns"] if c != "alcohol"],
        "png_files": idata.extra["files_test"].tolist(),
        "npz": str(files / "digits.npz"),
        "npz_rows": nd.extra["rows_test"].tolist(),
        "co2_levels": levels[:-1].tolist(),
    }
    stdout, stderr = child.communicate(json.dumps(task) + "\n", timeout=300)
    assert child.returncode == 0, stderr[-3000:]
    line = next(x for x in stdout.splitlines() if x.startswith("RESULT "))
    got = json.loads(line[len("RESULT ") :])

    # A restart sees the entries: `zoo list`, `zoo describe`, zoo.list_models().
    assert set(NAMES) <= set(got["listed"])
    assert "user:mlp-wine" in stdout and "target=target" in stdout
    # Raw CSV rows (NaNs, the categorical column, the target column ignored) give what the
    # model gives on the preprocessed test split.
    assert np.allclose(got["wine"], wine.predict(wd.x_test), atol=1e-5)
    names = np.array(wd.class_names)
    assert got["wine_labels"] == names[wine.predict(wd.x_test).argmax(1)].tolist()
    assert set(got["wine_labels"]) <= {"barolo", "grignolino", "barbera"}
    assert np.isclose(sum(got["wine_one"][0]), 1.0)  # missing value, unseen category: fine
    # PNG files of the test split, read and scaled again from the stored JSON.
    assert np.allclose(got["images"], images.predict(idata.x_test), atol=1e-5)
    assert got["images_labels"][0] in idata.class_names
    # Raw uint8 arrays of the .npz.
    assert np.allclose(got["npz"], npz.predict(nd.x_test), atol=1e-5)
    # The forecast of the next week's level, in ppm.
    assert np.allclose(got["co2"], expected_co2, atol=1e-4)
    assert 300 < got["co2"][0] < 400


def test_the_entry_file_records_the_source_and_defaults_that_fit_the_data(trained, files):
    store, runs, _ = trained
    text = (store / "_entries" / "mlp-wine.toml").read_text()
    assert f'path = "{files / "wine.csv"}"' in text and 'target = "target"' in text
    # The store lists models, not the entries folder.
    assert zoo.Store(store).names() == sorted(NAMES)
    wine = zoo.describe("mlp-wine")
    assert wine["task"] == "classification" and wine["source"]["kind"] == "csv"
    # 13 numeric columns + 3 regions one-hot = 16 inputs; 3 classes (a text target).
    assert runs["mlp-wine"].model.input_shape == (None, 16)
    assert runs["mlp-wine"].model.output_shape == (None, 3)
    assert wine["defaults"]["dense_units"] == [16] and wine["defaults"]["epochs"] == 3
    images = zoo.describe("cnn-pngdigits")
    assert images["defaults"]["filters"] == [8] and images["defaults"]["kernel_size"] == 3
    assert images["defaults"]["loss"] == "sparse_categorical_crossentropy"
    assert runs["cnn-pngdigits"].model.input_shape == (None, 8, 8, 1)
    co2 = zoo.describe("rnn-myco2")
    assert co2["task"] == "regression" and co2["defaults"]["window"] == 12
    gaps = int(pd.read_csv(files / "co2.csv")["ppm"].isna().sum())
    assert gaps > 0 and runs["rnn-myco2"].dataset().description["gaps_filled"] == gaps
    assert runs["mlp-npzdigits"].model.input_shape == (None, 64)
    # Validation knows the data's shape from the entry's facts, before loading anything.
    with pytest.raises(zoo.ConfigError, match="wider than the 8x8 images of cnn-pngdigits"):
        zoo.TrainConfig.for_model("cnn-pngdigits", kernel_size=9)
    with pytest.raises(zoo.ConfigError, match="window=5000 leaves too few windows"):
        zoo.TrainConfig.for_model("rnn-myco2", window=5000)
    with pytest.raises(zoo.ConfigError, match="needs a 2-class task but mlp-wine has 3"):
        zoo.TrainConfig.for_model("mlp-wine", loss="binary_crossentropy")


def test_table_preprocessing_is_sklearn_fitted_on_the_training_split_only(trained, files):
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    store, runs, _ = trained
    data = runs["mlp-wine"].dataset()
    raw = pd.read_csv(files / "wine.csv")
    numeric, categorical = data.description["numeric_columns"], ["region"]
    assert data.description["categorical_columns"] == categorical and "target" not in numeric

    def column_transformer():
        return ColumnTransformer([
            ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
            ("cat", make_pipeline(SimpleImputer(strategy="most_frequent"),
                                  OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
             categorical),
        ])  # fmt: skip

    train, test = raw.iloc[data.extra["rows_train"]], raw.iloc[data.extra["rows_test"]]
    on_train = column_transformer().fit(train)
    assert np.allclose(on_train.transform(test), data.x_test, atol=1e-5)
    assert np.allclose(on_train.transform(train), data.x_train, atol=1e-5)
    # Fitted on every row instead, the test inputs would differ: the check can fail.
    on_all = column_transformer().fit(raw)
    assert not np.allclose(on_all.transform(test), data.x_test, atol=1e-3)
    # The stored JSON holds the training split's statistics.
    stored = runs["mlp-wine"].preprocessing["transform"]
    alcohol = next(c for c in stored["numeric"] if c["name"] == "alcohol")
    assert np.isclose(alcohol["fill"], train["alcohol"].median())
    assert stored["categorical"] == [
        {"name": "region", "fill": train["region"].mode()[0],
         "categories": ["east", "north", "south"]}
    ]  # fmt: skip


def test_preprocessing_is_checksummed_json_and_damage_is_reported(trained, tmp_path):
    store, runs, _ = trained
    copy = tmp_path / "store"
    shutil.copytree(store / "mlp-wine", copy / "mlp-wine")
    shutil.copytree(store / "_entries", copy / "_entries")
    version = copy / "mlp-wine" / "1"
    manifest = json.loads((version / "manifest.json").read_text())
    assert "preprocessing.json" in manifest["files"]
    assert not any(p.suffix in (".pkl", ".pickle", ".joblib") for p in version.iterdir())
    path = version / "preprocessing.json"
    path.write_text(path.read_text().replace('"fill"', '"fil"', 1))
    info = zoo.runs("mlp-wine", store=copy)[0]
    assert info.status == "corrupted" and "preprocessing.json" in info.reason


# --- bad files: one line, nothing written ---------------------------------------------------


def _table(path: Path, rows: int = 30, **columns) -> Path:
    frame = pd.DataFrame({"a": np.arange(rows, dtype=float), "y": np.arange(rows) % 2})
    for name, values in columns.items():
        frame[name] = values
    frame.to_csv(path, index=False)
    return path


def _bad_cases(tmp: Path) -> dict[str, tuple[list[str], str]]:
    (tmp / "empty").mkdir()
    (tmp / "noimages" / "cat").mkdir(parents=True)
    (tmp / "noimages" / "dog").mkdir(parents=True)
    broken = tmp / "broken"
    _digit_pngs(broken, per_class=3)
    (broken / "3" / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n not really an image")
    ids = [f"id-{i}" for i in range(150)]
    np.savez(tmp / "keys.npz", a=np.zeros(3), b=np.ones(3))
    return {
        "missing target": (
            ["--family", "mlp", "--csv", str(_table(tmp / "t1.csv")), "--target", "label"],
            "column 'label' is not in",
        ),
        "one class": (
            ["--family", "mlp", "--csv", str(_table(tmp / "t2.csv", y=1)), "--target", "y"],
            "has one class only",
        ),
        "text that cannot be encoded": (
            [
                "--family",
                "mlp",
                "--csv",
                str(_table(tmp / "t3.csv", 150, note=ids)),
                "--target",
                "y",
            ],  # fmt: skip
            "column 'note' of",
        ),
        "numeric column with text": (
            [
                "--family",
                "mlp",
                "--csv",
                str(_table(tmp / "t4.csv", b=["x"] + [1.0] * 29)),
                "--target",
                "y",
                "--numeric",
                "b",
            ],  # fmt: skip
            "column 'b' is numeric but holds 'x'",
        ),
        "missing file": (
            ["--family", "mlp", "--csv", str(tmp / "nope.csv"), "--target", "y"],
            "does not exist",
        ),
        "empty folder": (["--family", "cnn", "--images", str(tmp / "empty")], "no class sub-"),
        "class folder without images": (
            ["--family", "cnn", "--images", str(tmp / "noimages")],
            "has no images",
        ),
        "unreadable image": (["--family", "cnn", "--images", str(broken)], "bad.png cannot be"),
        "npz without x and y": (
            ["--family", "mlp", "--npz", str(tmp / "keys.npz")],
            "expected arrays x and y",
        ),
        "series column missing": (
            ["--family", "rnn", "--series", str(_table(tmp / "t5.csv")), "--column", "ppm"],
            "column 'ppm' is not in",
        ),
        "wrong family": (
            ["--family", "cnn", "--csv", str(_table(tmp / "t6.csv")), "--target", "y"],
            "cannot read a table",
        ),
        # pandas made the extra leading fields an index (every value shifted) ...
        "rows longer than the header": (
            ["--family", "mlp", "--csv", str(_ragged(tmp / "long.csv", extra=2)), "--target", "y"],
            "line 2 has 5 fields but the header has 3",
        ),
        # ... and filled short rows with NaN, both without a word.
        "a row shorter than the header": (
            [
                "--family",
                "mlp",
                "--csv",
                str(_ragged(tmp / "short.csv", extra=-1)),
                "--target",
                "y",
            ],
            "line 5 has 2 fields but the header has 3",
        ),
        # pandas reads a field over csv's 128 KB limit; the field check raised csv.Error.
        "a field over 128 KB": (
            ["--family", "mlp", "--csv", str(_huge_field(tmp / "huge.csv")), "--target", "y"],
            "line 3 cannot be read as CSV (field larger than field limit",
        ),
    }


def _huge_field(path: Path) -> Path:
    rows = [f"{i},{i % 3},{i % 2}" for i in range(30)]
    rows[1] = "1," + "7" * 200_000 + ",1"
    path.write_text("a,b,y\n" + "\n".join(rows) + "\n")
    return path


def _ragged(path: Path, extra: int) -> Path:
    # A 3-column table of 30 rows; extra > 0: every row has `extra` more fields (pandas'
    # index case); extra < 0: row 4 (line 5) lacks its last field.
    rows = [[str(i), str(i % 3), str(i % 2)] for i in range(30)]
    if extra > 0:
        rows = [[*r, *["9"] * extra] for r in rows]
    else:
        rows[3] = rows[3][:extra]
    path.write_text("a,b,y\n" + "\n".join(",".join(r) for r in rows) + "\n")
    return path


def test_every_bad_file_is_one_line_and_writes_nothing(tmp_path, capsys):
    store = tmp_path / "store"
    cases = _bad_cases(tmp_path)
    for case, (args, expected) in cases.items():
        code = main(["--store", str(store), "add", "mlp-bad", *args])
        err = capsys.readouterr().err
        assert code == 2, case
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("zoo: error: "), (case, err)
        assert expected in lines[0], (case, lines[0])
        assert not store.exists(), case  # not even the store folder
    with pytest.raises(zoo.UnknownModelError):
        zoo.get_spec("mlp-bad")


def test_names_must_be_valid_new_and_not_built_in(tmp_path, capsys):
    csv = str(_table(tmp_path / "t.csv"))
    store = tmp_path / "store"
    for name, expected in (
        ("cnn-digits", "is a built-in zoo entry"),
        ("My_Model", "is not valid"),
        ("_entries", "is not valid"),
    ):
        assert main(["--store", str(store), "add", name, "--family", "mlp", "--csv", csv,
                     "--target", "y"]) == 2  # fmt: skip
        assert expected in capsys.readouterr().err
    try:
        spec = zoo.add_entry("mlp-tiny", family="mlp", csv=csv, target="y", store=store)
        assert spec.task == "classification" and spec.custom
        with pytest.raises(zoo.ConfigError, match="already exists"):
            zoo.add_entry("mlp-tiny", family="mlp", csv=csv, target="y", store=store)
        # --replace: a regression on the same file.
        spec = zoo.add_entry("mlp-tiny", family="mlp", csv=csv, target="a", store=store,
                             replace=True)  # fmt: skip
        assert spec.task == "regression"
        # A damaged entry file does not break the listing; naming it says what is wrong.
        (store / "_entries" / "mlp-tiny.toml").write_text("format = 1\nname = [\n")
        entries.forget("mlp-tiny")
        assert main(["--store", str(store), "list"]) == 0
        assert "mlp-tiny" not in capsys.readouterr().out
        with pytest.raises(zoo.UnknownModelError, match="mlp-tiny.toml is not valid TOML"):
            zoo.get_spec("mlp-tiny")
    finally:
        entries.forget("mlp-tiny")


def test_mixed_image_sizes_and_colours_are_resized_not_refused(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    for label, size in (("a", (10, 12)), ("b", (20, 16))):
        (tmp_path / "img" / label).mkdir(parents=True)
        for i in range(4):
            pixels = rng.integers(0, 255, (*size, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(tmp_path / "img" / label / f"{i}.png")
    f = userdata.inspect(entries.source_from(family="cnn", images=tmp_path / "img"), "user:mixed")
    # No size given: the most common one (a tie: the first counted); rgb detected.
    assert f.input_shape in ((10, 12, 3), (20, 16, 3)) and f.class_names == ("a", "b")
    f = userdata.inspect(
        entries.source_from(family="cnn", images=tmp_path / "img", size="6x5",
                            color="grayscale"), "user:mixed",
    )  # fmt: skip
    assert f.input_shape == (5, 6, 1)
