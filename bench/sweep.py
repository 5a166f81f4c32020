"""Sweep wall time: an 8-trial sweep run one trial at a time vs K trials at once.

Runs the same grid (mlp-cancer, quick settings: l2 x dropout, 8 trials) twice with
`zoo.sweep`, once sequentially in this process and once with `--parallel K` worker
processes (KerasTuner's chief/worker mode on 127.0.0.1), each into a fresh temporary
store, and writes the wall times, the mean time of one trial and what N machines would
take to bench/results/sweep.json. The projection: every worker pays a fixed start (its
Python and TensorFlow imports, measured here as the parallel run's wall time less its
trials' time per worker), then trains ceil(trials / N) trials one after the other, each
taking the sequential run's mean trial time.

    python bench/sweep.py [--entry mlp-cancer] [--parallel 2]
"""

from __future__ import annotations

import argparse
import math
import os
import time
from pathlib import Path
from typing import Any

from _common import header, store_or_temporary, write_results  # bench/ is on sys.path

import zoo
from zoo.sweep_engine import engine_name

RESULTS = Path(__file__).resolve().parent / "results"
GRID = {"l2": [0, 1e-4, 1e-3, 1e-2], "dropout": [0, 0.3]}  # 8 trials


def _run(entry: str, parallel: int) -> dict[str, Any]:
    with store_or_temporary(None, "zoo-sweep-bench-") as store:
        start = time.perf_counter()
        result = zoo.sweep(entry, grid=GRID, quick=True, parallel=parallel, store=store)
        wall = time.perf_counter() - start
    trial_s = [t.seconds or 0.0 for t in result.trials]
    print(f"parallel={parallel}: {wall:.1f} s wall, {result.counts()}", flush=True)
    return {
        "parallel": parallel,
        "wall_s": round(wall, 2),
        "trials": len(result.trials),
        "counts": result.counts(),
        "trial_s_mean": round(sum(trial_s) / len(trial_s), 2),
        "trial_s_sum": round(sum(trial_s), 2),
        "best": {"options": result.best.options, "best_val_loss": result.best.best_val_loss}
        if result.best
        else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entry", default="mlp-cancer")
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--out", default=str(RESULTS / "sweep.json"))
    args = parser.parse_args()
    out: dict[str, Any] = header("sweep", {"zoo": zoo})
    load_before = os.getloadavg()
    sequential = _run(args.entry, 1)
    parallel = _run(args.entry, args.parallel)
    n = sequential["trials"]
    trial = sequential["trial_s_mean"]
    # A worker's fixed cost: what the parallel run took beyond its share of training.
    start = max(0.0, parallel["wall_s"] - parallel["trial_s_sum"] / args.parallel)
    projected = {
        str(machines): round(start + math.ceil(n / machines) * trial, 1)
        for machines in (1, 2, 4, 8)
    }
    out |= {
        "entry": args.entry,
        "settings": "quick",
        "grid": {k: [str(v) for v in vs] for k, vs in GRID.items()},
        "engine": engine_name(),
        "sequential": sequential,
        "parallel": parallel,
        "speedup": round(sequential["wall_s"] / parallel["wall_s"], 2),
        "worker_start_s": round(start, 1),
        "projected_wall_s_by_machines": projected,
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "note": (
            "measured once on a shared machine whose 2 cores other jobs were loading at "
            "the same time (see the load averages): the absolute times are pessimistic "
            "and noisy. Parallel trials split the cores (each worker gets cores / K "
            "TensorFlow threads). The projection assumes one worker per machine, each "
            "with this machine's speed, and the measured worker start."
        ),
    }
    write_results(args.out, out)


if __name__ == "__main__":
    main()
