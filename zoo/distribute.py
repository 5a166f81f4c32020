"""Training one config on several workers: data parallel, one replica per worker process.

On TensorFlow the engine is `tf.distribute.MultiWorkerMirroredStrategy`, configured by
TensorFlow's own `TF_CONFIG`. Every worker runs the same `zoo.training.train` inside the
strategy's scope: the model's variables are mirrored, each global batch (`batch_size`) is
split into one slice per worker, and the gradients are all-reduced, so the workers take
the same steps, in lockstep, that one process would take on the whole batch.

Only the chief (worker 0, or TF_CONFIG's `chief` task) keeps the version: the others train,
evaluate and save into a scratch store that is deleted afterwards, because saving and
evaluating read distributed variables, which every worker has to take part in (the
pattern TensorFlow's multi-worker tutorial prescribes for checkpoints).

- `launch(cfg, store, workers=N)`: the demonstration, N local worker processes on
  127.0.0.1 (free ports), watched: one failing stops the others, all are bounded by a
  timeout (`zoo train NAME --workers N`);
- `run_worker(cfg, store, cluster)`: this process is one worker of a cluster (`zoo train
  NAME --worker-index I --workers-addresses h1:p,h2:p` on each host, or a `TF_CONFIG`),
  stopped by a watchdog after `timeout` seconds.

On JAX the engine is Keras' distribution API over multi-process JAX (`zoo.distribute_jax`:
`keras.distribution.DataParallel`, the chief as JAX's coordinator); the launcher, the
cluster flags, the watchdog and "only the chief stores" are the same.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from zoo.config import TrainConfig
from zoo.errors import ConfigError, ZooError, describe_os_error
from zoo.store import Store

DEFAULT_TIMEOUT = 3600.0
MAX_LOCAL_WORKERS = 8
_ADDRESS = re.compile(r"^\[?[A-Za-z0-9_.:-]+\]?:\d{1,5}$")


class WorkerError(ZooError):
    """A worker of a multi-worker run failed, or the run did not finish in time."""


@dataclasses.dataclass(frozen=True)
class Cluster:
    """One worker's view of the cluster, as TensorFlow's `TF_CONFIG` describes it.

    The chief is TF_CONFIG's `chief` task, else worker 0 (TensorFlow's rule).

    Example:
        >>> c = Cluster.from_addresses("10.0.0.1:2222,10.0.0.2:2222", index=1)
        >>> c.size, c.index, c.is_chief, c.addresses[0]
        (2, 1, False, '10.0.0.1:2222')
    """

    tf_config: Mapping[str, Any]

    @property
    def addresses(self) -> list[str]:
        cluster = self.tf_config["cluster"]
        return [*cluster.get("chief", []), *cluster.get("worker", [])]

    @property
    def size(self) -> int:
        return len(self.addresses)

    @property
    def index(self) -> int:
        task = self.tf_config["task"]
        chiefs = len(self.tf_config["cluster"].get("chief", []))
        return int(task["index"]) + (chiefs if task["type"] == "worker" else 0)

    @property
    def is_chief(self) -> bool:
        task = self.tf_config["task"]
        if "chief" in self.tf_config["cluster"]:
            return task["type"] == "chief"
        return task["type"] == "worker" and int(task["index"]) == 0

    @classmethod
    def from_addresses(cls, addresses: str | Sequence[str], index: int) -> Cluster:
        """The cluster of `--workers-addresses` (every worker, same order on every host).

        Example:
            >>> Cluster.from_addresses(["a:1", "b:1"], 0).tf_config["task"]
            {'type': 'worker', 'index': 0}
        """
        if isinstance(addresses, str):
            addresses = [a.strip() for a in addresses.split(",") if a.strip()]
        bad = [a for a in addresses if not _ADDRESS.match(a)]
        if bad:
            raise ConfigError(
                f"--workers-addresses: {bad[0]!r} is not host:port; expected every worker "
                "as host:port, comma-separated, e.g. host1:2222,host2:2222"
            )
        if len(set(addresses)) != len(addresses):
            raise ConfigError(
                f"--workers-addresses names a worker twice ({','.join(addresses)}); "
                "give each worker its own host:port"
            )
        if len(addresses) < 2:
            raise ConfigError(
                "--workers-addresses names one worker; a cluster needs 2 or more (one "
                "worker is a plain `zoo train NAME`)"
            )
        if not 0 <= index < len(addresses):
            raise ConfigError(
                f"--worker-index {index} is outside the {len(addresses)} workers of "
                f"--workers-addresses; expected 0 (the chief) to {len(addresses) - 1}"
            )
        cluster = {"worker": list(addresses)}
        return cls({"cluster": cluster, "task": {"type": "worker", "index": index}})

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Cluster | None:
        """The cluster of the `TF_CONFIG` environment variable; None without one.

        A TF_CONFIG of one worker is no cluster (None).

        Example:
            >>> tf_config = {"cluster": {"worker": ["a:1", "b:1"]},
            ...              "task": {"type": "worker", "index": 1}}
            >>> Cluster.from_env({"TF_CONFIG": json.dumps(tf_config)}).index
            1
            >>> Cluster.from_env({}) is None
            True
        """
        text = (os.environ if env is None else env).get("TF_CONFIG", "").strip()
        if not text:
            return None
        try:
            data = json.loads(text)
            cluster, task = data["cluster"], data["task"]
            jobs = set(cluster) - {"chief", "worker"}
            if jobs or task["type"] not in ("chief", "worker"):
                raise ValueError(f"jobs other than chief/worker: {sorted(jobs) or task['type']}")
            task = {"type": task["type"], "index": task["index"]}
            found = cls({"cluster": cluster, "task": task})
            if not 0 <= int(task["index"]) < len(cluster[task["type"]]):
                raise ValueError(f"task index {task['index']} is outside its job")
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            raise ConfigError(
                f"TF_CONFIG is set but is not a multi-worker config ({err}); expected "
                '{"cluster": {"worker": ["host1:port", ...]}, "task": {"type": "worker", '
                '"index": I}}; fix it or unset TF_CONFIG'
            ) from None
        return found if found.size > 1 else None


# --- what can run on several workers -----------------------------------------------------


def check_supported(cfg: TrainConfig) -> None:
    """Raise a `ConfigError` when `cfg` cannot train on several workers; else nothing.

    Classifiers and the forecaster train on workers; the GAN (its own `train_step`, two
    optimizers, a Fréchet callback) is refused, and so is a `--strategy` of its own (the
    workers bring theirs).

    Example:
        >>> check_supported(TrainConfig.for_model("gan-digits"))
        Traceback (most recent call last):
        ...
        zoo.errors.ConfigError: gan-digits cannot train on several workers: ...
        >>> def refusal(model):  # None when `model` may train on workers here
        ...     try:
        ...         check_supported(TrainConfig.for_model(model))
        ...     except ConfigError as err:
        ...         return str(err).split(";")[0]
        >>> refusal("mlp-cancer") is None  # on TensorFlow and on JAX
        True
    """
    from zoo import backend
    from zoo.registry import get_spec

    if get_spec(cfg.model).task == "generation":
        raise ConfigError(
            f"{cfg.model} cannot train on several workers: the GAN's own train step is not "
            "distributed; train it without --workers (classifiers and forecasters can)"
        )
    if cfg.strategy != "default":
        raise ConfigError(
            f"--strategy {cfg.strategy} and workers do not mix: workers train under "
            "their own distribution (TensorFlow's MultiWorkerMirroredStrategy, or Keras' "
            "DataParallel on JAX); drop --strategy"
        )
    if backend.recorded() not in ("tensorflow", "jax"):
        raise ConfigError(
            f"--workers needs the TensorFlow or JAX backend; Keras runs on "
            f"{backend.recorded()!r}; run with KERAS_BACKEND=tensorflow or jax"
        )


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """`count` distinct TCP ports that are free on `host` now (the OS picks them).

    Example:
        >>> ports = free_ports(2)
        >>> len(set(ports)), all(1024 <= p < 65536 for p in ports)
        (2, True)
    """
    # All bound at once, so the OS cannot hand out the same port twice.
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for s in sockets:
            s.bind((host, 0))
        return [s.getsockname()[1] for s in sockets]


# --- one worker --------------------------------------------------------------------------


def run_worker(
    cfg: TrainConfig,
    store: Store,
    cluster: Cluster,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    progress: Any = None,
) -> Any:
    """Train `cfg` as one worker of `cluster`; the chief's `TrainedModel`, else None.

    Every worker runs the whole `train` (collectives need all of them); the chief stores
    into `store`, the others into a scratch store that is removed. A multi-worker run
    starts over (`fresh=True`: a backup of one worker alone cannot resume the others)
    and runs one batch per compiled step (`steps_per_execution=1`: TensorFlow cannot run
    collectives in the multi-step loop). A watchdog ends the process with one line after
    `timeout` seconds (a peer that never came up, or a hang).

    Example:
        >>> run_worker.__name__  # trains for real: see launch(), tests/zoo/test_distributed.py
        'run_worker'
    """
    check_supported(cfg)
    stop_watchdog = _watchdog(timeout, f"worker {cluster.index} of {cluster.size}")
    scratch = None if cluster.is_chief else Path(tempfile.mkdtemp(prefix="zoo-worker-"))
    if scratch is not None:
        # Only the chief's version is kept, so only the chief reports it (zoo.tracking).
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    try:
        scope: Any = contextlib.nullcontext()
        from zoo import backend

        if backend.name() == "jax":
            from zoo import distribute_jax

            distribute_jax.initialize(cluster.addresses[0], cluster.size, cluster.index)
        else:
            from zoo import distribute_tf

            scope = distribute_tf.strategy(cluster.tf_config).scope()
            if cfg.steps_per_execution != 1:
                cfg = dataclasses.replace(cfg, steps_per_execution=1)
        from zoo.training import train

        with scope:
            run = train(
                cfg.model,
                store=store if scratch is None else Store(scratch),
                config=cfg,
                fresh=True,
                progress=progress if cluster.is_chief else None,
            )
        return run if cluster.is_chief else None
    finally:
        stop_watchdog()
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


def _watchdog(timeout: float, who: str) -> Callable[[], None]:
    # A collective waiting for a dead or never-started peer blocks in C++: only leaving
    # the process ends it. The line goes to the real stderr, kept now: TensorFlow's
    # import silences file descriptor 2 for a while (zoo._tf).
    try:
        stderr = os.dup(sys.stderr.fileno())
    except (AttributeError, OSError, ValueError):
        stderr = 2
    line = (
        f"zoo: error: {who} did not finish within {timeout:g}s (--worker-timeout); "
        "a worker did not start or stopped answering; stopping\n"
    )

    def expire() -> None:
        os.write(stderr, line.encode())
        os._exit(124)

    timer = threading.Timer(timeout, expire)
    timer.daemon = True
    timer.start()

    def stop() -> None:
        timer.cancel()
        if stderr != 2:
            os.close(stderr)

    return stop


# --- N local workers (the demonstration) -------------------------------------------------


def launch(
    cfg: TrainConfig,
    store: Store,
    workers: int,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    echo: bool = True,
) -> float:
    """Train `cfg` on `workers` local worker processes (127.0.0.1); the seconds it took.

    Each process is the cluster recipe's worker (`python -m zoo.distribute`), on a free
    port. The chief's output is shown (`echo`); the others' is kept in a log. When one
    worker fails the others are stopped and a `WorkerError` names it with the last line
    it printed; so it is after `timeout` seconds. Ctrl-C stops them all.

    Example:
        >>> launch(TrainConfig.for_model("mlp-cancer"), Store(), workers=1)
        Traceback (most recent call last):
        ...
        zoo.errors.ConfigError: --workers 1: expected 2 to 8 local workers; ...
    """
    _check_local(cfg, workers)
    store.ensure_root()
    addresses = ",".join(f"127.0.0.1:{p}" for p in free_ports(workers))
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="zoo-workers-") as tmp:
        folder = Path(tmp)
        config = folder / "config.json"
        config.write_text(json.dumps(cfg.to_dict()))
        env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
        env["TMPDIR"] = tmp  # the scratch stores go here: removed even if a worker is killed
        with _processes() as procs:
            for i in range(workers):
                command = [sys.executable, "-m", "zoo.distribute", str(config), str(store.root)]
                command += [str(i), addresses, str(timeout)]
                with (folder / f"worker-{i}.log").open("w") as log:
                    out = None if (i == 0 and echo) else log
                    procs.append(subprocess.Popen(command, stdout=out, stderr=log, env=env))
            # The workers' own watchdogs fire at `timeout`; this catches one that could not.
            _wait(procs, folder, started + timeout + 60)
    return time.perf_counter() - started


def _check_local(cfg: TrainConfig, workers: int) -> None:
    if not 2 <= workers <= MAX_LOCAL_WORKERS:
        raise ConfigError(
            f"--workers {workers}: expected 2 to {MAX_LOCAL_WORKERS} local workers; "
            "one worker is a plain `zoo train NAME`, a larger cluster is one "
            "`--worker-index` command per host"
        )
    check_supported(cfg)


@contextlib.contextmanager
def _processes() -> Iterator[list[subprocess.Popen]]:
    procs: list[subprocess.Popen] = []
    try:
        yield procs
    finally:
        for proc in procs:  # only ours, by their own handles
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait(procs: list[subprocess.Popen], folder: Path, deadline: float) -> None:
    # Until all are done, one fails (the others are stopped by `_processes`), or time is up.
    while True:
        codes = [p.poll() for p in procs]
        failed = [i for i, code in enumerate(codes) if code not in (None, 0)]
        if failed:
            i, code = failed[0], codes[failed[0]] or 0
            what = (
                f"was killed ({signal.Signals(-code).name})"
                if code < 0 and -code in signal.valid_signals()
                else f"failed (exit code {code}): {_last_line(folder / f'worker-{i}.log')}"
            )
            raise WorkerError(f"worker {i} of {len(procs)} {what}; the other workers were stopped")
        if all(code == 0 for code in codes):
            return
        if time.perf_counter() > deadline:
            raise WorkerError(
                f"the {len(procs)} workers did not finish in time; they were stopped; "
                "raise --worker-timeout or train fewer epochs"
            )
        time.sleep(0.2)


def _last_line(log: Path) -> str:
    lines = [ln.strip() for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("zoo: error:") or "Error" in ln]
    line = (errors or lines or ["(no output)"])[-1]
    return line.removeprefix("zoo: error: ")[:300]


# --- the command line --------------------------------------------------------------------


def add_flags(parser: argparse.ArgumentParser) -> None:
    """Add the multi-worker flags to `zoo train`.

    Example:
        >>> p = argparse.ArgumentParser(); add_flags(p)
        >>> p.parse_args(["--workers", "2"]).workers
        2
    """
    group = parser.add_argument_group(
        "several workers (TensorFlow; README: Training on several workers)"
    )
    group.add_argument(
        "--workers", type=int, metavar="N", help="train on N local worker processes (a demo)"
    )
    group.add_argument(
        "--worker-index", type=int, metavar="I", help="this host's worker in a cluster (0: chief)"
    )
    group.add_argument(
        "--workers-addresses",
        metavar="H:P,...",
        help="every worker's host:port, the same list on every host (else TF_CONFIG)",
    )
    group.add_argument(
        "--worker-timeout",
        type=float,
        metavar="S",
        help=f"stop the workers after S seconds (default {DEFAULT_TIMEOUT:g}; raise it for "
        "long trainings)",
    )


def train_from_cli(
    args: argparse.Namespace, configs: list[TrainConfig], store: Store
) -> int | None:
    """Run `zoo train` on workers when its flags (or TF_CONFIG) ask for it; else None.

    Example:
        >>> args = argparse.Namespace(workers=None, worker_index=None, workers_addresses=None,
        ...                           worker_timeout=None)
        >>> train_from_cli(args, [], Store()) is None
        True
    """
    cluster = _cluster_from_args(args)
    if args.workers is None and cluster is None:
        return None
    if len(configs) != 1:
        raise ConfigError("workers train one entry at a time; drop --all and name one entry")
    cfg = configs[0]
    timeout = args.worker_timeout or DEFAULT_TIMEOUT
    if args.workers is not None:
        _check_local(cfg, args.workers)
        print(f"training {cfg.model} on {args.workers} local workers: {cfg.summary()}", flush=True)
        seconds = launch(cfg, store, args.workers, timeout=timeout)
        print(f"{args.workers} workers finished in {seconds:.1f}s; worker 0 stored the version")
        return 0
    assert cluster is not None
    check_supported(cfg)
    role = "the chief" if cluster.is_chief else "a worker; the chief stores the version"
    print(f"worker {cluster.index} of {cluster.size} ({role}): training {cfg.model}", flush=True)
    run = run_worker(cfg, store, cluster, timeout=timeout, progress=_show_epoch)
    if run is not None:
        from zoo.cli import _metric_line

        print(f"stored {run.ref}: {_metric_line(run.task, run.metrics)}", flush=True)
    return 0


def _cluster_from_args(args: argparse.Namespace) -> Cluster | None:
    index, addresses = args.worker_index, args.workers_addresses
    if args.workers is not None and (index is not None or addresses):
        raise ConfigError(
            "--workers N starts N local workers, --worker-index/--workers-addresses run "
            "one worker of a cluster; pass one or the other"
        )
    if (index is None) != (not addresses):
        given, missing = (
            ("--worker-index", "--workers-addresses")
            if index is not None
            else ("--workers-addresses", "--worker-index")
        )
        raise ConfigError(
            f"{given} needs {missing}: a cluster worker is --worker-index I "
            "--workers-addresses host1:port,host2:port (the same list on every host)"
        )
    if addresses:
        return Cluster.from_addresses(addresses, index)
    cluster = Cluster.from_env() if args.workers is None else None
    if cluster is None and args.worker_timeout is not None and args.workers is None:
        raise ConfigError("--worker-timeout applies to --workers or --worker-index runs")
    return cluster


def _show_epoch(epoch: int, epochs: int, logs: dict[str, float]) -> None:
    shown = " ".join(f"{k}={v:.4g}" for k, v in logs.items() if k in ("loss", "val_loss"))
    print(f"epoch {epoch}/{epochs} {shown}", flush=True)


def main(argv: list[str] | None = None) -> int:
    """A worker started by `launch`: CONFIG_JSON STORE INDEX ADDRESSES TIMEOUT.

    Example:
        >>> main(["/nonexistent.json", "/tmp", "0", "a:1,b:1", "5"])
        2
    """
    config, store, index, addresses, timeout = sys.argv[1:] if argv is None else argv
    try:
        cfg = TrainConfig.from_dict(json.loads(Path(config).read_text()))
        cluster = Cluster.from_addresses(addresses, int(index))
        run = run_worker(cfg, Store(store), cluster, timeout=float(timeout), progress=_show_epoch)
    except (ZooError, OSError) as err:
        text = describe_os_error(err) if isinstance(err, OSError) else " ".join(str(err).split())
        print(f"zoo: error: {text}", file=sys.stderr, flush=True)
        return 2
    if run is not None:
        from zoo.cli import _metric_line

        print(f"stored {run.ref}: {_metric_line(run.task, run.metrics)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
