"""Dashboard trainings in a child process: progress, cancel and failures come back."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from dashboard import limits
from dashboard.child_training import ChildFailed, train_in_child
from zoo.config import TrainConfig
from zoo.resume import resume_dir
from zoo.store import Store


def test_a_cancel_stops_the_child_at_its_epoch_end_and_nothing_stays(tmp_path):
    store = tmp_path / "store"
    job = limits.Job("ann", "mlp-cancer")

    def progress(epoch, epochs, logs):
        if epoch == 1:
            job.cancel_requested.set()  # the owner's click, between two epoch reports
        job.progress(epoch, epochs, logs)

    cfg = TrainConfig.for_model("mlp-cancer", epochs=200)
    with pytest.raises(limits.Cancelled):
        train_in_child("mlp-cancer", store=store, config=cfg, progress=progress)
    # Stopped at the end of the epoch it was in: nothing stored, no backup to resume, no
    # staging folder left behind.
    assert job.epoch == 1 and job.rows["loss"]
    assert Store(store).names() == []
    assert [p for p in store.rglob("*") if p.is_file()] == []


def test_a_failure_in_the_child_is_one_line_here(tmp_path):
    not_a_folder = tmp_path / "store"
    not_a_folder.write_text("a file where the store should be")
    with pytest.raises(ChildFailed) as err:
        train_in_child("mlp-cancer", store=not_a_folder, quick=True)
    message = str(err.value)
    assert "\n" not in message and str(not_a_folder) in message


def test_a_child_whose_server_went_away_stops_and_keeps_its_backup(tmp_path):
    """The end of stdin (the server stopped) is not a cancel: the backup stays to resume."""
    store = tmp_path / "store"
    read_end, write_end = os.pipe()
    child = subprocess.Popen(
        [sys.executable, "-m", "dashboard.child_training", str(write_end)],
        stdin=subprocess.PIPE,
        pass_fds=(write_end,),
        text=True,
    )
    os.close(write_end)
    cfg = TrainConfig.for_model("mlp-cancer", epochs=200)
    request = {"name": "mlp-cancer", "store": str(store), "quick": False, "config": cfg.to_dict()}
    child.stdin.write(json.dumps(request) + "\n")
    child.stdin.flush()
    with os.fdopen(read_end) as reports:
        first = json.loads(reports.readline())
        child.stdin.close()  # the server is gone
        rest = [json.loads(line) for line in reports]
    assert child.wait(timeout=120) == 0
    assert first["epoch"] == 1 and rest[-1] == {"cancelled": False}
    assert len(rest) < 20  # stopped within a few epochs, not after 200
    assert Store(store).names() == []
    assert resume_dir(Store(store), cfg).is_dir()  # the next training of this config resumes


def test_the_child_trains_on_the_backend_zoo_train_would_pick(tmp_path, monkeypatch):
    from zoo import backend

    store = tmp_path / "store"
    tiny = TrainConfig.for_model(
        "gru-digits", epochs=1, max_train_samples=64, units=4, early_stopping=0
    )
    # `zoo dashboard` sets ZOO_BACKEND (auto unless KERAS_BACKEND was given): the
    # recurrent entry trains on its fastest backend, the quick zoo on TensorFlow.
    monkeypatch.setenv(backend.SETTING, "auto")
    train_in_child("gru-digits", store=store, config=tiny)
    train_in_child("gru-digits", store=store, quick=True, config=tiny)
    # A server started without it: the child keeps the server's backend.
    monkeypatch.delenv(backend.SETTING)
    train_in_child("gru-digits", store=store, config=tiny)
    s = Store(store)
    recorded = [
        json.loads((s.path("gru-digits", v) / "manifest.json").read_text())["backend"]
        for v in s.versions("gru-digits")
    ]
    assert recorded == [backend.FASTEST["rnn"], "tensorflow", os.environ["KERAS_BACKEND"]]
