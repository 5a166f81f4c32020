"""Dashboard latency in a real browser: start-up, page switches, explanations.

Serves the dashboard with the Streamlit command line `zoo --store STORE dashboard
--headless --no-train` runs, on a free port, and drives it with Debian's chromium through
playwright; server, browser and page waits are `dashboard.harness`, shared with
tests/browser. Three figures, each against its goal:

- start-up: from starting the server process to the Zoo page's table drawn in a fresh
  browser tab (the browser itself is already open); several cold starts, median. (The
  `zoo` command's own argument parsing before it becomes the server, ~0.1 s, is not
  included.)
- page switch: click a sidebar link -> the new page's main content (title plus its charts,
  images, tables) drawn; warm (every page visited once first), median over rounds of the
  eight pages.
- explanation: click Explain -> the SHAP figure shown, warm: the model's first
  explanation is made first, then other test samples of the same model are explained;
  per model (every explainable default entry), median; the goal is met when every
  model's median meets it.

The store holds every default zoo entry: --store DIR, or else the quick settings are
trained into a temporary store first (about 2-3 minutes on 2 cores). Prints the figures
with their goals and writes bench/results/dashboard.json.

    python bench/dashboard.py [--store DIR] [--starts 3] [--rounds 3] [--samples 4]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from _common import machine, train_quick_zoo  # bench/ is on sys.path when run as a script

ROOT = Path(__file__).resolve().parents[1]
# This file is bench/dashboard.py and bench/ comes first on sys.path: without the project
# ahead of it, `import dashboard` would find this script instead of the package.
sys.path.insert(0, str(ROOT))

from playwright.sync_api import TimeoutError as PlaywrightTimeout  # noqa: E402

from dashboard import harness  # noqa: E402
from dashboard.harness import (  # noqa: E402
    CHART,
    EXPLAIN_FIGURE,
    IMAGE,
    METRIC,
    TABLE,
    VIEWPORT,
    Server,
    wait_drawn,
)

RESULTS = ROOT / "bench" / "results" / "dashboard.json"
GOALS = {"startup_s": 6.0, "page_switch_s": 1.0, "explain_s": 1.0}
TIMEOUT_MS = 120_000

# The sidebar's order; (url path, title, what the page's main content is).
PAGES = [
    ("", "Keras Zoo", {TABLE: 1, harness.PAGE_LINK: 6}),
    ("model", "Model", {METRIC: 4}),
    ("curves", "Training curves", {CHART: 1}),
    ("explain", "Explain", {".st-key-explain_go": 1}),
    ("gan", "GAN", {CHART: 2, IMAGE: 2, METRIC: 4}),
    ("compare", "Compare runs", {TABLE: 2}),
    ("train", "Train", {'[data-testid="stForm"]': 1}),
    ("report", "Report", {".st-key-report_build": 1}),
]


def drawn(page, title: str, need: dict[str, int]) -> None:
    """Wait until the content is shown (timed: the script may still be running)."""
    wait_drawn(page, title, need, quiet_ms=0, timeout_ms=TIMEOUT_MS)


def settle(page, title: str, need: dict[str, int]) -> None:
    """Wait until the page is drawn and its script has finished (not timed)."""
    wait_drawn(page, title, need, timeout_ms=TIMEOUT_MS)


def measure_startup(browser, store: Path, log: Path) -> tuple[dict, Server, object]:
    """One cold start: process start -> Zoo table drawn. Returns the live server + page."""
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    server = harness.serve(store, log)
    health = server.wait_healthy()
    page.goto(server.url + "/")
    _, title, need = PAGES[0]
    drawn(page, title, need)
    first = time.perf_counter() - server.started
    settle(page, title, need)
    return {"health_s": health, "first_page_s": first}, server, context


def measure_switches(page, url: str, rounds: int) -> list[tuple[str, float]]:
    """Warm-up round over every page, then `rounds` timed rounds of sidebar clicks."""
    times: list[tuple[str, float]] = []
    order = PAGES[1:] + PAGES[:1]
    for r in range(rounds + 1):
        for path, title, need in order:
            start = time.perf_counter()
            harness.open_page(page, url, path)
            drawn(page, title, need)
            elapsed = time.perf_counter() - start
            settle(page, title, need)
            if r > 0:
                times.append((path or "zoo", elapsed))
    return times


def _choose(page, key: str, option: str | int) -> None:
    """Pick an option of the select box with widget key `key` (by text or position)."""
    box = page.locator(f'.st-key-{key} [role="combobox"]')
    listbox = page.locator('[role="listbox"]')
    box.click()
    # A click on a combobox that already has focus (it kept it after the last choice)
    # does not always open it; the arrow key does.
    try:
        listbox.wait_for(state="visible", timeout=2000)
    except PlaywrightTimeout:
        box.press("ArrowDown")
        listbox.wait_for(state="visible", timeout=10000)
    options = listbox.locator('[role="option"]')
    if isinstance(option, int):
        options.nth(option).click()
    else:
        options.filter(has_text=option).first.click()


def _explain_once(page) -> float:
    """Click Explain; seconds until the SHAP figure is shown."""
    ready = {".st-key-explain_go": 1}
    settle(page, "Explain", ready)
    assert not page.locator(METRIC).filter(has_text="additivity error (max)").count()
    assert not page.locator(EXPLAIN_FIGURE).count()
    start = time.perf_counter()
    page.locator(".st-key-explain_go button").click()
    need = {**ready, METRIC: 4, EXPLAIN_FIGURE: 1}
    drawn(page, "Explain", need)
    elapsed = time.perf_counter() - start
    settle(page, "Explain", need)
    return elapsed


def measure_explain(page, url: str, models: list[str], samples: int) -> dict[str, dict]:
    """Per model: the first explanation, then `samples` other test samples (warm)."""
    out: dict[str, dict] = {}
    for name in models:
        # The page's address names the model (what a shared link does); the model select
        # box's option list did not always open for playwright on a loaded machine.
        page.goto(f"{url}/explain?model={name}")
        settle(page, "Explain", {".st-key-explain_go": 1})
        first = _explain_once(page)
        warm = []
        for k in range(1, samples + 1):
            _choose(page, "explain_index", k)
            warm.append(_explain_once(page))
        out[name] = {
            "first_s": first,
            "warm_s": warm,
            "warm_median_s": statistics.median(warm),
        }
        print(f"  explain {name}: first {first:.2f} s, warm median {statistics.median(warm):.2f} s")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, help="a store with every default entry")
    parser.add_argument("--starts", type=int, default=3, help="cold starts to time")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds over the pages")
    parser.add_argument("--samples", type=int, default=4, help="warm explanations per model")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if min(args.starts, args.rounds, args.samples) < 1:
        parser.error("--starts, --rounds and --samples must be at least 1")

    from zoo.registry import default_order, get_spec

    tmp = tempfile.TemporaryDirectory(prefix="zoo-dash-bench-")
    store = args.store
    if store is None:
        store = Path(tmp.name) / "store"
        train_quick_zoo(store)
    models = [n for n in default_order() if get_spec(n).family != "gan"]
    log = Path(tmp.name) / "server.log"
    load_before = os.getloadavg()

    problem = harness.browser_problem()
    if problem:
        raise SystemExit(problem)
    with harness.chromium() as browser:
        starts = []
        server = context = None
        try:
            for i in range(args.starts):
                if server is not None:
                    context.close()
                    server.stop()
                got, server, context = measure_startup(browser, store, log)
                starts.append(got)
                print(
                    f"  start {i + 1}: health {got['health_s']:.2f} s, "
                    f"Zoo table {got['first_page_s']:.2f} s"
                )
            page = context.pages[0]
            switches = measure_switches(page, server.url, args.rounds)
            explains = measure_explain(page, server.url, models, args.samples)
        finally:
            if context is not None:
                context.close()
            if server is not None:
                server.stop()
            version = browser.version

    startup = statistics.median(s["first_page_s"] for s in starts)
    switch_all = [t for _, t in switches]
    per_page = {
        name: statistics.median(t for n, t in switches if n == name)
        for name in dict.fromkeys(n for n, _ in switches)
    }
    switch = statistics.median(switch_all)
    explain_worst = max(e["warm_median_s"] for e in explains.values())
    figures = {"startup_s": startup, "page_switch_s": switch, "explain_s": explain_worst}
    met = {k: figures[k] <= GOALS[k] for k in GOALS}

    import playwright
    import streamlit

    result = {
        "benchmark": "dashboard",
        "date": date.today().isoformat(),
        "machine": machine(),
        "cores": os.cpu_count(),
        "load_average_1min": {"before": load_before[0], "after": os.getloadavg()[0]},
        "versions": {
            "python": platform.python_version(),
            "streamlit": streamlit.__version__,
            "playwright": getattr(playwright, "__version__", "?"),
            "chromium": version,
        },
        "settings": {
            "store": str(args.store) if args.store else "default zoo, quick settings (temp)",
            "server": "zoo --store STORE dashboard --headless --no-train --port PORT "
            "(its streamlit command line, dashboard.cli.streamlit_command)",
            "chromium_args": harness.CHROMIUM_ARGS,
            "viewport": VIEWPORT,
            "starts": args.starts,
            "rounds": args.rounds,
            "samples_per_model": args.samples,
        },
        "figures": figures,
        "goals": GOALS,
        "met": met,
        "startup": {"runs": starts, "median_first_page_s": startup},
        "page_switch": {
            "median_s": switch,
            "max_s": max(switch_all),
            "median_per_page_s": per_page,
            "all_s": switch_all,
        },
        "explain": {
            "definition": "click Explain -> figure shown; warm = another sample, same model",
            "worst_model_median_s": explain_worst,
            "median_all_warm_s": statistics.median(
                t for e in explains.values() for t in e["warm_s"]
            ),
            "per_model": explains,
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")

    print(f"\ndashboard on {machine()} (load {load_before[0]:.1f} at start)")
    labels = {
        "startup_s": "start-up to Zoo table",
        "page_switch_s": "page switch (median)",
        "explain_s": "explanation, warm (worst model's median)",
    }
    for key, label in labels.items():
        verdict = "met" if met[key] else "MISSED"
        print(f"  {label:42s} {figures[key]:6.2f} s   goal <= {GOALS[key]:.0f} s  {verdict}")
    print("  per page: " + ", ".join(f"{k} {v:.2f}" for k, v in per_page.items()))
    print(f"wrote {args.out}")
    tmp.cleanup()


if __name__ == "__main__":
    main()
