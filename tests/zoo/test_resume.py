"""A training killed with `kill -9` mid-run resumes from its last completed epoch.

The real CLI in a child process, a real SIGKILL: no version is committed by the killed
run, the same command then resumes (and says so), and the version it stores has every
epoch once, with test metrics close to those of an uninterrupted run with the same seed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from zoo.config import TrainConfig
from zoo.resume import read_arrays
from zoo.store import Store
from zoo.training import resume_dir

EPOCHS = 30
# Early stopping (patience 20, never reached in 30 epochs) and the plateau schedule keep
# state from epoch to epoch; the backup carries it across the kill.
FLAGS = ["--epochs", str(EPOCHS), "--seed", "3", "--schedule", "plateau"]
# Measured at one kill point (epoch 3-5): the resumed run's history and test metrics were
# identical to the uninterrupted run's. Other kill points may shuffle later batches
# differently, so the test allows a small difference after the kill (4 of 86 test rows).
ACCURACY_TOLERANCE = 0.05


def _zoo(store: Path, *args: str) -> list[str]:
    code = "import sys; from zoo.cli import main; sys.exit(main(sys.argv[1:]))"
    return [sys.executable, "-c", code, "train", "mlp-cancer", "--store", str(store), *args]


def _run(store: Path, *args: str) -> str:
    out = subprocess.run(_zoo(store, *args), capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout + out.stderr


def _metrics(store: Path) -> tuple[dict, dict]:
    version = Store(store).path("mlp-cancer", 1)
    history = json.loads((version / "history.json").read_text())
    return history, json.loads((version / "metrics.json").read_text())


def _backed_up_epoch(state: Path) -> int:
    try:
        return int(json.loads(state.read_text())["epoch"])
    except (OSError, ValueError, KeyError):
        return 0


@pytest.mark.timeout(300)
def test_kill_9_mid_training_resumes_from_the_last_epoch(tmp_path: Path) -> None:
    store = tmp_path / "store"
    backup = resume_dir(
        Store(store),
        TrainConfig.for_model("mlp-cancer", epochs=EPOCHS, seed=3, schedule="plateau"),
    )
    # The uninterrupted run to compare with, alongside (its own store).
    reference = tmp_path / "reference"
    ref_proc = subprocess.Popen(
        _zoo(reference, *FLAGS), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    proc = subprocess.Popen(
        _zoo(store, *FLAGS), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 150  # a loaded 2-core machine (CI runs two workers)
    while _backed_up_epoch(backup / "state.json") < 3:
        assert proc.poll() is None, "the training ended before it could be killed"
        assert time.monotonic() < deadline, "no backup of epoch 3 within 150 s"
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    killed_at = _backed_up_epoch(backup / "state.json")
    assert 3 <= killed_at < EPOCHS
    assert Store(store).versions("mlp-cancer") == []  # the killed run committed nothing

    out = _run(store, *FLAGS)
    assert f"resuming mlp-cancer from epoch {killed_at} (backup in {backup})" in out
    assert not backup.exists()  # removed once the version is committed
    history, metrics = _metrics(store)
    assert all(len(values) == EPOCHS for values in history.values())

    _, err = ref_proc.communicate(timeout=180)
    assert ref_proc.returncode == 0, err[-2000:]
    ref_history, ref_metrics = _metrics(reference)
    # The epochs before the kill are the same run: identical history.
    for key in ("loss", "val_loss", "lr"):
        assert history[key][:killed_at] == ref_history[key][:killed_at]
    assert abs(metrics["accuracy"] - ref_metrics["accuracy"]) <= ACCURACY_TOLERANCE


def test_fresh_drops_the_backup(tmp_path: Path) -> None:
    from zoo.training import train

    cfg = TrainConfig.for_model("mlp-cancer", epochs=1, max_train_samples=50)
    backup = resume_dir(Store(tmp_path), cfg)
    backup.mkdir(parents=True)
    (backup / "state.json").write_text('{"epoch": 1}')  # would fail to resume
    run = train("mlp-cancer", store=tmp_path, config=cfg, fresh=True)
    assert run.version == 1 and len(run.history["loss"]) == 1
    assert not backup.parent.exists()


def test_a_run_that_failed_before_its_commit_resumes_without_training(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Killed after its last epoch but before the commit (here: an error in between): the
    # backup is kept, and the next run stores it without training any epoch again.
    from zoo import training

    cfg = TrainConfig.for_model("mlp-cancer", epochs=2, max_train_samples=50)
    real = training._evaluate_and_store

    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("killed")

    monkeypatch.setattr(training, "_evaluate_and_store", crash)
    with pytest.raises(RuntimeError):
        training.train("mlp-cancer", store=tmp_path, config=cfg)
    state = json.loads((resume_dir(Store(tmp_path), cfg) / "state.json").read_text())
    assert state["epoch"] == 2 and state["done"]
    monkeypatch.setattr(training, "_evaluate_and_store", real)
    epochs: list[int] = []
    run = training.train(
        "mlp-cancer", store=tmp_path, config=cfg, progress=lambda e, n, logs: epochs.append(e)
    )
    assert epochs == [] and len(run.history["loss"]) == 2 and run.version == 1
    assert not (tmp_path / ".resume").exists()


def test_a_backup_that_does_not_fit_the_model_is_one_clear_error(tmp_path: Path) -> None:
    from zoo.errors import ZooError
    from zoo.training import train

    cfg = TrainConfig.for_model("mlp-cancer", epochs=1, max_train_samples=50)
    backup = resume_dir(Store(tmp_path), cfg)
    backup.mkdir(parents=True)
    (backup / "epoch-1.weights.h5").write_bytes(b"not hdf5")
    state = {"epoch": 1, "done": False, "weights": "epoch-1.weights.h5"}
    (backup / "state.json").write_text(
        json.dumps({**state, "best_weights": None, "history": [], "callbacks": [{}]})
    )
    with pytest.raises(ZooError, match="--fresh"):
        train("mlp-cancer", store=tmp_path, config=cfg)


def test_an_interrupted_gan_resumes_with_its_samples_and_distances(
    tiny_store: Path, tmp_path: Path
) -> None:
    import shutil

    import numpy as np

    from zoo.training import train

    # The Fréchet distance's feature model: the tiny store's cnn-digits (not retrained).
    shutil.copytree(tiny_store / "cnn-digits", tmp_path / "cnn-digits")
    cfg = TrainConfig.for_model("gan-digits", epochs=4, fid_samples=64, max_train_samples=256)
    backup = resume_dir(Store(tmp_path), cfg)

    def interrupt(epoch: int, epochs: int, logs: dict) -> None:
        if epoch == 2:  # reported once backed up: epochs 1-2 are kept
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train("gan-digits", store=tmp_path, config=cfg, progress=interrupt)
    state = json.loads((backup / "state.json").read_text())
    assert state["epoch"] == 2 and Store(tmp_path).versions("gan-digits") == []
    fid_before = read_arrays(backup, state["records"], state["keys"])["0_fid"].tolist()
    assert len(fid_before) == 3

    epochs: list[int] = []
    run = train(
        "gan-digits", store=tmp_path, config=cfg, progress=lambda e, n, logs: epochs.append(e)
    )
    assert epochs == [3, 4]  # only the epochs the interrupted run had not finished
    assert len(run.history["d_loss"]) == 4
    assert run.metrics["fid_by_epoch"][:3] == fid_before
    assert len(run.metrics["fid_by_epoch"]) == 5
    with np.load(run.path / "samples.npz") as z:
        assert len(z["samples"]) == 5  # a sample grid before training and after each epoch
    assert not backup.exists()


# Adam at 0.3 on 80 samples jumps past the minimum after the first epoch, never to improve
# again here; at 1e-3 the validation loss falls at every one of the first 6 epochs.
@pytest.mark.parametrize("learning_rate, improves", [(0.3, False), (1e-3, True)])
def test_the_backup_alternates_two_slots_and_keeps_unchanged_best_weights(
    tmp_path: Path, learning_rate: float, improves: bool
) -> None:
    # Each epoch overwrites the slot the state does not name; early stopping's best
    # weights are written again only at an improvement. A damaged unnamed slot (what a
    # kill during its write leaves) does not matter to the resume.
    from zoo.training import train

    cfg = TrainConfig.for_model(
        "mlp-cancer",
        epochs=8,
        early_stopping=20,
        max_train_samples=80,
        learning_rate=learning_rate,
    )
    backup = resume_dir(Store(tmp_path), cfg)
    states: list[dict] = []
    written: list[int] = []  # when the named best file was last written

    def watch(epoch: int, epochs: int, logs: dict) -> None:
        states.append(json.loads((backup / "state.json").read_text()))
        written.append((backup / states[-1]["best_weights"]).stat().st_mtime_ns)
        if epoch == 6:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train("mlp-cancer", store=tmp_path, config=cfg, progress=watch)
    assert [s["weights"] for s in states] == ["weights-a.npy", "weights-b.npy"] * 3
    best_epochs = [s["callbacks"][0]["best_epoch"] for s in states]
    assert best_epochs == (list(range(6)) if improves else [0] * 6)
    best_files = [s["best_weights"] for s in states]
    assert best_files == (["best-a.npy", "best-b.npy"] * 3 if improves else ["best-a.npy"] * 6)
    assert len(set(written)) == (6 if improves else 1)  # never rewritten unchanged
    assert sorted(p.name for p in backup.iterdir()) == sorted(
        {".lock", "state.json", "weights-a.npy", "weights-b.npy", *best_files}
    )
    named = states[-1]
    weights = read_arrays(backup, named["weights"], named["keys"])
    assert list(weights) == named["keys"][named["weights"]] and "o0_0" in weights
    other = next(f for f in ("weights-a.npy", "weights-b.npy") if f != named["weights"])
    (backup / other).write_bytes(b"half written")

    epochs: list[int] = []
    run = train(
        "mlp-cancer", store=tmp_path, config=cfg, progress=lambda e, n, logs: epochs.append(e)
    )
    assert epochs == [7, 8] and len(run.history["loss"]) == 8
    assert not backup.exists()


def test_a_second_training_of_the_same_config_keeps_no_backup(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # A live training of the same config into the same store holds the backup folder
    # (here: this test's claim, as another process's would). Another training of it
    # trains and stores, and never touches that backup, not even with fresh=True.
    from zoo.resume import claim
    from zoo.training import train

    cfg = TrainConfig.for_model("mlp-cancer", epochs=2, max_train_samples=50)
    folder = resume_dir(Store(tmp_path), cfg)
    other = claim(folder)
    assert other is not None and claim(folder) is None  # held: nobody else gets it
    (folder / "state.json").write_text("the other run's")
    with caplog.at_level("WARNING", logger="zoo"):
        run = train("mlp-cancer", store=tmp_path, config=cfg, fresh=True)
    assert run.version == 1 and len(run.history["loss"]) == 2
    assert (folder / "state.json").read_text() == "the other run's"
    assert any("keeps no resume backup" in r.getMessage() for r in caplog.records)
    other.close()  # that run ended (a killed process's lock ends with it)
    (folder / "state.json").unlink()
    run = train("mlp-cancer", store=tmp_path, config=cfg)
    assert run.version == 2 and not folder.exists()  # backed up, then cleared at its commit


def test_a_training_that_fails_before_its_first_backup_leaves_no_backup_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from zoo import training

    def fail(*args: object, **kwargs: object) -> None:
        raise RuntimeError("failed before epoch 1")

    monkeypatch.setattr(training, "_fit", fail)
    with pytest.raises(RuntimeError, match="before epoch 1"):
        training.train("mlp-cancer", store=tmp_path, epochs=1, max_train_samples=50)
    assert not (tmp_path / ".resume").exists()  # the claimed folder held only its lock
