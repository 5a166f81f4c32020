"""Every training logs to TensorBoard (in its version) and, with MLFLOW_TRACKING_URI, to MLflow.

The event files are read back with TensorBoard's own reader (`EventAccumulator`); MLflow
runs with MLflow's own client from a real local tracking store (a `file:` store: the
`mlflow server` of the full package took 53 s to start here, see the README).
"""

from __future__ import annotations

import json
import logging
import math
import socket
import sys
import time
from pathlib import Path

import pytest

from zoo import tracking
from zoo.config import TrainConfig
from zoo.registry import default_order
from zoo.store import Store

TINY_MLP = dict(epochs=3, max_train_samples=50, early_stopping=0)


def _accumulator(path: Path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    # size_guidance 0: keep every event (the default samples images and tensors).
    acc = EventAccumulator(str(path), size_guidance={"scalars": 0, "images": 0, "tensors": 0})
    acc.Reload()
    return acc


def _scalars(logdir: Path) -> dict[tuple[str, str], list[tuple[int, float]]]:
    """{(run, tag): [(step, value), ...]} of the train and validation runs."""
    out = {}
    for run in (tracking.TRAIN_RUN, tracking.VALIDATION_RUN):
        if (logdir / run).is_dir():
            acc = _accumulator(logdir / run)
            for tag in acc.Tags()["scalars"]:
                out[run, tag] = [(e.step, e.value) for e in acc.Scalars(tag)]
    return out


def _hparams(logdir: Path) -> dict:
    from tensorboard.plugins.hparams import metadata

    acc = _accumulator(logdir)
    content = acc.PluginTagToContent(metadata.PLUGIN_NAME)[metadata.SESSION_START_INFO_TAG]
    info = metadata.parse_session_start_info_plugin_data(content)
    return {
        name: value.WhichOneof("kind") and getattr(value, value.WhichOneof("kind"))
        for name, value in info.hparams.items()
    }


def _assert_matches_history(version: Path) -> None:
    history = json.loads((version / "history.json").read_text())
    logged = _scalars(version / tracking.TENSORBOARD_DIR)
    assert len(logged) == len(history)  # one series per history key, no more
    for key, values in history.items():
        series = logged[tracking.scalar_name(key)]
        assert [step for step, _ in series] == list(range(1, len(values) + 1))
        for (_, got), want in zip(series, values, strict=True):
            assert got == pytest.approx(want, rel=1e-6) or (math.isnan(got) and math.isnan(want))


def _event_files(logdir: Path) -> list[Path]:
    return sorted(logdir.rglob("events.out.tfevents.*"))


@pytest.mark.parametrize("name", default_order())
def test_every_entry_logs_its_epochs_hparams_and_test_metrics(name, tiny_runs):
    run = tiny_runs[name]
    logdir = run.path / tracking.TENSORBOARD_DIR
    _assert_matches_history(run.path)
    hparams = _hparams(logdir)
    assert hparams["model"] == name
    assert hparams["epochs"] == run.config.epochs and hparams["seed"] == run.config.seed
    assert ("latent_dim" in hparams) == (run.family == "gan")  # only options that apply
    root = _accumulator(logdir)
    for key, value in tracking.scalar_metrics(run.metrics).items():
        (event,) = root.Scalars(f"test/{key}")
        assert event.value == pytest.approx(value, rel=1e-6)
    if run.family == "gan":
        # The fixed-noise samples as a grid: untrained (step 0), then after every epoch.
        images = root.Images(tracking.SAMPLES_TAG)
        assert [i.step for i in images] == list(range(run.config.epochs + 1))
        assert images[0].encoded_image_string.startswith(b"\x89PNG")
        assert (images[-1].width, images[-1].height) == (256, 256)
    # One event file per TensorBoard run (root, train, validation): nothing written twice.
    assert len(_event_files(logdir)) == len({p.parent for p in _event_files(logdir)})


def test_a_resumed_training_logs_every_epoch_once(tmp_path: Path) -> None:
    # Interrupted after epoch 2's backup (Ctrl-C in the progress callback of epoch 2,
    # which runs after the backup), then trained again: the version's logs have epochs 1-3
    # once each, in one file per run; the interrupted run's staging folder (and its event
    # files) is gone.
    from zoo.training import train

    cfg = TrainConfig.for_model("mlp-cancer", **TINY_MLP)

    def stop_at_2(epoch: int, epochs: int, logs: dict) -> None:
        if epoch == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train("mlp-cancer", store=tmp_path, config=cfg, progress=stop_at_2)
    run = train("mlp-cancer", store=tmp_path, config=cfg)
    assert run.version == 1 and len(run.history["loss"]) == 3
    _assert_matches_history(run.path)
    events = _event_files(tmp_path)  # the whole store: no leftover of the first run
    assert [p.relative_to(run.path).parent.as_posix() for p in events] == [
        "tensorboard",
        "tensorboard/train",
        "tensorboard/validation",
    ]


def test_hparams_with_a_sweep_tag(tmp_path: Path) -> None:
    cfg = TrainConfig.for_model("cnn-digits", dropout=0.25, filters=(32, 64)).to_dict()
    tracking.write_hparams(tmp_path / "a", cfg, sweep="cnn-digits-demo", trial_id="t1")
    with tracking.tagged(sweep="cnn-digits-demo", trial=2):
        tracking.write_hparams(tmp_path / "b", cfg)
    a, b = _hparams(tmp_path / "a"), _hparams(tmp_path / "b")
    assert a["sweep"] == b["sweep"] == "cnn-digits-demo" and b["trial"] == 2
    assert a["dropout"] == 0.25 and a["filters"] == "32,64" and "units" not in a


@pytest.fixture
def mlflow_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    # MLflow 3 keeps the file store for tests and offline use behind this switch; the
    # zoo itself never sets it (a user's URI is whatever they use: a server, sqlite).
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "zoo-tests")
    uri = (tmp_path / "mlruns").as_uri()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    return uri


