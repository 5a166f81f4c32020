"""The `zoo runs` and `zoo evaluate` subcommands: what the store holds of an entry and how
a version scores on its test split. Their parsers are built in `zoo.cli`.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from zoo import config as zconfig
from zoo.registry import get_spec
from zoo.store import Store


def cmd_runs(args: argparse.Namespace, store: Store) -> int:
    """`zoo runs [NAME]`: every stored version with its status, config, test metrics and
    how it compares with its best baseline (`--json`: the same as JSON).

    Example:
        >>> cmd_runs(argparse.Namespace(name="mlp-cancer", json=False), Store())
        version ...mlp-cancer@1 ...
        0
    """
    import zoo
    from zoo.card import origin_text
    from zoo.cli import _metric_line, _print_table
    from zoo.summary import comparison, interval_text, number_text

    runs = zoo.runs(args.name, store=store)
    if args.json:
        print(json.dumps([_run_dict(r) for r in runs], indent=2, default=str))
        return 0
    if not runs:
        print(f"no stored versions{' of ' + args.name if args.name else ''} in {store.root}")
        return 0
    rows = []
    for r in runs:
        summary = origin_text(r.config)  # an imported model or an ensemble
        if r.config and not summary:
            summary = zconfig.TrainConfig.from_dict(r.config).summary()
        task = get_spec(r.name).task
        metrics = _metric_line(task, r.metrics) if r.status == "ok" else r.reason
        status = f"{r.status} (!)" if r.warnings else r.status
        vs = comparison(r.metrics) if r.status == "ok" else None
        versus = "-"
        if vs:
            acc = vs["metric"] == "accuracy"
            versus = (
                f"{vs['verdict']}: {vs['baseline']} {vs['metric']} "
                f"{number_text(vs['difference'], signed=True, accuracy=acc)} "
                f"{interval_text(vs['difference_interval'], signed=True, accuracy=acc)}"
            )
        rows.append([r.ref, status, r.created[:19], summary, metrics, versus])
    header = ["version", "status", "created", "config", "test metrics", "model - best baseline"]
    _print_table(header, rows)
    warned = [(r.ref, w) for r in runs for w in r.warnings]
    if warned:
        print()
    for ref, warning in warned:
        print(f"(!) {ref}: {warning}")
    return 0


def _run_dict(run: Any) -> dict[str, Any]:
    return {
        "ref": run.ref,
        "status": run.status,
        "reason": run.reason,
        "created": run.created,
        "config": run.config,
        "metrics": run.metrics,
        "warnings": list(run.warnings),
    }


def cmd_evaluate(args: argparse.Namespace, store: Store) -> int:
    """`zoo evaluate REF`: the version's test metrics recomputed now, its stored baseline
    comparison, per-class metrics and confusion matrix (`--json`: the metrics).

    Example:
        >>> cmd_evaluate(argparse.Namespace(ref="mlp-cancer@1", json=False), Store())
        mlp-cancer@1 on its test split (86 samples): ...
        0
    """
    from zoo.cli import _metric_line, _print_table
    from zoo.trained import load_trained
    from zoo.training import evaluate_trained

    m = load_trained(args.ref, store)
    metrics = evaluate_trained(m)
    if m.origin and m.origin.get("method") == "vote":  # scored by the members' vote
        from zoo.ensembles import member_outputs, vote
        from zoo.evaluation import test_split_metrics

        x = m.dataset()
        metrics = test_split_metrics(x, m.task, vote(member_outputs(m.model, x.x_test)))
    if args.json:
        print(json.dumps(metrics, indent=2, default=str))
        return 0
    print(f"{m.ref} on its test split ({metrics.get('n_test', '?')} samples):")
    print("  " + _metric_line(m.task, metrics))
    from zoo.summary import comparison

    vs = comparison(m.metrics)
    if vs:
        print(f"  vs baseline (stored with the version): {vs['text']}")
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
