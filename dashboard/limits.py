"""Limits of a shared dashboard: trainings (queue, cancel), explanations, uploads.

One `TrainingQueue` per server process (`training_queue()`): a training is a `Job` run in
its own thread once a slot is free (`max_running`, 1 by default: each training holds the
CPU for minutes); the others wait in submission order and know their position. The page
that submitted a job only watches it, so a visitor who reloads or opens another page does
not stop it, and viewers' pages never wait for it. Its owner can cancel it: a queued job
leaves the queue, a running one stops at the end of its current epoch and stores nothing.

Explanations (`explanation_slots()`): at most `max_explanations` (2 by default) computed
at once on the server; a visitor whose click finds every slot taken waits a bounded time
(`EXPLAIN_WAIT_S`) with a message, then reads one line (`ServerBusy`). Uploads
(`upload_limiter()`): at most N per window per visitor (10 per 10 minutes by default).
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from zoo.errors import ZooError

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
    # What the work reports beyond one epoch (e.g. the default zoo: entries done so far).
    info: dict[str, Any] = field(default_factory=dict)

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

    def submit(self, owner: str, label: str, work: Callable[[Job], Any], **info: Any) -> Job:
        """Queue `work(job)` for `owner`; returns the job at once (it runs in a thread).

        `info` starts the job's `info` (what pages read about it besides its epoch)."""
        job = Job(owner, label, info=dict(info))
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


# --- explanation slots --------------------------------------------------------------------

MAX_EXPLANATIONS_ENV = "ZOO_DASHBOARD_MAX_EXPLANATIONS"
UPLOAD_RATE_ENV = "ZOO_DASHBOARD_UPLOAD_RATE"
DEFAULT_MAX_EXPLANATIONS = 2
DEFAULT_UPLOAD_RATE = "10/600"
# How long a visitor's explanation waits for a free slot before being told to come back.
EXPLAIN_WAIT_S = 30.0


class ServerBusy(ZooError):
    """Every explanation slot of the server is taken (the message says so in one line)."""