@pytest.mark.timeout(120)
def test_training_logs_a_run_to_mlflow(tmp_path: Path, mlflow_store: str) -> None:
    from mlflow.tracking import MlflowClient

    from zoo.training import train

    with tracking.tagged(sweep="s1"):
        run = train("mlp-cancer", store=tmp_path / "store", **TINY_MLP)
    client = MlflowClient(mlflow_store)
    experiment = client.get_experiment_by_name("zoo-tests")
    (logged,) = client.search_runs([experiment.experiment_id])
    assert logged.info.run_name == run.ref == "mlp-cancer@1"
    assert logged.info.status == "FINISHED"
    assert logged.data.tags["zoo.path"] == str(run.path) and logged.data.tags["zoo.sweep"] == "s1"
    params = logged.data.params
    assert params["model"] == "mlp-cancer" and float(params["l2"]) == run.config.l2
    assert params["epochs"] == "3" and "filters" not in params  # only options that apply
    for key in ("loss", "val_loss", "accuracy", "lr"):
        steps = client.get_metric_history(logged.info.run_id, key)
        assert [m.step for m in steps] == [1, 2, 3]
        assert [m.value for m in steps] == pytest.approx(run.history[key])
    assert logged.data.metrics["test_accuracy"] == pytest.approx(run.metrics["accuracy"])
    artifacts = {a.path for a in client.list_artifacts(logged.info.run_id)}
    assert {"model.keras", "metrics.json", "card.md", "manifest.json", "tensorboard"} <= artifacts


def test_tensorboard_logs_are_not_part_of_the_checksummed_version(tiny_runs, tmp_path):
    # Derived, like explain/: a damaged or deleted tensorboard folder leaves the version
    # good, without a warning, and loadable. (A copy of the tiny store's version.)
    import shutil

    import zoo

    run = tiny_runs["mlp-cancer"]
    version = tmp_path / "mlp-cancer" / "1"
    shutil.copytree(run.path, version)
    manifest = json.loads((version / "manifest.json").read_text())
    assert not [f for f in manifest["files"] if f.startswith("tensorboard/")]
    (event,) = (version / "tensorboard" / "train").glob("events.out.tfevents.*")
    event.write_bytes(b"damaged")
    info = Store(tmp_path).verify("mlp-cancer", 1)
    assert (info.status, info.warnings) == ("ok", ())
    shutil.rmtree(version / "tensorboard")
    assert Store(tmp_path).verify("mlp-cancer", 1).status == "ok"
    assert zoo.load("mlp-cancer@1", store=tmp_path).history == run.history


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _zoo_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    # The zoo's warnings and any that MLflow or its HTTP library would add.
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno >= logging.WARNING and r.name.split(".")[0] in ("zoo", "mlflow", "urllib3")
    ]


