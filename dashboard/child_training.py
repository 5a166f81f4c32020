"""Dashboard trainings run in a child process, not in a thread of the server.

A training is minutes of Keras' per-step Python: in a thread of the Streamlit server it
holds the GIL against every visitor's page script (under load, most of the server's time
went to it). `train_in_child` runs `zoo.training.train` in a fresh interpreter
(`python -m dashboard.child_training`), niced so that the pages come first, and keeps the
contract of an in-thread training: the job's `progress` sees every epoch, a cancel stops
the child at the end of its epoch with nothing stored, a `ZooError` comes back as one line.

The protocol is JSON lines: the request on the child's stdin, then `cancel` (or EOF: the
server went away) on the same stream; epochs and the outcome on a dedicated pipe, so that
whatever a library prints on stdout cannot corrupt it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from zoo import backend
from zoo.config import TrainConfig
from zoo.errors import ZooError
from zoo.registry import get_spec

ProgressFn = Callable[[int, int, dict[str, float]], None]

# Pages first: the child gives way whenever a visitor's script wants the CPU, and alone on
# the machine it runs at full speed all the same.
NICE = 10
CANCEL = "cancel"


class ChildFailed(ZooError):
    """The training in the child process failed; the message is the child's one line."""


@dataclass(frozen=True)
class ChildRun:
    """What the server needs of a training the child stored: its ref, task and metrics."""

    ref: str
    task: str
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def diagnosis(self) -> dict[str, Any]:
        """The overfitting diagnosis stored with the metrics (as `TrainedModel.diagnosis`)."""
        return dict(self.metrics.get("diagnosis", {}))


def train_in_child(
    name: str,
    *,
    store: str | Path,
    config: TrainConfig | None = None,
    quick: bool = False,
    progress: ProgressFn | None = None,
    should_stop: Callable[[], bool] | None = None,
    nice: int = NICE,
) -> ChildRun:
    """Train `name` into `store` in a child process; `progress(epoch, epochs, logs)` here.

    Once `should_stop()` holds (polled every 0.25 s; the dashboard passes its job's cancel
    flag) the child stops at the end of its current epoch and stores nothing. When
    `progress` raises (the dashboard's `Job.progress` raises `Cancelled` once its owner
    cancelled) the same happens, and the exception is raised again here once the child has
    ended. A failure in the child raises `ChildFailed` with its one line.

    Example:
        >>> import tempfile
        >>> seen = []
        >>> run = train_in_child("mlp-cancer", store=tempfile.mkdtemp(),
        ...     config=TrainConfig.for_model("mlp-cancer", epochs=2),
        ...     progress=lambda epoch, epochs, logs: seen.append((epoch, epochs)))
        >>> run.ref, run.task, seen, 0.5 < run.metrics["accuracy"] <= 1
        ('mlp-cancer@1', 'classification', [(1, 2), (2, 2)], True)
    """
    request = {
        "name": name,
        "store": str(store),
        "quick": quick,
        "config": config.to_dict() if config is not None else None,
        "nice": nice,
    }
    env = _child_environment(name, config, quick)
    read_end, write_end = os.pipe()
    try:
        child = subprocess.Popen(
            [sys.executable, "-m", "dashboard.child_training", str(write_end)],
            stdin=subprocess.PIPE,
            pass_fds=(write_end,),
            text=True,
            env=env,
        )
    finally:
        os.close(write_end)
    with os.fdopen(read_end, "r") as reports, child:
        assert child.stdin is not None
        child.stdin.write(json.dumps(request) + "\n")
        child.stdin.flush()
        if should_stop is not None:
            threading.Thread(target=_watch, args=(child, should_stop), daemon=True).start()
        return _follow(child, reports, progress, name)


def _child_environment(name: str, config: TrainConfig | None, quick: bool) -> dict[str, str] | None:
    # With ZOO_BACKEND set (`zoo dashboard` sets it: auto unless KERAS_BACKEND was given)
    # the child starts the backend `zoo train` would pick for this training; without it
    # (a server started some other way) the child inherits the server's.
    setting = os.environ.get(backend.SETTING)
    if not setting:
        return None
    wanted = backend.for_training(
        get_spec(name).family,
        quick=quick,
        strategy=config.strategy if config is not None else "default",
        setting=setting,
    )
    return {**os.environ, "KERAS_BACKEND": wanted}


def train_for_job(
    job: Any,
    name: str,
    *,
    store: str | Path,
    config: TrainConfig | None = None,
    quick: bool = False,
) -> ChildRun:
    """`train_in_child` for a `dashboard.limits.Job`: its epochs and its cancel flag.

    Example:
        >>> import tempfile
        >>> from dashboard.limits import Job
        >>> job = Job("ann", "mlp-cancer")
        >>> run = train_for_job(job, "mlp-cancer", store=tempfile.mkdtemp(),
        ...     config=TrainConfig.for_model("mlp-cancer", epochs=2))
        >>> run.ref, job.epoch, job.epochs
        ('mlp-cancer@1', 2, 2)
    """
    return train_in_child(
        name,
        store=store,
        config=config,
        quick=quick,
        progress=job.progress,
        should_stop=job.cancel_requested.is_set,
    )


