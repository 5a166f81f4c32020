"""The `zoo sweep` and `zoo sweeps` subcommands: many trainings of one entry, ranked.

`zoo sweep NAME --grid l2=0,1e-4,1e-3 dropout=0,0.3` trains every combination;
`zoo sweep NAME --random l2=1e-5..1e-2:log dropout=0..0.5 optimizer=adam,sgd --trials 8`
draws 8. Training flags (`--epochs 5`, `--quick`) apply to every trial, `--parallel K`
runs K at once. Every trial is validated before the first starts; each prints a line as
it ends, and a table ranked by best validation loss closes the run. `zoo sweep --show
ID` prints a stored sweep's table again; `zoo sweeps` lists the stored sweeps.

Example:
    >>> import argparse
    >>> sub = argparse.ArgumentParser().add_subparsers(dest="command")
    >>> add_parsers(sub, [])
    >>> sorted(sub.choices)
    ['sweep', 'sweeps']
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from zoo.store import Store

GRID_HELP = (
    "every combination of OPTION=V1,V2,... (a list option separates its values with "
    "'|': dense_units=64,32|128)"
)
RANDOM_HELP = (
    "draw --trials N from OPTION=LOW..HIGH (uniform), OPTION=LOW..HIGH:log (log-uniform) "
    "or OPTION=A,B,C (a choice)"
)


def add_parsers(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Add the `sweep` and `sweeps` subparsers (with their handlers) to `sub`.

    Example:
        >>> sub = argparse.ArgumentParser().add_subparsers(dest="command")
        >>> add_parsers(sub, [])
        >>> args = sub.choices["sweep"].parse_args(
        ...     ["mlp-cancer", "--grid", "l2=0,1e-3", "dropout=0,0.3", "--epochs", "2"])
        >>> args.grid, args.epochs, args.parallel
        (['l2=0,1e-3', 'dropout=0,0.3'], '2', 1)
    """
    from zoo.cli import _add_train_options

    p = sub.add_parser(
        "sweep",
        parents=parents,
        help="train an entry over a grid or random sample of options; rank by validation loss",
        description="Every trial is a stored version (metrics, diagnosis, baselines) tagged "
        "with the sweep; all are validated before the first starts; a failed trial is "
        "recorded and the sweep goes on. Examples: zoo sweep mlp-cancer --grid "
        "l2=0,1e-4,1e-3 dropout=0,0.3 --quick; zoo sweep mlp-cancer --random "
        "l2=1e-5..1e-2:log dropout=0..0.5 --trials 8 --parallel 2",
    )
    p.add_argument("name", nargs="?", help="zoo entry, e.g. mlp-cancer")
    space = p.add_mutually_exclusive_group()
    space.add_argument("--grid", nargs="+", metavar="OPTION=VALUES", help=GRID_HELP)
    space.add_argument("--random", nargs="+", metavar="OPTION=RANGE", help=RANDOM_HELP)
    space.add_argument("--show", metavar="ID", help="print a stored sweep's results again")
    p.add_argument("--trials", type=int, metavar="N", help="random search: how many draws")
    p.add_argument(
        "--parallel", type=int, default=1, metavar="K", help="trials at once (worker processes)"
    )
    p.add_argument("--quick", action="store_true", help="start from the entry's quick settings")
    p.add_argument(
        "--sample-seed", type=int, default=0, help="random search: seed of the draws (default 0)"
    )
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.add_argument(
        "--backend",
        choices=["auto", "tensorflow", "jax"],
        default=None,
        help="Keras backend of every trial (default: KERAS_BACKEND if set, else auto: the "
        "fastest measured here for the entry's family; --quick runs on tensorflow); a "
        "--join worker gets the chief's in the command the chief prints",
    )
    cluster = p.add_argument_group(
        "workers on other machines (they share the store, e.g. on a network file system)"
    )
    cluster.add_argument(
        "--listen",
        metavar="HOST:PORT",
        help="the chief serves the trials here (0.0.0.0:7001: every interface); "
        "--parallel K local workers help (0: none)",
    )
    cluster.add_argument(
        "--wait",
        type=float,
        metavar="SECONDS",
        help="with --listen: fail the trials no worker reported after this long",
    )
    cluster.add_argument(
        "--join", metavar="ID", help="work for the running sweep ID (with --chief)"
    )
    cluster.add_argument("--chief", metavar="HOST:PORT", help="the chief's --listen address")
    _add_train_options(p)
    p.set_defaults(run=_cmd_sweep)

    p = sub.add_parser("sweeps", parents=parents, help="the stored sweeps, newest last")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=_cmd_sweeps)


