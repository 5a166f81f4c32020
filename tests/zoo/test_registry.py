import pytest

import zoo
from zoo.registry import default_order, get_spec


def test_default_zoo_has_every_family_on_offline_data():
    names = zoo.list_models()
    families = {get_spec(n).family for n in names}
    assert families == {"cnn", "rnn", "gan", "mlp"}
    assert {"cnn-digits", "gru-digits", "lstm-co2", "gan-digits", "mlp-cancer"} <= set(names)
    # Download-only entries are listed only on request.
    assert "cnn-mnist" not in names
    assert "cnn-mnist" in zoo.list_models(include_optional=True)


def test_pattern_filter():
    assert zoo.list_models("*-digits") == ["cnn-digits", "gan-digits", "gru-digits", "lstm-digits"]


def test_unknown_name_lists_known_and_closest():
    with pytest.raises(zoo.UnknownModelError) as err:
        get_spec("cnn-digts")
    message = str(err.value)
    assert "Did you mean 'cnn-digits'?" in message
    assert "mlp-cancer" in message


def test_gan_trains_after_the_classifier_it_measures_with():
    order = default_order()
    assert order.index("cnn-digits") < order.index("gan-digits")
    # Custom entries (another test's, registered in this process) are not default ones.
    assert sorted(order) == [n for n in zoo.list_models() if not get_spec(n).custom]


def test_import_zoo_does_not_import_tensorflow():
    import subprocess
    import sys

    code = "import sys, zoo; zoo.list_models(); print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_families_and_tasks_are_table_rows_that_resolve():
    from zoo.registry import BUILDERS, FAMILIES, FITS, TASKS, builder, fit_planner

    assert FAMILIES == tuple(BUILDERS) and TASKS == tuple(FITS)
    for name in zoo.list_models(include_optional=True):
        spec = get_spec(name)
        assert callable(builder(spec.family)) and callable(fit_planner(spec.task))
    assert builder("mlp").__name__ == "from_config"


def test_unknown_family_or_entrypoint_is_rejected_with_the_choices():
    from zoo.registry import builder, entrypoint, register

    with pytest.raises(ValueError, match=r"family must be one of \('cnn', 'rnn', 'gan', 'mlp'\)"):
        register("vit-digits", family="vit", task="classification", dataset="digits", summary="")
    with pytest.raises(ValueError, match="family must be one of"):
        builder("vit")
    with pytest.raises(ValueError, match="'package.module:function'"):
        entrypoint("zoo.models.cnn:no_such_builder")


def test_build_model_is_a_lookup_in_the_builder_table(monkeypatch):
    from zoo import registry
    from zoo.data import load_dataset
    from zoo.training import build_model

    # A new family is one builder module plus one table row; here the row points at
    # the mlp builder under another name.
    monkeypatch.setattr(
        registry, "BUILDERS", {**registry.BUILDERS, "dense": "zoo.models.mlp:from_config"}
    )
    monkeypatch.setattr(registry, "FAMILIES", tuple(registry.BUILDERS))
    registry.register(
        "dense-cancer", family="dense", task="classification", dataset="cancer", summary="demo"
    )
    try:
        model = build_model(zoo.TrainConfig.for_model("dense-cancer"), load_dataset("cancer"))
        assert model.name == "mlp" and model.output_shape == (None, 2)
    finally:
        registry.unregister("dense-cancer")
