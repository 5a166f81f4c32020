"""The `zoo` command, run in-process through its entry point."""

import json
import subprocess
import sys

import pytest

from zoo.cli import main


def test_help_and_list_answer_without_tensorflow(tmp_path):
    code = (
        "import sys; from zoo.cli import main; main(['--store', sys.argv[1], 'list']); "
        "print('tensorflow' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, check=True
    )
    assert "cnn-digits" in out.stdout and "untrained" in out.stdout
    assert out.stdout.strip().endswith("False")


def test_train_with_flags_then_runs_and_evaluate(tmp_path, capsys):
    store = str(tmp_path)
    argv = [
        "--store",
        store,
        "train",
        "cnn-digits",
        "--loss",
        "categorical_crossentropy",
        "--optimizer",
        "rmsprop",
        "--learning-rate",
        "1e-3",
        "--activation",
        "tanh",
        "--l1",
        "1e-5",
        "--l2",
        "1e-4",
        "--dropout",
        "0.3",
        "--batch-norm",
        "--epochs",
        "2",
        "--early-stopping",
        "5",
        "--filters",
        "8,16",
        "--max-train-samples",
        "200",
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "stored cnn-digits@1" in out and "accuracy=" in out
    assert main(["--store", store, "runs", "cnn-digits", "--json"]) == 0
    (run,) = json.loads(capsys.readouterr().out)
    cfg = run["config"]
    assert (cfg["loss"], cfg["optimizer"], cfg["activation"], cfg["l1"], cfg["l2"]) == (
        "categorical_crossentropy",
        "rmsprop",
        "tanh",
        1e-5,
        1e-4,
    )
    assert cfg["batch_norm"] is True and cfg["filters"] == [8, 16] and cfg["early_stopping"] == 5
    assert main(["--store", store, "evaluate", "cnn-digits@1"]) == 0
    out = capsys.readouterr().out
    assert "confusion matrix" in out and f"accuracy={run['metrics']['accuracy']:.4g}" in out
    assert main(["--store", store, "list"]) == 0
    assert "cnn-digits@1" in capsys.readouterr().out


def test_train_from_toml_file(tmp_path, capsys):
    path = tmp_path / "run.toml"
    path.write_text('model = "mlp-cancer"\nepochs = 2\noptimizer = "sgd"\nmomentum = 0.9\n')
    assert (
        main(["--store", str(tmp_path / "s"), "train", "--config", str(path), "--epochs", "1"]) == 0
    )
    assert "opt=sgd" in capsys.readouterr().out
    assert main(["--store", str(tmp_path / "s"), "runs", "--json"]) == 0
    (run,) = json.loads(capsys.readouterr().out)
    assert run["config"]["epochs"] == 1 and run["config"]["momentum"] == 0.9


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "cnn-digits", "--dropout", "2"], "dropout=2.0 is out of range"),
        (["train", "cnn-digts"], "Did you mean 'cnn-digits'?"),
        (["train", "lstm-co2", "--loss", "categorical_crossentropy"], "classification loss"),
        (["train"], "name an entry to train"),
        (["evaluate", "mlp-cancer"], "no trained version of 'mlp-cancer'"),
    ],
)
def test_errors_are_one_clear_line(argv, message, tmp_path, capsys):
    assert main(["--store", str(tmp_path), *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("zoo: error: ") and message in err and "Traceback" not in err
    assert not list(tmp_path.glob("*/*"))  # nothing trained, nothing half-written


def test_store_flag_is_accepted_after_the_subcommand(tmp_path, capsys):
    assert main(["list", "--store", str(tmp_path / "elsewhere")]) == 0
    assert f"store: {tmp_path / 'elsewhere'}" in capsys.readouterr().out
