"""The dashboard under load, in a real browser: concurrent viewers while one more trains.

Serves the dashboard as bench/dashboard.py does (`dashboard.harness.serve`: the Streamlit
command line of `zoo dashboard --headless --no-train`, on a free port) on a *copy* of the
store (the bench writes explanation caches and a new version: the given store is never
touched), and drives it with Debian's chromium through playwright:

- `--sessions` viewer sessions (8) loop over the Zoo, Model, Training curves, Explain and
  Compare pages for `--seconds` (60), starting on the four non-Zoo pages in turn (each
  context begins with an empty browser cache, as a new user does: its first visit to a
  page also loads that page's element scripts). On the Explain
  page a session picks a model (cycling through the picker) and a test sample (a
  different one each time), then clicks Explain. Timed, per action: sidebar click -> the
  page's main content shown, and Explain click -> the SHAP figure shown (`DRAWN_JS` with
  no quiet period, as bench/dashboard.py times). Errors: any Streamlit exception or error
  box shown, a traceback in the page, an uncaught JavaScript error, or a wait that runs
  past `--timeout` (30 s), each with its session, page, action, step and message
  (`--shots DIR` saves a screenshot of each). A timed wait that runs out counts in the
  percentiles as the timeout (a lower bound), so the slowest clicks are not dropped.
- One more session opens the Train page, picks `--train` (mlp-cancer) with its quick
  epochs / early stopping typed into the form, clicks Train at the start of the window and
  waits for "Stored NAME@N". Every viewer checks each Zoo page table and each Explain
  model picker it opens for NAME@N (N = the store's newest version + 1); a viewer that
  has not seen it when the window ends goes on switching Zoo <-> Model (untimed) until it
  does or `--timeout-train` runs out. Recorded: training seconds (click -> stored shown)
  and, per viewer, when it first saw the new version (seconds after the trainer's page
  showed it; negative when a viewer saw it first) and where.

Before the window (not timed), one session explains test sample 0 of every model, so the
explainers are built as on a server that has been up a while (a cold recurrent explainer
takes 20 s or more to trace; that is bench/dashboard.py's "first explanation", not this
bench's subject), and every viewer has its Zoo page drawn; then all start together.

Why playwright's async API with one browser and one context per session, rather than one
thread per session with its own `sync_playwright`: a context is a separate cookie jar, so
each is its own Streamlit session (its own websocket and session state), which is all a
"user" needs; and the load generator shares 2 cores with the server it measures, so it
should cost as little as possible: one playwright driver and one Chromium instead of nine
of each. Each session's waits run in the browser (`wait_for_function`, polled every 50 ms
rather than every frame: nine pages polling at 60 Hz would be load of the bench's own;
50 ms is the timings' resolution, against a 2 s goal); the event loop only awaits them,
so sessions do not delay each other's clocks.

Prints a summary and writes bench/results/dashboard_load.json: per-action and overall
p50 / p95 / max, errors, training and visibility, load average before / during / after,
the goals (0 errors, overall p95 <= 2 s, the new version trained and seen by every
viewer) and whether each was met.

Before the window each viewer visits every page once, untimed (as
bench/dashboard_load_floor.py's sessions do): the browser loads a page type's element
scripts on its first visit only, and eight people do not open their first pages in the
same instant. `--cold` times those first visits instead, all eight starting at t = 0.

With `--think S` each viewer pauses before every page switch for a seeded time uniform on
[0.5 S, 1.5 S], as a person reads a page; the default, 0, clicks on at once (the worst
case).

    python bench/dashboard_load.py [--store DIR] [--sessions 8] [--seconds 60] [--think S]
                                   [--cold] [--shots DIR] [--out FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from datetime import date
from importlib.metadata import version as package_version
from pathlib import Path

import numpy as np
from _common import CpuByRole, machine, train_quick_zoo  # bench/ is on sys.path as a script

ROOT = Path(__file__).resolve().parents[1]
# bench/dashboard.py comes first on sys.path: the project must be ahead of it, or
# `import dashboard` would find that script instead of the package.
sys.path.insert(0, str(ROOT))

from _async_pages import (  # noqa: E402
    EXPLAIN_READY,
    POLL_MS,
    choose_text,
    listbox_options,
    wait_drawn,
)
from _load_sessions import PAGES, Run, Trainer, Viewer  # noqa: E402
from playwright.async_api import async_playwright  # noqa: E402

from dashboard import harness  # noqa: E402
from dashboard.harness import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    EXPLAIN_FIGURE,
    METRIC,
    QUIET_MS,
    VIEWPORT,
)

RESULTS = ROOT / "bench" / "results" / "dashboard_load.json"
GOALS = {"errors": 0, "p95_s": 2.0, "training_visible": True}
# Command-line substrings per role (first match wins): the training child before the
# server, whose command line it does not share; the browsers; the bench's own processes.
CPU_ROLES = {
    "training child": ["dashboard.child_training"],
    "dashboard server": ["streamlit", "dashboard/app.py"],
    "chromium (the bench's browsers)": ["chromium"],
    "playwright driver": ["playwright"],
    "bench": ["dashboard_load.py"],
}
# --------------------------------------------------------------------------- the run


async def warm_up(run: Run, browser, models: int | None = None) -> list[str]:
    """Explain test sample 0 of every model once (builds the explainers); not timed."""
    context = await browser.new_context(viewport=VIEWPORT)
    try:
        page = await context.new_page()
        await page.goto(run.url + "/explain")
        await wait_drawn(page, "Explain", EXPLAIN_READY, quiet_ms=QUIET_MS, timeout_s=180)
        _, options = await listbox_options(page, "model_picker")
        await page.keyboard.press("Escape")
        refs = [o.split(" ")[0] for o in options][:models]
        for ref in refs:
            start = time.perf_counter()
            await choose_text(page, "model_picker", rf"^{re.escape(ref)} ")
            await wait_drawn(page, "Explain", EXPLAIN_READY, quiet_ms=QUIET_MS, timeout_s=180)
            await choose_text(page, "explain_index", r"^#0:", typed="#0:")
            await wait_drawn(page, "Explain", EXPLAIN_READY, quiet_ms=QUIET_MS, timeout_s=180)
            await page.locator(".st-key-explain_go button").click()
            need = {**EXPLAIN_READY, METRIC: 4, EXPLAIN_FIGURE: 1}
            await wait_drawn(page, "Explain", need, quiet_ms=QUIET_MS, timeout_s=300)
            print(f"  warm-up: {ref} explained in {time.perf_counter() - start:.1f} s", flush=True)
        return refs
    finally:
        await context.close()


async def sample_load(run: Run, samples: list[float], stop: asyncio.Event) -> None:
    while not stop.is_set():
        samples.append(os.getloadavg()[0])
        try:
            await asyncio.wait_for(stop.wait(), timeout=5)
        except TimeoutError:
            pass


async def drive(args, run: Run, entry_options: dict[str, int]) -> dict:
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            refs = await warm_up(run, browser)
            contexts = [
                await browser.new_context(viewport=VIEWPORT) for _ in range(args.sessions + 1)
            ]
            viewers = [Viewer(run, i, c) for i, c in enumerate(contexts[1:])]
            train = Trainer(run, contexts[0], args.train, entry_options)
            for context in contexts:  # playwright's own waits (clicks): as long as ours
                context.set_default_timeout(args.timeout * 1000)
            contexts[0].set_default_timeout(300_000)  # the trainer's preparation
            start = time.perf_counter()
            await train.open()
            await asyncio.gather(*(v.open() for v in viewers))
            print(
                f"  {len(viewers)} viewers on the Zoo page in {time.perf_counter() - start:.1f} s"
            )
            load_samples: list[float] = []
            stop = asyncio.Event()
            tasks = [train.loop()]
            tasks += [v.loop() for v in viewers]
            sampler = asyncio.create_task(sample_load(run, load_samples, stop))
            run.t0 = time.perf_counter()
            run.start.set()
            await asyncio.gather(*tasks)
            stop.set()
            await sampler
            duration = run.now()
            for c in contexts:
                await c.close()
            return {
                "warmed": refs,
                "duration_s": duration,
                "load_during": load_samples,
                "chromium": browser.version,
            }
        finally:
            await browser.close()


# --------------------------------------------------------------------------- figures


def stats(values: list[float]) -> dict:
    a = np.asarray(values, dtype=float)
    return {
        "n": int(a.size),
        "p50_s": float(np.percentile(a, 50)),
        "p95_s": float(np.percentile(a, 95)),
        "max_s": float(a.max()),
    }


def server_problems(log: str, limit: int = 20) -> list[str]:
    """The server log's own error lines: failed pages and exception lines (TensorFlow's
    "Object was never used" tracing noise left out)."""
    keep = re.compile(r"page failed|^\w*(Error|Exception)\b.*:|^\S+ \S+ (ERROR|WARNING) ")
    found = [line for line in log.splitlines() if keep.search(line)]
    found = [line for line in found if "ERROR:tensorflow" not in line]
    return found[:limit]


def seen_entry(run: Run, idx: int) -> dict | None:
    """When viewer `idx` first saw the new version: seconds into the run and after the
    trainer's page showed it stored (negative: the viewer saw it first), and where."""
    seen = run.seen.get(idx)
    if seen is None:
        return None
    after = seen["at_s"] - run.trained_at if run.trained_at is not None else None
    return {**seen, "after_stored_s": after}


