"""Sweeps: a grid or random sample of options, each trial a real stored version.

Real tiny trainings of mlp-cancer (bundled breast-cancer data, 2 epochs, 120 samples);
the parallel sweep runs KerasTuner's chief and two worker processes on 127.0.0.1.
"""

from __future__ import annotations

import json

import pytest

import zoo
from zoo import backend
from zoo.cli import main
from zoo.sweeps import SWEEP_FILE, SWEEPS_DIR, Range, expand_grid, parse_grid, plan

TINY = dict(epochs=2, max_train_samples=120, early_stopping=0)


def test_grid_expands_to_the_cartesian_product_of_validated_configs():
    mode, space, trials, configs = plan(
        "mlp-cancer", grid=["l2=0,1e-4,1e-3", "dropout=0,0.3"], options={"epochs": 2}
    )
    assert mode == "grid" and len(trials) == len(configs) == 6
    assert [(c.l2, c.dropout) for c in configs] == [
        (0.0, 0.0), (0.0, 0.3), (1e-4, 0.0), (1e-4, 0.3), (1e-3, 0.0), (1e-3, 0.3)
    ]  # fmt: skip
    assert {c.epochs for c in configs} == {2}
    assert space == {"l2": "0 | 0.0001 | 0.001", "dropout": "0 | 0.3"}
    # A list option separates its values with '|'; a repeated value is one trial.
    assert parse_grid(["dense_units=64,32|128|128"]) == {"dense_units": [(64, 32), (128,)]}
    assert len(expand_grid({"a": [1, 2], "b": [1, 2, 3], "c": [0]})) == 6


def test_random_draws_are_seeded_distinct_and_in_range():
    space = ["l2=1e-5..1e-2:log", "dropout=0..0.5", "optimizer=adam,rmsprop"]
    _, text, draws, configs = plan("mlp-cancer", random=space, trials=5, sample_seed=3)
    again = plan("mlp-cancer", random=space, trials=5, sample_seed=3)[2]
    assert draws == again and len({json.dumps(d, sort_keys=True) for d in draws}) == 5
    assert all(1e-5 <= c.l2 <= 1e-2 and 0 <= c.dropout <= 0.5 for c in configs)
    assert text["l2"] == Range(1e-5, 1e-2, log=True).text() == "1e-05..0.01:log"


