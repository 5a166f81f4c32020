"""Load, explain and dashboard latency per Keras backend (TensorFlow, JAX), in one run.

Issue 11 picks the default backend by measurement; `bench/train_throughput.py` times
training, this times what a user waits for after it, on one store of the quick zoo
(artifacts cross backends, so one store serves both). Every figure comes from fresh
processes with `KERAS_BACKEND` set; the backends alternate over the rounds (TensorFlow
first in odd rounds, JAX first in even ones), and each figure is the median over rounds:

- **cold load**: `python -c "import zoo; m = zoo.load('cnn-digits'); m.predict(x)"`,
  wall time from process start to exit (interpreter, imports, load, one prediction);
- **explanations**: for cnn-digits and gru-digits, one fresh process each: the first
  `explain.explain(m, x[:1])` (the dashboard's call: the explainer built and traced or
  jit-compiled, all counted) and then warm ones (other test samples, same model), median;
- **dashboard** (unless `--no-dashboard`): the dashboard's real Streamlit server started
  with `KERAS_BACKEND` in its environment, driven by chromium as `bench/dashboard.py`
  does: first page (process start -> Zoo table drawn), the first visit of every page
  (the Model page is the first to load a model, hence the backend), then a warm round of
  page switches.

The cores may be shared with other jobs: the 1-minute load average is recorded before and
after every measurement, and the ratios within one run are what counts. Prints a table and
writes bench/results/backends.json.

    python bench/backends.py [--store DIR] [--rounds 3] [--warm 3] [--no-dashboard]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from _common import header, store_or_temporary, train_quick_zoo, write_results

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "backends.json"
BACKENDS = ("tensorflow", "jax")
MODELS = ("cnn-digits", "gru-digits")
CHILD_TIMEOUT_S = 900

# The command, with x one real test digit (saved beforehand: reading the dataset
# would add its own cost) and split timings printed as JSON on the last line.
COLD_LOAD = """
import time; t0 = time.perf_counter()
import json, sys
import numpy as np
import zoo
t1 = time.perf_counter()
m = zoo.load('cnn-digits')
t2 = time.perf_counter()
m.predict(np.load(sys.argv[1]))
t3 = time.perf_counter()
print(json.dumps({"import_zoo_s": t1 - t0, "load_s": t2 - t1, "predict_s": t3 - t2,
                  "backend": __import__("keras").backend.backend(),
                  "tensorflow_imported": "tensorflow" in sys.modules}))
