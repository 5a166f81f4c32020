"""Quality of the default zoo: trains every entry with its full config (or --quick).

Writes each entry's test metrics and baselines to bench/results/zoo_quality.json (the
README's zoo table quotes it) and checks the targets: cnn-digits accuracy >= 0.98,
mlp-cancer accuracy >= 0.96, lstm-co2 beats the naive last-value forecast, gan-digits
final Fréchet distance >= 5x smaller than the untrained generator's.

    python bench/zoo_quality.py [--quick] [--store DIR]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import zoo
from zoo.registry import default_order

RESULTS = Path(__file__).resolve().parent / "results"

TARGETS = {
    "cnn-digits": ("accuracy", ">=", 0.98),
    "mlp-cancer": ("accuracy", ">=", 0.96),
    "lstm-co2": ("skill", ">", 0.0),  # skill = 1 - MSE / naive MSE
    "gan-digits": ("fid_ratio", ">=", 5.0),
}

KEEP = (
    "accuracy",
    "f1_macro",
    "roc_auc",
    "mse",
    "mae",
    "r2",
    "naive_mse",
    "naive_mae",
    "skill",
    "fid_untrained",
    "fid_final",
    "fid_ratio",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="the entries' quick settings")
    parser.add_argument("--store", default=None, help="keep the trained zoo here")
    args = parser.parse_args()
    store = args.store or tempfile.mkdtemp(prefix="zoo-quality-")
    entries = {}
    for name in default_order():
        start = time.perf_counter()
        run = zoo.train(name, store=store, quick=args.quick)
        seconds = time.perf_counter() - start
        metrics = {k: round(run.metrics[k], 5) for k in KEEP if k in run.metrics}
        target = TARGETS.get(name)
        met = None
        if target:
            key, op, bound = target
            value = run.metrics[key]
            met = value >= bound if op == ">=" else value > bound
        entries[name] = {
            "ref": run.ref,
            "metrics": metrics,
            "epochs_run": run.metrics["timing"]["epochs_run"],
            "train_seconds": round(seconds, 1),
            "diagnosis": run.metrics.get("diagnosis", {}).get("verdict"),
            "target": f"{target[0]} {target[1]} {target[2]}" if target else None,
            "target_met": met,
        }
        print(f"{name:12s} {seconds:6.1f}s  {metrics}  target met: {met}", flush=True)
    out = RESULTS / ("zoo_quality_quick.json" if args.quick else "zoo_quality.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    result = {
        "benchmark": "zoo_quality",
        "mode": "quick" if args.quick else "full",
        "date": time.strftime("%Y-%m-%d"),
        "total_seconds": round(sum(e["train_seconds"] for e in entries.values()), 1),
        "entries": entries,
    }
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
