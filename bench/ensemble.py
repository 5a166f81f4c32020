"""Ensemble gain: does averaging several zoo models beat the best of them?

Trains N members of one entry (default: cnn-digits with its --quick settings) that differ
in their architecture and regularization options, stores the mean and the majority-vote
ensemble of them (`zoo.ensemble`), and writes each member's test accuracy, the
ensembles' and the gain over the best member with its paired 95 % bootstrap interval
(`zoo.intervals.paired_difference`, 1,000 resamples of the shared test split) to
bench/results/ensemble.json.

All members share the config's `seed`, because in this zoo the seed also draws the
train / validation / test split: members with other seeds would be tested on samples
another member trained on. Their diversity comes from the options below instead.

    python bench/ensemble.py [--entry cnn-digits] [--members 4] [--full] [--store DIR]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from _common import header, store_or_temporary, write_results  # bench/ is on sys.path

import zoo

RESULTS = Path(__file__).resolve().parent / "results"

# What makes the members differ (the seed, and with it the split, is shared).
VARIANTS: dict[str, list[dict[str, Any]]] = {
    "cnn-digits": [
        {},
        {"activation": "elu"},
        {"filters": (24, 48), "dropout": 0.2},
        {"dense_units": (128,), "learning_rate": 2e-3},
        {"activation": "gelu", "l2": 1e-3},
    ],
    "mlp-cancer": [
        {},
        {"dense_units": (32,)},
        {"activation": "tanh"},
        {"dense_units": (16, 8), "dropout": 0.1},
        {"l2": 1e-3, "learning_rate": 3e-3},
    ],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entry", default="cnn-digits", choices=sorted(VARIANTS))
    parser.add_argument("--members", type=int, default=4)
    parser.add_argument("--full", action="store_true", help="full settings, not --quick")
    parser.add_argument("--store", help="store folder (default: a temporary one)")
    parser.add_argument("--out", default=str(RESULTS / "ensemble.json"))
    args = parser.parse_args()
    variants = VARIANTS[args.entry][: args.members]
    result: dict[str, Any] = header("ensemble", {"zoo": zoo})
    result |= {"entry": args.entry, "settings": "full" if args.full else "quick"}
    with store_or_temporary(args.store, "zoo-ensemble-") as store:
        members = []
        for options in variants:
            t0 = time.perf_counter()
            run = zoo.train(args.entry, store=store, quick=not args.full, **options)
            seconds = time.perf_counter() - t0
            members.append(
                {
                    "ref": run.ref,
                    "options": {k: list(v) if isinstance(v, tuple) else v
                                for k, v in options.items()},
                    "accuracy": run.metrics["accuracy"],
                    "interval": run.metrics["intervals"]["metrics"]["accuracy"],
                    "seconds": round(seconds, 1),
                }
            )  # fmt: skip
            print(f"{run.ref} {options}: accuracy {run.metrics['accuracy']:.4f} ({seconds:.0f}s)")
        result["members"] = members
        refs = [m["ref"] for m in members]
        for method in ("mean", "vote"):
            t0 = time.perf_counter()
            e = zoo.ensemble(f"{args.entry}-{method}", refs, method=method, store=store)
            record = e.metrics["ensemble"]
            result[method] = {
                "ref": e.ref,
                "accuracy": e.metrics["accuracy"],
                "interval": e.metrics["intervals"]["metrics"]["accuracy"],
                "best_member": record["best_member"],
                "best_member_accuracy": record["best_member_value"],
                "gain": record["gain"],
                "gain_interval_paired_95": record["gain_interval"],
                "verdict": record["verdict"],
                "vs_best_baseline": e.metrics.get("vs_baseline"),
                "seconds": round(time.perf_counter() - t0, 1),
            }
            print(
                f"{method}: accuracy {e.metrics['accuracy']:.4f}, gain over "
                f"{record['best_member']} {record['gain']:+.4f} {record['gain_interval']}: "
                f"{record['verdict']}"
            )
    result["note"] = (
        "members share the seed (it also draws the split); they differ in the options "
        "listed; the gain's interval is the paired bootstrap of ensemble - best member "
        "over the shared test split (the best member is picked on that same split, so the "
        "gain is if anything understated)"
    )
    write_results(args.out, result)


if __name__ == "__main__":
    main()