"""


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def _run_child(args: list[str], backend: str, store: str) -> tuple[dict, float]:
    """Run `python ARGS` with the backend and store set; its last stdout line as JSON and
    the wall seconds from start to exit."""
    env = {**os.environ, "KERAS_BACKEND": backend, "ZOO_HOME": store}
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT_S,
    )
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(
            f"backends: a {backend} child failed (exit code {proc.returncode}): "
            f"{' '.join(args[:3])}\n{proc.stderr[-3000:]}"
        )
    return json.loads(proc.stdout.strip().splitlines()[-1]), wall


def cold_load(backend: str, store: str, x_file: Path) -> dict:
    """The cold `import zoo; zoo.load; predict` process, timed from outside."""
    before = _load()
    got, wall = _run_child(["-c", COLD_LOAD, str(x_file)], backend, store)
    return {"wall_s": wall, **got, "load_before": before, "load_after": _load()}


def explain_child(name: str, warm: int) -> dict:
    """In this fresh process: load `name`, then the first and `warm` warm explanations."""
    import keras
    import numpy as np

    import explain
    import zoo

    t0 = time.perf_counter()
    m = zoo.load(name)
    x = m.dataset().x_test
    t1 = time.perf_counter()
    e = explain.explain(m, x[:1])
    first = time.perf_counter() - t1
    warm_s = []
    for i in range(1, warm + 1):
        start = time.perf_counter()
        explain.explain(m, x[i : i + 1])
        warm_s.append(time.perf_counter() - start)
    return {
        "backend": keras.backend.backend(),
        "method": explain.info(e).method,
        "load_and_data_s": t1 - t0,
        "first_s": first,
        "warm_s": warm_s,
        "warm_median_s": float(np.median(warm_s)),
        "tensorflow_imported": "tensorflow" in sys.modules,
    }


def explanations(backend: str, store: str, warm: int) -> dict:
    out = {}
    for name in MODELS:
        before = _load()
        args = [__file__, "--child-explain", name, f"--warm={warm}"]
        got, wall = _run_child(args, backend, store)
        out[name] = {**got, "process_wall_s": wall, "load_before": before, "load_after": _load()}
    return out


def _bench_dashboard() -> Any:
    """bench/dashboard.py as a module (its page list and waits), with the `dashboard`
    package ahead of it: bench/ is first on sys.path, where `dashboard` is that script."""
    sys.path.insert(0, str(ROOT))
    import dashboard.harness  # noqa: F401  (the package, before the script can shadow it)

    spec = importlib.util.spec_from_file_location(
        "bench_dashboard", ROOT / "bench" / "dashboard.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def dashboard_run(bd: Any, browser: Any, backend: str, store: str, log: Path) -> dict:
    """One server on `backend`: first page, first visit of every page, a warm round."""
    from dashboard import harness

    before = _load()
    os.environ["KERAS_BACKEND"] = backend  # harness.serve passes os.environ on
    try:
        got, server, context = bd.measure_startup(browser, Path(store), log)
    finally:
        os.environ.pop("KERAS_BACKEND", None)
    page = context.pages[0]
    visits: dict[str, dict[str, float]] = {"first": {}, "warm": {}}
    try:
        for kind in ("first", "warm"):
            for path, title, need in bd.PAGES[1:] + bd.PAGES[:1]:
                start = time.perf_counter()
                harness.open_page(page, server.url, path)
                bd.drawn(page, title, need)
                visits[kind][path or "zoo"] = time.perf_counter() - start
                bd.settle(page, title, need)
    finally:
        context.close()
        server.stop()
    return {
        "health_s": got["health_s"],
        "first_page_s": got["first_page_s"],
        "first_visits_s": visits["first"],
        "first_model_page_s": visits["first"]["model"],
        "warm_switches_s": visits["warm"],
        "warm_switch_median_s": statistics.median(visits["warm"].values()),
        "load_before": before,
        "load_after": _load(),
    }


def _median(rounds: list[dict], *keys: str) -> float:
    values = []
    for r in rounds:
        v: Any = r
        for k in keys:
            v = v[k]
        values.append(v)
    return statistics.median(values)


def summarize(per_round: list[dict], dashboard: bool) -> dict:
    """Medians over rounds per backend, and JAX / TensorFlow ratios (< 1: JAX faster)."""
    rows: list[tuple[str, tuple[str, ...]]] = [
        ("cold load cnn-digits (process)", ("cold", "wall_s"))
    ]
    for name in MODELS:
        rows.append((f"{name} first explanation", ("explain", name, "first_s")))
        rows.append((f"{name} warm explanation", ("explain", name, "warm_median_s")))
        rows.append((f"{name} explain process", ("explain", name, "process_wall_s")))
    if dashboard:
        rows += [
            ("dashboard first page", ("dashboard", "first_page_s")),
            ("dashboard Model page, first visit", ("dashboard", "first_model_page_s")),
            ("dashboard page switch (warm median)", ("dashboard", "warm_switch_median_s")),
        ]
    out = {}
    for label, keys in rows:
        med = {b: _median([r[b] for r in per_round], *keys) for b in BACKENDS}
        out[label] = {
            **{f"{b}_s": round(med[b], 3) for b in BACKENDS},
            "jax_over_tensorflow": round(med["jax"] / med["tensorflow"], 3),
            "all_s": {b: [round(_median([r[b]], *keys), 3) for r in per_round] for b in BACKENDS},
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", help="a store with the quick zoo (else one is trained)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warm", type=int, default=3, help="warm explanations per process")
    parser.add_argument("--no-dashboard", action="store_true", help="skip the dashboard")
    parser.add_argument("--note", default="", help="recorded as is, e.g. what else ran")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--child-explain", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_explain:
        print(json.dumps(explain_child(args.child_explain, args.warm)))
        return
    if min(args.rounds, args.warm) < 1:
        parser.error("--rounds and --warm must be at least 1")

    dashboard = not args.no_dashboard
    bd = _bench_dashboard() if dashboard else None
    if bd is not None:
        from dashboard import harness

        problem = harness.browser_problem()
        if problem:
            raise SystemExit(problem)
    loads = [_load()]
    with store_or_temporary(None, "zoo-backends-") as tmp:
        store = str(Path(tmp) / "store")
        if args.store:
            # A copy: the dashboard and explain may write caches beside the artifacts.
            shutil.copytree(args.store, store)
        else:
            train_quick_zoo(store)
        x_file = Path(tmp) / "x.npy"
        prep = (
            "import sys, numpy as np, zoo; "
            "np.save(sys.argv[1], zoo.load('cnn-digits').dataset().x_test[:1]); print('{}')"
        )
        _run_child(["-c", prep, str(x_file)], "tensorflow", store)
        per_round: list[dict] = []
        browser_cm = None
        browser = None
        if bd is not None:
            from dashboard import harness

            browser_cm = harness.chromium()
            browser = browser_cm.__enter__()
        try:
            for r in range(args.rounds):
                order = BACKENDS if r % 2 == 0 else BACKENDS[::-1]
                got: dict = {"order": list(order)}
                for backend in order:
                    row: dict = {"cold": cold_load(backend, store, x_file)}
                    row["explain"] = explanations(backend, store, args.warm)
                    if bd is not None:
                        row["dashboard"] = dashboard_run(
                            bd, browser, backend, store, Path(tmp) / f"server-{backend}-{r}.log"
                        )
                    got[backend] = row
                    loads.append(_load())
                    print(f"round {r + 1} {backend}: {_brief(row)}", flush=True)
                per_round.append(got)
                # Kept as the run goes: a failure in a later round loses nothing measured.
                partial = args.out.with_suffix(".partial.json")
                partial.write_text(json.dumps(per_round, indent=2, default=float) + "\n")
        finally:
            if browser_cm is not None:
                browser_cm.__exit__(None, None, None)

    summary = summarize(per_round, dashboard)
    versions = {p: metadata.version(p) for p in ("keras", "tensorflow", "jax", "streamlit")}
    result = {
        **header("backends", {}),
        "settings": {
            "store": args.store or "quick zoo trained into a temporary store",
            "rounds": args.rounds,
            "warm_explanations_per_process": args.warm,
            "dashboard": dashboard or "skipped (--no-dashboard)",
            "order": "backends alternate: TensorFlow first in odd rounds, JAX in even",
            "cold_load_command": "python -c \"import zoo; m = zoo.load('cnn-digits'); "
            'm.predict(x)"',
        },
        "load_average_1min": {
            "samples": loads,
            "min": min(loads),
            "median": statistics.median(loads),
            "max": max(loads),
        },
        "note": "the cores are shared with other jobs: absolute times are noisy; compare "
        "the backends within this run (alternating rounds, medians). " + args.note,
        "summary": summary,
        "per_round": per_round,
    }
    result["versions"].update(versions)
    print(f"\nbackends, median of {args.rounds} rounds (load average {min(loads)}-{max(loads)})")
    print(f"  {'':40s} {'TensorFlow':>11s} {'JAX':>9s} {'JAX/TF':>7s}")
    for label, row in summary.items():
        print(
            f"  {label:40s} {row['tensorflow_s']:9.2f} s {row['jax_s']:7.2f} s "
            f"{row['jax_over_tensorflow']:7.2f}"
        )
    write_results(args.out, result)
    args.out.with_suffix(".partial.json").unlink(missing_ok=True)


def _brief(row: dict) -> str:
    parts = [f"cold load {row['cold']['wall_s']:.1f} s"]
    for name, e in row["explain"].items():
        parts.append(f"{name} first {e['first_s']:.2f} s warm {e['warm_median_s']:.2f} s")
    if "dashboard" in row:
        d = row["dashboard"]
        parts.append(
            f"dashboard first page {d['first_page_s']:.1f} s, Model page "
            f"{d['first_model_page_s']:.1f} s, switch {d['warm_switch_median_s']:.2f} s"
        )
    return "; ".join(parts)


if __name__ == "__main__":
    main()
