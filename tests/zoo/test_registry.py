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
    assert sorted(order) == zoo.list_models()


def test_import_zoo_does_not_import_tensorflow():
    import subprocess
    import sys

    code = "import sys, zoo; zoo.list_models(); print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
