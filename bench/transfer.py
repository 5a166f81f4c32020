"""Transfer learning gain: a CNN trained on digits 0-4, fine-tuned on 5-9 from few labels.

The source task is scikit-learn's digits 0-4 (every sample), the target task digits 5-9
with only `--shots` labelled examples per class (default 10: 50 images, of which the
zoo's validation split takes 20 % for early stopping), tested on every other 5-9 digit
(about 850). Both tasks are written as user `.npz` files and added as custom entries
(`zoo.add_entry`), so this is the path a user takes. On the same few examples and the
same seeds, four ways to train the same network (cnn-digits' architecture):

- from scratch;
- `init=<source>@1, freeze=all-but-head`: every copied layer (convolutions, batch norms,
  the dense layer) kept fixed; only the new 5-class output layer trains;
- `init=<source>@1, freeze=4`: the two convolution blocks (conv + batch norm) kept
  fixed, the dense layer fine-tuned, the output layer new;
- `init=<source>@1, freeze=none`: every copied layer fine-tuned, the output layer new.

Reports the test accuracy of each over `--seeds` seeds (mean, min, max) and the gain of
the transferred models over scratch, to bench/results/transfer.json.

    python bench/transfer.py [--shots 10] [--seeds 3] [--store DIR]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from _common import header, store_or_temporary, write_results  # bench/ is on sys.path

import zoo

RESULTS = Path(__file__).resolve().parent / "results" / "transfer.json"
# cnn-digits' architecture for both tasks, so that the layers line up by name and shape;
# no augmentation (not what is compared here) and patience for the tiny training set.
ARCH: dict[str, Any] = {
    "filters": (32, 64),
    "dense_units": (64,),
    "dropout": 0.3,
    "batch_norm": True,
    "epochs": 120,
    "early_stopping": 20,
    "batch_size": 16,
}


def write_tasks(folder: Path, shots: int, seed: int = 0) -> tuple[Path, Path]:
    """digits 0-4 (all) and 5-9 (`shots` per class to learn from, the rest to test)."""
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    images = np.round(x.reshape(-1, 8, 8, 1) / 16 * 255).astype(np.uint8)
    source = folder / "digits04.npz"
    np.savez(source, x=images[y < 5], y=y[y < 5])
    rng = np.random.default_rng(seed)
    few = np.concatenate(
        [rng.choice(np.flatnonzero(y == c), shots, replace=False) for c in range(5, 10)]
    )
    rest = np.setdiff1d(np.flatnonzero(y >= 5), few)
    target = folder / "digits59.npz"
    np.savez(target, x_train=images[few], y_train=y[few], x_test=images[rest], y_test=y[rest])
    return source, target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shots", type=int, default=10, help="labelled examples per class")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--store", help="store folder (default: a temporary one)")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args()
    result: dict[str, Any] = header("transfer", {"zoo": zoo})
    with (
        store_or_temporary(args.store, "zoo-transfer-") as store,
        tempfile.TemporaryDirectory() as tmp,
    ):
        source_file, target_file = write_tasks(Path(tmp), args.shots)
        zoo.add_entry(
            "cnn-digits04", family="cnn", npz=source_file, store=store, replace=True, **ARCH
        )
        zoo.add_entry(
            "cnn-digits59", family="cnn", npz=target_file, store=store, replace=True, **ARCH
        )
        t0 = time.perf_counter()
        source = zoo.train("cnn-digits04", store=store)
        print(f"source {source.ref}: accuracy on 0-4 {source.metrics['accuracy']:.4f} "
              f"({time.perf_counter() - t0:.0f}s)")  # fmt: skip
        ways = {
            "scratch": {},
            "transfer, frozen (all-but-head)": {"init": source.ref, "freeze": "all-but-head"},
            # the two conv blocks (conv + batch norm each) kept, the dense layers learn
            "transfer, convolutions frozen (4)": {"init": source.ref, "freeze": "4"},
            "transfer, fine-tuned (none frozen)": {"init": source.ref, "freeze": "none"},
        }
        runs: dict[str, list[dict[str, Any]]] = {way: [] for way in ways}
        for seed in range(args.seeds):
            for way, options in ways.items():
                t0 = time.perf_counter()
                run = zoo.train("cnn-digits59", store=store, seed=seed, **options)
                seconds = time.perf_counter() - t0
                acc = float(run.metrics["accuracy"])
                runs[way].append({"seed": seed, "ref": run.ref, "accuracy": acc,
                                  "epochs": run.metrics["diagnosis"]["epochs_run"],
                                  "seconds": round(seconds, 1)})  # fmt: skip
                print(f"seed {seed} {way:<36} accuracy {acc:.4f} ({seconds:.0f}s)")
        n_test = len(zoo.dataset("cnn-digits59").y_test)
        n_train = len(zoo.dataset("cnn-digits59").y_train)
    summary = {
        way: {
            "mean": statistics.mean(r["accuracy"] for r in rs),
            "min": min(r["accuracy"] for r in rs),
            "max": max(r["accuracy"] for r in rs),
        }
        for way, rs in runs.items()
    }
    scratch = summary["scratch"]["mean"]
    gains = {way: s["mean"] - scratch for way, s in summary.items() if way != "scratch"}
    for way, s in summary.items():
        print(f"{way:<36} mean {s['mean']:.4f} [min {s['min']:.4f}, max {s['max']:.4f}]")
    for way, g in gains.items():
        print(f"gain of {way} over scratch: {g:+.4f}")
    result |= {
        "setup": {
            "source": "sklearn digits 0-4, every sample (zoo splits 70/15/15)",
            "source_accuracy": float(source.metrics["accuracy"]),
            "target": f"sklearn digits 5-9: {args.shots} labelled per class "
            f"({n_train} train + {5 * args.shots - n_train} validation), {n_test} test",
            "architecture": {k: list(v) if isinstance(v, tuple) else v for k, v in ARCH.items()},
            "seeds": args.seeds,
        },
        "runs": runs,
        "accuracy": summary,
        "gain_over_scratch": gains,
    }
    write_results(args.out, result)


if __name__ == "__main__":
    main()
