"""Limits of a shared dashboard: how many trainings run at once, the queue, cancelling.

One `TrainingQueue` per server process (`training_queue()`): a training is a `Job` run in
its own thread once a slot is free (`max_running`, 1 by default: each training holds the
CPU for minutes); the others wait in submission order and know their position. The page
that submitted a job only watches it, so a visitor who reloads or opens another page does
not stop it, and viewers' pages never wait for it. Its owner can cancel it: a queued job
leaves the queue, a running one stops at the end of its current epoch and stores nothing.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("dashboard")

QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
_ids = itertools.count(1)


class Cancelled(Exception):
    """Raised inside a training (by its progress callback) when its owner cancelled it."""


@dataclass(eq=False)
class Job:
    """One training request: who asked, what, its state, progress and outcome."""

    owner: str
    label: str
    id: int = field(default_factory=lambda: next(_ids))
    state: str = QUEUED
    submitted: float = field(default_factory=time.time)
    started: float = 0.0
    epoch: int = 0
    epochs: int = 0
    rows: dict[str, list[float]] = field(default_factory=dict)
    result: Any = None
    error: str = ""
    finished: threading.Event = field(default_factory=threading.Event)
    cancel_requested: threading.Event = field(default_factory=threading.Event)

    def progress(self, epoch: int, epochs: int, logs: dict[str, float]) -> None:
        """The training's progress callback: records the epoch; stops a cancelled job.

        Example:
            >>> job = Job("ann", "mlp-cancer")
            >>> job.progress(1, 3, {"loss": 0.5}); (job.epoch, job.epochs, job.rows)
            (1, 3, {'loss': [0.5]})
        """
        # A new dict each epoch, never changed once set: pages read it from other threads.
        rows = {key: list(values) for key, values in self.rows.items()}
        for key, value in logs.items():
            rows.setdefault(key, []).append(float(value))
        self.rows, self.epoch, self.epochs = rows, epoch, epochs
        if self.cancel_requested.is_set():
            raise Cancelled(f"{self.label} was cancelled by its owner")

    @property
    def active(self) -> bool:
        """Queued or running."""
        return self.state in (QUEUED, RUNNING)


class TrainingQueue:
    """At most `max_running` jobs at a time; the others wait in submission order.

    Example:
        >>> q = TrainingQueue(1)
        >>> gate = threading.Event()
        >>> first = q.submit("ann", "mlp-cancer", lambda job: gate.wait(5))
        >>> second = q.submit("bob", "cnn-digits", lambda job: "stored")
        >>> _ = wait_for(lambda: first.state == RUNNING)
        >>> q.position(first), q.position(second), second.state
        (0, 1, 'queued')
        >>> gate.set(); second.finished.wait(5)
        True
        >>> second.state, second.result
        ('done', 'stored')
    """

    def __init__(self, max_running: int = 1) -> None:
        self.max_running = max_running
        self._cond = threading.Condition()
        self._waiting: list[Job] = []
        self._running: list[Job] = []
        self._jobs: dict[int, Job] = {}

    def submit(self, owner: str, label: str, work: Callable[[Job], Any]) -> Job:
        """Queue `work(job)` for `owner`; returns the job at once (it runs in a thread)."""
        job = Job(owner, label)
        with self._cond:
            self._jobs[job.id] = job
            self._waiting.append(job)
        threading.Thread(
            target=self._run, args=(job, work), daemon=True, name=f"train-{job.id}"
        ).start()
        return job

    def _run(self, job: Job, work: Callable[[Job], Any]) -> None:
        with self._cond:
            while not job.cancel_requested.is_set() and (
                self._waiting[0] is not job or len(self._running) >= self.max_running
            ):
                self._cond.wait(0.5)
            self._waiting.remove(job)
            if job.cancel_requested.is_set():
                job.state = CANCELLED
                job.finished.set()
                self._cond.notify_all()
                return
            self._running.append(job)
            job.state, job.started = RUNNING, time.time()
        try:
            job.result = work(job)
            job.state = DONE
        except Cancelled:
            job.state = CANCELLED
        except Exception as err:  # the page shows it; a bug is logged with its traceback
            from zoo.errors import ZooError

            job.state = FAILED
            if isinstance(err, ZooError):
                job.error = str(err)
            else:
                log.exception("training %s (%s) failed", job.id, job.label)
                job.error = f"{type(err).__name__}; the details are in the server log"
        finally:
            with self._cond:
                self._running.remove(job)
                self._cond.notify_all()
            job.finished.set()

    def position(self, job: Job) -> int:
        """0 for a running (or finished) job, else its place in the queue (1 = next).

        Example:
            >>> TrainingQueue().position(Job("ann", "x"))
            0
        """
        with self._cond:
            return self._waiting.index(job) + 1 if job in self._waiting else 0

    def get(self, job_id: int | None) -> Job | None:
        """The job with id `job_id`, if this queue has it.

        Example:
            >>> TrainingQueue().get(12345) is None
            True
        """
        return self._jobs.get(job_id) if job_id is not None else None

    def cancel(self, job_id: int, owner: str) -> bool:
        """Ask job `job_id` to stop, if `owner` submitted it and it is still active.

        Example:
            >>> q = TrainingQueue()
            >>> job = q.submit("ann", "x", lambda job: None); _ = job.finished.wait(5)
            >>> q.cancel(job.id, "bob"), q.cancel(job.id, "ann")  # not bob's; ann's is done
            (False, False)
        """
        job = self.get(job_id)
        if job is None or job.owner != owner or not job.active:
            return False
        job.cancel_requested.set()
        with self._cond:
            self._cond.notify_all()
        return True

    def active(self) -> list[Job]:
        """Running jobs, then queued ones in order.

        Example:
            >>> TrainingQueue().active()
            []
        """
        with self._cond:
            return [*self._running, *self._waiting]


_queue = TrainingQueue(1)


def training_queue(max_running: int = 1) -> TrainingQueue:
    """The server's one training queue, allowing `max_running` trainings at once from now.

    Example:
        >>> training_queue(1) is training_queue(2), training_queue(1).max_running
        (True, 1)
    """
    if max_running < 1:
        raise ValueError(f"max_running={max_running} must be at least 1")
    with _queue._cond:
        _queue.max_running = max_running
        _queue._cond.notify_all()
    return _queue


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Poll `condition` every 10 ms until it holds (True) or `timeout` seconds pass.

    Example:
        >>> wait_for(lambda: True)
        True
    """
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            return False
        time.sleep(0.01)
    return True


def queue_text(job: Job, position: int) -> str:
    """What the owner of `job` reads while it waits or runs.

    Example:
        >>> queue_text(Job("ann", "mlp-cancer"), 2)
        'mlp-cancer is queued: position 2 (trainings on this server run one after another)'
    """
    if position:
        return (
            f"{job.label} is queued: position {position} (trainings on this server run one "
            "after another)"
        )
    if job.epochs:
        return f"{job.label}: epoch {job.epoch}/{job.epochs}"
    return f"{job.label}: preparing the data and the model…"
