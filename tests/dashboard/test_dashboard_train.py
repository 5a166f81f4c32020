"""The Train page trains for real into (a copy of) the store; Compare shows what changed."""

from __future__ import annotations

import zoo
from zoo.config import option_names


def _form(open_page, store, name="mlp-cancer"):
    at = open_page("train", store=store)
    at.selectbox(key="train_entry").set_value(name).run()
    return at


def test_form_has_every_option_that_applies(open_page, store_copy):
    at = _form(open_page, store_copy, "cnn-digits")
    keys = {
        w.key
        for kind in ("text_input", "number_input", "checkbox", "selectbox")
        for w in getattr(at, kind)
    }
    shown = {k.removeprefix("train_cnn-digits_") for k in keys if k and k.startswith("train_cnn")}
    gan_only = {
        "latent_dim",
        "gan_filters",
        "d_optimizer",
        "g_optimizer",
        "d_learning_rate",
        "g_learning_rate",
        "fid_samples",
    }
    rnn_only = {"cell", "units", "rnn_layers", "bidirectional", "window"}
    assert shown == set(option_names()) - gan_only - rnn_only


def test_train_a_tiny_run_then_compare_it(open_page, store_copy, frame, texts):
    at = _form(open_page, store_copy)
    at.number_input(key="train_mlp-cancer_epochs").set_value(1)
    at.text_input(key="train_mlp-cancer_l2").set_value("0.05")
    at.button(key="train_submit").click().run()
    assert not at.exception and not at.error
    assert "Stored **mlp-cancer@2**" in texts(at)
    assert at.get("progress")
    runs = zoo.runs("mlp-cancer", store=store_copy)
    assert [r.version for r in runs] == [1, 2] and runs[1].config["l2"] == 0.05

    # The new version appears on the other pages at once.
    at = open_page("compare", store=store_copy)
    at.multiselect(key="compare_refs").set_value(["mlp-cancer@1", "mlp-cancer@2"]).run()
    assert not at.exception
    diff = frame(at, "option").set_index("option")
    assert diff.loc["l2", "mlp-cancer@2"] == "0.05"
    assert "epochs" in diff.index and "model" not in diff.index


def test_invalid_options_are_form_errors(open_page, store_copy):
    for key, value, expected in [
        ("dropout", "1.5", "dropout=1.5 is out of range"),
        ("optimizer", "adamm", "Did you mean 'adam'?"),
        ("learning_rate", "fast", "learning_rate='fast' has the wrong type"),
    ]:
        at = _form(open_page, store_copy)
        at.text_input(key=f"train_mlp-cancer_{key}").set_value(value)
        at.button(key="train_submit").click().run()
        assert not at.exception
        assert len(at.error) == 1 and expected in at.error[0].value
    assert [r.version for r in zoo.runs("mlp-cancer", store=store_copy)] == [1]
