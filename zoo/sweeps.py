"""Sweeps: train one entry many times over a grid or a random sample of its options.

The question a sweep answers is the one this zoo invites: which loss, optimizer, L1/L2
and dropout keep a model from overfitting. `sweep("mlp-cancer", grid={"l2": [0, 1e-3],
"dropout": [0, 0.3]})` trains the cartesian product (4 trials); `random={"l2":
"1e-5..1e-2:log", "dropout": "0..0.5"}, trials=8` draws 8 (seeded). Every trial's
config goes through `TrainConfig` before the first one starts, so a bad option or value
is one `ConfigError` line and nothing is trained.

Each trial is an ordinary `zoo.train` run: a stored version with metrics, diagnosis and
baselines, tagged with its sweep in the version's own checksummed `sweep.json` (the
sweep id, the trial's number and options). A trial that fails (a NaN loss, any
exception) is recorded as failed with its one-line reason and the sweep goes on. The
sweep's summary is `<store>/_sweeps/<id>.json`, rewritten atomically after every trial.

The trials run on KerasTuner (`zoo.sweep_engine`): in this process one at a time, or
`parallel=K` worker processes that take trials from a chief oracle over 127.0.0.1
(KerasTuner's distributed mode). The README's "Sweeps" says why KerasTuner, not Ray Tune.

This module runs trials and sweeps; the search space (parsing, drawing, `plan`) is
`zoo.sweep_space`, the results and their stored summaries `zoo.sweep_store`. Their names
are importable from here too.

Example:
    >>> expand_grid(parse_grid(["l2=0,1e-3", "dropout=0,0.3"]))  # doctest: +NORMALIZE_WHITESPACE
    [{'l2': 0.0, 'dropout': 0.0}, {'l2': 0.0, 'dropout': 0.3},
     {'l2': 0.001, 'dropout': 0.0}, {'l2': 0.001, 'dropout': 0.3}]
"""

from __future__ import annotations

import contextlib
import math
import os
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from zoo import config as zconfig
from zoo.errors import ConfigError, ZooError
from zoo.options import show
from zoo.store import Store, write_json

# The search space (`zoo.sweep_space`) and the stored results (`zoo.sweep_store`) live in
# their own modules; their names are importable from here as they always were.
from zoo.sweep_space import MAX_TRIALS as MAX_TRIALS
from zoo.sweep_space import (
    Range,
    expand_grid,
    parse_grid,
    parse_random,
    plan,
    sample_random,
    value_text,
)
from zoo.sweep_store import ENGINE as ENGINE
from zoo.sweep_store import FORMAT as FORMAT
from zoo.sweep_store import (
    SWEEP_FILE,
    SWEEPS_DIR,
    SweepResult,
    TrialResult,
    list_sweeps,
    load_sweep,
    save_sweep,
    version_sweep,
)

__all__ = [
    "SWEEPS_DIR",
    "SWEEP_FILE",
    "Range",
    "SweepResult",
    "TrialResult",
    "expand_grid",
    "list_sweeps",
    "load_sweep",
    "parse_grid",
    "parse_random",
    "plan",
    "sample_random",
    "sweep",
    "version_sweep",
]

# progress(done, total, trial): called as each trial ends (done counts finished trials).
ProgressFn = Callable[[int, int, "TrialResult"], None]


# --- one trial --------------------------------------------------------------------------


class _TaggingStore(Store):
    """A store that writes the sweep's tag into every version it commits (checksummed
    with the rest of the version) and remembers the last version it committed."""

    def __init__(self, root: str | Path, tag: dict[str, Any]) -> None:
        super().__init__(root)
        self.tag = tag
        self.committed: str | None = None

    def commit(self, name: str, folder: Path, *, status: str = "ok", error: str = "") -> int:
        write_json(folder, SWEEP_FILE, self.tag)
        version = super().commit(name, folder, status=status, error=error)
        self.committed = f"{name}@{version}"
        return version


def one_line(err: BaseException) -> str:
    """An exception as one line: a zoo error's message, else its type and message.

    Example:
        >>> one_line(ValueError("bad\\nshape"))
        'ValueError: bad shape'
    """
    text = " ".join(str(err).split())
    return text if isinstance(err, ZooError) else f"{type(err).__name__}: {text}"


def run_trial(
    root: str | Path,
    sweep_id: str,
    index: int,
    options: Mapping[str, Any],
    config: Mapping[str, Any],
) -> TrialResult:
    """Train one trial (`zoo.training.train`) into the store at `root`, tagged with its
    sweep; never raises for a failed trial (except Ctrl-C): the result says why.

    Example:
        >>> import tempfile
        >>> cfg = zoo.TrainConfig.for_model("mlp-cancer", epochs=2).to_dict()
        >>> t = run_trial(tempfile.mkdtemp(), "demo", 1, {"epochs": 2}, cfg)
        >>> t.status, t.ref, t.metric
        ('ok', 'mlp-cancer@1', 'accuracy')
    """
    from zoo.summary import headline

    cfg = zconfig.TrainConfig.from_dict(config)
    plain = {k: (list(v) if isinstance(v, tuple) else v) for k, v in options.items()}
    result = TrialResult(index=index, options=plain)
    store = _TaggingStore(root, {"sweep": sweep_id, "trial": index, "options": plain})
    start = time.perf_counter()
    try:
        from zoo.training import train

        with _tracking_tags(sweep=sweep_id, trial=index):
            trained = train(cfg.model, store=store, config=cfg)
    except KeyboardInterrupt:
        raise
    except Exception as err:  # one trial's failure (NaN, a bug, no memory) is recorded
        result.status, result.reason, result.ref = "failed", one_line(err), store.committed
        result.seconds = time.perf_counter() - start
        return result
    diagnosis = trained.metrics.get("diagnosis", {})
    metric, value = headline(trained.task, trained.metrics)
    result.status, result.ref = "ok", trained.ref
    result.best_val_loss = _finite(diagnosis.get("best_val_loss"))
    result.gap = _finite(diagnosis.get("gap_at_best"))
    result.best_epoch = diagnosis.get("best_epoch")
    result.verdict = diagnosis.get("verdict")
    result.metric, result.value = metric, value
    result.seconds = time.perf_counter() - start
    if result.best_val_loss is None:
        result.status, result.reason = "failed", "no finite validation loss to rank it by"
    return result


