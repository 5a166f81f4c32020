"""The floor under bench/dashboard_load.py: the same load on Streamlit apps with (almost)
nothing in them.

bench/dashboard_load.py drives the dashboard with 8 headless Chromium sessions on the
server's own machine, and its goal (p95 click -> shown <= 2 s) is missed there. Its CPU
by role says where the time goes (the browsers took ~75 % of the 2 cores, the server
~25 %); this bench asks how much of that any Streamlit page costs, with no zoo code in it.
It serves, one after another in the same run, two tiny multipage apps written to a
temporary folder, and drives each with the load bench's sessions (the same Chromium and
arguments, one browser context per session, a sidebar click timed until the page's
content is shown, `DRAWN_JS` polled every 50 ms, no pause between clicks):

- `empty`: five pages, each a title and one line of text (Streamlit's own cost per page
  switch: the rerun, the websocket messages, React's redraw);
- `one element`: five pages, each a title and ONE element of the kinds the dashboard's
  pages hold several of: a table the size of the Zoo page's (st.dataframe, 6 x 10), a
  training-curve chart (Altair, 2 lines x 100 epochs), four metrics, a 280 x 280 PNG
  (st.image), and a caption.

Prints and writes bench/results/dashboard_load_floor.json: per app p50 / p95 / max, the
page switches per second, and CPU seconds per role (browsers, server, driver) per switch.
When `one element` alone misses p95 <= 2 s, no page that shows what the dashboard must
show (several tables, charts, metrics and a figure per page) can meet it under this load
on this machine, whatever the server does.

`--per-element` asks what each kind of element costs a browser instead: one session, 20 s
per app, an app of text and one app per kind whose five pages hold EIGHT elements of that
kind; (Chromium CPU per switch - the text app's) / 8 per kind, written to
bench/results/dashboard_load_floor_elements.json.

    python bench/dashboard_load_floor.py [--sessions 8] [--seconds 60] [--per-element]
                                         [--out FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version as package_version
from pathlib import Path

import numpy as np
from _common import CpuByRole, header, write_results  # bench/ is on sys.path as a script

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the project before bench/dashboard.py (see dashboard_load)

from _async_pages import wait_drawn  # noqa: E402
from playwright.async_api import async_playwright  # noqa: E402

from dashboard.harness import (  # noqa: E402
    CHART,
    CHROMIUM,
    CHROMIUM_ARGS,
    HOST,
    IMAGE,
    METRIC,
    TABLE,
    VIEWPORT,
    free_port,
)

RESULTS = ROOT / "bench" / "results" / "dashboard_load_floor.json"
ELEMENTS = ROOT / "bench" / "results" / "dashboard_load_floor_elements.json"
CHROMIUM_ROLE = "chromium (the bench's browsers)"
GOAL_P95_S = 2.0
CPU_ROLES = {
    CHROMIUM_ROLE: ["chromium"],
    "streamlit server": ["streamlit"],
    "playwright driver": ["playwright"],
    "bench": ["dashboard_load_floor.py"],
}

# Each app: pages as (title, url path, the element its content needs, the page's body).
TEXT = ("p", 1)
APPS: dict[str, list[tuple[str, str, tuple[str, int], str]]] = {
    "empty": [
        (f"Page {k}", "" if k == 1 else f"p{k}", TEXT, "st.write('one line of text')")
        for k in range(1, 6)
    ],
    "one element": [
        ("Table", "", (TABLE, 1), "st.dataframe(TABLE_DF, hide_index=True)"),
        ("Chart", "chart", (CHART, 1), "st.altair_chart(CURVES)"),
        ("Metrics", "metrics", (METRIC, 4), "four_metrics()"),
        ("Image", "image", (IMAGE, 1), "st.image(PICTURE)"),
        ("Caption", "caption", TEXT, "st.caption('one caption')"),
    ],
}  # fmt: skip

MD_TABLE_SHOWN = '[data-testid="stMarkdownContainer"] table'
# `--per-element`: one session, each app five pages of EIGHT elements of one kind; the
# Chromium CPU per switch, less the text app's, over 8 is what one such element costs.
EIGHT = 8
PER_ELEMENT: dict[str, tuple[tuple[str, int], str]] = {
    "text": (TEXT, "st.write('one line of text')"),
    "dataframe": ((TABLE, EIGHT), "st.dataframe(TABLE_DF, hide_index=True)"),
    "altair chart": ((CHART, EIGHT), "st.altair_chart(CURVES)"),
    "image": ((IMAGE, EIGHT), "st.image(PICTURE)"),
    "metric": ((METRIC, EIGHT), "st.metric('metric', '0.9876', '+0.01')"),
    "markdown table": ((MD_TABLE_SHOWN, EIGHT), "st.markdown(MD_TABLE)"),
}  # fmt: skip


def per_element_apps() -> dict[str, list[tuple[str, str, tuple[str, int], str]]]:
    apps = {}
    for kind, (need, body) in PER_ELEMENT.items():
        times = 1 if kind == "text" else EIGHT
        apps[kind] = [
            (f"{kind.capitalize()} {k}", "" if k == 1 else f"p{k}", need, "; ".join([body] * times))
            for k in range(1, 6)
        ]
    return apps


APP_HEAD = """
import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

