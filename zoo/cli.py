"""The `zoo` command: list, describe, train, runs, evaluate, plus registered commands.

`zoo` sits at the bottom of the layers and never imports the packages above it. Commands
that need them (explanations, reports, the web UI) are registered by those packages
through entry points in the `keras_zoo.commands` group of their `pyproject.toml`:

    [project.entry-points."keras_zoo.commands"]
    mycommand = "mypackage.cli:register"

`register(commands, parents)` adds one subparser named like the entry point to
`commands` (parents carry the shared `--store` flag) and sets its handler with
`set_defaults(run=handler)`; `handler(args, store)` returns the exit code. Entry points
load lazily: `zoo list` and the other core commands load none, `zoo explain` loads only
its own, `zoo --help` all (none of them imports TensorFlow at registration). Every
`ZooError` is printed as one clear line (exit code 2), and so is an `OSError` (disk
full, a read-only folder, a file where the store should be), with the path and what to
do; tracebacks are for bugs only.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import json
import os
import sys
import time
from collections.abc import Iterable
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any

from zoo import audit, cli_backend, cli_results
from zoo import config as zconfig
from zoo.errors import ZooError, describe_os_error
from zoo.options import GROUPS
from zoo.registry import default_order
from zoo.store import Store

COMMAND_GROUP = "keras_zoo.commands"
CORE_COMMANDS = (
    *("list", "describe", "train", "runs", "evaluate", "add", "import", "ensemble"),
    *("sweep", "sweeps"),  # zoo.cli_sweeps
    "delete",  # zoo.cli_delete
)


def _option_help(name: str) -> str:
    meta = zconfig.option_spec(name)
    only = f" [{'/'.join(meta.families)} only]" if meta.families else ""
    # argparse expands %-formats in help strings.
    return (meta.describe(name) + only).replace("%", "%%")


def _add_train_options(parser: argparse.ArgumentParser) -> None:
    groups = {
        title: parser.add_argument_group(f"training options: {title.lower()}") for title in GROUPS
    }
    for name in zconfig.option_names():
        group = groups[zconfig.option_spec(name).group]
        flag = "--" + name.replace("_", "-")
        if zconfig.option_type(name) is bool:
            group.add_argument(
                flag,
                dest=name,
                action=argparse.BooleanOptionalAction,
                default=None,
                help=_option_help(name),
            )
        else:
            group.add_argument(
                flag, dest=name, default=None, metavar=name.upper(), help=_option_help(name)
            )


def build_parser(commands: Iterable[str] | None = None) -> argparse.ArgumentParser:
    """The argument parser of the `zoo` command.

    `commands` names the registered (entry-point) commands to load; None loads all.

    Example:
        >>> build_parser().parse_args(["list"]).command
        'list'
        >>> "list" in build_parser(commands=()).format_help()
        True
    """
    parser = argparse.ArgumentParser(
        prog="zoo",
        description="Keras Zoo: train, compare, load and explain Keras models.",
    )
    parser.add_argument(
        "--store", default=None, help="model store folder (default: $ZOO_HOME or ~/.local/share)"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    store_flag = argparse.ArgumentParser(add_help=False)
    # Accepted after the subcommand too (`zoo list --store DIR`).
    store_flag.add_argument("--store", default=argparse.SUPPRESS, help=argparse.SUPPRESS)

    p = sub.add_parser(
        "list", parents=[store_flag], help="the zoo table: entries, trained versions, best metric"
    )
    p.add_argument("--all", action="store_true", help="include entries that need a download")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=_cmd_list)

    p = sub.add_parser(
        "describe", parents=[store_flag], help="an entry's family, task, data and default options"
    )
    p.add_argument("name")
    p.set_defaults(run=_cmd_describe)

    p = sub.add_parser(
        "train",
        parents=[store_flag],
        help="train an entry (or --all) and store a new version",
        description="Training options default to the entry's own (zoo describe NAME); "
        "flags win over --config.",
    )
    p.add_argument("name", nargs="?", help="zoo entry, e.g. cnn-digits")
    p.add_argument("--all", action="store_true", help="train the whole default zoo")
    p.add_argument("--quick", action="store_true", help="the entries' quick settings")
    p.add_argument("--config", type=Path, help="TOML file of options (flags win over it)")
    p.add_argument("--verbose", action="store_true", help="Keras' own progress bar")
    p.add_argument(
        "--backend",
        choices=["auto", "tensorflow", "jax"],
        default=None,
        help="Keras backend to train on (default: KERAS_BACKEND if set, else auto: the "
        "fastest measured here for the entry's family; quick runs on tensorflow)",
    )
    p.add_argument(
        "--fresh",
        action="store_true",
        help="start over: drop the backup of a killed run of the same config (by default "
        "it resumes from its last completed epoch)",
    )
    _add_train_options(p)
    from zoo.distribute import add_flags as add_worker_flags

    add_worker_flags(p)  # --workers N, --worker-index, --workers-addresses, --worker-timeout
    p.set_defaults(run=_cmd_train)

    p = sub.add_parser(
        "runs", parents=[store_flag], help="stored versions with config summary and test metrics"
    )
    p.add_argument("name", nargs="?")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=cli_results.cmd_runs)

    p = sub.add_parser(
        "evaluate", parents=[store_flag], help="recompute the test metrics of one stored version"
    )
    p.add_argument("ref", help="name or name@version")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=cli_results.cmd_evaluate)

    p = sub.add_parser(
        "add",
        parents=[store_flag],
        help="add your own data (CSV, image folder, .npz, series) as a zoo entry",
        description="Reads the data once (a bad file fails here, and nothing is written), "
        "then stores the entry in the store (<store>/_entries/NAME.toml). Training flags "
        "become the entry's defaults.",
    )
    p.add_argument("name", help="entry name, e.g. mlp-wine (lowercase, digits, hyphens)")
    p.add_argument("--family", required=True, choices=("mlp", "cnn", "rnn"))
    data = p.add_argument_group("data source (exactly one)")
    data.add_argument("--csv", type=Path, metavar="FILE", help="a CSV/TSV table (with --target)")
    data.add_argument("--images", type=Path, metavar="DIR", help="one sub-folder per class")
    data.add_argument("--npz", type=Path, metavar="FILE", help="x, y (or x_train ... y_test)")
    data.add_argument("--series", type=Path, metavar="FILE", help="a CSV (with --column)")
    data.add_argument("--target", help="table: the column to predict")
    data.add_argument("--task", choices=("classification", "regression"), help="default: detect")
    data.add_argument("--categorical", metavar="COLS", help="table: columns to one-hot encode")
    data.add_argument("--numeric", metavar="COLS", help="table: columns to read as numbers")
    data.add_argument("--drop", metavar="COLS", help="table: columns to leave out")
    data.add_argument("--sep", help="table/series: field separator (default: , or tab for .tsv)")
    data.add_argument("--column", help="series: the numeric column to forecast")
    data.add_argument("--date-column", help="series: a column of dates (optional)")
    data.add_argument("--size", metavar="WxH", help="images: resize to WIDTHxHEIGHT, e.g. 32x32")
    data.add_argument("--color", choices=("grayscale", "rgb"), help="images: default: detect")
    p.add_argument("--summary", default="", help="one line saying what the entry is")
    p.add_argument("--replace", action="store_true", help="overwrite an entry of this name")
    _add_train_options(p)
    p.set_defaults(run=_cmd_add)
    from zoo.cli_versions import add_parsers

    add_parsers(sub, [store_flag])  # `import` and `ensemble`
    from zoo.cli_sweeps import add_parsers as add_sweep_parsers

    add_sweep_parsers(sub, [store_flag])  # `sweep` and `sweeps`
    from zoo.cli_delete import add_parsers as add_delete_parsers

    add_delete_parsers(sub, [store_flag])  # `delete`

    registered = registered_commands()
    for name in registered if commands is None else commands:
        if name in registered:
            _register(registered[name], sub, [store_flag])
    return parser


def registered_commands() -> dict[str, EntryPoint]:
    """The commands installed packages register (entry points), by name; not loaded.

    Example:
        >>> {"explain", "report"} <= set(registered_commands())
        True
    """
    found = {ep.name: ep for ep in entry_points(group=COMMAND_GROUP)}
    return {name: ep for name, ep in found.items() if name not in CORE_COMMANDS}


def _register(ep: EntryPoint, sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    try:
        ep.load()(sub, parents)
        if ep.name in sub.choices:
            return
        problem = f"{ep.value} did not add a {ep.name!r} subcommand"
    except Exception as err:  # a broken plugin must not break the other commands
        problem = f"{ep.value} cannot be loaded: {type(err).__name__}: {err}"
    # Takes any arguments (no flags of its own), so running it reaches the one-line error.
    p = sub.add_parser(ep.name, help=f"(unavailable: {problem})", add_help=False, prefix_chars="+")
    p.add_argument("rest", nargs="*", help=argparse.SUPPRESS)

    def unavailable(args: argparse.Namespace, store: Store) -> int:
        raise ZooError(
            f"the {ep.name!r} command is registered but {problem}; expected an installed "
            "package that provides it; reinstall the project (pip install -e .)"
        )

    p.set_defaults(run=unavailable)


def _command_in(argv: list[str]) -> str | None:
    """The subcommand `argv` asks for; None when help comes first or none is named."""
    tokens = iter(argv)
    for token in tokens:
        if token in ("-h", "--help"):
            return None
        if token == "--store":
            next(tokens, None)
        elif not token.startswith("-"):
            return token
    return None


def _unknown_command(name: str) -> ZooError:
    known = [*CORE_COMMANDS, *registered_commands()]
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return ZooError(
        f"unknown command {name!r}.{hint} Commands: {', '.join(known)}; others come from "
        f"installed packages that register {COMMAND_GROUP!r} entry points "
        "(reinstall the project with pip install -e . if one is missing)"
    )


def _refuse_unknown(
    parser: argparse.ArgumentParser, args: argparse.Namespace, unknown: list[str]
) -> None:
    """argparse's "unrecognized arguments" as one line naming the subcommand, with the
    closest option of that subcommand for each unknown one (`--learning_rate` ->
    `--learning-rate`; argparse printed the top level's usage and no hint). Exits with
    status 2, as argparse does."""
    sub = parser
    for action in parser._subparsers._group_actions if parser._subparsers else []:
        sub = getattr(action, "choices", {}).get(getattr(args, "command", None), parser)
    options = [o for a in sub._actions for o in a.option_strings if o.startswith("--")]
    shown = []
    for token in unknown:
        flag = token.split("=", 1)[0]
        close = difflib.get_close_matches(flag.replace("_", "-"), options, n=1, cutoff=0.75)
        shown.append(
            f"{token} (did you mean {close[0]}?)" if close and flag.startswith("-") else token
        )
    # One line (the subcommand's usage runs to 26 lines for `zoo train`).
    print(
        f"{sub.prog}: error: unrecognized arguments: {' '.join(shown)}; see {sub.prog} --help",
        file=sys.stderr,
    )
    raise SystemExit(2)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `zoo` console script; returns the exit code.

    Example:
        >>> main(["describe", "mlp-cancer"])  # doctest: +ELLIPSIS
        mlp-cancer: ...
        0
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    # The user's KERAS_BACKEND, read before anything here imports Keras through
    # `zoo._tf`, which sets it to tensorflow when it is unset.
    given_backend = os.environ.get("KERAS_BACKEND")
    command = _command_in(argv)
    if command is not None and command not in CORE_COMMANDS:
        if command not in registered_commands():
            print(f"zoo: error: {_unknown_command(command)}", file=sys.stderr)
            return 2
    # Core commands load no registered command; another loads only its own.
    wanted = None if command is None else () if command in CORE_COMMANDS else (command,)
    parser = build_parser(wanted)
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        _refuse_unknown(parser, args, unknown)
    args.argv = argv  # a training on another backend reruns the command in a child
    args.given_backend = given_backend
    if args.store is not None and not str(args.store).strip():
        # `--store ""` (an unset shell variable, say) silently meant the default store.
        print(
            "zoo: error: --store is empty; name the store folder, or leave --store out "
            "for $ZOO_HOME (else the default store)",
            file=sys.stderr,
        )
        return 2
    store = Store(args.store)
    try:
        return args.run(args, store)
    except ZooError as err:
        print(f"zoo: error: {_one_line(str(err))}", file=sys.stderr)
        return 2
    except OSError as err:
        # The store turns its own OS errors into StorageError; this catches the rest
        # (an output file, a folder that vanished while it was read).
        print(f"zoo: error: {describe_os_error(err, store.root)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("zoo: interrupted; nothing half-written was kept", file=sys.stderr)
        return 130


def _one_line(text: str) -> str:
    # A message quoting a file's text (a TOML error, an OS message) must not break the
    # one-line promise.
    return " ".join(text.split())


def _cmd_list(args: argparse.Namespace, store: Store) -> int:
    from zoo.summary import zoo_table

    rows = zoo_table(store, include_optional=args.all)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    table = [
        [
            r["name"],
            r["family"],
            r["task"],
            r["dataset"],
            str(r["versions"]),
            r["status"],
            f"{r['metric']}={r['value']:.4g} ({r['best']})" if r["value"] is not None else "-",
        ]
        for r in rows
    ]
    _print_table(["entry", "family", "task", "dataset", "versions", "latest", "best"], table)
    compared = [(r["best"], r["vs_baseline"]["text"]) for r in rows if r.get("vs_baseline")]
    if compared:
        print("\nbest version vs best baseline (test split, 95 % bootstrap intervals):")
        width = max(len(ref) for ref, _ in compared)
        for ref, text in compared:
            print(f"  {ref.ljust(width)}  {text}")
    print(f"\nstore: {store.root}")
    return 0


def _cmd_describe(args: argparse.Namespace, store: Store) -> int:
    import zoo

    info = zoo.describe(args.name)
    print(f"{info['name']}: {info['summary']}")
    print(f"family={info['family']} task={info['task']} dataset={info['dataset']}")
    if info.get("source"):
        print("source: " + " ".join(f"{k}={v}" for k, v in info["source"].items()))
    print("defaults: " + " ".join(f"{k}={v}" for k, v in info["defaults"].items() if k != "model"))
    if info["quick"]:
        print("--quick: " + " ".join(f"{k}={v}" for k, v in info["quick"].items()))
    from zoo.summary import best_run, comparison

    best = best_run(store.runs(info["name"]))
    vs = comparison(best.metrics) if best else None
    if best and vs:
        print(f"best stored version {best.ref}: {vs['text']}")
    return 0


def _cmd_add(args: argparse.Namespace, store: Store) -> int:
    from zoo.entries import add_entry

    spec = add_entry(
        args.name,
        family=args.family,
        csv=args.csv,
        target=args.target,
        images=args.images,
        npz=args.npz,
        series=args.series,
        column=args.column,
        task=args.task,
        categorical=args.categorical or (),
        numeric=args.numeric or (),
        drop=args.drop or (),
        sep=args.sep,
        date_column=args.date_column,
        size=args.size,
        color=args.color,
        summary=args.summary,
        store=store,
        replace=args.replace,
        **_train_options(args),
    )
    audit.cli_record(store.root, "create", spec.name, family=spec.family)
    print(f"added {spec.name}: {spec.summary}")
    print(f"family={spec.family} task={spec.task}; train it with `zoo train {spec.name}`")
    print(f"entry file: {spec.origin}")
    return 0


def _train_options(args: argparse.Namespace) -> dict[str, Any]:
    return {n: getattr(args, n) for n in zconfig.option_names() if getattr(args, n) is not None}


def _cmd_train(args: argparse.Namespace, store: Store) -> int:
    from zoo.config import TrainConfig

    options = _train_options(args)
    if args.all:
        if args.name or args.config:
            raise ZooError("--all trains every default entry; drop the entry name / --config")
        names = default_order()
    elif args.name or args.config:
        names = [args.name] if args.name else []
    else:
        raise ZooError("name an entry to train (see `zoo list`), or pass --all")
    if args.config:
        cfg = TrainConfig.from_toml(args.config, **options)
        if args.name and args.name != cfg.model:
            raise ZooError(f"--config trains {cfg.model!r} but the command names {args.name!r}")
        configs = [cfg]
    else:
        # Validate every config before training anything: a typo fails in a second.
        configs = [TrainConfig.for_model(n, quick=args.quick, **options) for n in names]
    store.ensure_root()  # a store that cannot be written fails now, not after training
    backends = cli_backend.backends_for(args, configs)
    from zoo.distribute import train_from_cli

    # One audit line for a launcher of local workers (the workers themselves write none),
    # naming the version the chief stored, as a one-process training's line does.
    name = configs[0].model
    launched = audit.recording(store.root, "train", name, workers=args.workers)
    with launched if args.workers is not None else contextlib.nullcontext() as line:
        before = set(store.versions(name)) if line is not None else set()
        code = train_from_cli(args, configs, store)
        new = sorted(set(store.versions(name)) - before) if line is not None else []
        if line is not None and new:
            line["target"] = f"{name}@{new[-1]}"
    if code is not None:  # on several workers
        return code
    from zoo.summary import comparison
    from zoo.training import train

    started = time.perf_counter()
    from zoo.backend import recorded

    here = recorded()  # the backend this process trains on
    for i, (cfg, wanted_backend) in enumerate(zip(configs, backends, strict=True), 1):
        # "[i/n] " before each line of a run of several (a child keeps its parent's).
        prefix = cli_backend.line_prefix(i, len(configs))
        if wanted_backend != here:
            code = cli_backend.train_in_child(args, cfg.model, wanted_backend, prefix)
            if code:
                return code
            continue
        print(f"{prefix}training {cfg.model} on {here}: {cfg.summary()}", flush=True)
        t0 = time.perf_counter()
        given = {k: getattr(cfg, k) for k in options}  # the flags, as validated
        given.update({"quick": True} if args.quick else {})
        with audit.recording(store.root, "train", cfg.model, options=given) as line:
            run = train(
                cfg.model,
                store=store,
                config=cfg,
                progress=None if args.verbose else _print_progress(prefix),
                verbose=2 if args.verbose else 0,
                fresh=args.fresh,
            )
            line["target"] = run.ref
        print(
            f"\r{prefix}stored {run.ref} in {time.perf_counter() - t0:.1f}s: "
            f"{_metric_line(run.task, run.metrics)}" + " " * 20,
            flush=True,
        )
        if run.metrics.get("diagnosis", {}).get("message"):
            print(f"{' ' * len(prefix)}fit: {run.metrics['diagnosis']['message']}")
        vs = comparison(run.metrics)
        if vs:
            print(f"{' ' * len(prefix)}vs baseline: {vs['text']}")
    if len(configs) > 1:
        print(f"trained {len(configs)} entries in {time.perf_counter() - started:.0f}s")
    return 0


def _print_progress(prefix: str):
    def show(epoch: int, epochs: int, logs: dict[str, float]) -> None:
        shown = " ".join(
            f"{k}={v:.4g}" for k, v in logs.items() if k in ("loss", "val_loss", "d_loss", "fid")
        )
        if sys.stdout.isatty():
            print(f"\r{prefix}epoch {epoch}/{epochs} {shown}" + " " * 10, end="", flush=True)
        elif epoch == 1 or epoch % 10 == 0:
            print(f"{prefix}epoch {epoch}/{epochs} {shown}", flush=True)

    return show


def _metric_line(task: str, metrics: dict[str, Any]) -> str:
    keys = {
        "classification": ("accuracy", "f1_macro", "roc_auc"),
        "regression": ("mse", "naive_mse", "mae", "r2", "skill"),
        "generation": ("fid_final", "fid_untrained", "fid_ratio"),
    }[task]
    return " ".join(f"{k}={metrics[k]:.4g}" for k in keys if metrics.get(k) is not None)


def _print_table(header: list[str], rows: list[list[str]], indent: int = 0) -> None:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=False)]
    pad = " " * indent
    print(pad + "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=False)))
    print(pad + "  ".join("-" * w for w in widths))
    for row in rows:
        print(pad + "  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=False)))


if __name__ == "__main__":
    sys.exit(main())
