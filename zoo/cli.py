"""The `zoo` command: list, describe, train, runs, evaluate, explain, report, dashboard.

Heavy libraries load only in the subcommands that need them, so `zoo --help` and
`zoo list` answer at once. Every `ZooError` is printed as one clear line (exit code 2);
tracebacks are for bugs only.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from zoo import config as zconfig
from zoo.errors import ZooError
from zoo.registry import default_order, get_spec
from zoo.store import Store

# Flags that read better spelled differently from the field name.
_HELP = {
    "loss": "any Keras loss name (categorical_crossentropy, mean_squared_error, huber, ...)",
    "optimizer": "any Keras optimizer name (adam, sgd, rmsprop, adamw, ...)",
    "learning_rate": "initial learning rate",
    "momentum": "momentum (sgd, rmsprop)",
    "schedule": f"learning-rate schedule: {', '.join(zconfig.SCHEDULES)}",
    "activation": "hidden-layer activation: any Keras name (relu, tanh, gelu, elu, ...)",
    "l1": "L1 kernel regularization factor on every layer that takes one",
    "l2": "L2 kernel regularization factor on every layer that takes one",
    "dropout": "dropout rate (0 = off)",
    "batch_norm": "batch normalization after each hidden layer",
    "early_stopping": "early-stopping patience in epochs (0 = off); best weights restored",
    "monitor": "quantity early stopping watches (val_loss, val_accuracy, ...)",
    "filters": "CNN filters per conv block, comma-separated (e.g. 32,64)",
    "dense_units": "dense layer sizes, comma-separated (e.g. 64,32)",
    "augment": "random shifts/rotations/zooms during training (CNN)",
    "cell": f"recurrent cell: {', '.join(zconfig.CELLS)}",
    "strategy": f"tf.distribute strategy: {', '.join(zconfig.STRATEGIES)}",
    "max_train_samples": "train on a random subset of this size (0 = all)",
    "download": "allow downloading Keras' own datasets (mnist, fashion-mnist)",
}


def _add_train_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("training options (defaults: the entry's own)")
    for name in zconfig.option_names():
        kind = zconfig.option_type(name)
        flag = "--" + name.replace("_", "-")
        helptext = _HELP.get(name, "")
        if kind is bool:
            group.add_argument(
                flag, dest=name, action=argparse.BooleanOptionalAction, default=None, help=helptext
            )
        else:
            group.add_argument(flag, dest=name, default=None, metavar=name.upper(), help=helptext)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the `zoo` command.

    Example:
        >>> build_parser().parse_args(["list"]).command
        'list'
    """
    parser = argparse.ArgumentParser(
        prog="zoo", description="Keras Zoo: train, compare, load and explain Keras models."
    )
    parser.add_argument(
        "--store", default=None, help="model store folder (default: $ZOO_HOME or ~/.local/share)"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    store_flag = argparse.ArgumentParser(add_help=False)
    # Accepted after the subcommand too (`zoo dashboard --store DIR`).
    store_flag.add_argument("--store", default=argparse.SUPPRESS, help=argparse.SUPPRESS)

    p = sub.add_parser(
        "list", parents=[store_flag], help="the zoo table: entries, trained versions, best metric"
    )
    p.add_argument("--all", action="store_true", help="include entries that need a download")
    p.add_argument("--json", action="store_true", help="print JSON")

    p = sub.add_parser(
        "describe", parents=[store_flag], help="an entry's family, task, data and default options"
    )
    p.add_argument("name")

    p = sub.add_parser(
        "train", parents=[store_flag], help="train an entry (or --all) and store a new version"
    )
    p.add_argument("name", nargs="?", help="zoo entry, e.g. cnn-digits")
    p.add_argument("--all", action="store_true", help="train the whole default zoo")
    p.add_argument("--quick", action="store_true", help="the entries' quick settings")
    p.add_argument("--config", type=Path, help="TOML file of options (flags win over it)")
    p.add_argument("--verbose", action="store_true", help="Keras' own progress bar")
    _add_train_options(p)

    p = sub.add_parser(
        "runs", parents=[store_flag], help="stored versions with config summary and test metrics"
    )
    p.add_argument("name", nargs="?")
    p.add_argument("--json", action="store_true", help="print JSON")

    p = sub.add_parser(
        "evaluate", parents=[store_flag], help="recompute the test metrics of one stored version"
    )
    p.add_argument("ref", help="name or name@version")
    p.add_argument("--json", action="store_true", help="print JSON")

    p = sub.add_parser(
        "explain", parents=[store_flag], help="explain one test prediction: print + PNG"
    )
    p.add_argument("ref")
    p.add_argument("--index", type=int, default=0, help="test-split sample index")
    p.add_argument("--out", type=Path, default=None, help="PNG path (default: REF-INDEX.png)")
    p.add_argument("--method", default="auto", help="auto, expected_gradients, gradient, deep")

    p = sub.add_parser(
        "report", parents=[store_flag], help="write a self-contained HTML explainability report"
    )
    p.add_argument("ref")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--samples", type=int, default=6, help="test predictions to explain")

    p = sub.add_parser("dashboard", parents=[store_flag], help="open the Streamlit dashboard")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8501)
    p.add_argument(
        "--no-train", action="store_true", help="do not train the default zoo on an empty store"
    )
    p.add_argument("--headless", action="store_true", help="do not open a browser")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `zoo` console script; returns the exit code.

    Example:
        >>> main(["describe", "mlp-cancer"])  # doctest: +ELLIPSIS
        mlp-cancer: ...
        0
    """
    args = build_parser().parse_args(argv)
    store = Store(args.store)
    try:
        return _COMMANDS[args.command](args, store)
    except ZooError as err:
        print(f"zoo: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("zoo: interrupted; nothing half-written was kept", file=sys.stderr)
        return 130


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
    print(f"\nstore: {store.root}")
    return 0


def _cmd_describe(args: argparse.Namespace, store: Store) -> int:
    import zoo

    info = zoo.describe(args.name)
    print(f"{info['name']}: {info['summary']}")
    print(f"family={info['family']} task={info['task']} dataset={info['dataset']}")
    print("defaults: " + " ".join(f"{k}={v}" for k, v in info["defaults"].items() if k != "model"))
    if info["quick"]:
        print("--quick: " + " ".join(f"{k}={v}" for k, v in info["quick"].items()))
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
    from zoo.training import train

    started = time.perf_counter()
    for i, cfg in enumerate(configs, 1):
        prefix = f"[{i}/{len(configs)}] " if len(configs) > 1 else ""
        print(f"{prefix}training {cfg.model}: {cfg.summary()}", flush=True)
        t0 = time.perf_counter()
        run = train(
            cfg.model,
            store=store,
            config=cfg,
            progress=None if args.verbose else _print_progress(prefix),
            verbose=2 if args.verbose else 0,
        )
        print(
            f"\r{prefix}stored {run.ref} in {time.perf_counter() - t0:.1f}s: "
            f"{_metric_line(run.task, run.metrics)}" + " " * 20,
            flush=True,
        )
        if run.metrics.get("diagnosis", {}).get("message"):
            print(f"{' ' * len(prefix)}fit: {run.metrics['diagnosis']['message']}")
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


def _cmd_runs(args: argparse.Namespace, store: Store) -> int:
    import zoo

    runs = zoo.runs(args.name, store=store)
    if args.json:
        print(json.dumps([_run_dict(r) for r in runs], indent=2, default=str))
        return 0
    if not runs:
        print(f"no stored versions{' of ' + args.name if args.name else ''} in {store.root}")
        return 0
    rows = []
    for r in runs:
        summary = ""
        if r.config:
            summary = zconfig.TrainConfig.from_dict(r.config).summary()
        task = get_spec(r.name).task
        metrics = _metric_line(task, r.metrics) if r.status == "ok" else r.reason
        rows.append([r.ref, r.status, r.created[:19], summary, metrics])
    _print_table(["version", "status", "created", "config", "test metrics"], rows)
    return 0


def _run_dict(run: Any) -> dict[str, Any]:
    return {
        "ref": run.ref,
        "status": run.status,
        "reason": run.reason,
        "created": run.created,
        "config": run.config,
        "metrics": run.metrics,
    }


def _cmd_evaluate(args: argparse.Namespace, store: Store) -> int:
    from zoo.trained import load_trained
    from zoo.training import evaluate_trained

    m = load_trained(args.ref, store)
    metrics = evaluate_trained(m)
    if args.json:
        print(json.dumps(metrics, indent=2, default=str))
        return 0
    print(f"{m.ref} on its test split ({metrics.get('n_test', '?')} samples):")
    print("  " + _metric_line(m.task, metrics))
    if "per_class" in metrics:
        rows = [
            [
                name,
                f"{v['precision']:.3f}",
                f"{v['recall']:.3f}",
                f"{v['f1']:.3f}",
                str(v["support"]),
            ]
            for name, v in metrics["per_class"].items()
        ]
        _print_table(["class", "precision", "recall", "f1", "support"], rows, indent=2)
    if "confusion_matrix" in metrics:
        print("  confusion matrix (rows: true, columns: predicted):")
        for row in metrics["confusion_matrix"]:
            print("   " + " ".join(f"{v:4d}" for v in row))
    return 0


def _cmd_explain(args: argparse.Namespace, store: Store) -> int:
    from explain.cli import explain_command

    return explain_command(
        args.ref, store=store, index=args.index, out=args.out, method=args.method
    )


def _cmd_report(args: argparse.Namespace, store: Store) -> int:
    from explain.cli import report_command

    return report_command(args.ref, store=store, out=args.out, samples=args.samples)


def _cmd_dashboard(args: argparse.Namespace, store: Store) -> int:
    if not args.no_train and not any(r.status == "ok" for r in store.runs()):
        print(f"the store {store.root} is empty: training the default zoo (quick) first")
        ns = argparse.Namespace(
            name=None,
            all=True,
            quick=True,
            config=None,
            verbose=False,
            **{n: None for n in zconfig.option_names()},
        )
        _cmd_train(ns, store)
    app = Path(__file__).resolve().parent.parent / "dashboard" / "app.py"
    env = dict(os.environ, ZOO_HOME=str(store.root))
    cmd = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(app),
        "--server.address",
        args.host,
        "--server.port",
        str(args.port),
        # Streamlit itself detects a machine without a display and stays headless.
        *(["--server.headless", "true"] if args.headless else []),
        "--server.maxUploadSize",
        "5",
        "--browser.gatherUsageStats",
        "false",
        "--global.developmentMode",
        "false",
        # Tracebacks go to the server log, never to the page.
        "--client.showErrorDetails",
        "none",
        "--client.toolbarMode",
        "viewer",
        "--server.fileWatcherType",
        "none",
        # A full gc after every rerun walks ~540k TensorFlow/shap objects: ~0.3 s per click.
        "--runner.postScriptGC",
        "false",
    ]
    print(f"dashboard: http://{args.host}:{args.port}  (store: {store.root})", flush=True)
    # Become the server process, so Ctrl-C and SIGTERM reach Streamlit directly.
    os.execve(sys.executable, cmd, env)
    return 0  # not reached


def _print_table(header: list[str], rows: list[list[str]], indent: int = 0) -> None:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=False)]
    pad = " " * indent
    print(pad + "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=False)))
    print(pad + "  ".join("-" * w for w in widths))
    for row in rows:
        print(pad + "  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=False)))


_COMMANDS = {
    "list": _cmd_list,
    "describe": _cmd_describe,
    "train": _cmd_train,
    "runs": _cmd_runs,
    "evaluate": _cmd_evaluate,
    "explain": _cmd_explain,
    "report": _cmd_report,
    "dashboard": _cmd_dashboard,
}

if __name__ == "__main__":
    sys.exit(main())