rng = np.random.default_rng(0)
TABLE_DF = pd.DataFrame(rng.random((6, 10)), columns=[f"column {i}" for i in range(10)])
epochs = np.arange(1, 101)
CURVES = alt.Chart(pd.DataFrame({
    "epoch": np.tile(epochs, 2),
    "loss": np.r_[1 / epochs, 1 / epochs + 0.1],
    "split": ["training"] * 100 + ["validation"] * 100,
})).mark_line().encode(x="epoch", y="loss", color="split")
PICTURE = (rng.random((280, 280)) * 255).astype("uint8")
MD_TABLE = "\\n".join(
    ["| " + " | ".join(TABLE_DF.columns) + " |", "|" + "---|" * TABLE_DF.shape[1]]
    + ["| " + " | ".join(f"{v:.3f}" for v in row) + " |" for row in TABLE_DF.values]
)


def four_metrics():
    for i, column in enumerate(st.columns(4)):
        column.metric(f"metric {i}", f"{i / 7:.4f}")
"""


def write_app(folder: Path, pages: list[tuple[str, str, tuple[str, int], str]]) -> Path:
    """A Streamlit script with `pages` in st.navigation's sidebar, as the dashboard has."""
    lines = [APP_HEAD]
    for k, (title, _, _, body) in enumerate(pages):
        lines += [f"def page_{k}():", f"    st.title({title!r})", f"    {body}", ""]
    entries = ", ".join(
        f"st.Page(page_{k}, title={title!r}, url_path={(path or 'home')!r}"
        + (", default=True)" if k == 0 else ")")
        for k, (title, path, _, _) in enumerate(pages)
    )
    lines.append(f"st.navigation([{entries}]).run()")
    script = folder / "app.py"
    script.write_text("\n".join(lines))
    return script


def serve(script: Path, port: int, log: Path) -> subprocess.Popen:
    cmd = [
        sys.executable, "-m", "streamlit", "run", str(script), "--server.headless", "true",
        "--server.address", HOST, "--server.port", str(port),
        "--browser.gatherUsageStats", "false",
    ]  # fmt: skip
    with log.open("wb") as out:
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


async def healthy(url: str, timeout_s: float = 60) -> None:
    import urllib.request

    end = time.perf_counter() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            if time.perf_counter() > end:
                raise
        await asyncio.sleep(0.3)


async def session(browser, url: str, pages, idx: int, ready: list[int], start: asyncio.Event,
                  end: list[float], times: list[float]) -> None:  # fmt: skip
    context = await browser.new_context(viewport=VIEWPORT)
    try:
        page = await context.new_page()
        await page.goto(url + "/")
        await wait_drawn(page, pages[0][0], dict([pages[0][2]]), quiet_ms=0, timeout_s=60)
        # Each page once, untimed: a new context loads each element's scripts on first use.
        for title, path, need, _ in pages[1:] + pages[:1]:
            await page.locator(f'[data-testid="stSidebarNav"] a[href="{url}/{path}"]').click()
            await wait_drawn(page, title, dict([need]), quiet_ms=0, timeout_s=60)
        ready.append(idx)
        await start.wait()
        k = idx  # sessions start on different pages, as in the load bench
        while time.perf_counter() < end[0]:
            k += 1
            title, path, need, _ = pages[1 + k % (len(pages) - 1)] if k % 5 else pages[0]
            t0 = time.perf_counter()
            await page.locator(f'[data-testid="stSidebarNav"] a[href="{url}/{path}"]').click()
            await wait_drawn(page, title, dict([need]), quiet_ms=0, timeout_s=30)
            times.append(time.perf_counter() - t0)
    finally:
        await context.close()


