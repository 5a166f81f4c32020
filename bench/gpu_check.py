"""The zoo on a GPU through Keras' JAX backend: trains, stores, loads and explains, and how
fast against the same machine's CPU.

For a machine with an NVIDIA GPU and JAX's CUDA plugin (no TensorFlow needed: on JAX the
zoo imports none for these entries). For each of gru-digits, lstm-co2 and mlp-cancer
(their default options, fewer epochs) it trains into a fresh store with `zoo.train`,
loads the version back, explains 32 test samples with the default explainer (first call:
built and traced; then warm) and checks the explanations add up. `--compare-cpu` reruns
the same in a child process with `JAX_PLATFORMS=cpu` on the same machine, so the two
columns share everything but the device.

Prints a table and writes bench/results/gpu_check.json.

    KERAS_BACKEND=jax python bench/gpu_check.py [--compare-cpu] [--out FILE]
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

os.environ.setdefault("KERAS_BACKEND", "jax")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))  # _common, also when run through runpy
sys.path.insert(0, str(ROOT))  # the project first (bench/dashboard.py is no package)

RESULTS = ROOT / "bench" / "results" / "gpu_check.json"
ENTRIES = {
    "gru-digits": {"epochs": 20, "early_stopping": 0},
    "lstm-co2": {"epochs": 20, "early_stopping": 0},
    "mlp-cancer": {"epochs": 40, "early_stopping": 0},
}
SAMPLES = 32


def measure(device: str) -> dict:
    import jax
    import numpy as np

    import explain
    import zoo

    store = tempfile.mkdtemp(prefix="gpu-check-")
    out: dict = {"device": device, "jax_devices": [str(d) for d in jax.devices()]}
    for name, options in ENTRIES.items():
        start = time.perf_counter()
        run = zoo.train(name, store=store, **options)
        wall = time.perf_counter() - start
        m = zoo.load(name, store=store)
        x = m.dataset().x_test[:SAMPLES]
        start = time.perf_counter()
        e = explain.explain(m, x)
        first = time.perf_counter() - start
        start = time.perf_counter()
        e = explain.explain(m, m.dataset().x_test[SAMPLES : 2 * SAMPLES])
        warm = time.perf_counter() - start
        meta = explain.info(e)
        outputs = np.asarray(meta.predictions, np.float64)
        values = np.asarray(e.values, np.float64)
        base = np.asarray(e.base_values, np.float64)
        add = explain.additivity_error(values, base, outputs)
        timing = run.metrics.get("timing", {})
        metric = "accuracy" if "accuracy" in run.metrics else "mse"
        out[name] = {
            "ref": run.ref,
            "backend": json.loads((m.path / "manifest.json").read_text()).get("backend"),
            metric: round(float(run.metrics[metric]), 4),
            "train_wall_s": round(wall, 1),
            "epochs": timing.get("epochs_run"),
            "samples_per_s": round(float(timing.get("samples_per_second", 0.0))),
            "explain_method": meta.method,
            "explain_first_s": round(first, 2),
            "explain_warm_ms_per_sample": round(1000 * warm / SAMPLES, 1),
            "additivity_p95": float(add["p95"]),
        }
        print(device, name, out[name], flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--compare-cpu", action="store_true")
    ap.add_argument("--out", default=str(RESULTS))
    ap.add_argument("--child", choices=["cpu"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print("RESULT " + json.dumps(measure("cpu")), flush=True)
        return
    import jax
    from _common import header, write_results

    gpu = measure(jax.default_backend())
    result = {**header("gpu_check", {"jax": jax}), "entries": list(ENTRIES), "gpu": gpu}
    if args.compare_cpu:
        env = dict(os.environ, JAX_PLATFORMS="cpu")
        cmd = [sys.executable, __file__, "--child", "cpu"]
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
        if not lines:
            print(done.stdout[-3000:], done.stderr[-3000:])
            raise SystemExit("the CPU child failed")
        result["cpu"] = json.loads(lines[-1][len("RESULT ") :])
        for name in ENTRIES:
            g, c = result["gpu"][name], result["cpu"][name]
            print(
                f"{name}: {g['samples_per_s']} vs {c['samples_per_s']} samples/s "
                f"({g['samples_per_s'] / max(c['samples_per_s'], 1):.1f}x); explain warm "
                f"{g['explain_warm_ms_per_sample']} vs {c['explain_warm_ms_per_sample']} ms/sample"
            )
    write_results(args.out, result)


if __name__ == "__main__":
    main()