class ExplanationSlots:
    """At most `limit` explanation computations at once on this server.

    `hold()` takes a slot or raises `ServerBusy` at once (it never waits: the caller
    shows a message while it waits, outside any cached function); `wait_free` waits
    until one is free.

    Example:
        >>> slots = ExplanationSlots(1)
        >>> with slots.hold():
        ...     slots.running, slots.wait_free(0.01)
        (1, False)
        >>> with slots.hold(), slots.hold():  # doctest: +ELLIPSIS
        ...     pass
        Traceback (most recent call last):
        dashboard.limits.ServerBusy: the server is busy: 1 explanation is running (limit 1); ...
        >>> slots.running, slots.wait_free(0.01)
        (0, True)
    """

    def __init__(self, limit: int = DEFAULT_MAX_EXPLANATIONS) -> None:
        self.limit = limit
        self.running = 0
        self._cond = threading.Condition()

    def try_acquire(self) -> bool:
        """Take a slot if one is free (True), else False at once."""
        with self._cond:
            if self.running >= self.limit:
                return False
            self.running += 1
            return True

    def release(self) -> None:
        """Give a slot back (wakes one waiting visitor)."""
        with self._cond:
            self.running = max(self.running - 1, 0)
            self._cond.notify_all()

    def wait_free(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds until a slot is free; whether one is."""
        with self._cond:
            return self._cond.wait_for(lambda: self.running < self.limit, timeout)

    @contextmanager
    def hold(self) -> Iterator[None]:
        """Hold a slot for the `with` block; `ServerBusy` at once when none is free."""
        if not self.try_acquire():
            raise ServerBusy(self.busy_text())
        try:
            yield
        finally:
            self.release()

    def busy_text(self) -> str:
        """The one line a visitor reads when no slot freed up in time."""
        n = self.running
        return (
            f"the server is busy: {n} explanation{'s' if n != 1 else ''} "
            f"{'are' if n != 1 else 'is'} running (limit {self.limit}); try again in a minute"
        )

    def waiting_text(self) -> str:
        """What a visitor reads while waiting for a slot."""
        return (
            f"Waiting for a free explanation slot: {self.running} explanations are running "
            f"on this server (limit {self.limit}); this waits up to {EXPLAIN_WAIT_S:g} s…"
        )


_slots = ExplanationSlots()


def explanation_slots(limit: int = DEFAULT_MAX_EXPLANATIONS) -> ExplanationSlots:
    """The server's one set of explanation slots, allowing `limit` at once from now.

    Example:
        >>> explanation_slots(2) is explanation_slots(3), explanation_slots(2).limit
        (True, 2)
    """
    if limit < 1:
        raise ValueError(f"limit={limit} must be at least 1")
    with _slots._cond:
        _slots.limit = limit
        _slots._cond.notify_all()
    return _slots


# --- upload rate --------------------------------------------------------------------------


@dataclass(frozen=True)
class Rate:
    """At most `count` events per `window_s` seconds (`count` 0: no limit)."""

    count: int
    window_s: float

    def __str__(self) -> str:
        if not self.count:
            return "no limit"
        return f"at most {self.count} per {duration_text(self.window_s)}"


def duration_text(seconds: float) -> str:
    """`seconds` in words, rounded up: `45 s`, `3 min`, `2 h`.

    Example:
        >>> duration_text(45), duration_text(600), duration_text(121), duration_text(7200)
        ('45 s', '10 min', '3 min', '2 h')
    """
    seconds = max(int(-(-seconds // 1)), 1)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 7200 or seconds % 3600:
        return f"{-(-seconds // 60)} min"
    return f"{seconds // 3600} h"


def parse_rate(text: str) -> Rate:
    """`N/SECONDS` (e.g. `10/600`: ten per ten minutes), or `off`; `ValueError` otherwise.

    Example:
        >>> parse_rate("10/600"), parse_rate("off")
        (Rate(count=10, window_s=600.0), Rate(count=0, window_s=0.0))
    """
    text = str(text).strip().lower()
    if text in ("off", "0", "none"):
        return Rate(0, 0.0)
    count, sep, window = text.partition("/")
    try:
        rate = Rate(int(count), float(window))
    except ValueError:
        rate = Rate(-1, 0.0)
    if not sep or rate.count < 1 or not rate.window_s > 0:
        raise ValueError(
            f"upload rate {text!r}: expected N/SECONDS with N >= 1 and SECONDS > 0, e.g. "
            "10/600 (ten uploads per ten minutes per visitor), or off"
        )
    return rate


class RateLimiter:
    """A sliding window per key: at most `rate.count` events in any `rate.window_s` seconds.

    Thread-safe; one per server (`upload_limiter`), so the limit holds across a visitor's
    tabs and sessions (with sign-in, the key is their e-mail address).

    Example:
        >>> limiter = RateLimiter(Rate(2, 60))
        >>> [limiter.take("ann", now=t) for t in (0, 1, 2)], limiter.take("bob", now=2)
        ([0.0, 0.0, 58.0], 0.0)
        >>> limiter.take("ann", now=60.5)  # the first one left the window
        0.0
    """

    def __init__(self, rate: Rate) -> None:
        self.rate = rate
        self._lock = threading.Lock()
        self._events: dict[str, list[float]] = {}

    def take(self, key: str, now: float | None = None) -> float:
        """Count one event for `key` if allowed (0.0), else the seconds until it would be."""
        now = time.monotonic() if now is None else now
        with self._lock:
            if not self.rate.count:
                return 0.0
            events = [t for t in self._events.get(key, []) if t > now - self.rate.window_s]
            if len(events) >= self.rate.count:
                self._events[key] = events
                return float(events[0] + self.rate.window_s - now)
            events.append(now)
            self._events[key] = events
            return 0.0


_uploads = RateLimiter(parse_rate(DEFAULT_UPLOAD_RATE))


def upload_limiter(rate: Rate) -> RateLimiter:
    """The server's one upload rate limiter, with `rate` from now (counts are kept).

    Example:
        >>> upload_limiter(Rate(3, 60)) is upload_limiter(Rate(10, 600))
        True
    """
    with _uploads._lock:
        _uploads.rate = rate
    return _uploads


def rate_text(rate: Rate, wait_s: float) -> str:
    """The one line that refuses an upload over the rate limit, with when to try again.

    Example:
        >>> rate_text(Rate(10, 600), 125)
        'upload limit reached: at most 10 uploads per 10 min per visitor; try again in 3 min'
    """
    return (
        f"upload limit reached: at most {rate.count} upload{'s' if rate.count != 1 else ''} per "
        f"{duration_text(rate.window_s)} per visitor; try again in {duration_text(wait_s)}"
    )


# --- settings -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Limits:
    """The explanation cap and the upload rate of one server."""

    max_explanations: int = DEFAULT_MAX_EXPLANATIONS
    upload_rate: Rate = field(default_factory=lambda: parse_rate(DEFAULT_UPLOAD_RATE))


def limits_from(env: Mapping[str, str], secrets: Mapping[str, Any]) -> Limits:
    """The server's `Limits`: `--max-explanations`/`--upload-rate` (their environment
    variables) win over `[keras_zoo]` `max_explanations`/`upload_rate` in the secrets.

    A bad value is an `AccessError` (one line).

    Example:
        >>> limits_from({UPLOAD_RATE_ENV: "5/60"}, {"keras_zoo": {"max_explanations": 4}})
        Limits(max_explanations=4, upload_rate=Rate(count=5, window_s=60.0))
    """
    from dashboard.access import SECTION, AccessError

    section = secrets.get(SECTION) or {}
    raw_max = env.get(MAX_EXPLANATIONS_ENV) or section.get(
        "max_explanations", DEFAULT_MAX_EXPLANATIONS
    )
    try:
        max_explanations = int(raw_max)
    except (TypeError, ValueError):
        max_explanations = 0
    if max_explanations < 1:
        raise AccessError(f"max_explanations={raw_max!r} must be a whole number of at least 1")
    raw_rate = env.get(UPLOAD_RATE_ENV) or section.get("upload_rate", DEFAULT_UPLOAD_RATE)
    try:
        rate = parse_rate(raw_rate)
    except ValueError as err:
        raise AccessError(str(err)) from None
    return Limits(max_explanations, rate)


def session_owner(who_signed_in: str | None, state: MutableMapping[str, Any]) -> str:
    """Who owns a training or an upload count: the signed-in e-mail, else this session.

    `state` is the session state (`st.session_state`): without sign-in every browser
    session gets its own id, kept under the Train page's key, so the Train and Zoo pages
    agree on the owner.

    Example:
        >>> session_owner("ann@lab.org", {}), session_owner(None, {OWNER_KEY: "session-1"})
        ('ann@lab.org', 'session-1')
    """
    if who_signed_in:
        return who_signed_in
    if OWNER_KEY not in state:
        state[OWNER_KEY] = f"session-{uuid.uuid4().hex[:12]}"
    return str(state[OWNER_KEY])


OWNER_KEY = "train_owner"  # the Train page's session-state key of its owner
