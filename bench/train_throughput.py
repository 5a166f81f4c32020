"""Training throughput per Keras backend: `zoo.train` against a plain hand-written `model.fit`.

For cnn-digits and gru-digits, one child process per backend (`KERAS_BACKEND=tensorflow`,
`jax`) times, on the same data, batch size and epochs:

- a plain `model.fit` of the entry's architecture, compiled with Keras' defaults, at
  `steps_per_execution` 1 and 32 (the best counts). For cnn-digits twice: with the
  augmentation layers inside the model (what a hand-written Keras model does; the zoo
  did too before issue 11) and without augmentation (less work: the fastest plain fit);
- `zoo.train` with the entry's defaults (early stopping off), augmentation in the input
  pipeline.

Steady state: the first epoch (tracing / compilation) is left out. Writes
bench/results/train_throughput.json with samples/s per backend and the ratio
"zoo.train on the default backend / fastest plain fit of any backend".

    python bench/train_throughput.py [--epochs 6] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import machine  # bench/ is on sys.path when run as a script

RESULTS = Path(__file__).resolve().parent / "results" / "train_throughput.json"
BACKENDS = ("tensorflow", "jax")
MODELS = ("cnn-digits", "gru-digits")
DEFAULT_BACKEND = "tensorflow"


def _timer(keras, times: list[float]):
    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.t = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - self.t)

    return Timer()


def _plain_model(name: str, cfg, data, augment: bool):
    import keras

    from zoo.models.cnn import augmentation, build_cnn
    from zoo.models.rnn import from_config as rnn_from_config

    if name == "gru-digits":
        return rnn_from_config(cfg, data)
    model = build_cnn(
        data.input_shape,
        10,
        filters=cfg.filters,
        dense_units=cfg.dense_units,
        dropout=cfg.dropout,
        batch_norm=cfg.batch_norm,
    )
    if not augment:
        return model
    # The hand-written way: Keras' preprocessing layers inside the model.
    inputs = keras.Input(data.input_shape)
    return keras.Model(inputs, model(augmentation(cfg.seed)(inputs)))


def plain_fit(name: str, cfg, data, epochs: int, augment: bool, spe: int) -> dict:
    """What a user writes by hand: build, compile with defaults, fit."""
    import keras

    keras.utils.set_random_seed(cfg.seed)
    model = _plain_model(name, cfg, data, augment)
    model.compile(
        optimizer=keras.optimizers.Adam(cfg.learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        steps_per_execution=spe,
    )
    times: list[float] = []
    start = time.perf_counter()
    model.fit(
        data.x_train,
        data.y_train,
        validation_data=(data.x_val, data.y_val),
        epochs=epochs,
        batch_size=cfg.batch_size,
        callbacks=[_timer(keras, times)],
        verbose=0,
    )
    return {
        "samples_per_s": len(data.x_train) * (epochs - 1) / sum(times[1:]),
        "first_epoch_s": times[0],
        "wall_s": time.perf_counter() - start,
    }


def zoo_fit(name: str, epochs: int, store: str) -> dict:
    import zoo

    start = time.perf_counter()
    run = zoo.train(name, store=store, epochs=epochs, early_stopping=0, fresh=True)
    times = run.history["epoch_time"]
    return {
        "samples_per_s": len(run.dataset().x_train) * (epochs - 1) / sum(times[1:]),
        "first_epoch_s": times[0],
        "wall_s": time.perf_counter() - start,
        "test_accuracy": run.metrics["accuracy"],
    }


def worker(epochs: int, rounds: int) -> dict:
    """One backend (the one KERAS_BACKEND names): every timing, best round of each."""
    import keras

    import zoo

    store = tempfile.mkdtemp(prefix="bench-store-")
    out: dict = {"backend": keras.backend.backend(), "models": {}}
    for name in MODELS:
        cfg = zoo.TrainConfig.for_model(name, epochs=epochs)
        data = zoo.dataset(name)
        row: dict = {"train_samples": len(data.x_train), "batch_size": cfg.batch_size}
        variants = [("plain", False)] + ([("plain_with_aug_layers", True)] if cfg.augment else [])
        for key, augment in variants:
            runs = [
                plain_fit(name, cfg, data, epochs, augment, spe) | {"spe": spe} for spe in (1, 32)
            ]
            row[key] = max(runs, key=lambda r: r["samples_per_s"])
            row[key + "_all"] = [round(r["samples_per_s"], 1) for r in runs]
        ours = [zoo_fit(name, epochs, store) for _ in range(rounds)]
        row["zoo_train"] = max(ours, key=lambda r: r["samples_per_s"])
        row["zoo_train_all"] = [round(r["samples_per_s"], 1) for r in ours]
        out["models"][name] = row
    loads = []
    for _ in range(5):
        start = time.perf_counter()
        zoo.load("cnn-digits", store=store)
        loads.append(time.perf_counter() - start)
    out["zoo_load_s_median"] = sorted(loads)[2]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.epochs, args.rounds)))
        return
    per_backend = {}
    for backend in BACKENDS:  # one after the other: they share the CPU otherwise
        start = time.perf_counter()
        proc = subprocess.run(
            [
                sys.executable,
                __file__,
                "--worker",
                f"--epochs={args.epochs}",
                f"--rounds={args.rounds}",
            ],
            env={**os.environ, "KERAS_BACKEND": backend},
            capture_output=True,
            text=True,
            check=True,
        )
        per_backend[backend] = json.loads(proc.stdout.strip().splitlines()[-1])
        per_backend[backend]["process_wall_s"] = round(time.perf_counter() - start, 1)
        print(f"{backend}: done in {per_backend[backend]['process_wall_s']} s", flush=True)

    summary = {}
    for name in MODELS:
        rows = {b: per_backend[b]["models"][name] for b in BACKENDS}
        same_work = (
            "plain_with_aug_layers" if "plain_with_aug_layers" in rows[BACKENDS[0]] else "plain"
        )
        fastest = max(BACKENDS, key=lambda b: rows[b][same_work]["samples_per_s"])
        fastest_any = max(BACKENDS, key=lambda b: rows[b]["plain"]["samples_per_s"])
        zoo_default = rows[DEFAULT_BACKEND]["zoo_train"]["samples_per_s"]
        summary[name] = {
            "samples_per_s": {
                b: {
                    "plain_fit": round(rows[b]["plain"]["samples_per_s"], 1),
                    **(
                        {
                            "plain_fit_aug_layers_in_model": round(
                                rows[b][same_work]["samples_per_s"], 1
                            )
                        }
                        if same_work != "plain"
                        else {}
                    ),
                    "zoo_train": round(rows[b]["zoo_train"]["samples_per_s"], 1),
                }
                for b in BACKENDS
            },
            "fastest_plain_fit_same_work": fastest,
            "ratio_zoo_default_over_fastest_plain_same_work": round(
                zoo_default / rows[fastest][same_work]["samples_per_s"], 3
            ),
            "ratio_zoo_default_over_fastest_plain_any": round(
                zoo_default / rows[fastest_any]["plain"]["samples_per_s"], 3
            ),
            "fastest_zoo_train": max(BACKENDS, key=lambda b: rows[b]["zoo_train"]["samples_per_s"]),
        }
    result = {
        "benchmark": "train_throughput",
        "default_backend": DEFAULT_BACKEND,
        "epochs": args.epochs,
        "rounds": args.rounds,
        "summary": summary,
        "per_backend": per_backend,
        "goal": "zoo.train on the default backend >= 1.0x the fastest plain fit of any backend",
        "note": "steady state (epoch 1 left out); the 2 cores were shared with other jobs, "
        "so absolute figures are noisy; ratios compare runs of one invocation",
        "machine": machine(),
        "date": time.strftime("%Y-%m-%d"),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    for name, row in summary.items():
        print(name, json.dumps(row))
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
