"""Training throughput: `zoo.train` against a plain hand-written `model.fit`.

Same `cnn-digits` architecture, same data, batch size and epochs; both sides alternate
over several rounds in one process and the best round of each counts. Prints samples/s
of each and their ratio and writes bench/results/train_throughput.json.

    python bench/train_throughput.py [--epochs 10] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from _common import machine  # bench/ is on sys.path when run as a script

import zoo
from zoo._tf import keras as _keras
from zoo.models.cnn import build_cnn

RESULTS = Path(__file__).resolve().parent / "results" / "train_throughput.json"


def plain_fit(cfg: zoo.TrainConfig, data, epochs: int) -> dict:
    """What a user writes by hand: build, compile with defaults, fit."""
    keras = _keras()
    keras.utils.set_random_seed(cfg.seed)
    model = build_cnn(
        data.input_shape,
        10,
        filters=cfg.filters,
        dense_units=cfg.dense_units,
        dropout=cfg.dropout,
        batch_norm=cfg.batch_norm,
        augment=cfg.augment,
    )
    model.compile(
        optimizer=keras.optimizers.Adam(cfg.learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    times: list[float] = []

    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.t = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - self.t)

    start = time.perf_counter()
    model.fit(
        data.x_train,
        data.y_train,
        validation_data=(data.x_val, data.y_val),
        epochs=epochs,
        batch_size=cfg.batch_size,
        callbacks=[Timer()],
        verbose=0,
    )
    wall = time.perf_counter() - start
    n = len(data.x_train)
    # The first epoch includes graph tracing on both sides: steady state excludes it.
    return {
        "samples_per_s": n * (epochs - 1) / sum(times[1:]),
        "wall_s": wall,
    }


def zoo_fit(epochs: int, store: str) -> dict:
    start = time.perf_counter()
    run = zoo.train("cnn-digits", store=store, epochs=epochs, early_stopping=0)
    wall = time.perf_counter() - start
    times = run.history["epoch_time"]
    n = len(run.dataset().x_train)
    return {
        "samples_per_s": n * (epochs - 1) / sum(times[1:]),
        "wall_s": wall,
        "test_accuracy": run.metrics["accuracy"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    cfg = zoo.TrainConfig.for_model("cnn-digits", epochs=args.epochs)
    data = zoo.dataset("cnn-digits")
    store = tempfile.mkdtemp(prefix="bench-store-")
    plain, ours = [], []
    for _ in range(args.rounds):
        plain.append(plain_fit(cfg, data, args.epochs))
        ours.append(zoo_fit(args.epochs, store))
    # zoo.load after TensorFlow is imported: verify checksums + safe_mode load.
    load_times = []
    for _ in range(5):
        start = time.perf_counter()
        zoo.load("cnn-digits", store=store)
        load_times.append(time.perf_counter() - start)
    best_plain = max(plain, key=lambda r: r["samples_per_s"])
    best_zoo = max(ours, key=lambda r: r["samples_per_s"])
    ratio = best_zoo["samples_per_s"] / best_plain["samples_per_s"]
    # zoo.train's wall time also covers evaluation, the model card and the atomic save.
    result = {
        "benchmark": "train_throughput",
        "model": "cnn-digits",
        "epochs": args.epochs,
        "batch_size": cfg.batch_size,
        "train_samples": len(data.x_train),
        "rounds": args.rounds,
        "plain_fit_samples_per_s": round(best_plain["samples_per_s"], 1),
        "zoo_train_samples_per_s": round(best_zoo["samples_per_s"], 1),
        "ratio_zoo_over_plain": round(ratio, 3),
        "plain_fit_wall_s": round(min(r["wall_s"] for r in plain), 2),
        "zoo_train_wall_s_incl_eval_and_save": round(min(r["wall_s"] for r in ours), 2),
        "all_rounds_samples_per_s": {
            "plain": [round(r["samples_per_s"], 1) for r in plain],
            "zoo": [round(r["samples_per_s"], 1) for r in ours],
        },
        "zoo_load_s_median": round(sorted(load_times)[len(load_times) // 2], 4),
        "goal": "ratio >= 0.95; zoo.load well under 1 s",
        "machine": machine(),
        "date": time.strftime("%Y-%m-%d"),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"plain model.fit : {result['plain_fit_samples_per_s']:>9.0f} samples/s\n"
        f"zoo.train       : {result['zoo_train_samples_per_s']:>9.0f} samples/s\n"
        f"ratio           : {ratio:.3f} (goal >= 0.95)\n"
        f"zoo.load        : {result['zoo_load_s_median'] * 1000:.0f} ms (median of 5)\n"
        f"wrote {RESULTS}"
    )


if __name__ == "__main__":
    main()
