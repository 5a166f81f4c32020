"""explain.explain: shapes, base values, methods, caching, bad input — on real models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import explain
from explain import caching, targets
from zoo.errors import DataError, ZooError

# name -> (values shape after n, K, output names)
EXPECTED = {
    "cnn-digits": ((8, 8, 1), 10, tuple(str(i) for i in range(10))),
    "gru-digits": ((8, 8), 10, tuple(str(i) for i in range(10))),
    "lstm-co2": ((52, 1), 1, ("forecast",)),
    "mlp-cancer": ((30,), 1, ("benign",)),
    "gan-digits": ((8, 8, 1), 1, ("real score",)),
}


def _model_outputs(model, x):
    return np.asarray(model(x, training=False)).reshape(len(x), -1)


def test_import_is_cheap_and_streamlit_free(modules_loaded_by):
    heavy = ("tensorflow", "keras", "shap", "matplotlib", "streamlit")
    assert modules_loaded_by("import explain", heavy) == []


@pytest.mark.parametrize("name", list(EXPECTED))
def test_shapes_base_values_and_names(load_model, name):
    m = load_model(name)
    x = m.dataset().x_test[:6]
    e = explain.explain(m, x)
    shape, k, names = EXPECTED[name]
    assert e.values.shape == (6, *shape, k)  # a trailing output axis, even for K = 1
    assert e.base_values.shape == (6, k)
    assert e.data.shape == (6, *shape)
    assert tuple(e.output_names) == names
    meta = explain.info(e)
    assert meta.method == "layerwise"  # what "auto" picks for every zoo family
    assert meta.output_names == names
    # base value = mean model output over the default background (100 training samples)
    target = m.discriminator if name == "gan-digits" else m.model
    bg, _ = targets.resolve_background(targets.resolve_target(m), None)
    assert len(bg) == 100
    np.testing.assert_allclose(
        e.base_values[0], _model_outputs(target, bg).mean(0), rtol=1e-4, atol=1e-5
    )
    np.testing.assert_allclose(meta.predictions, _model_outputs(target, e.data), atol=1e-5)
    if name == "mlp-cancer":
        assert list(e.feature_names)[:2] == ["mean radius", "mean texture"]


def test_background_is_stratified_by_class(load_model):
    m = load_model("cnn-digits")
    t = targets.resolve_target(m)
    y = m.dataset().y_train
    idx = targets.stratified_indices(y, len(y), 100, targets.BACKGROUND_SEED)
    counts = np.bincount(y[idx], minlength=10)
    assert counts.sum() == 100 and counts.min() >= 8 and counts.max() <= 12
    bg, key = targets.resolve_background(t, 50)
    assert bg.shape == (50, 8, 8, 1) and key == "train50s0"
    bg2, _ = targets.resolve_background(t, 50)
    np.testing.assert_array_equal(bg, bg2)  # fixed seed


def test_gan_explains_the_discriminator_and_generated_samples(load_model):
    m = load_model("gan-digits")
    e = explain.explain(m, m.dataset().x_test[:4])
    np.testing.assert_allclose(
        explain.info(e).predictions, _model_outputs(m.discriminator, e.data), atol=1e-5
    )
    g = explain.explain(m, 5, seed=3)  # five samples drawn from the generator
    assert g.values.shape == (5, 8, 8, 1, 1)
    assert g.data.min() >= -1.0 and g.data.max() <= 1.0
    with pytest.raises(DataError, match="only works for a GAN"):
        explain.explain(load_model("cnn-digits"), 5)


def test_output_selection_and_labels(load_model):
    m = load_model("cnn-digits")
    d = m.dataset()
    e = explain.explain(m, d.x_test[:4], output=["3", 7], y=d.y_test[:4])
    assert e.values.shape == (4, 8, 8, 1, 2)
    assert explain.info(e).output_names == ("3", "7")
    assert explain.info(e).output_indices == (3, 7)
    full = explain.explain(m, d.x_test[:4])
    np.testing.assert_allclose(e.values[..., 0], full.values[..., 3], atol=1e-6)
    np.testing.assert_array_equal(explain.info(e).y_true, d.y_test[:4])
    named = explain.explain(m, d.x_test[:2], y=[str(v) for v in d.y_test[:2]], output=0)
    np.testing.assert_array_equal(explain.info(named).y_true, d.y_test[:2])


def test_result_does_not_depend_on_batching_and_progress_is_reported(load_model):
    m = load_model("gru-digits")
    x = m.dataset().x_test[:10]
    calls = []
    a = explain.explain(
        m, x, batch_size=3, progress=lambda done, total: calls.append((done, total))
    )
    b = explain.explain(m, x, batch_size=10)
    np.testing.assert_allclose(a.values, b.values, atol=1e-5)
    assert calls == [(3, 10), (6, 10), (9, 10), (10, 10)]
    c = explain.explain(m, x[4])  # one sample without its batch axis
    np.testing.assert_allclose(c.values[0], a.values[4], atol=1e-5)


def test_explainer_is_built_once_per_model_and_settings(load_model):
    m = load_model("mlp-cancer")
    x = m.dataset().x_test[:5]
    explain.explain(m, x)
    key = (targets.resolve_target(m).key, "layerwise", "train100s0", 4, (0,))  # 4 segments
    first = caching.EXPLAINERS.get(key)
    assert first is not None
    explain.explain(m, x, seed=4)
    assert caching.EXPLAINERS.get(key) is first
    # the default spelled out (as the sanity check repeats an explanation's settings)
    explain.explain(m, x, method="layerwise", nsamples=4)
    assert caching.EXPLAINERS.get(key) is first
    explain.explain(m, x, method="expected_gradients", nsamples=1000)
    assert caching.EXPLAINERS.get(key) is first
    assert len({k for k in caching.EXPLAINERS.keys() if k[0] == key[0]}) == 2


def test_explainer_cache_tells_stores_apart(load_model, tmp_path):
    """Two stores may hold the same name@version: each gets its own explainer."""
    import shutil

    import zoo

    m = load_model("mlp-cancer")
    other_store = tmp_path / "other-store"
    shutil.copytree(m.path.parent.parent / m.name, other_store / m.name)
    copy = zoo.load(m.ref, store=other_store)
    assert copy.ref == m.ref and copy.path != m.path
    a, b = targets.resolve_target(m), targets.resolve_target(copy)
    assert a.key != b.key and m.ref in a.key and str(other_store.resolve()) in b.key
    x = m.dataset().x_test[:2]
    explain.explain(m, x)
    explain.explain(copy, x)
    key = ("layerwise", "train100s0", 4, (0,))
    first, second = caching.EXPLAINERS.get((a.key, *key)), caching.EXPLAINERS.get((b.key, *key))
    assert first is not None and second is not None and first is not second


def test_plain_keras_model_needs_a_background(bilstm):
    model, x_train, x_test, _ = bilstm
    with pytest.raises(ZooError, match="background is required"):
        explain.explain(model, x_test[:2])
    e = explain.explain(model, x_test[:3], background=x_train[:40])
    assert e.values.shape == (3, 8, 8, 10)
    assert explain.info(e).family == "rnn" and explain.info(e).background.startswith("array40")


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("make_x", "match"),
    [
        (lambda x: x[:, :, :4], "shape"),
        (lambda x: x[..., 0], r"add the channel axis"),
        (lambda x: x[:0], "empty batch"),
        (lambda x: np.where(np.arange(x.size).reshape(x.shape) == 5, np.nan, x), "NaN"),
        (lambda x: np.where(np.arange(x.size).reshape(x.shape) == 9, np.inf, x), "NaN or infinite"),
        (lambda x: x * 255.0, "far outside the training range"),
        (lambda x: x.astype(str), "dtype"),
        (lambda x: [[1, 2], [3]], "could not be read|dtype"),
    ],
)
def test_bad_inputs_raise_data_error(load_model, make_x, match):
    m = load_model("cnn-digits")
    x = m.dataset().x_test[:3]
    with pytest.raises(DataError, match=match):
        explain.explain(m, make_x(x))


def test_bad_options_raise_clear_errors(load_model):
    m = load_model("cnn-digits")
    x = m.dataset().x_test[:2]
    with pytest.raises(DataError, match="unknown output 'cat'"):
        explain.explain(m, x, output="cat")
    with pytest.raises(DataError, match="out of range"):
        explain.explain(m, x, output=12)
    with pytest.raises(DataError, match="unknown class name"):
        explain.explain(m, x, y=["3", "eleven"])
    with pytest.raises(DataError, match="nsamples=0"):
        explain.explain(m, x, nsamples=0)
    with pytest.raises(DataError, match="seed=-1"):
        explain.explain(m, x, seed=-1)
    with pytest.raises(ZooError, match="unknown method"):
        explain.explain(m, x, method="lime")
    with pytest.raises(ZooError, match="expected a TrainedModel"):
        explain.explain("cnn-digits", x)
    m2 = load_model("mlp-cancer")
    x2 = m2.dataset().x_test[:2].copy()
    x2[0, 3] = 500.0
    with pytest.raises(DataError, match="feature 'mean area'"):
        explain.explain(m2, x2)
    assert explain.explain(m2, x2, check_range=False).values.shape == (2, 30, 1)


# --------------------------------------------------------------------------- disk cache


def test_test_split_is_cached_on_disk(load_model):
    m = load_model("cnn-digits")
    first = explain.explain_test_split(m, limit=48)
    second = explain.explain_test_split(m, limit=48)
    meta1, meta2 = explain.info(first), explain.info(second)
    assert not meta1.cached and meta2.cached
    assert meta1.cache_file == meta2.cache_file
    path = m.path / "explain"
    # Other tests may cache other settings of this model; none may leave a temp file.
    before = set(path.glob("*.npz"))
    assert Path(meta1.cache_file) in before
    assert not [p for p in path.iterdir() if p.name.endswith(".tmp")]
    np.testing.assert_array_equal(first.values, second.values)
    np.testing.assert_array_equal(first.base_values, second.base_values)
    np.testing.assert_array_equal(meta1.y_true, meta2.y_true)
    assert meta2.additivity == meta1.additivity and meta2.output_names == meta1.output_names
    # Served from the file, not recomputed (speed is bench/explain_latency.py's job):
    # the file's own arrays come back.
    with np.load(meta1.cache_file) as stored:
        np.testing.assert_array_equal(stored["values"], second.values)
    other = explain.explain_test_split(m, limit=48, seed=1)  # other settings, other file
    assert explain.info(other).cache_file != meta1.cache_file
    assert set(path.glob("*.npz")) - before == {Path(explain.info(other).cache_file)}


def test_damaged_cache_file_is_recomputed(load_model):
    m = load_model("mlp-cancer")
    e = explain.explain_test_split(m, limit=10)
    path = explain.info(e).cache_file
    with open(path, "wb") as fh:
        fh.write(b"not an npz")
    with pytest.warns(UserWarning, match="unreadable explanation cache"):
        again = explain.explain_test_split(m, limit=10)
    np.testing.assert_allclose(again.values, e.values)
    assert explain.info(explain.explain_test_split(m, limit=10)).cached


def test_global_importance(load_model):
    m = load_model("mlp-cancer")
    g = explain.global_importance(m)
    assert g.values.shape == (30, 1)
    assert explain.info(g).scope == "global"
    e = explain.explain_test_split(m)
    np.testing.assert_allclose(g.values, np.abs(e.values).mean(0), rtol=1e-6)
    cnn = load_model("cnn-digits")
    gi = explain.global_importance(cnn, cnn.dataset().x_test[:8], output=["0", "1"])
    assert gi.values.shape == (8, 8, 1, 2) and gi.base_values.shape == (2,)


def test_test_split_row_reads_the_cached_split(load_model):
    m = load_model("mlp-cancer")
    # seed 7: settings no other test caches, so "not cached yet" is this test's own state
    assert explain.test_split_row(m, 3, seed=7) is None
    split = explain.explain_test_split(m, seed=7)
    data = m.dataset()
    for i in (0, 3, len(data.y_test) - 1):
        row = explain.test_split_row(m, i, seed=7)
        meta = explain.info(row)
        assert meta.cached and meta.predictions.shape == (1, 1)
        assert meta.y_true[0] == data.y_test[i]
        np.testing.assert_array_equal(row.values, split.values[i : i + 1])
        # ... and equal to explaining that input on its own, additivity included
        direct = explain.explain(m, data.x_test[i : i + 1], seed=7)
        np.testing.assert_allclose(row.values, direct.values, atol=1e-6)
        assert meta.additivity["max"] == pytest.approx(
            explain.info(direct).additivity["max"], abs=1e-6
        )
    with pytest.raises(ZooError, match=f"test sample {len(data.y_test)} does not exist"):
        explain.test_split_row(m, len(data.y_test), seed=7)
    # A damaged cache file is no answer (the caller computes the row), never an error.
    Path(explain.info(split).cache_file).write_bytes(b"not an npz")
    assert explain.test_split_row(m, 3, seed=7) is None