def _tracking_tags(**tags: Any) -> Any:
    # TensorBoard's HParams (and MLflow) of the trial carry the sweep id and trial number,
    # so their views can filter one sweep's runs (`zoo.tracking.tagged`).
    try:
        from zoo.tracking import tagged
    except ImportError:  # a zoo without run tracking
        return contextlib.nullcontext()
    return tagged(**tags)


def _finite(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


# --- the sweep --------------------------------------------------------------------------


def new_id(name: str) -> str:
    """A sweep id people can read and sort: `<entry>-<UTC date-time>-<4 hex>`.

    Example:
        >>> new_id("mlp-cancer").startswith("mlp-cancer-")
        True
    """
    return f"{name}-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-{uuid.uuid4().hex[:4]}"


def sweep(
    name: str,
    *,
    grid: Mapping[str, Any] | Iterable[str] | str | None = None,
    random: Mapping[str, Any] | Iterable[str] | str | None = None,
    trials: int | None = None,
    parallel: int = 1,
    quick: bool = False,
    sample_seed: int = 0,
    store: Store | str | Path | None = None,
    progress: ProgressFn | None = None,
    listen: str | None = None,
    wait: float | None = None,
    on_listen: Callable[[str], None] | None = None,
    **options: Any,
) -> SweepResult:
    """Train `name` over a grid or a random sample of options; every trial is stored.

    `grid={"l2": [0, 1e-3], "dropout": "0,0.3"}` runs every combination; `random={"l2":
    "1e-5..1e-2:log", "dropout": "0..0.5", "optimizer": ["adam", "sgd"]}` with
    `trials=N` draws N (seeded by `sample_seed`). `options` are training options every trial
    shares (`epochs=5`); `quick` starts from the entry's quick settings. `parallel=K`
    runs K trials at once in worker processes (KerasTuner's chief/worker mode on
    127.0.0.1). `listen="HOST:PORT"` serves the trials there to workers on other
    machines that share the store (`zoo sweep --join ID --chief HOST:PORT` on each;
    `on_listen` gets that command), with `parallel` local workers besides (0: none) and
    `wait` seconds at most before unreported trials fail. Returns the sweep with its
    trials ranked by best validation loss; its summary is `<store>/_sweeps/<id>.json`.

    Example:
        >>> import tempfile
        >>> s = sweep("mlp-cancer", grid={"dropout": [0, 0.3]}, epochs=2,
        ...           store=tempfile.mkdtemp())
        >>> s.counts(), sorted(t.ref for t in s.trials)
        ({'ok': 2}, ['mlp-cancer@1', 'mlp-cancer@2'])
    """
    from zoo import sweep_engine

    store = store if isinstance(store, Store) else Store(store)
    lowest = 0 if listen is not None else 1  # with workers elsewhere, none here is fine
    if isinstance(parallel, bool) or not isinstance(parallel, int) or not lowest <= parallel <= 64:
        raise ConfigError(
            f"parallel={show(parallel)}: expected a number of trials at once from {lowest} "
            f"to 64 (this machine has {os.cpu_count()} cores)"
        )
    address = None if listen is None else sweep_engine.parse_address(listen, "--listen")
    if wait is not None and not (isinstance(wait, int | float) and wait > 0):
        raise ConfigError(f"wait={show(wait)}: expected seconds > 0, e.g. 3600")
    mode, space, chosen, configs = plan(
        name,
        grid=grid,
        random=random,
        trials=trials,
        sample_seed=sample_seed,
        quick=quick,
        options=options,
    )
    store.ensure_root()
    result = SweepResult(
        id=new_id(name),
        name=name,
        mode=mode,
        space=space,
        options={k: value_text(v) for k, v in options.items() if v is not None},
        quick=quick,
        parallel=min(parallel, len(chosen)),
        sample_seed=sample_seed,
        engine=sweep_engine.engine_name(),
        created=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        trials=[TrialResult(i, _plain(t)) for i, t in enumerate(chosen, 1)],
    )
    save_sweep(store, result)
    jobs = [
        {"index": i, "options": _plain(t), "config": c.to_dict()}
        for i, (t, c) in enumerate(zip(chosen, configs, strict=True), 1)
    ]
    done = 0
    start = time.perf_counter()

    def finished(trial: TrialResult) -> None:
        nonlocal done
        done += 1
        result.trials[trial.index - 1] = trial
        result.seconds = time.perf_counter() - start
        save_sweep(store, result)
        if progress is not None:
            progress(done, len(jobs), trial)

    try:
        sweep_engine.run(
            store.root,
            result.id,
            jobs,
            result.parallel,
            finished,
            listen=address,
            wait=wait,
            on_listen=on_listen,
        )
    except KeyboardInterrupt:
        result.status = "interrupted"
        result.seconds = time.perf_counter() - start
        save_sweep(store, result)
        raise
    result.status = "done"
    result.seconds = time.perf_counter() - start
    save_sweep(store, result)
    return result


def _plain(options: Mapping[str, Any]) -> dict[str, Any]:
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in options.items()}
