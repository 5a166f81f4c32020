"""Property-based fuzzing of config values, CLI flags and TOML files (hypothesis).

The property: whatever a user passes, `TrainConfig` either accepts it as a config that
is safe to train (finite float32 numbers, seeds NumPy takes, a model under the size cap)
or refuses it with one `ConfigError` line (`UnknownModelError` for an unknown entry).
Nothing else escapes: no `OverflowError`, `TypeError`, `RecursionError` or Keras error,
and the CLI never prints a traceback.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zoo import ConfigError, TrainConfig, ZooError
from zoo.cli import main
from zoo.config import option_names, option_spec, option_type
from zoo.limits import MAX_PARAMETERS, parameter_estimate
from zoo.options import finite32
from zoo.registry import get_spec

ENTRIES = ("cnn-digits", "gru-digits", "lstm-co2", "mlp-cancer", "gan-digits")
FUZZ = settings(
    max_examples=150,
    deadline=None,  # the first Keras-name check imports TensorFlow
    database=None,  # no .hypothesis folder in the checkout; failures print their example
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Values of every kind a Python caller, a TOML file or a CLI flag can produce.
NUMBERS = st.one_of(
    st.integers(),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, 1, -1, 2**32 - 1, 2**32, 2**63, 1e308, -0.0, 1e-320, 3.5e38]),
)
TEXT = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["inf", "nan", "-1", "1e308", "1,2,3", "adam", "relu", "val_loss", "²"]),
    st.text(alphabet="0123456789,. -e", max_size=40),
)
SCALARS = st.one_of(NUMBERS, TEXT, st.booleans(), st.none())
VALUES = st.one_of(
    SCALARS,
    st.lists(st.one_of(NUMBERS, st.booleans()), max_size=20),
    st.lists(SCALARS, max_size=5),
    st.dictionaries(st.text(max_size=5), SCALARS, max_size=3),
)


def _assert_safe(cfg: TrainConfig) -> None:
    for name in option_names():
        value = getattr(cfg, name)
        if isinstance(value, float):
            assert finite32(value), (name, value)
        meta = option_spec(name)
        if isinstance(value, int) and not isinstance(value, bool) and meta.high is not None:
            assert value <= meta.high, (name, value)
    assert 0 <= cfg.seed <= 2**32 - 1
    assert parameter_estimate(cfg, get_spec(cfg.model))[0] <= MAX_PARAMETERS


@FUZZ
@given(entry=st.sampled_from(ENTRIES), name=st.sampled_from(option_names()), value=VALUES)
def test_any_value_of_any_option_is_a_safe_config_or_one_config_error(entry, name, value):
    try:
        cfg = TrainConfig.for_model(entry, **{name: value})
    except ConfigError as err:
        assert "\n" not in str(err) and len(str(err)) < 1500, str(err)[:200]
        return
    _assert_safe(cfg)


@FUZZ
@given(
    entry=st.sampled_from(ENTRIES),
    options=st.dictionaries(st.sampled_from(option_names()), VALUES, max_size=4),
)
def test_combinations_are_safe_or_refused(entry, options):
    try:
        cfg = TrainConfig.for_model(entry, **options)
    except ConfigError as err:
        assert "\n" not in str(err)
        return
    _assert_safe(cfg)


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return '"?"'


TOML_SCALARS = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(),
    st.booleans(),
    st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=20),
)
TOML_VALUES = st.one_of(TOML_SCALARS, st.lists(TOML_SCALARS, max_size=4))
KEYS = st.one_of(
    st.sampled_from(["model", *option_names()]), st.from_regex(r"[a-z_]{1,12}", fullmatch=True)
)


@FUZZ
@given(
    model=st.one_of(st.sampled_from(ENTRIES), TOML_VALUES),
    table=st.dictionaries(KEYS, TOML_VALUES, max_size=5),
    garbage=st.binary(max_size=40),
    use_garbage=st.booleans(),
)
def test_any_toml_file_is_a_config_or_one_config_error_naming_it(
    tmp_path, model, table, garbage, use_garbage
):
    path = tmp_path / "run.toml"
    lines = [f"model = {_toml_value(model)}"]
    lines += [f"{k} = {_toml_value(v)}" for k, v in table.items() if k != "model"]
    raw = "\n".join(lines).encode()
    path.write_bytes(garbage + raw if use_garbage else raw)
    try:
        cfg = TrainConfig.from_toml(path)
    except ZooError as err:  # ConfigError, or UnknownModelError for an unknown entry
        assert str(path) in str(err) and "\n" not in str(err), str(err)[:300]
        return
    _assert_safe(cfg)


class Reached(Exception):
    """Training was reached: the flags validated."""


@FUZZ
@given(
    entry=st.sampled_from(ENTRIES),
    name=st.sampled_from([n for n in option_names() if option_type(n) is not bool]),
    value=TEXT,
)
def test_cli_flags_never_print_a_traceback(monkeypatch, capsys, tmp_path, entry, name, value):
    def reached(*args, **kwargs):
        raise Reached

    monkeypatch.setattr("zoo.training.train", reached)
    argv = ["--store", str(tmp_path), "train", entry, f"--{name.replace('_', '-')}={value}"]
    try:
        code = main(argv)
    except Reached:
        return
    except SystemExit as exit:  # argparse refuses a value that looks like a flag
        code = exit.code
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert err.count("\n") <= 2  # argparse prints usage + one error line


@pytest.mark.parametrize(
    "raw",
    [
        b"\xff\xfe\x00\x01",  # not UTF-8
        b"model = ",  # not TOML
        b"[" * 5000,  # deeply nested
        b'model = "mlp-cancer"\nepochs = 1' + b"0" * 500,  # a 500-digit integer
        b'model = "mlp-cancer"\nlearning_rate = 1e999',  # inf in TOML
        b'model = "mlp-cancer"\nseed = -1',
        b'model = "mlp-cancer"\nl2 = inf',
        b'model = "mlp-cancer"\nl2 = nan',
        b'model = "mlp-cancer"\nmonitor = "val_nonexistent"',
        b'model = "mlp-cancer"\n[train]\nepochs = 3',
        b'model = "mlp-cancer"\nepochs = 1979-05-27',
        b"model = {a = 1}",
        b"model = true",
    ],
)
def test_known_bad_toml_files(tmp_path, raw):
    path = tmp_path / "bad.toml"
    path.write_bytes(raw)
    with pytest.raises(ConfigError) as err:
        TrainConfig.from_toml(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_a_toml_file_with_a_byte_order_mark_reads_as_without(tmp_path):
    # Windows' Notepad saves UTF-8 with a byte-order mark; tomllib alone refuses it.
    path = tmp_path / "bom.toml"
    path.write_bytes(b'\xef\xbb\xbfmodel = "mlp-cancer"\nepochs = 3\n')
    cfg = TrainConfig.from_toml(path)
    assert (cfg.model, cfg.epochs) == ("mlp-cancer", 3)
