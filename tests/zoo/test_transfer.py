"""Transfer learning: `init=NAME@V` copies matching layers, `freeze` keeps them fixed."""

from __future__ import annotations

import json

import numpy as np
import pytest

import zoo
from zoo.cli import main
from zoo.errors import ConfigError


@pytest.fixture(scope="module")
def source_store(tmp_path_factory):
    store = tmp_path_factory.mktemp("transfer")
    zoo.train("mlp-cancer", epochs=3, store=store)  # mlp-cancer@1: the weights to start from
    return store


def _weights(model, name):
    return [np.asarray(w) for w in model.get_layer(name).get_weights()]


def test_frozen_layers_keep_the_source_weights_and_the_head_learns(source_store):
    source = zoo.load("mlp-cancer@1", store=source_store)
    run = zoo.train(
        "mlp-cancer", epochs=3, store=source_store, init="mlp-cancer@1", freeze="all-but-head"
    )
    assert run.metrics["transfer"] == {
        "from": "mlp-cancer@1",
        "copied": ["dense0"],
        "frozen": ["dense0"],
        "new": ["output"],
    }
    copied, original = _weights(run.model, "dense0"), _weights(source.model, "dense0")
    for mine, theirs in zip(copied, original, strict=True):
        np.testing.assert_array_equal(mine, theirs)
    # the output layer is new and trained: neither the source's nor a copy of it
    assert not np.allclose(_weights(run.model, "output")[0], _weights(source.model, "output")[0])
    stored = json.loads((run.path / "config.json").read_text())
    assert (stored["init"], stored["freeze"]) == ("mlp-cancer@1", "all-but-head")
    # the stored version loads like any other, frozen layers included
    again = zoo.load(run.ref, store=source_store)
    x = run.dataset().x_test[:5]
    np.testing.assert_allclose(again.predict(x), run.predict(x), rtol=1e-5)


def test_fine_tuning_starts_from_the_source_and_moves_away(source_store):
    source = zoo.load("mlp-cancer@1", store=source_store)
    run = zoo.train("mlp-cancer", epochs=3, store=source_store, init="mlp-cancer@1")
    assert run.metrics["transfer"]["frozen"] == []
    mine, theirs = _weights(run.model, "dense0")[0], _weights(source.model, "dense0")[0]
    # trained for 3 epochs from the copy: close to it, not equal
    assert not np.array_equal(mine, theirs)
    assert np.abs(mine - theirs).max() < 0.5 * np.abs(theirs).max()


def test_incompatible_or_wrong_transfer_options_fail_in_one_line_and_store_nothing(
    source_store, capsys
):
    before = sorted(p.name for p in (source_store / "mlp-cancer").iterdir())
    with pytest.raises(ConfigError, match="shares no layer"):
        zoo.train("mlp-cancer", epochs=1, store=source_store, init="mlp-cancer@1",
                  dense_units=(7,))  # fmt: skip
    with pytest.raises(ConfigError, match="init='mlp-cancer@9'"):
        zoo.train("mlp-cancer", epochs=1, store=source_store, init="mlp-cancer@9")
    with pytest.raises(ConfigError, match="needs init"):
        zoo.train("mlp-cancer", epochs=1, store=source_store, freeze="all-but-head")
    with pytest.raises(ConfigError, match="would freeze every layer"):
        zoo.train("mlp-cancer", epochs=1, store=source_store, init="mlp-cancer@1", freeze="2")
    argv = ["--store", str(source_store), "train", "mlp-cancer", "--epochs", "1"]
    assert main([*argv, "--init", "mlp-cancer@1", "--freeze", "most"]) == 2
    err = capsys.readouterr().err
    assert "freeze='most' is not understood" in err and len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in (source_store / "mlp-cancer").iterdir()) == before