def _cmd_sweep(args: argparse.Namespace, store: Store) -> int:
    from zoo.cli import _train_options
    from zoo.errors import ConfigError
    from zoo.sweeps import load_sweep, sweep

    if args.show:
        result = load_sweep(args.show, store=store)
        return _print_result(result, args.json)
    if args.join or args.chief:
        return _join(args, store)
    if args.wait is not None and not args.listen:
        raise ConfigError("--wait applies to a chief with --listen HOST:PORT; add --listen")
    if not args.name:
        raise ConfigError(
            "name an entry to sweep, e.g. zoo sweep mlp-cancer --grid l2=0,1e-3 (or --show "
            "ID for a stored sweep; `zoo sweeps` lists them)"
        )
    if not (args.grid or args.random):
        raise ConfigError(
            "give a search space: --grid OPTION=V1,V2 ... or --random OPTION=LOW..HIGH ... "
            "--trials N (see zoo sweep --help)"
        )

    def show(done: int, total: int, trial: Any) -> None:
        print(
            f"[{done}/{total}] trial {trial.index}: {trial.options_text()} -> "
            f"{trial.result_text()}",
            flush=True,
        )

    options = _train_options(args)
    from zoo.cli_backend import backend_for_sweep
    from zoo.sweeps import plan

    # Before `plan`, which imports Keras: every trial (local workers too) on this backend.
    on = backend_for_sweep(args, args.name, str(options.get("strategy") or "default"))

    mode, space, chosen, _ = plan(
        args.name,
        grid=args.grid,
        random=args.random,
        trials=args.trials,
        sample_seed=args.sample_seed,
        quick=args.quick,
        options=options,
    )
    what = " x ".join(f"{k} ({v})" for k, v in space.items())
    at_once = f", {min(args.parallel, len(chosen))} at a time" if args.parallel > 1 else ""
    print(
        f"sweep of {args.name}: {len(chosen)} {mode} trials over {what}{at_once}, on {on}",
        flush=True,
    )

    def listening(command: str) -> None:
        here = f" and {args.parallel} local worker(s)" if args.parallel else ""
        print(
            f"serving the trials on {args.listen}{here}; on each worker machine, with "
            f"this store shared as STORE: {command}",
            flush=True,
        )

    result = sweep(
        args.name,
        grid=args.grid,
        random=args.random,
        trials=args.trials,
        parallel=args.parallel,
        quick=args.quick,
        sample_seed=args.sample_seed,
        store=store,
        progress=show,
        listen=args.listen,
        wait=args.wait,
        on_listen=listening,
        **options,
    )
    print()
    return _print_result(result, args.json)


def _join(args: argparse.Namespace, store: Store) -> int:
    from zoo.errors import ConfigError
    from zoo.sweep_engine import join

    if not (args.join and args.chief):
        raise ConfigError(
            "a worker needs both --join ID and --chief HOST:PORT (the chief prints the "
            "command); e.g. zoo --store /shared/zoo sweep --join ID --chief host:7001"
        )
    if args.name or args.grid or args.random or args.listen:
        raise ConfigError(
            "--join takes its trials from the chief; leave out the entry name, --grid, "
            "--random and --listen"
        )
    if args.backend in ("tensorflow", "jax") and "keras" not in sys.modules:
        os.environ["KERAS_BACKEND"] = args.backend  # the chief's, from its printed command
    print(f"working for sweep {args.join} at {args.chief}, into {store.root}", flush=True)
    code = join(store.root, args.join, args.chief)
    print("the chief has no trial left", flush=True)
    return code


def _print_result(result: Any, as_json: bool) -> int:
    from zoo.cli import _print_table

    if as_json:
        print(json.dumps(result.to_dict(), indent=2, default=str))
        return 0
    counts = ", ".join(f"{n} {status}" for status, n in result.counts().items())
    took = f" in {result.seconds:.0f}s" if result.seconds else ""
    print(f"sweep {result.id} ({result.status}{took}): {result.name}, {counts}")
    if result.options:
        print("fixed: " + " ".join(f"{k}={v}" for k, v in result.options.items()))
    rows = []
    for row in result.table():
        metric = row["test metric"]
        rows.append(
            [
                str(row["rank"]),
                " ".join(f"{k}={row[k]}" for k in result.space),
                _num(row["best val loss"]),
                _num(row["gap (val - train)"], signed=True),
                f"{metric} {_num(row['test value'])}" if metric else "-",
                row["verdict"] or "-",
                row["version"] or "-",
            ]
        )
    header = ["rank", "options", "best val loss", "gap", "test metric", "verdict", "version"]
    _print_table(header, rows)
    failed = [t for t in result.ranked() if t.status != "ok"]
    for t in failed:
        print(f"trial {t.index} ({t.options_text()}) {t.status}: {t.reason}")
    best = result.best
    if best is not None:
        print(
            f"best: {best.ref} ({best.options_text()}); `zoo report --sweep {result.id} "
            "--out sweep.html` writes the table and plot as HTML"
        )
    return 0 if best is not None or not result.trials else 1


def _num(value: Any, signed: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value:+.4g}" if signed else f"{value:.4g}"


def _cmd_sweeps(args: argparse.Namespace, store: Store) -> int:
    from zoo.cli import _print_table
    from zoo.sweeps import list_sweeps

    sweeps = list_sweeps(store)
    if args.json:
        print(json.dumps([s.to_dict() for s in sweeps], indent=2, default=str))
        return 0
    if not sweeps:
        print(f"no sweeps in {store.root}; start one with zoo sweep NAME --grid ...")
        return 0
    rows = []
    for s in sweeps:
        best = s.best
        counts = ", ".join(f"{n} {status}" for status, n in s.counts().items())
        rows.append(
            [
                s.id,
                s.status,
                s.mode,
                " ".join(f"{k}={v}" for k, v in s.space.items()),
                counts,
                f"{best.ref} ({_num(best.best_val_loss)})" if best else "-",
            ]
        )
    _print_table(["sweep", "status", "mode", "space", "trials", "best (val loss)"], rows)
    print(f"\nstore: {store.root}; details: zoo sweep --show ID", file=sys.stdout)
    return 0
