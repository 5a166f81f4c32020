"""The search behind the default zoo's settings (issue 13): does any configuration of an
entry, within the options `TrainConfig` offers, beat its classic baseline?

Random configurations from a per-entry space (the current defaults are trial 0) are each
trained with several initialization seeds on the entry's own split (data seed 0, the split
`zoo train` uses), with the zoo's own builder, compile step, callbacks (early stopping on
the validation loss, best weights restored; the plateau schedule) and, for the CNN, its own
augmentation layers applied to every epoch's training images. Configurations are ranked by
mean **validation** accuracy over the seeds (ties: validation loss): the test split is
scored and written down but never used to choose, so the test accuracy of the chosen
configuration is an honest estimate.

It runs on any Keras backend; many workers in parallel (processes), each pinned to the CPU
or sharing a GPU (`--gpu-workers`; JAX). Results go to `bench/results/tune_<entry>.jsonl`
(one line per training, written as each finishes, so an interrupted run keeps its trials)
and a ranked summary to `bench/results/tune_defaults.json`.

    python bench/tune_defaults.py --entry mlp-cancer --trials 20 --seeds 3 --workers 2
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

# Each entry's search space: every key is a `TrainConfig` option, so whatever wins can
# become the entry's defaults as it is.
SPACES: dict[str, dict[str, list[Any]]] = {
    "cnn-digits": {
        "filters": [(32, 64), (64, 128), (32, 64, 128), (48, 96)],
        "dense_units": [(64,), (128,), (256,)],
        "dropout": [0.1, 0.25, 0.4],
        "l2": [0.0, 1e-4, 1e-3],
        "learning_rate": [1e-3, 2e-3, 4e-3],
        "schedule": ["constant", "cosine", "plateau"],
        "batch_size": [16, 32, 64],
        "epochs": [80, 150],
        "early_stopping": [15, 30],
        "optimizer": ["adam", "adamw"],
    },
    "mlp-cancer": {
        "dense_units": [(8,), (16,), (32,), (64,), (32, 16)],
        "dropout": [0.0, 0.2, 0.4],
        "l2": [0.0, 1e-3, 1e-2, 3e-2],
        "learning_rate": [3e-4, 1e-3, 3e-3],
        "batch_size": [16, 32, 64],
        "epochs": [100, 200],
        "early_stopping": [20, 40],
        "schedule": ["constant", "plateau"],
        "activation": ["relu", "tanh"],
    },
    # The recurrent digit readers (8 rows of 8 pixels as a sequence): same space for both
    # cells; the entry fixes the cell.
    **{
        entry: {
            "units": [32, 64, 128],
            "rnn_layers": [1, 2],
            "dropout": [0.0, 0.2, 0.4],
            "l2": [0.0, 1e-4, 1e-3],
            "learning_rate": [1e-3, 3e-3, 6e-3],
            "schedule": ["constant", "cosine", "plateau"],
            "batch_size": [16, 32, 64],
            "epochs": [100, 200],
            "early_stopping": [20, 40],
            "optimizer": ["adam", "adamw"],
        }
        for entry in ("gru-digits", "lstm-digits")
    },
}


def configurations(entry: str, trials: int, seed: int) -> list[dict[str, Any]]:
    """`trials` distinct option sets: the entry's current defaults first (as `{}`), then
    random draws from its space (seeded, so the same call gives the same list)."""
    space = SPACES[entry]
    rng = random.Random(seed)
    seen: set[str] = set()
    out: list[dict[str, Any]] = [{}]
    total = math.prod(len(v) for v in space.values())
    while len(out) < min(trials, total + 1):
        opts = {k: rng.choice(v) for k, v in space.items()}
        key = json.dumps(opts, sort_keys=True)
        if key not in seen:
            seen.add(key)
            out.append(opts)
    return out


def _setup_worker(queue: Any) -> None:
    # Runs first in every worker process, before Keras is imported: which device it uses.
    device = queue.get()
    if device == "gpu":
        os.environ["XLA_PYTHON_CLIENT_PREALLOCATE"] = "false"
    else:
        os.environ["JAX_PLATFORMS"] = "cpu"
        os.environ["CUDA_VISIBLE_DEVICES"] = ""
        # One thread per process: many processes use the cores better than a few wide ones
        # on models this small.
        os.environ["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false"
        os.environ["TF_NUM_INTRAOP_THREADS"] = "1"
        os.environ["TF_NUM_INTEROP_THREADS"] = "1"
    os.environ["DEVICE_KIND"] = device


def _epoch_augmented(x: Any, y: Any, augment: Any, batch_size: int, seed: int) -> Any:
    """A `keras.utils.PyDataset` whose every epoch is the training set passed once through
    the augmentation layers (one call per epoch, shuffled, then cut into batches): the
    same augmentation as `zoo.training`'s tf.data pipeline, without TensorFlow (the lent
    GPU machine has none)."""
    import keras
    import numpy as np

    class Epochs(keras.utils.PyDataset):
        def __init__(self) -> None:
            super().__init__()
            self.rng = np.random.default_rng(seed)
            self._new_epoch()

        def _new_epoch(self) -> None:
            order = self.rng.permutation(len(x))
            self.x = keras.ops.convert_to_numpy(augment(x[order], training=True))
            self.y = y[order]

        def __len__(self) -> int:
            return math.ceil(len(x) / batch_size)

        def __getitem__(self, i: int) -> tuple[Any, Any]:
            s = slice(i * batch_size, (i + 1) * batch_size)
            return self.x[s], self.y[s]

        def on_epoch_end(self) -> None:
            self._new_epoch()

    return Epochs()


def _probabilities(p: Any) -> Any:
    # Class probabilities as (n, classes): a sigmoid's one column becomes two.
    import numpy as np

    p = np.asarray(p, dtype="float64")
    return np.concatenate([1 - p, p], axis=1) if p.shape[-1] == 1 else p


def train_one(job: tuple[str, int, dict[str, Any], int]) -> dict[str, Any]:
    """Train one configuration with one initialization seed; its validation and test
    figures (the test split is never used to choose)."""
    entry, trial, opts, seed = job
    import keras
    import numpy as np

    from zoo.compiling import build_model, compile_model, encode_labels
    from zoo.config import TrainConfig
    from zoo.data import load_dataset
    from zoo.models.cnn import augmentation
    from zoo.registry import get_spec
    from zoo.training import _validation_callbacks

    start = time.perf_counter()
    spec = get_spec(entry)
    cfg = TrainConfig.for_model(entry, **opts)
    data = load_dataset(spec.dataset, seed=0)  # the split `zoo train` uses at seed 0
    keras.utils.set_random_seed(seed)
    model = build_model(cfg, data)
    steps = math.ceil(len(data.x_train) / cfg.batch_size)
    compile_model(model, cfg, spec.task, steps_per_epoch=steps)
    encoding, n_classes = cfg.label_encoding(), data.n_classes or 0
    y = encode_labels(data.y_train, encoding, n_classes)
    y_val = encode_labels(data.y_val, encoding, n_classes)
    early, callbacks = _validation_callbacks(cfg)
    if cfg.augment:
        aug = augmentation(seed=seed)
        train: Any = _epoch_augmented(data.x_train, y, aug, cfg.batch_size, seed)
        fit_kw: dict[str, Any] = {}
    else:
        train, fit_kw = data.x_train, {"y": y, "batch_size": cfg.batch_size, "shuffle": True}
    history = model.fit(
        train,
        validation_data=(data.x_val, y_val),
        epochs=cfg.epochs,
        callbacks=callbacks,
        verbose=0,
        **fit_kw,
    )
    # The validation cross-entropy of the predictions alone: `evaluate`'s loss adds the
    # L1/L2 penalties, which would rank configurations by their regularization.
    val_pred = _probabilities(model.predict(data.x_val, verbose=0))
    val_acc = float(np.mean(val_pred.argmax(-1) == data.y_val))
    picked = val_pred[np.arange(len(data.y_val)), data.y_val]
    val_loss = float(-np.mean(np.log(np.clip(picked, 1e-7, 1.0))))
    pred = _probabilities(model.predict(data.x_test, verbose=0)).argmax(-1)
    test_acc = float(np.mean(pred == data.y_test))
    return {
        "entry": entry,
        "trial": trial,
        "options": opts,
        "seed": seed,
        "val_loss": val_loss,
        "val_accuracy": val_acc,
        "test_accuracy": test_acc,
        "test_errors": int(np.sum(pred != data.y_test)),
        "n_test": int(len(data.y_test)),
        "epochs_run": len(history.history["loss"]),
        "seconds": round(time.perf_counter() - start, 1),
        "device": os.environ.get("DEVICE_KIND", "cpu"),
        "backend": keras.backend.backend(),
    }


def rank(rows: list[dict[str, Any]], seeds: int) -> list[dict[str, Any]]:
    """Configurations with all their seeds done, best mean validation accuracy first
    (ties: lower mean validation loss)."""
    by_trial: dict[int, list[dict[str, Any]]] = {}
    for r in rows:
        by_trial.setdefault(r["trial"], []).append(r)
    out = []
    for trial, rs in by_trial.items():
        if len(rs) < seeds:
            continue

        def mean(key: str, rs: list[dict[str, Any]] = rs) -> float:
            return sum(r[key] for r in rs) / len(rs)

        out.append(
            {
                "trial": trial,
                "options": rs[0]["options"] or "current defaults",
                "val_accuracy": round(mean("val_accuracy"), 4),
                "val_loss": round(mean("val_loss"), 4),
                "test_accuracy": round(mean("test_accuracy"), 4),
                "test_accuracy_by_seed": [
                    r["test_accuracy"] for r in sorted(rs, key=lambda r: r["seed"])
                ],
                "epochs_run": round(mean("epochs_run"), 1),
                "seconds": round(mean("seconds"), 1),
            }
        )
    return sorted(out, key=lambda r: (-r["val_accuracy"], r["val_loss"]))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--entry", action="append", choices=sorted(SPACES), required=True)
    p.add_argument("--trials", type=int, default=20, help="configurations per entry")
    p.add_argument("--seeds", type=int, default=3, help="initialization seeds per config")
    p.add_argument("--workers", type=int, default=2, help="CPU worker processes")
    p.add_argument("--gpu-workers", type=int, default=0, help="worker processes on the GPU")
    p.add_argument("--minutes", type=float, default=0, help="stop starting trainings after")
    p.add_argument("--out", default=str(ROOT / "bench" / "results"))
    args = p.parse_args()

    import multiprocessing as mp

    from _common import header, write_results

    # Trials of the entries interleaved, seeds of one trial together: an interrupted run
    # has whole configurations of every entry.
    plans = {e: configurations(e, args.trials, seed=13) for e in args.entry}
    jobs = [
        (entry, t, plans[entry][t], s)
        for t in range(max(len(p) for p in plans.values()))
        for entry in args.entry
        if t < len(plans[entry])
        for s in range(args.seeds)
    ]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    logs = {e: open(out / f"tune_{e}.jsonl", "w") for e in args.entry}  # noqa: SIM115
    ctx = mp.get_context("spawn")
    devices = ctx.Queue()
    for d in ["gpu"] * args.gpu_workers + ["cpu"] * args.workers:
        devices.put(d)
    rows: list[dict[str, Any]] = []
    start = time.perf_counter()
    print(
        f"{len(jobs)} trainings on {args.workers} CPU + {args.gpu_workers} GPU workers", flush=True
    )
    with ctx.Pool(args.workers + args.gpu_workers, _setup_worker, (devices,)) as pool:
        pending = iter(jobs)
        running = [
            pool.apply_async(train_one, (j,))
            for j in itertools.islice(pending, 2 * (args.workers + args.gpu_workers))
        ]
        while running:
            time.sleep(0.2)
            for r in [r for r in running if r.ready()]:
                running.remove(r)
                try:
                    row = r.get()
                except Exception as err:  # a configuration that fails is recorded, not fatal
                    print(f"failed: {err}", flush=True)
                    continue
                rows.append(row)
                logs[row["entry"]].write(json.dumps(row) + "\n")
                logs[row["entry"]].flush()
                print(
                    f"{row['entry']} trial {row['trial']} seed {row['seed']}: val "
                    f"{row['val_accuracy']:.4f} test {row['test_accuracy']:.4f} "
                    f"({row['epochs_run']} ep, {row['seconds']} s, {row['device']})",
                    flush=True,
                )
                over = args.minutes and time.perf_counter() - start > args.minutes * 60
                nxt = None if over else next(pending, None)
                if nxt is not None:
                    running.append(pool.apply_async(train_one, (nxt,)))
    import keras

    result = header("tune_defaults", {"keras": keras})
    result["backend"] = rows[0]["backend"] if rows else None
    result["seconds"] = round(time.perf_counter() - start, 1)
    result["selection"] = (
        "mean validation accuracy over seeds (ties: validation cross-entropy without the "
        "L1/L2 penalties); the test split never used to choose"
    )
    result["entries"] = {}
    for entry in args.entry:
        ranked = rank([r for r in rows if r["entry"] == entry], args.seeds)
        result["entries"][entry] = {
            "configurations_done": len(ranked),
            "seeds": args.seeds,
            "ranked": ranked,
        }
        print(f"\n{entry}: {len(ranked)} configurations with all {args.seeds} seeds; top 5:")
        for r in ranked[:5]:
            print(
                f"  val {r['val_accuracy']:.4f} / {r['val_loss']:.4f}  "
                f"test {r['test_accuracy']:.4f}  {r['options']}"
            )
        base = [r for r in ranked if r["trial"] == 0]
        if base:
            b = base[0]
            print(
                f"  current defaults: val {b['val_accuracy']:.4f} "
                f"test {b['test_accuracy']:.4f} (rank {ranked.index(b) + 1})"
            )
    write_results(out / "tune_defaults.json", result)


if __name__ == "__main__":
    main()