def test_an_mlflow_server_that_is_down_costs_one_warning(tmp_path, monkeypatch, caplog):
    from zoo.training import train

    uri = f"http://zoo:secret@127.0.0.1:{_closed_port()}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    start = time.perf_counter()
    with caplog.at_level(logging.WARNING):
        run = train("mlp-cancer", store=tmp_path, epochs=1, max_train_samples=50)
    assert Store(tmp_path).verify("mlp-cancer", run.version).status == "ok"
    (warning,) = _zoo_warnings(caplog)
    assert warning.startswith("MLflow: mlp-cancer@1 was stored but not logged to http://127.0.0")
    assert "secret" not in warning  # a password in the URI is never printed
    assert time.perf_counter() - start < 60  # bounded retries, not MLflow's minutes


@pytest.mark.timeout(240)
def test_a_report_joins_its_versions_mlflow_run(
    tmp_path: Path, mlflow_store: str, monkeypatch: pytest.MonkeyPatch, caplog
) -> None:
    from mlflow.tracking import MlflowClient

    import explain
    from explain.reporting import log_to_mlflow
    from zoo.training import train

    store = tmp_path / "store"
    first = train("mlp-cancer", store=store, **TINY_MLP)  # logged at training time
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    second = train("mlp-cancer", store=store, **TINY_MLP)  # trained before MLflow was set
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_store)
    out = explain.report(first.ref, out=tmp_path / "first.html", store=store, samples=1)
    assert log_to_mlflow(second, "<!DOCTYPE html><p>second</p>") is not None

    client = MlflowClient(mlflow_store)
    experiment = client.get_experiment_by_name("zoo-tests")
    found = client.search_runs([experiment.experiment_id])
    assert sorted(r.info.run_name for r in found) == ["mlp-cancer@1", "mlp-cancer@2"]  # no 2nd
    runs = {r.info.run_name: r for r in found}
    one, two = runs["mlp-cancer@1"].info.run_id, runs["mlp-cancer@2"].info.run_id
    assert [a.path for a in client.list_artifacts(one, "report")] == ["report/first.html"]
    got = Path(client.download_artifacts(one, "report/first.html", str(tmp_path)))
    assert got.read_bytes() == out.read_bytes()
    assert "model.keras" in {a.path for a in client.list_artifacts(one)}  # the training's run
    # The version without a run gets one that holds its report, tagged like the others.
    assert runs["mlp-cancer@2"].data.tags["zoo.path"] == str(second.path)
    (report,) = client.list_artifacts(two, "report")
    assert report.path == "report/mlp-cancer-2-report.html"
    assert runs["mlp-cancer@2"].info.status == "FINISHED"

    # A server that is down: the report stays written, one warning, nothing raised.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{_closed_port()}")
    with caplog.at_level(logging.WARNING):
        again = explain.report(first, out=tmp_path / "again.html", samples=1)
    assert again.exists()
    (warning,) = _zoo_warnings(caplog)
    assert warning.startswith("MLflow: the report of mlp-cancer@1 was written but not logged")


def test_mlflow_not_installed_costs_one_warning(tmp_path, monkeypatch, caplog):
    # `import mlflow` fails as it does where the extra is not installed.
    for name in [m for m in sys.modules if m == "mlflow" or m.startswith("mlflow.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "mlflow", None)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    with caplog.at_level(logging.WARNING):
        assert tracking.log_mlflow(tmp_path, {}, {"loss": [1.0]}, {}, ref="mlp-cancer@1") is None
    (warning,) = _zoo_warnings(caplog)
    assert "MLflow cannot be imported" in warning and 'pip install "keras-zoo[mlflow]"' in warning


def test_nothing_goes_to_mlflow_without_a_tracking_uri(tmp_path, monkeypatch, caplog):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setitem(sys.modules, "mlflow", None)  # would warn if it were tried
    with caplog.at_level(logging.WARNING):
        assert tracking.log_mlflow(tmp_path, {}, {}, {}, ref="mlp-cancer@1") is None
    assert _zoo_warnings(caplog) == []
