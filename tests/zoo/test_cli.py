"""The `zoo` command, run in-process through its entry point."""

import ast
import json
import subprocess
import sys
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from zoo.cli import COMMAND_GROUP, CORE_COMMANDS, main, registered_commands
from zoo.config import option_names


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


# --- one command over the layers: zoo never imports explain or dashboard ---------------

ZOO = Path(__file__).resolve().parents[2] / "zoo"
ABOVE = ("explain", "dashboard")


def _upward_imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module or ""]
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "import_module":
            names = [a.value for a in node.args if isinstance(a, ast.Constant)]
        else:
            continue
        found += [f"{path.name}:{node.lineno} {n}" for n in names if n.split(".")[0] in ABOVE]
    return found


def test_zoo_imports_nothing_above_it():
    files = sorted(ZOO.rglob("*.py"))
    assert len(files) > 10
    assert [hit for path in files for hit in _upward_imports(path)] == []
    # nor finds their files by path (the old `zoo dashboard` looked up dashboard/app.py)
    assert not [p for p in files if "app.py" in p.read_text(encoding="utf-8")]


def test_help_lists_the_registered_commands_without_tensorflow():
    code = (
        "import sys; from zoo.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print('tensorflow' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    registered = registered_commands()
    assert {"explain", "report", "dashboard"} <= set(registered)
    for name in [*CORE_COMMANDS, *registered]:
        assert f"\n    {name} " in out.stdout, name
    assert out.stdout.strip().endswith("False")


def test_core_commands_load_no_registered_command(monkeypatch, tmp_path, capsys):
    def fail(*args):
        raise AssertionError("a core command loaded an entry point")

    monkeypatch.setattr(EntryPoint, "load", fail)
    assert main(["--store", str(tmp_path), "list"]) == 0
    assert "cnn-digits" in capsys.readouterr().out


def test_train_help_is_derived_from_the_option_schema(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    for name in option_names():
        assert "--" + name.replace("_", "-") in text, name
    assert "dropout rate (0 = off); 0 <= dropout < 1" in text
    assert "learning-rate schedule: constant, cosine, exponential, plateau" in text


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["dashbord"], "unknown command 'dashbord'. Did you mean 'dashboard'?"),
        (["--store", "x", "lst"], "unknown command 'lst'. Did you mean 'list'?"),
    ],
)
def test_unknown_command_is_one_line(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"zoo: error: {message}") and err.count("\n") == 1


def test_a_broken_registered_command_is_one_line(monkeypatch, tmp_path, capsys):
    broken = EntryPoint(name="broken", value="no_such_package.cli:register", group=COMMAND_GROUP)
    monkeypatch.setattr("zoo.cli.registered_commands", lambda: {"broken": broken})
    assert main(["--store", str(tmp_path), "broken", "--anything"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("zoo: error: the 'broken' command is registered but")
    assert "No module named 'no_such_package'" in err and err.count("\n") == 1


def test_dashboard_command_trains_an_empty_store_then_serves(monkeypatch, tmp_path, capsys):
    calls = []
    monkeypatch.setattr("zoo.cli.main", lambda argv: calls.append(argv) or 0)
    monkeypatch.setattr("os.execve", lambda path, cmd, env: calls.append((cmd, env["ZOO_HOME"])))
    argv = ["--store", str(tmp_path), "dashboard", "--port", "9000", "--headless"]
    assert main(argv) == 0
    assert calls[0] == ["--store", str(tmp_path), "train", "--all", "--quick"]
    cmd, home = calls[1]
    assert cmd[1:4] == ["-m", "streamlit", "run"] and cmd[4].endswith("dashboard/app.py")
    assert cmd[cmd.index("--server.port") + 1] == "9000" and "--server.headless" in cmd
    assert home == str(tmp_path)
    assert "is empty: training the default zoo (quick) first" in capsys.readouterr().out
    calls.clear()
    assert main([*argv, "--no-train"]) == 0
    assert len(calls) == 1  # no training, straight to the server


# --- hardening: the bad values, files and refs end in one line, nothing trained --

BAD_FLAGS = [
    ["mlp-cancer", "--learning-rate", "inf"],
    ["mlp-cancer", "--learning-rate", "1e308"],
    ["mlp-cancer", "--l2", "inf"],
    ["lstm-co2", "--window", "1000000"],
    ["mlp-cancer", "--seed=-1"],
    ["mlp-cancer", "--seed", "1234567890123456789012"],
    ["mlp-cancer", "--monitor", "val_nonexistent"],
    ["gru-digits", "--units", "10000000"],
    ["gan-digits", "--latent-dim", "1000000000"],
    ["cnn-digits", "--filters", "1000000"],
    ["mlp-cancer", "--epochs", "1000000000000"],
    ["cnn-digits", "--kernel-size", "100"],
    ["mlp-cancer", "--epochs", "9" * 5000],
]


@pytest.mark.parametrize("flags", BAD_FLAGS, ids=[" ".join(f)[:40] for f in BAD_FLAGS])
def test_bad_values_are_one_line_before_anything_loads(flags, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("zoo.data._load_cached", lambda *a: pytest.fail("data was loaded"))
    assert main(["--store", str(tmp_path), "train", *flags]) == 2
    err = capsys.readouterr().err
    assert err.startswith("zoo: error: ") and err.count("\n") == 1 and len(err) < 800
    assert not list(tmp_path.glob("*/*"))


def test_runs_and_list_keep_working_next_to_a_corrupted_version(tmp_path, capsys):
    from zoo.store import Store

    store = Store(tmp_path)
    with store.staging("mlp-cancer") as folder:
        (folder / "config.json").write_text('{"model": "mlp-cancer"}')
        store.commit("mlp-cancer", folder, status="failed", error="demo")
    manifest = tmp_path / "mlp-cancer" / "1" / "manifest.json"
    manifest.write_text(manifest.read_text().replace('"files": {', '"files": [{', 1))
    for argv in (["list"], ["runs"], ["runs", "mlp-cancer", "--json"]):
        assert main(["--store", str(tmp_path), *argv]) == 0
    out = capsys.readouterr().out
    assert "corrupted" in out and "manifest.json is not valid JSON" in out


@pytest.mark.parametrize(
    "argv, expected",
    [
        (
            ["train", "mlp-cancer", "--learning_rate", "0.1"],
            "--learning_rate (did you mean --learning-rate?)",
        ),
        (
            ["train", "mlp-cancer", "--lerning-rate=0.1"],
            "--lerning-rate=0.1 (did you mean --learning-rate?)",
        ),
        (["list", "--jsn"], "--jsn (did you mean --json?)"),
        (["train", "mlp-cancer", "surplus"], "unrecognized arguments: surplus"),
    ],
)
def test_an_unknown_option_names_the_closest_of_its_command(tmp_path, capsys, argv, expected):
    with pytest.raises(SystemExit) as exit:
        main(["--store", str(tmp_path), *argv])
    err = capsys.readouterr().err
    assert exit.value.code == 2 and expected in err
    # One line, naming the subcommand and where its options are listed.
    assert err.startswith(f"zoo {argv[0]}: error: ") and err.count("\n") == 1
    assert err.rstrip().endswith(f"see zoo {argv[0]} --help")
