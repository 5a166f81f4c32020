"""MLflow: every stored version logged as an MLflow run (`log_mlflow`), its reports too.

With `MLFLOW_TRACKING_URI` set (and only then), `log_mlflow` logs every stored version
as an MLflow run: the options as params, the history as per-epoch metrics, the test
metrics (`test_<metric>`) and the version folder as artifacts. MLflow is an optional
extra (`pip install "keras-zoo[mlflow]"`, the `mlflow-skinny` client); without it, or
with the server down, the training is stored all the same and one warning line says
why nothing reached MLflow. `log_report` attaches a version's HTML report (written by
`explain`) to that version's run.

`zoo.tracking` (TensorBoard) re-exports `log_mlflow` and `MLFLOW_EXPERIMENT`.

Example:
    >>> MLFLOW_EXPERIMENT
    'keras-zoo'
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import threading
import time
import urllib.parse
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from zoo.tracking_values import _one_line, _options, current_tags, scalar_metrics

log = logging.getLogger("zoo")

MLFLOW_EXPERIMENT = "keras-zoo"  # unless MLFLOW_EXPERIMENT_NAME / _ID says otherwise
# Bounded retries for an MLflow server that is down: a training should not wait minutes
# to say so (MLflow's own default retries 7 times with exponential backoff). A value the
# user set in the environment wins.
_MLFLOW_HTTP = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "20",
}
_QUIET = threading.RLock()
# MLflow's batch limits: at most 1000 metrics and 100 params per log_batch call.
_MLFLOW_METRICS_PER_BATCH, _MLFLOW_PARAMS_PER_BATCH = 1000, 100


def log_mlflow(
    path: str | Path,
    config: Any,
    history: Mapping[str, Sequence[float]],
    metrics: Mapping[str, Any],
    *,
    ref: str,
    uri: str | None = None,
) -> str | None:
    """Log a stored version to MLflow when `MLFLOW_TRACKING_URI` (or `uri`) is set.

    One run named `ref` in the experiment `MLFLOW_EXPERIMENT_NAME` (default
    "keras-zoo"): the options as params, the history as metrics per epoch (step =
    epoch), the test metrics as `test_<metric>`, the version folder `path` as artifacts,
    tags `zoo.ref`, `zoo.path` and those of `tagged`. Returns the run id, or None when
    nothing was logged: no URI, MLflow not installed or the server failing (one warning
    line each; never an exception, the version is stored either way).

    Example:
        >>> "MLFLOW_TRACKING_URI" in os.environ or log_mlflow(".", {}, {}, {}, ref="x@1") is None
        True
    """
    uri = uri or os.environ.get("MLFLOW_TRACKING_URI", "")
    if not uri:
        return None
    if _client_class(f"{ref} was stored") is None:
        return None
    from mlflow.entities import Metric, Param
    from mlflow.tracking import MlflowClient

    settings = config.to_dict() if hasattr(config, "to_dict") else dict(config)
    tags = {f"zoo.{k}": str(v) for k, v in current_tags().items()}
    tags.update({"zoo.ref": ref, "zoo.path": str(path)})
    now = int(time.time() * 1000)
    epoch_metrics = [
        Metric(key, float(value), now, step)
        for key, values in history.items()
        for step, value in enumerate(values, start=1)
        if _finite(value)
    ]
    last = max((len(v) for v in history.values()), default=0)
    test = [Metric(f"test_{k}", v, now, last) for k, v in scalar_metrics(metrics).items()]
    params = [
        Param(k, ",".join(map(str, v)) if isinstance(v, list | tuple) else str(v))
        for k, v in _options(settings).items()
        if v is not None
    ]
    run_id = None
    try:
        with _quiet_mlflow():
            client = MlflowClient(tracking_uri=uri)
            run = client.create_run(_experiment_id(client), run_name=ref, tags=tags)
            run_id = run.info.run_id
            for i in range(0, len(params), _MLFLOW_PARAMS_PER_BATCH):
                client.log_batch(run_id, params=params[i : i + _MLFLOW_PARAMS_PER_BATCH])
            metric_list = [*epoch_metrics, *test]
            for i in range(0, len(metric_list), _MLFLOW_METRICS_PER_BATCH):
                client.log_batch(run_id, metrics=metric_list[i : i + _MLFLOW_METRICS_PER_BATCH])
            client.log_artifacts(run_id, str(path))
            client.set_terminated(run_id, "FINISHED")
    except Exception as err:  # a tracking server that is down must not lose the model
        log.warning(
            "MLflow: %s was stored but not logged to %s (%s)", ref, _shown(uri), _one_line(err)
        )
        if run_id is not None:
            with contextlib.suppress(Exception), _quiet_mlflow():
                client.set_terminated(run_id, "FAILED")
        return None
    log.info("logged %s to MLflow at %s (run %s)", ref, _shown(uri), run_id)
    return run_id


def log_report(
    ref: str,
    report: str | Path,
    *,
    path: str | Path | None = None,
    uri: str | None = None,
) -> str | None:
    """Attach an HTML report to the MLflow run of version `ref` (when MLflow is configured).

    The run is the newest one tagged `zoo.ref = ref` (and `zoo.path = path` when given, so
    two stores' `mlp-cancer@1` are not confused) in the experiment `log_mlflow` uses; the
    report goes under the run's `report/` artifacts. A version trained before MLflow was
    configured has no run: one is created (named `ref`, tagged `zoo.ref` and `zoo.path`)
    that holds the report. Returns the run id, or None when nothing was logged: no URI set,
    not a version ref, MLflow not installed or the server failing (one warning line each;
    never an exception: the report file is written either way).

    Example:
        >>> log_report("cnn-digits@1", "r.html", uri="")  # no tracking URI: nothing to do
        >>> log_report("not a ref", "r.html", uri="http://127.0.0.1:5000") is None  # warns
        True
    """
    uri = uri or os.environ.get("MLFLOW_TRACKING_URI", "")
    if not uri:
        return None
    if not _is_version_ref(ref):
        log.warning("MLflow: %r is not a version ref (name@N); the report was not logged", ref)
        return None
    MlflowClient = _client_class(f"the report of {ref} was written")
    if MlflowClient is None:
        return None
    created = None
    try:
        with _quiet_mlflow():
            client = MlflowClient(tracking_uri=uri)
            experiment = _experiment_id(client)
            run_id = _run_of(client, experiment, ref, path)
            if run_id is None:
                tags = {"zoo.ref": ref, **({"zoo.path": str(path)} if path else {})}
                run_id = created = client.create_run(
                    experiment, run_name=ref, tags=tags
                ).info.run_id
            client.log_artifact(run_id, str(report), artifact_path="report")
            if created is not None:
                client.set_terminated(created, "FINISHED")
    except Exception as err:  # a tracking server that is down must not lose the report
        log.warning(
            "MLflow: the report of %s was written but not logged to %s (%s)",
            ref,
            _shown(uri),
            _one_line(err),
        )
        if created is not None:  # never leave a run of ours RUNNING
            with contextlib.suppress(Exception), _quiet_mlflow():
                client.set_terminated(created, "FAILED")
        return None
    log.info("logged the report of %s to MLflow at %s (run %s)", ref, _shown(uri), run_id)
    return str(run_id)


def _run_of(client: Any, experiment: str, ref: str, path: str | Path | None) -> str | None:
    """The newest run of `experiment` tagged `zoo.ref = ref` (and `zoo.path = path`)."""
    token = None
    while True:
        # A version ref holds no quote or backslash (_is_version_ref): it cannot end the
        # filter's string. The path is compared here (a path may hold any character).
        page = client.search_runs(
            [experiment],
            filter_string=f"tags.`zoo.ref` = '{ref}'",
            order_by=["attributes.start_time DESC"],
            max_results=100,
            page_token=token,
        )
        for run in page:
            if path is None or _same(run.data.tags.get("zoo.path"), path):
                return str(run.info.run_id)
        token = page.token
        if not token:
            return None


def _is_version_ref(ref: str) -> bool:
    """`name@N` as the store parses it, with a name the registry accepts."""
    from zoo.errors import UnknownModelError
    from zoo.registry import NAME_PATTERN
    from zoo.store import parse_ref

    try:
        name, version = parse_ref(ref)
    except UnknownModelError:
        return False
    return version is not None and NAME_PATTERN.fullmatch(name) is not None


def _client_class(done: str) -> Any:
    """MLflow's `MlflowClient` class, or None after one warning line saying that `done`
    (what happened anyway) but nothing reached MLflow: not installed, or a broken install."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from mlflow.tracking import MlflowClient
    except Exception as err:  # ImportError, or a broken install
        log.warning(
            "MLFLOW_TRACKING_URI is set but MLflow cannot be imported (%s): %s but not logged "
            'to MLflow; install it with pip install "keras-zoo[mlflow]"',
            _one_line(err),
            done,
        )
        return None
    return MlflowClient


def _experiment_id(client: Any) -> str:
    if os.environ.get("MLFLOW_EXPERIMENT_ID"):
        return os.environ["MLFLOW_EXPERIMENT_ID"]
    name = os.environ.get("MLFLOW_EXPERIMENT_NAME") or MLFLOW_EXPERIMENT
    found = client.get_experiment_by_name(name)
    if found is not None:
        return str(found.experiment_id)
    try:
        return str(client.create_experiment(name))
    except Exception:
        # Another training created it in between: use theirs.
        found = client.get_experiment_by_name(name)
        if found is None:
            raise
        return str(found.experiment_id)


@contextlib.contextmanager
def _quiet_mlflow() -> Iterator[None]:
    # One warning line is the zoo's to write: MLflow's and urllib3's retry notices and
    # Python warnings are held back while the zoo talks to the server, and retries are
    # bounded (_MLFLOW_HTTP) unless the user chose otherwise. These settings are
    # process-wide (environment, logger levels, warning filters), so one MLflow exchange
    # runs at a time: two dashboard threads would otherwise restore each other's.
    with _QUIET:
        loggers = [logging.getLogger(n) for n in ("mlflow", "urllib3", "alembic")]
        levels = [lg.level for lg in loggers]
        added = {k: v for k, v in _MLFLOW_HTTP.items() if k not in os.environ}
        os.environ.update(added)
        for lg in loggers:
            lg.setLevel(logging.CRITICAL)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                yield
        finally:
            for lg, level in zip(loggers, levels, strict=True):
                lg.setLevel(level)
            for key in added:
                os.environ.pop(key, None)


def _same(tag: str | None, path: str | Path) -> bool:
    return tag is not None and Path(tag).resolve() == Path(path).resolve()


def _shown(uri: str) -> str:
    # Never print a password that is part of the tracking URI.
    parts = urllib.parse.urlsplit(uri)
    if parts.username is None and parts.password is None:
        return uri
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def _finite(value: Any) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False