async def run_app(name: str, pages, args, folder: Path) -> dict:
    app_dir = folder / name.replace(" ", "_")
    app_dir.mkdir()
    script = write_app(app_dir, pages)
    port = free_port()
    url = f"http://{HOST}:{port}"
    server = serve(script, port, app_dir / "server.log")
    try:
        await healthy(url)
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                start, end, ready, times = asyncio.Event(), [0.0], [], []
                tasks = [
                    asyncio.create_task(session(browser, url, pages, i, ready, start, end, times))
                    for i in range(args.sessions)
                ]
                while len(ready) < len(tasks):
                    if any(t.done() for t in tasks):  # one failed before the window
                        await asyncio.gather(*tasks)
                    await asyncio.sleep(0.2)
                await asyncio.sleep(2)  # the last first visits' tails settle
                with CpuByRole(CPU_ROLES) as cpu:
                    t0 = time.perf_counter()
                    end[0] = t0 + args.seconds
                    start.set()
                    await asyncio.gather(*tasks)
                    duration = time.perf_counter() - t0
            finally:
                await browser.close()
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=15)
    a = np.asarray(times)
    n = len(a)
    figures = {
        "n": n,
        "p50_s": round(float(np.percentile(a, 50)), 3),
        "p95_s": round(float(np.percentile(a, 95)), 3),
        "max_s": round(float(a.max()), 3),
        "switches_per_s": round(n / duration, 2),
        "cpu_seconds": cpu.seconds,
        "cpu_seconds_per_switch": {k: round(v / n, 3) for k, v in cpu.seconds.items()},
        "meets_p95_goal": bool(np.percentile(a, 95) <= GOAL_P95_S),
    }
    print(
        f"{name:12s} n={n} p50 {figures['p50_s']:.2f} s  p95 {figures['p95_s']:.2f} s  "
        f"max {figures['max_s']:.2f} s  {figures['switches_per_s']} switches/s  "
        f"CPU s per switch {figures['cpu_seconds_per_switch']}",
        flush=True,
    )
    return figures


async def main_async(args, apps) -> dict:
    folder = Path(tempfile.mkdtemp(prefix="load-floor-"))
    try:
        return {name: await run_app(name, pages, args, folder) for name, pages in apps.items()}
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sessions", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--out", default=None, help=f"default {RESULTS.name} (or {ELEMENTS.name})")
    ap.add_argument(
        "--per-element",
        action="store_true",
        help="one session, 20 s per app, pages of 8 elements of one kind: what each kind costs",
    )
    args = ap.parse_args()
    chosen = APPS
    if args.per_element:
        chosen = per_element_apps()
        args.sessions, args.seconds = 1, min(args.seconds, 20.0)
    args.out = args.out or str(ELEMENTS if args.per_element else RESULTS)
    before = os.getloadavg()
    apps = asyncio.run(main_async(args, chosen))
    import streamlit

    result = {
        **header("dashboard_load_floor", {"streamlit": streamlit}),
        "cores": os.cpu_count(),
        "load_average_before_1_5_15min": before,
        "settings": {
            "sessions": args.sessions,
            "seconds": args.seconds,
            "think_s": 0.0,
            "chromium_args": CHROMIUM_ARGS,
            "viewport": VIEWPORT,
            "playwright": package_version("playwright"),
            "timing": "sidebar click -> the page's title and element shown (DRAWN_JS, quiet 0, "
            "polled every 50 ms), after each session visited every page once untimed",
            "apps": {name: [p[0] + ": " + p[3] for p in pages] for name, pages in chosen.items()},
        },
        "goal_p95_s": GOAL_P95_S,
        "apps": apps,
    }
    if args.per_element:
        base = apps["text"]["cpu_seconds_per_switch"][CHROMIUM_ROLE]
        result["chromium_cpu_s_per_element"] = {
            kind: round((got["cpu_seconds_per_switch"][CHROMIUM_ROLE] - base) / EIGHT, 4)
            for kind, got in apps.items()
            if kind != "text"
        }
        print("Chromium CPU-s per element:", result["chromium_cpu_s_per_element"])
    write_results(args.out, result)


if __name__ == "__main__":
    main()
