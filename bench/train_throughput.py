"""Training throughput per Keras backend: `zoo.train` against a plain hand-written `model.fit`.

For cnn-digits and gru-digits, one child process per backend (`KERAS_BACKEND=tensorflow`,
`jax`) times, on the same data, batch size and epochs:

- a plain `model.fit` of the entry's architecture, compiled with Keras' defaults, at
  `steps_per_execution` 1 and 32 (the best counts). For cnn-digits twice: with the
  augmentation layers inside the model (what a hand-written Keras model does; the zoo
  did too before issue 11) and without augmentation (less work: the fastest plain fit);
- `zoo.train` with the entry's defaults (early stopping off), whose ratio to the fastest
  plain fit is the goal on the backend `zoo train` picks (auto); for the other default
  entries (lstm-digits, lstm-co2, mlp-cancer, gan-digits) `zoo.train` alone, which says
  which backend trains each family fastest (`zoo.backend.FASTEST`).

Steady state: epochs 2..N end to end, every callback included (the first epoch, which
traces or compiles, is reported apart). Each figure is the median of `--rounds` rounds
that interleave the plain fits and `zoo.train` (a drift of the machine's speed weighs on
both; the best of two rounds, used before, moved the gru-digits ratio by 0.96-0.98 from
run to run). Writes
bench/results/train_throughput.json with samples/s per backend and the ratio
"zoo.train on the default backend / fastest plain fit of any backend".

    python bench/train_throughput.py [--epochs 6] [--rounds 5]
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
# The other default entries: `zoo.train` only, to pick each family's backend (zoo.backend).
OTHERS = ("lstm-digits", "lstm-co2", "mlp-cancer", "gan-digits")
DEFAULT_BACKEND = "tensorflow"  # Keras' (and the zoo's, KERAS_BACKEND unset) process default
GOAL = (
    "zoo.train on the backend `zoo train` picks (auto: zoo.backend.FASTEST per family) "
    ">= 1.0x the fastest plain fit of any backend"
)


def _timer(keras, ends: list[float]):
    class Timer(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            ends.append(time.perf_counter())

    return Timer()


def _steady(n: int, start: float, ends: list[float]) -> dict:
    # Epochs 2..N, end to end: each epoch's own time plus every callback around it (the
    # zoo's history, TensorBoard log and resume backup included), as a user waits for it.
    return {
        "samples_per_s": n * (len(ends) - 1) / (ends[-1] - ends[0]),
        "first_epoch_s": ends[0] - start,
    }


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
    ends: list[float] = []
    start = time.perf_counter()
    model.fit(
        data.x_train,
        data.y_train,
        validation_data=(data.x_val, data.y_val),
        epochs=epochs,
        batch_size=cfg.batch_size,
        callbacks=[_timer(keras, ends)],
        verbose=0,
    )
    return _steady(len(data.x_train), start, ends) | {"wall_s": time.perf_counter() - start}


def zoo_fit(name: str, epochs: int, store: str) -> dict:
    import zoo

    ends: list[float] = []
    start = time.perf_counter()
    # The progress function runs last at every epoch's end, after the zoo's own callbacks.
    no_early_stop = {} if zoo.describe(name)["family"] == "gan" else {"early_stopping": 0}
    run = zoo.train(
        name,
        store=store,
        epochs=epochs,
        **no_early_stop,
        fresh=True,
        progress=lambda *_: ends.append(time.perf_counter()),
    )
    metric = {"classification": "accuracy", "regression": "mse", "generation": "fid_final"}
    key = metric[run.task]
    return _steady(run_samples(run), start, ends) | {
        "wall_s": time.perf_counter() - start,
        f"test_{key}": run.metrics.get(key),
    }


def run_samples(run) -> int:
    # The training samples one epoch sees (a GAN's are its real images).
    return len(run.dataset().x_train)


def worker(epochs: int, rounds: int) -> dict:
    """One backend (the one KERAS_BACKEND names): every timing, the median round of each."""
    import keras

    import zoo

    store = tempfile.mkdtemp(prefix="bench-store-")
    out: dict = {"backend": keras.backend.backend(), "models": {}}
    for name in MODELS:
        cfg = zoo.TrainConfig.for_model(name, epochs=epochs)
        data = zoo.dataset(name)
        row: dict = {"train_samples": len(data.x_train), "batch_size": cfg.batch_size}
        variants = [("plain", False)] + ([("plain_with_aug_layers", True)] if cfg.augment else [])
        runs: dict[tuple[str, int], list[dict]] = {}
        ours: list[dict] = []
        # Rounds interleave the plain fits and zoo.train, so a drift of the machine's
        # speed during the run weighs on both alike; each figure is a median of rounds.
        for _ in range(rounds):
            for key, augment in variants:
                for spe in (1, 32):
                    run = plain_fit(name, cfg, data, epochs, augment, spe) | {"spe": spe}
                    runs.setdefault((key, spe), []).append(run)
            ours.append(zoo_fit(name, epochs, store))
        for key, _ in variants:
            medians = {spe: _median(runs[key, spe]) for spe in (1, 32)}
            best = max(medians, key=lambda spe: medians[spe]["samples_per_s"])
            row[key] = medians[best] | {"spe": best}
            row[key + "_all"] = {
                f"spe_{spe}": [round(r["samples_per_s"], 1) for r in runs[key, spe]]
                for spe in (1, 32)
            }
        row["zoo_train"] = _median(ours)
        row["zoo_train_all"] = [round(r["samples_per_s"], 1) for r in ours]
        out["models"][name] = row
    for name in OTHERS:
        ours = [zoo_fit(name, epochs, store) for _ in range(rounds)]
        out["models"][name] = {
            "zoo_train": _median(ours),
            "zoo_train_all": [round(r["samples_per_s"], 1) for r in ours],
        }
    loads = []
    for _ in range(5):
        start = time.perf_counter()
        zoo.load("cnn-digits", store=store)
        loads.append(time.perf_counter() - start)
    out["zoo_load_s_median"] = sorted(loads)[2]
    return out


def _median(runs: list[dict]) -> dict:
    # The run of median speed (the lower middle one of an even count), whole: its
    # first-epoch time and test metric stay those of the same run.
    ordered = sorted(runs, key=lambda r: r["samples_per_s"])
    return ordered[(len(ordered) - 1) // 2]


def _per_round(rows: dict, auto: str) -> list[float]:
    zoo_rounds = rows[auto]["zoo_train_all"]
    plain = {b: rows[b]["plain_all"] for b in BACKENDS}
    if not all(isinstance(p, dict) for p in plain.values()):
        return []  # a results file of the former best-of-rounds format
    return [
        round(z / max(runs[i] for p in plain.values() for runs in p.values()), 3)
        for i, z in enumerate(zoo_rounds)
    ]


def summarize(per_backend: dict) -> dict:
    """Per entry: samples/s per backend, the backend auto picks and the goal's ratios."""
    from zoo.backend import FASTEST
    from zoo.registry import get_spec

    summary = {}
    for name in MODELS:
        rows = {b: per_backend[b]["models"][name] for b in BACKENDS}
        same_work = (
            "plain_with_aug_layers" if "plain_with_aug_layers" in rows[BACKENDS[0]] else "plain"
        )
        fastest = max(BACKENDS, key=lambda b: rows[b][same_work]["samples_per_s"])
        fastest_any = max(BACKENDS, key=lambda b: rows[b]["plain"]["samples_per_s"])
        auto = FASTEST.get(get_spec(name).family, DEFAULT_BACKEND)
        zoo_auto = rows[auto]["zoo_train"]["samples_per_s"]
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
            "auto_backend": auto,
            "ratio_zoo_auto_over_fastest_plain_same_work": round(
                zoo_auto / rows[fastest][same_work]["samples_per_s"], 3
            ),
            "ratio_zoo_auto_over_fastest_plain_any": round(
                zoo_auto / rows[fastest_any]["plain"]["samples_per_s"], 3
            ),
            "ratio_zoo_default_over_fastest_plain_same_work": round(
                zoo_default / rows[fastest][same_work]["samples_per_s"], 3
            ),
            "ratio_zoo_default_over_fastest_plain_any": round(
                zoo_default / rows[fastest_any]["plain"]["samples_per_s"], 3
            ),
            "fastest_zoo_train": max(BACKENDS, key=lambda b: rows[b]["zoo_train"]["samples_per_s"]),
            # Round by round: zoo.train on the auto backend over the fastest plain fit of
            # the same round number (back to back on the auto backend; the other backend's
            # round ran in its own process, earlier or later).
            "ratio_zoo_auto_over_fastest_plain_any_per_round": _per_round(rows, auto),
        }
    for name in OTHERS:
        rows = {b: per_backend[b]["models"][name]["zoo_train"] for b in BACKENDS}
        summary[name] = {
            "zoo_train_samples_per_s": {b: round(r["samples_per_s"], 1) for b, r in rows.items()},
            "zoo_train_first_epoch_s": {b: round(r["first_epoch_s"], 2) for b, r in rows.items()},
            "fastest_zoo_train": max(BACKENDS, key=lambda b: rows[b]["samples_per_s"]),
            "auto_backend": FASTEST.get(get_spec(name).family, DEFAULT_BACKEND),
        }
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--summarize", action="store_true", help="recompute the summary of the results file"
    )
    args = parser.parse_args()
    if args.summarize:
        result = json.loads(RESULTS.read_text())
        result["summary"] = summarize(result["per_backend"])
        result["goal"] = GOAL
        RESULTS.write_text(json.dumps(result, indent=2) + "\n")
        print(json.dumps(result["summary"], indent=1))
        return
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

    summary = summarize(per_backend)
    result = {
        "benchmark": "train_throughput",
        "default_backend": DEFAULT_BACKEND,
        "epochs": args.epochs,
        "rounds": args.rounds,
        "summary": summary,
        "per_backend": per_backend,
        "goal": GOAL,
        "note": "steady state: epochs 2..N end to end, every callback included; each "
        "figure the median of `rounds` interleaved rounds (plain fits and zoo.train "
        "alternate); ratios compare runs of one invocation",
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
