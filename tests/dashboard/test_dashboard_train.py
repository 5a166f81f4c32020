"""The Train page trains for real into (a copy of) the store; Compare shows what changed."""

from __future__ import annotations

import zoo
from zoo.config import choices_for, option_spec, options_for

# A script run that follows a real training (a child process: its TensorFlow import, the
# epochs, the baselines) on 2 shared cores: the page default of 60 s is not enough then.
TRAINING_RUN_S = 300


def _form(open_page, store, name="mlp-cancer"):
    at = open_page("train", store=store)
    at.selectbox(key="train_entry").set_value(name).run()
    return at


def test_form_has_every_option_that_applies(open_page, store_copy):
    at = _form(open_page, store_copy, "cnn-digits")
    widgets = {
        w.key.removeprefix("train_cnn-digits_"): kind
        for kind in ("text_input", "number_input", "checkbox", "selectbox")
        for w in getattr(at, kind)
        if w.key and w.key.startswith("train_cnn-digits_")
    }
    # The expected set comes from the option schema, the one place options are declared.
    assert set(widgets) == set(options_for("cnn"))
    assert not {"cell", "latent_dim", "d_optimizer"} & set(widgets)  # rnn / GAN only
    # Names chosen from a list: the closed sets and Keras' common losses/optimizers/...
    for option in ("loss", "optimizer", "activation", "schedule", "strategy"):
        assert widgets[option] == "selectbox", option
        assert at.selectbox(key=f"train_cnn-digits_{option}").options == list(
            choices_for("cnn-digits", option)
        )
    assert "binary_crossentropy" not in choices_for("cnn-digits", "loss")  # 10 classes


def test_form_groups_follow_the_schema(open_page, store_copy):
    at = _form(open_page, store_copy, "gan-digits")
    titles = [m.value.strip("*") for m in at.markdown if m.value.startswith("**")]
    groups = list(dict.fromkeys(option_spec(o).group for o in options_for("gan")))
    assert [t for t in titles if t in groups] == groups


def test_train_a_tiny_run_then_compare_it(open_page, store_copy, frame, texts):
    at = _form(open_page, store_copy)
    at.number_input(key="train_mlp-cancer_epochs").set_value(1)
    at.text_input(key="train_mlp-cancer_l2").set_value("0.05")
    at.selectbox(key="train_mlp-cancer_optimizer").set_value("rmsprop")
    at.button(key="train_submit").click().run(timeout=TRAINING_RUN_S)
    assert not at.exception and not at.error
    assert "Stored **mlp-cancer@2**" in texts(at)
    assert at.get("progress")
    runs = zoo.runs("mlp-cancer", store=store_copy)
    assert [r.version for r in runs] == [1, 2] and runs[1].config["l2"] == 0.05
    assert runs[1].config["optimizer"] == "rmsprop"

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
        ("momentum", "0.9", "momentum=0.9 does not apply to optimizer 'adam'"),
        ("learning_rate", "fast", "learning_rate='fast' has the wrong type"),
    ]:
        at = _form(open_page, store_copy)
        at.text_input(key=f"train_mlp-cancer_{key}").set_value(value)
        at.button(key="train_submit").click().run()
        assert not at.exception
        assert len(at.error) == 1 and expected in at.error[0].value
    assert [r.version for r in zoo.runs("mlp-cancer", store=store_copy)] == [1]
