"""Run a sweep's trials on KerasTuner: here, one at a time, or K workers and a chief oracle.

The trials are planned and validated by `zoo.sweeps`; KerasTuner hands them out. Its
search space is one choice, the trial's number, and a small oracle (`TrialList`) hands
out exactly the validated trials, each once, to whichever worker asks next; KerasTuner
records each as completed (with its validation loss, the objective) or failed. `run_trial` in
`zoo.sweeps` trains it with `zoo.training.train`.

- `parallel=1`: a KerasTuner `BaseTuner` searches in this process.
- `parallel=K`: KerasTuner's distributed mode. This process is the chief: it serves the
  oracle over gRPC on 127.0.0.1 (a free port) and starts K worker processes
  (`python -m zoo.sweep_engine PLAN`) with `KERASTUNER_TUNER_ID`,
  `KERASTUNER_ORACLE_IP` and `KERASTUNER_ORACLE_PORT` set, as KerasTuner documents;
  each asks the chief for trials until none is left. The workers start before the chief
  has imported TensorFlow (their gRPC calls wait until it serves), and each gets
  cores / K TensorFlow threads so that K trainings do not fight over the cores. A worker
  writes each result to `trial-<n>.json` in the sweep's scratch folder; the chief
  reports it as it appears. A worker that dies (killed, out of memory) fails only the
  trial it had, with the last line of its log as the reason.

- `listen="HOST:PORT"`: the chief serves there instead, for workers on other machines
  that share the store (a network file system): each runs `join` (`zoo --store SHARED
  sweep --join ID --chief HOST:PORT`), reads the plan from the shared store, trains its
  trials into it and writes their results there; K local workers may help (K=0: none).
  The chief ends when every trial has a result, or at `wait` seconds, failing the
  trials nobody reported.

The scratch folder (`<store>/_sweeps/.work-<id>/`: the plan, KerasTuner's own state, the
workers' logs) is removed at the end.

Example:
    >>> engine_name().startswith("keras-tuner ")
    True
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

from zoo.errors import ZooError
from zoo.store import atomic_write_text

# Keys KerasTuner reads to join a distributed search (its documented interface).
TUNER_ID, ORACLE_IP, ORACLE_PORT = (
    "KERASTUNER_TUNER_ID",
    "KERASTUNER_ORACLE_IP",
    "KERASTUNER_ORACLE_PORT",
)
HOST = "127.0.0.1"  # the chief serves this machine only, unless told to --listen
POLL_SECONDS = 0.3


def engine_name() -> str:
    """The engine and its installed version, as a sweep's summary records it.

    Example:
        >>> engine_name().split()[0]
        'keras-tuner'
    """
    try:
        return f"keras-tuner {metadata.version('keras-tuner')}"
    except metadata.PackageNotFoundError:
        return "keras-tuner (not installed)"


def _keras_tuner() -> Any:
    try:
        import keras_tuner
    except ImportError:
        raise ZooError(
            "sweeps run on KerasTuner, which is not installed; expected the package "
            "keras-tuner; install it with pip install keras-tuner (or pip install -e .)"
        ) from None
    return keras_tuner


def _oracle(kt: Any, n: int) -> Any:
    class TrialList(kt.Oracle):
        """Hands out trial 0, 1, ..., n-1, each once, to whichever tuner asks next.

        KerasTuner names its trials 0, 1, ... in the order it creates them and stops
        at `max_trials`, so trial `k` is planned trial `k`. (Its `GridSearchOracle`
        would hand out the next value only once the trial before it has ended: with
        two workers, one would wait, polling, for most of the sweep.)
        """

        def populate_space(self, trial_id: str) -> dict[str, Any]:
            return {"status": "RUNNING", "values": {"trial": int(trial_id)}}

    hp = kt.HyperParameters()
    hp.Choice("trial", list(range(n)))
    return TrialList(
        objective=kt.Objective("val_loss", "min"),
        max_trials=n,
        hyperparameters=hp,
        tune_new_entries=False,
        allow_new_entries=False,
        # A failed trial is a result, never a reason to stop the sweep.
        max_consecutive_failed_trials=n + 1,
    )


def _tuner(kt: Any, oracle: Any, plan: dict[str, Any], work: Path, on_result: Callable) -> Any:
    from zoo.sweeps import run_trial

    class ZooTuner(kt.engine.base_tuner.BaseTuner):
        """Each KerasTuner trial is one planned zoo trial, trained by `zoo.train`."""

        def run_trial(self, trial: Any, *args: Any, **kwargs: Any) -> dict[str, float]:
            job = plan["jobs"][trial.hyperparameters.get("trial")]
            result = run_trial(
                plan["root"], plan["id"], job["index"], job["options"], job["config"]
            )
            on_result(result)
            if result.status != "ok":
                raise kt.errors.FailedTrialError(result.reason)
            return {"val_loss": result.best_val_loss or 0.0}  # finite when ok

        def save(self) -> None:
            # The sweep's summary is the record; KerasTuner's per-tuner state file would
            # only be written again after every trial.
            pass

    return ZooTuner(oracle, directory=str(work), project_name="keras-tuner", overwrite=False)


def run(
    root: str | Path,
    sweep_id: str,
    jobs: list[dict[str, Any]],
    parallel: int,
    finished: Callable[[Any], None],
    *,
    listen: tuple[str, int] | None = None,
    wait: float | None = None,
    on_listen: Callable[[str], None] | None = None,
) -> None:
    """Run `jobs` (index, options, config) and call `finished(TrialResult)` as each ends.

    With `listen=(host, port)` the chief serves there for workers on other machines
    (`join`), and `on_listen` gets the command they run once it serves.

    Example:
        >>> import tempfile
        >>> cfg = zoo.TrainConfig.for_model("mlp-cancer", epochs=1).to_dict()
        >>> ended = []
        >>> run(tempfile.mkdtemp(), "demo", [{"index": 1, "options": {}, "config": cfg}], 1,
        ...     ended.append)
        >>> [(t.index, t.status) for t in ended]
        [(1, 'ok')]
    """
    from zoo.sweeps import SWEEPS_DIR

    work = Path(root) / SWEEPS_DIR / f".work-{sweep_id}"
    work.mkdir(parents=True, exist_ok=True)
    plan = {"root": str(root), "id": sweep_id, "jobs": jobs}
    try:
        if listen is not None:
            _run_workers(plan, work, parallel, finished, listen, wait, on_listen)
        elif parallel <= 1:
            _run_here(plan, work, finished)
        else:
            _run_workers(plan, work, parallel, finished)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def parse_address(text: str, what: str) -> tuple[str, int]:
    """`"host:port"` as (host, port), or a one-line ZooError naming `what`.

    Example:
        >>> parse_address("10.0.0.5:7001", "--chief")
        ('10.0.0.5', 7001)
    """
    host, _, port = str(text).rpartition(":")
    if not host or not port.isascii() or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ZooError(
            f"{what} {text!r}: expected HOST:PORT with a port from 1 to 65535, e.g. "
            "0.0.0.0:7001 (the chief) or chief-host:7001 (a worker)"
        )
    return host, int(port)


def join(root: str | Path, sweep_id: str, chief: str) -> int:
    """Work for a running sweep's chief at `chief` ("host:port"): train trials until
    none is left, into the store at `root` (the chief's store, shared with this machine).

    Returns 0 when the chief has no trial left. What `zoo sweep --join ID --chief
    HOST:PORT` runs on each worker machine.

    Example:
        >>> import tempfile
        >>> join(tempfile.mkdtemp(), "mlp-cancer-x", "127.0.0.1:7001")
        Traceback (most recent call last):
        ...
        zoo.errors.ZooError: no running sweep mlp-cancer-x in /tmp/...: ...
    """
    from zoo.sweeps import SWEEPS_DIR

    host, port = parse_address(chief, "--chief")
    plan_path = Path(root) / SWEEPS_DIR / f".work-{sweep_id}" / "plan.json"
    if not plan_path.is_file():
        raise ZooError(
            f"no running sweep {sweep_id} in {root}: expected its plan at {plan_path}; "
            "start the chief first (zoo sweep NAME ... --listen HOST:PORT) and give this "
            "worker the chief's store (shared storage) with --store"
        )
    os.environ.update(
        {ORACLE_IP: host, ORACLE_PORT: str(port), TUNER_ID: f"{socket.gethostname()}-{os.getpid()}"}
    )
    return _worker(str(plan_path), root=str(root))


@contextlib.contextmanager
def _local() -> Any:
    # A KERASTUNER_* variable left in the environment would turn this search into a
    # client of some other chief.
    saved = {k: os.environ.pop(k) for k in (TUNER_ID, ORACLE_IP, ORACLE_PORT) if k in os.environ}
    try:
        yield
    finally:
        os.environ.update(saved)


def _run_here(plan: dict[str, Any], work: Path, finished: Callable) -> None:
    kt = _keras_tuner()
    with _local():
        tuner = _tuner(kt, _oracle(kt, len(plan["jobs"])), plan, work, finished)
        tuner.search(verbose=0)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _run_workers(
    plan: dict[str, Any],
    work: Path,
    k: int,
    finished: Callable,
    listen: tuple[str, int] | None = None,
    wait: float | None = None,
    on_listen: Callable[[str], None] | None = None,
) -> None:
    from zoo.sweeps import TrialResult

    atomic_write_text(work / "plan.json", json.dumps(plan, default=str))
    host, port = listen if listen is not None else (HOST, _free_port())
    threads = str(max(1, (os.cpu_count() or 1) // max(k, 1)))
    env = {
        **os.environ,
        # local workers reach a chief listening on every interface through loopback
        ORACLE_IP: HOST if host in ("0.0.0.0", "::", "") else host,
        ORACLE_PORT: str(port),
        "TF_NUM_INTRAOP_THREADS": threads,
        "TF_NUM_INTEROP_THREADS": "1",
        "OMP_NUM_THREADS": threads,
        "TF_CPP_MIN_LOG_LEVEL": "2",
        # The workers import zoo as this process does (also from a source checkout).
        "PYTHONPATH": os.pathsep.join(
            p for p in (str(Path(__file__).resolve().parents[1]), os.environ.get("PYTHONPATH")) if p
        ),
    }
    logs = [work / f"worker{i}.log" for i in range(k)]
    workers = []
    for i, log in enumerate(logs):
        with open(log, "wb") as out:
            workers.append(
                subprocess.Popen(
                    [sys.executable, "-m", "zoo.sweep_engine", str(work / "plan.json")],
                    env={**env, TUNER_ID: f"worker{i}"},
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            )
    server = None
    reported: set[int] = set()
    deadline = None if wait is None else time.monotonic() + wait
    try:
        server, oracle = _serve(port, len(plan["jobs"]), work, host)
        if listen is not None and on_listen is not None:
            shown = socket.getfqdn() if host in ("0.0.0.0", "::", "") else host
            from zoo.backend import recorded

            on_listen(
                f"zoo --store STORE sweep --join {plan['id']} --chief {shown}:{port} "
                f"--backend {recorded()}"  # every trial of a sweep on the chief's backend
            )
        while len(reported) < len(plan["jobs"]):
            alive = [w for w in workers if w.poll() is None]
            _report_new(work, reported, finished)
            if (listen is None and not alive) or (
                deadline is not None and time.monotonic() > deadline
            ):
                break
            time.sleep(POLL_SECONDS)
        _report_new(work, reported, finished)
        # A trial a dead worker held has no result: fail it with the worker's last words
        # (or, with workers elsewhere, say that none reported it in time).
        reason = _last_words(logs, workers)
        if listen is not None and len(reported) < len(plan["jobs"]):
            reason = f"no worker reported it within --wait {wait:g} s"
        for job in plan["jobs"]:
            if job["index"] not in reported:
                finished(TrialResult(job["index"], job["options"], "failed", reason=reason))
    finally:
        for w in workers:
            if w.poll() is None:
                w.terminate()
        for w in workers:
            with contextlib.suppress(subprocess.TimeoutExpired):
                w.wait(timeout=10)
        if server is not None:
            server.stop(0)


def _serve(port: int, n: int, work: Path, host: str = HOST) -> tuple[Any, Any]:
    """The chief: KerasTuner's oracle servicer on a gRPC server at host:port."""
    from concurrent import futures

    kt = _keras_tuner()
    import grpc
    from keras_tuner.src import protos
    from keras_tuner.src.distribute.oracle_chief import OracleServicer

    oracle = _oracle(kt, n)
    oracle._set_project_dir(str(work), "keras-tuner")
    oracle.verbose = 0  # the sweep prints its own progress
    # One thread, as KerasTuner's own chief: the oracle is not built for concurrent calls.
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
    protos.get_service_grpc().add_OracleServicer_to_server(OracleServicer(oracle), server)
    if not server.add_insecure_port(f"{host}:{port}"):
        raise ZooError(
            f"the sweep's chief cannot listen on {host}:{port}; expected a free port on "
            "an address of this machine; choose another --listen (or run the sweep again)"
        )
    server.start()
    return server, oracle


def _report_new(work: Path, reported: set[int], finished: Callable) -> None:
    from zoo.sweeps import TrialResult

    for path in sorted(work.glob("trial-*.json")):
        index = int(path.stem.split("-")[1])
        if index in reported:
            continue
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue  # written atomically: absent or whole; try again on the next poll
        reported.add(index)
        finished(TrialResult.from_dict(data))


def _last_words(logs: list[Path], workers: list[subprocess.Popen]) -> str:
    for log, w in zip(logs, workers, strict=True):
        if w.returncode:
            lines = [ln for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
            last = lines[-1].strip() if lines else "no output"
            return f"its worker process exited with code {w.returncode}: {last[:300]}"
    return "its worker process ended before the trial finished"


def _worker(plan_path: str, root: str | None = None) -> int:
    """A worker: take trials from the chief until none is left; results go to files.

    `root`: the store as this machine mounts it (a joined worker elsewhere), else the
    chief's path from the plan."""
    from dataclasses import asdict

    plan = json.loads(Path(plan_path).read_text())
    if root is not None:
        plan["root"] = root
    work = Path(plan_path).parent
    kt = _keras_tuner()

    def write(result: Any) -> None:
        atomic_write_text(work / f"trial-{result.index}.json", json.dumps(asdict(result)))

    tuner = _tuner(kt, _oracle(kt, len(plan["jobs"])), plan, work, write)
    tuner.search()
    return 0


if __name__ == "__main__":
    sys.exit(_worker(sys.argv[1]))