@pytest.mark.parametrize(
    "args, message",
    [
        (["--grid", "dropout=0,1.5"], "sweep trial 2 of 2 (dropout=1.5): dropout=1.5 is out of"),
        (["--grid", "l2=0,x"], "--grid l2: l2='x' has the wrong type: expected a number"),
        (["--grid", "dropuot=0,0.3"], "unknown training option 'dropuot'. Did you mean 'dropout'"),
        (["--random", "dropout=0..1", "--trials", "2"], "--random dropout=0..1: dropout=1.0"),
        (["--random", "l2=0..1e-3"], "--random needs --trials N"),
        (["--grid", "l2=0,1e-3", "--l2", "0.1"], "l2 is both swept and fixed"),
    ],
)
def test_a_bad_option_is_one_line_and_trains_nothing(tmp_path, capsys, args, message):
    code = main(["sweep", "mlp-cancer", *args, "--store", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and message in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "mlp-cancer").exists() and not (tmp_path / SWEEPS_DIR).exists()


def test_a_failing_trial_is_recorded_and_the_sweep_goes_on(tmp_path):
    seen = []
    result = zoo.sweep(
        "mlp-cancer",
        grid={"learning_rate": [1e12, 1e-3]},
        optimizer="sgd",
        store=tmp_path,
        progress=lambda done, total, trial: seen.append((done, total, trial.status)),
        **TINY,
    )
    assert seen == [(1, 2, "failed"), (2, 2, "ok")]
    failed, good = result.trials
    assert failed.status == "failed" and "NaN or infinite" in failed.reason
    assert "\n" not in failed.reason and failed.ref == "mlp-cancer@1"
    assert good.status == "ok" and result.best is good and result.ranked() == [good, failed]
    runs = {r.ref: r for r in zoo.runs("mlp-cancer", store=tmp_path)}
    assert runs["mlp-cancer@1"].status == "failed" and runs["mlp-cancer@2"].status == "ok"
    stored = zoo.load_sweep(result.id, store=tmp_path)
    assert stored.status == "done" and stored.counts() == {"failed": 1, "ok": 1}


def test_two_parallel_trials_store_two_tagged_versions(tmp_path, capsys):
    result = zoo.sweep("mlp-cancer", grid={"dropout": [0, 0.3]}, parallel=2, store=tmp_path, **TINY)
    assert result.status == "done" and result.counts() == {"ok": 2} and result.parallel == 2
    runs = zoo.runs("mlp-cancer", store=tmp_path)
    assert sorted(r.ref for r in runs) == sorted(t.ref for t in result.trials)
    for run in runs:
        assert run.status == "ok" and not run.warnings  # sweep.json is in the manifest
        tag = json.loads((run.path / SWEEP_FILE).read_text())
        assert tag["sweep"] == result.id
        assert tag["options"] == {"dropout": run.config["dropout"]}
        assert "diagnosis" in run.metrics and "vs_baseline" in run.metrics
    for trial in result.trials:
        assert trial.best_val_loss is not None and trial.metric == "accuracy"
        assert trial.verdict and trial.gap is not None
    losses = [row["best val loss"] for row in result.table()]
    assert losses == sorted(losses)
    assert main(["sweep", "--show", result.id[:-2], "--store", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"sweep {result.id} (done" in out and result.best.ref in out
    assert main(["sweeps", "--store", str(tmp_path)]) == 0
    assert result.id in capsys.readouterr().out


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _listening_sweep(store, port, *, wait, on_listen):
    """Two tiny mlp-cancer trials served on 127.0.0.1:port, no local worker."""
    return zoo.sweep(
        "mlp-cancer",
        grid={"dropout": [0, 0.3]},
        parallel=0,
        listen=f"127.0.0.1:{port}",
        wait=wait,
        on_listen=on_listen,
        store=store,
        **TINY,
    )


def test_workers_elsewhere_join_a_listening_chief_through_the_shared_store(tmp_path, capsys):
    # The chief serves on a given address with no local worker (--parallel 0); two
    # "other machines" (processes that get only the store's path and the chief's
    # address, as `zoo sweep --join` on each host would) train the trials.
    import subprocess
    import sys

    port = _free_port()
    workers: list[subprocess.Popen] = []
    logs = [tmp_path / f"worker{i}.log" for i in range(2)]
    store = tmp_path / "shared"

    def start_workers(command: str) -> None:
        assert command.startswith("zoo --store STORE sweep --join ")
        argv = command.split()[3:]  # sweep --join ID --chief 127.0.0.1:PORT --backend B
        assert argv[-4:] == ["--chief", f"127.0.0.1:{port}", "--backend", backend.recorded()]
        code = "import sys; from zoo.cli import main; sys.exit(main(sys.argv[1:]))"
        for log in logs:
            with open(log, "w") as out:
                workers.append(
                    subprocess.Popen(
                        [sys.executable, "-c", code, "--store", str(store), *argv],
                        stdout=out,
                        stderr=subprocess.STDOUT,
                    )
                )

    try:
        result = _listening_sweep(store, port, wait=300, on_listen=start_workers)
        codes = [w.wait(timeout=60) for w in workers]
    finally:
        for w in workers:
            w.kill()
    logs_text = "\n".join(log.read_text() for log in logs)
    assert codes == [0, 0], logs_text[-3000:]
    assert logs_text.count("the chief has no trial left") == 2
    assert result.status == "done" and result.counts() == {"ok": 2}, result.trials
    runs = zoo.runs("mlp-cancer", store=store)
    assert sorted(r.ref for r in runs) == ["mlp-cancer@1", "mlp-cancer@2"]
    for run in runs:
        assert json.loads((run.path / SWEEP_FILE).read_text())["sweep"] == result.id
    assert not list((store / SWEEPS_DIR).glob(".work-*"))  # the scratch folder is gone


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["sweep", "--join", "mlp-cancer-x"], "needs both --join ID and --chief HOST:PORT"),
        (
            ["sweep", "--join", "mlp-cancer-x", "--chief", "host"],
            "--chief 'host': expected HOST:PORT",
        ),
        (
            ["sweep", "--join", "mlp-cancer-x", "--chief", "127.0.0.1:7001"],
            "no running sweep mlp-cancer-x in ",
        ),
        (
            ["sweep", "mlp-cancer", "--grid", "l2=0,1e-3", "--parallel", "0"],
            "parallel=0: expected a number of trials at once from 1 to 64",
        ),
        (
            ["sweep", "mlp-cancer", "--grid", "l2=0,1e-3", "--listen", "0.0.0.0:99999"],
            "--listen '0.0.0.0:99999': expected HOST:PORT",
        ),
        (["sweep", "mlp-cancer", "--grid", "l2=0", "--wait", "5"], "--wait applies to a chief"),
    ],
)
def test_bad_cluster_flags_are_one_line(argv, expected, tmp_path, capsys):
    assert main([*argv, "--store", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and expected in err[0], err
    assert not (tmp_path / "mlp-cancer").exists()  # nothing trained or stored


def test_a_listening_chief_fails_unreported_trials_at_its_wait(tmp_path):
    # No worker ever joins: after --wait the trials fail with the reason, nothing is
    # stored, the sweep is recorded as done (with its failures) and its scratch removed.
    heard: list[str] = []
    result = _listening_sweep(tmp_path, _free_port(), wait=2, on_listen=heard.append)
    assert len(heard) == 1 and f"--join {result.id} --chief 127.0.0.1:" in heard[0]
    assert result.status == "done" and result.counts() == {"failed": 2}
    assert {t.reason for t in result.trials} == {"no worker reported it within --wait 2 s"}
    assert zoo.runs("mlp-cancer", store=tmp_path) == []
    assert not list((tmp_path / SWEEPS_DIR).glob(".work-*"))
    assert zoo.load_sweep(result.id, store=tmp_path).counts() == {"failed": 2}