def _watch(child: subprocess.Popen, should_stop: Callable[[], bool]) -> None:
    # A cancel between epochs reaches the child at once, not only at the next epoch's report.
    while child.poll() is None:
        if should_stop():
            _tell(child, CANCEL)
            return
        time.sleep(0.25)


def _follow(
    child: subprocess.Popen, reports: IO[str], progress: ProgressFn | None, name: str
) -> ChildRun:
    stop: BaseException | None = None
    outcome: dict[str, Any] | None = None
    for message in _messages(reports):
        if "epoch" in message and progress is not None and stop is None:
            try:
                progress(message["epoch"], message["epochs"], message["logs"])
            except BaseException as err:  # Cancelled (or the server stopping): stop the child
                stop = err
                _tell(child, CANCEL)
        elif "epoch" not in message:
            outcome = message
    child.wait()
    if stop is not None:
        raise stop
    if outcome is None:
        raise ChildFailed(
            f"the training of {name} ended without a result (exit status {child.returncode}); "
            "the details are in the server log"
        )
    if "error" in outcome:
        raise ChildFailed(outcome["error"])
    if "cancelled" in outcome:  # stopped without a cancel from here: stdin closed early
        raise ChildFailed(f"the training of {name} was stopped before it stored anything")
    return ChildRun(outcome["ref"], outcome["task"], outcome["metrics"])


def _messages(reports: IO[str]) -> Iterator[dict[str, Any]]:
    # One JSON object per line until the child closes its end (it ended, however).
    for line in reports:
        line = line.strip()
        if line:
            yield json.loads(line)


def _tell(child: subprocess.Popen, line: str) -> None:
    try:
        assert child.stdin is not None
        child.stdin.write(line + "\n")
        child.stdin.flush()
    except (BrokenPipeError, ValueError, OSError):
        pass  # already gone: nothing left to stop


# --- the child ------------------------------------------------------------------------------


class _Stopped(Exception):
    """Raised by the child's progress callback: cancelled, or the server went away."""

    def __init__(self, cancelled: bool) -> None:
        super().__init__("cancelled" if cancelled else "the server went away")
        self.cancelled = cancelled


def _child(fd: int) -> int:
    """The child's side: train what stdin asks, report on file descriptor `fd`."""
    out = os.fdopen(fd, "w", buffering=1)
    request = json.loads(sys.stdin.readline())
    os.nice(int(request.get("nice", 0)))
    stop = threading.Event()
    why: dict[str, bool] = {"cancelled": False}

    def listen() -> None:
        # `cancel` from the owner, or the end of stdin (the server stopped): either way the
        # training stops after this epoch; only a cancel drops the resume backup.
        for line in sys.stdin:
            if line.strip() == CANCEL:
                why["cancelled"] = True
                break
        stop.set()

    threading.Thread(target=listen, daemon=True).start()

    def report(**message: Any) -> None:
        try:
            out.write(json.dumps(message, default=_plain) + "\n")
        except (BrokenPipeError, ValueError):  # the server is gone: nobody to tell
            stop.set()

    def progress(epoch: int, epochs: int, logs: Mapping[str, float]) -> None:
        report(epoch=epoch, epochs=epochs, logs={k: float(v) for k, v in logs.items()})
        if stop.is_set():
            raise _Stopped(why["cancelled"])

    from zoo.training import train

    name, store, quick = request["name"], request["store"], bool(request["quick"])
    config = TrainConfig.from_dict(request["config"]) if request["config"] else None
    try:
        run = train(name, store=store, quick=quick, config=config, progress=progress)
    except _Stopped as stopped:
        if stopped.cancelled:
            _drop_backup(name, store, config, quick)
        report(cancelled=stopped.cancelled)
        return 0
    except ZooError as err:
        report(error=str(err))
        return 0
    except Exception as err:  # a bug: its traceback goes to the server's log (stderr)
        import traceback

        traceback.print_exc()
        report(error=f"{type(err).__name__}; the details are in the server log")
        return 1
    report(ref=run.ref, task=run.task, metrics=run.metrics)
    return 0


def _drop_backup(name: str, store: str, config: TrainConfig | None, quick: bool) -> None:
    # Cancelled by its owner means nothing stored: no half-trained backup to resume either
    # (a killed server's training, by contrast, keeps its backup and resumes).
    from zoo.resume import claim, remove, resume_dir
    from zoo.store import Store

    backup = resume_dir(Store(store), config or TrainConfig.for_model(name, quick=quick))
    lock = claim(backup)
    if lock is None:
        return  # another live training of the same config owns that backup now
    with lock:
        remove(backup)


def _plain(value: Any) -> Any:
    # numpy scalars and arrays in the metrics, as json would have them.
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


if __name__ == "__main__":
    sys.exit(_child(int(sys.argv[1])))