def next_version(store: Path, entry: str) -> int:
    folder = store / entry
    versions = [int(p.name) for p in folder.iterdir() if p.name.isascii() and p.name.isdigit()]
    return max(versions, default=0) + 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, help="a store with every default entry (copied)")
    parser.add_argument("--sessions", type=int, default=8, help="concurrent viewer sessions")
    parser.add_argument("--seconds", type=float, default=60.0, help="the window viewers run")
    parser.add_argument("--train", default="mlp-cancer", help="the entry the trainer trains")
    parser.add_argument("--timeout", type=float, default=30.0, help="a wait longer is an error")
    parser.add_argument("--timeout-train", type=float, default=600.0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--shots", type=Path, help="save a screenshot of each error here")
    parser.add_argument(
        "--think",
        type=float,
        default=0.0,
        help="mean seconds a viewer reads a page before its next click (uniform on 0.5x-1.5x, "
        "seeded per session); 0, the default, clicks on at once",
    )
    parser.add_argument(
        "--cold",
        action="store_true",
        help="time each viewer's first visit to each page, all starting at t = 0 (default: "
        "every page visited once, untimed, before the window)",
    )
    args = parser.parse_args()
    if args.sessions < 1 or args.seconds <= 0:
        parser.error("--sessions must be at least 1 and --seconds above 0")
    problem = harness.browser_problem()
    if problem:
        raise SystemExit(problem)

    from zoo.registry import get_spec

    spec = get_spec(args.train)
    entry_options = {k: int(v) for k, v in spec.quick.items() if k in ("epochs", "early_stopping")}

    tmp = Path(tempfile.mkdtemp(prefix="zoo-dash-load-"))
    server = None
    try:
        store = tmp / "store"
        if args.store is None:
            train_quick_zoo(store)
        else:
            shutil.copytree(args.store, store)
        new_ref = f"{args.train}@{next_version(store, args.train)}"
        load_before = os.getloadavg()
        server = harness.serve(store, tmp / "server.log")
        health = server.wait_healthy()
        print(f"server up in {health:.1f} s; {args.sessions} viewers + 1 trainer ({new_ref})")
        run = Run(
            server.url,
            args.seconds,
            args.timeout,
            args.timeout_train,
            new_ref,
            args.shots,
            think_s=args.think,
            cold=args.cold,
        )
        # Where the machine's CPU goes: the load generator's browsers share the server's cores.
        with CpuByRole(CPU_ROLES) as cpu:
            got = asyncio.run(drive(args, run, entry_options))
        load_after = os.getloadavg()
        config_file = store / args.train / new_ref.partition("@")[2] / "config.json"
        trained_config = json.loads(config_file.read_text()) if config_file.exists() else {}
        log_problems = server_problems(server.tail(200_000))
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    timed = [t for t in run.times if t["in_window"]]
    groups: dict[str, list[float]] = {}
    for t in timed:
        key = t["action"] if t["page"] == "explain" and t["action"] != "open" else t["page"]
        key = "explain click" if key.startswith("explain ") else f"{key} page"
        groups.setdefault(key, []).append(t["seconds"])
    per_action = {k: stats(v) for k, v in groups.items()}
    per_model: dict[str, list[float]] = {}
    for t in timed:
        if t["action"].startswith("explain "):
            per_model.setdefault(t["action"].removeprefix("explain "), []).append(t["seconds"])
    overall = stats([t["seconds"] for t in timed]) if timed else {"n": 0}
    viewers = list(range(args.sessions))
    trained = bool(run.training.get("ok"))
    visible = trained and all(i in run.seen for i in viewers)
    figures = {
        "errors": len(run.errors),
        "p95_s": overall.get("p95_s"),
        "training_visible": visible,
    }
    met = {
        "errors": figures["errors"] <= GOALS["errors"],
        "p95_s": figures["p95_s"] is not None and figures["p95_s"] <= GOALS["p95_s"],
        "training_visible": visible,
    }
    during = got["load_during"]
    import streamlit

    result = {
        "benchmark": "dashboard_load",
        "date": date.today().isoformat(),
        "machine": machine(),
        "cores": os.cpu_count(),
        "load_average": {
            "before_1_5_15min": list(load_before),
            "during_1min_mean": statistics.fmean(during) if during else None,
            "during_1min_max": max(during) if during else None,
            "after_1_5_15min": list(load_after),
            "note": "the machine's 2 cores are shared with other jobs; load includes them",
        },
        "versions": {
            "python": sys.version.split()[0],
            "streamlit": streamlit.__version__,
            "playwright": package_version("playwright"),
            "chromium": got["chromium"],
        },
        "settings": {
            "store": str(args.store) if args.store else "default zoo, quick settings (temp)",
            "store_copied": True,
            "server": "zoo --store STORE dashboard --headless --no-train --port PORT "
            "(its streamlit command line, dashboard.cli.streamlit_command)",
            "chromium_args": CHROMIUM_ARGS,
            "viewport": VIEWPORT,
            "sessions": args.sessions,
            "seconds": args.seconds,
            "think_s": args.think,
            "first_visits": "timed, at t = 0" if args.cold else "untimed, before the window",
            "pages": [p[0] for p in PAGES],
            "trainer": {"entry": args.train, "options": entry_options},
            "timeout_s": args.timeout,
            "poll_ms": POLL_MS,
            "warm_up": "test sample 0 of every model explained before the window (untimed): "
            + ", ".join(got["warmed"]),
        },
        "figures": figures,
        "cpu_seconds_by_role": {
            "seconds": cpu.seconds,
            "note": "own user + system time per process from /proc, sampled every second "
            "from the warm-up to the end of the window and the training",
        },
        "goals": GOALS,
        "met": met,
        "timings": {
            "definition": "sidebar click -> page content shown; Explain click -> SHAP figure "
            "shown; actions started inside the window; a wait that timed out counts as the "
            "timeout (a lower bound)",
            "overall": overall,
            "per_action": per_action,
            "explain_click_per_model": {k: stats(v) for k, v in per_model.items()},
            "timed_out_counted_as_timeout_s": sum(t["timed_out"] for t in timed),
            "actions_after_window": len(run.times) - len(timed),
            "duration_s": got["duration_s"],
        },
        "errors": {
            "count": len(run.errors),
            "first": run.errors[:10],
        },
        "training": {
            **run.training,
            "expected_ref": new_ref,
            "stored_config": {k: trained_config.get(k) for k in entry_options},
            "seen_by": {f"viewer{i}": seen_entry(run, i) for i in viewers},
            "seen_by_all": visible,
        },
        "all_times": [
            {k: (round(v, 3) if isinstance(v, float) else v) for k, v in t.items()}
            for t in run.times
        ],
    }
    result["errors"]["server_log"] = log_problems
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=float) + "\n")

    verdict = {True: "met", False: "MISSED"}
    lines = [
        f"\ndashboard under load on {machine()}: load {load_before[0]:.1f} before, "
        f"{load_after[0]:.1f} after",
        f"  {args.sessions} viewers x {args.seconds:.0f} s, {overall.get('n', 0)} timed actions",
    ]
    for key, s in sorted(per_action.items()):
        lines.append(
            f"  {key:16s} n={s['n']:3d} p50 {s['p50_s']:.2f} p95 {s['p95_s']:.2f} "
            f"max {s['max_s']:.2f} s"
        )
    p95 = figures["p95_s"] if figures["p95_s"] is not None else float("nan")
    lines += [
        f"  overall p95 {p95:.2f} s (goal <= {GOALS['p95_s']:.0f} s): {verdict[met['p95_s']]}",
        f"  errors shown {figures['errors']} (goal 0): {verdict[met['errors']]}",
        f"  training {run.training.get('seconds', float('nan')):.1f} s, ok={trained}; new "
        f"version seen by {len(run.seen)}/{args.sessions} viewers: {verdict[visible]}",
    ]
    lines.append(f"  CPU seconds by process: {cpu.seconds}")
    print("\n".join(lines))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
