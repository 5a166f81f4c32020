"""The `zoo import` and `zoo ensemble` subcommands: versions the zoo did not train.

`zoo import MODEL.keras --data SOURCE [--name NAME]` stores a Keras model trained outside
the zoo (`zoo.imports.import_model`); `zoo ensemble NAME --members a@1,b@2 [--method
mean|vote]` stores an ensemble of stored versions (`zoo.ensembles.ensemble`). Both print
the stored version's test metrics and how it compares (with the best baseline; the
ensemble also with its best member).

Example:
    >>> import argparse
    >>> sub = argparse.ArgumentParser().add_subparsers(dest="command")
    >>> add_parsers(sub, [])
    >>> sorted(sub.choices)
    ['ensemble', 'import']
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from zoo import audit
from zoo.store import Store


def add_parsers(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Add the `import` and `ensemble` subparsers (with their handlers) to `sub`.

    Example:
        >>> sub = argparse.ArgumentParser().add_subparsers(dest="command")
        >>> add_parsers(sub, [])
        >>> sub.choices["ensemble"].parse_args(["e", "--members", "a@1,b@1"]).method
        'mean'
    """
    p = sub.add_parser(
        "import",
        parents=parents,
        help="store a Keras model trained outside the zoo as a version (evaluated, checksummed)",
        description="Loads MODEL.keras with safe_mode=True (custom objects are refused), "
        "checks its input and output against the data, evaluates it on the data's test "
        "split and stores it as a new version of NAME (default imported-<data>).",
    )
    p.add_argument("model", type=Path, help="the .keras file")
    p.add_argument(
        "--data",
        required=True,
        help="a bundled dataset (cancer, digits, co2, ...), a zoo entry (its data and "
        "split), or your file: a CSV (with --target), a series CSV (with --column), an "
        ".npz or an image folder",
    )
    p.add_argument("--name", help="the entry to store it in (default: imported-<data>)")
    p.add_argument("--target", help="CSV data: the column the model predicts")
    p.add_argument("--column", help="series data: the column the model forecasts")
    p.add_argument("--summary", default="", help="one line saying what the entry is")
    p.set_defaults(run=_cmd_import)

    p = sub.add_parser(
        "ensemble",
        parents=parents,
        help="store an ensemble of stored classifiers or forecasters as a version",
        description="Averages the members' outputs in one plain Keras model (saved as "
        "model.keras), scores it on the members' shared test split, and records each "
        "member's score and the gain over the best one.",
    )
    p.add_argument("name", help="the entry to store it in, e.g. mlp-cancer-ensemble")
    p.add_argument("--members", required=True, help="stored versions, e.g. a@1,b@2,c@1")
    p.add_argument(
        "--method",
        choices=("mean", "vote"),
        default="mean",
        help="mean of probabilities (forecasts), or majority vote (classifiers; the mean "
        "model is what is explained)",
    )
    p.add_argument("--summary", default="", help="one line saying what the entry is")
    p.set_defaults(run=_cmd_ensemble)


def _cmd_import(args: argparse.Namespace, store: Store) -> int:
    from zoo.imports import import_model

    m = import_model(
        args.model,
        args.data,
        name=args.name,
        store=store,
        target=args.target,
        column=args.column,
        summary=args.summary,
    )
    audit.cli_record(store.root, "import", m.ref, source=str(args.model), data=args.data)
    print(f"stored {m.ref}: {m.origin['source']} on {m.spec.dataset}")
    _report(m)
    return 0


def _cmd_ensemble(args: argparse.Namespace, store: Store) -> int:
    from zoo.ensembles import ensemble
    from zoo.summary import interval_text, number_text

    m = ensemble(args.name, args.members, method=args.method, store=store, summary=args.summary)
    audit.cli_record(store.root, "ensemble", m.ref, members=args.members, method=args.method)
    e = m.metrics["ensemble"]
    print(f"stored {m.ref}: {args.method} of {', '.join(e['members'])}")
    acc = e["metric"] == "accuracy"
    for ref, value in e["members"].items():
        print(f"  member {ref}: {e['metric']} {number_text(value, accuracy=acc)}")
    print(
        f"  ensemble: {e['metric']} {number_text(e['value'], accuracy=acc)}; vs best member "
        f"{e['best_member']}: {number_text(e['difference'], signed=True, accuracy=acc)} "
        f"{interval_text(e['difference_interval'], signed=True, accuracy=acc)}, {e['verdict']}"
    )
    _report(m)
    return 0


def _report(m: Any) -> None:
    from zoo.summary import comparison

    keys = ("accuracy", "f1_macro", "roc_auc", "mse", "mae", "skill")
    shown = " ".join(f"{k}={m.metrics[k]:.4g}" for k in keys if m.metrics.get(k) is not None)
    print(f"  test metrics: {shown}")
    vs = comparison(m.metrics)
    if vs:
        print(f"  vs baseline: {vs['text']}")
    print(f"  load it with zoo.load({m.ref!r}); explain it with `zoo explain {m.ref}`")
