"""The sessions of bench/dashboard_load.py: what they share (`Run`), a viewer that loops
over the pages and explains, and the trainer that starts one training from the Train page.
"""

from __future__ import annotations

import asyncio
import random
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# bench/dashboard.py comes first on sys.path: the project must be ahead of it, or
# `import dashboard` would find that script instead of the package.
sys.path.insert(0, str(ROOT))

from _async_pages import (  # noqa: E402
    EXPLAIN_READY,
    FORM,
    SUCCESS,
    choose_text,
    image_states,
    listbox_options,
    main_text,
    open_page,
    shown_errors,
    wait_drawn,
)
from playwright.async_api import TimeoutError as PlaywrightTimeout  # noqa: E402

from dashboard.harness import (  # noqa: E402
    CHART,
    EXPLAIN_FIGURE,
    METRIC,
    PAGE_LINK,
    QUIET_MS,
    TABLE,
)

# The pages the viewers loop over: (name, url path, title, what its main content is).
PAGES = [
    ("zoo", "", "Keras Zoo", {TABLE: 1, PAGE_LINK: 6}),
    ("model", "model", "Model", {METRIC: 4}),
    ("curves", "curves", "Training curves", {CHART: 1}),
    ("explain", "explain", "Explain", EXPLAIN_READY),
    ("compare", "compare", "Compare runs", {TABLE: 2}),
]
ZOO = PAGES[0]


@dataclass
class Run:
    """What every session shares: settings, the clock, the records."""

    url: str
    seconds: float
    timeout_s: float
    train_timeout_s: float
    new_ref: str
    shots: Path | None = None
    think_s: float = 0.0  # mean reading time between a session's actions (0: none)
    cold: bool = False  # True: each session's first visit to each page is in the window
    start: asyncio.Event = field(default_factory=asyncio.Event)
    t0: float = 0.0
    times: list[dict] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)
    trained_at: float | None = None  # seconds into the run the trainer saw "Stored"
    training: dict = field(default_factory=dict)
    seen: dict[int, dict] = field(default_factory=dict)

    def now(self) -> float:
        return time.perf_counter() - self.t0

    def in_window(self) -> bool:
        return self.now() < self.seconds

    def training_over(self) -> bool:
        return bool(self.training) or self.now() > self.seconds + self.train_timeout_s

    def error(self, session: str, page: str, action: str, message: str) -> None:
        at = round(self.now(), 2) if self.t0 else None
        self.errors.append(
            {"session": session, "page": page, "action": action, "at_s": at, "message": message}
        )
        print(f"  ERROR {session} {page}/{action} at {at} s: {message[:300]}", flush=True)

    def saw(self, idx: int, where: str) -> None:
        if idx not in self.seen:
            self.seen[idx] = {"at_s": self.now(), "where": where}


class Viewer:
    """One viewer session: its own browser context, page and loop."""

    def __init__(self, run: Run, idx: int, context) -> None:
        self.run, self.idx, self.name = run, idx, f"viewer{idx}"
        self.context = context
        self.page = None
        self.explained = 0
        self.model_turn = idx
        self.step = "start"
        self.current = "zoo"  # the page shown
        self.explained_new = False  # the new version explained once

    async def open(self) -> None:
        self.page = await self.context.new_page()
        self.page.on("pageerror", self._js_error)
        await self.page.goto(self.run.url + "/", timeout=300_000)
        _, _, title, need = ZOO
        await wait_drawn(self.page, title, need, quiet_ms=QUIET_MS, timeout_s=300)
        if not self.run.cold:
            # Every page once, untimed, as bench/dashboard_load_floor.py does: a browser
            # loads a page type's element scripts on its first visit only.
            for spec in [*PAGES[1:], ZOO]:
                await self._switch(spec, timed=False)

    def _js_error(self, err: object) -> None:
        # the page and step it happened on: the error itself names no element
        self.run.error(
            self.name,
            self.current,
            "javascript",
            f"uncaught JavaScript error at step '{self.step}': {err}",
        )

    async def _check(self, page_name: str, action: str) -> None:
        for message in await shown_errors(self.page):
            self.run.error(self.name, page_name, action, message)

    async def _switch(self, spec: tuple, timed: bool) -> None:
        """Sidebar click -> content shown (timed), then wait until the script finished."""
        name, path, title, need = spec
        self.step = f"click {name} -> content shown"
        start = time.perf_counter()
        await open_page(self.page, self.run.url, path)
        await self._timed(title, need, name, "open", start, timed)
        self.current = name
        self.step = f"wait until the {name} page finished"
        await wait_drawn(self.page, title, need, quiet_ms=QUIET_MS, timeout_s=self.run.timeout_s)
        await self._check(name, "open")
        if name == "zoo":
            # the grid draws on a canvas; its accessible table (hidden) holds the text
            text = await self.page.locator(TABLE).first.text_content() or ""
            if self.run.new_ref in text:
                self.run.saw(self.idx, "Zoo table")

    async def _timed(
        self, title: str, need: dict, page_name: str, action: str, start: float, timed=True
    ) -> None:
        """Wait until shown; record the seconds since `start`. A wait that times out is
        recorded as the timeout (a lower bound, `timed_out`) before it is raised: the
        slowest actions stay in the percentiles."""
        timed_out = False
        try:
            await wait_drawn(self.page, title, need, quiet_ms=0, timeout_s=self.run.timeout_s)
        except PlaywrightTimeout:
            timed_out = True
            raise
        finally:
            if timed:
                took = self.run.timeout_s if timed_out else time.perf_counter() - start
                self.run.times.append(
                    {
                        "session": self.idx,
                        "page": page_name,
                        "action": action,
                        "seconds": took,
                        "timed_out": timed_out,
                        "at_s": start - self.run.t0,
                        "in_window": start - self.run.t0 < self.run.seconds,
                    }
                )

    async def _explain(self) -> None:
        """Pick a model and a sample (untimed), click Explain -> figure shown (timed)."""
        page, run = self.page, self.run
        self.step = "open the model picker"
        listbox, options = await listbox_options(page, "model_picker")
        refs = [o.split(" ")[0] for o in options]
        if run.new_ref in refs:
            self.run.saw(self.idx, "Explain model picker")
        if run.new_ref in refs and not self.explained_new:
            pick = refs.index(run.new_ref)  # explain the new version once, when it shows
            self.explained_new = True
        else:
            pick = self.model_turn % len(refs)
            self.model_turn += 1
        ref = refs[pick]
        self.step = f"choose {ref}"
        await listbox.locator('[role="option"]').nth(pick).click()
        await wait_drawn(page, "Explain", EXPLAIN_READY, quiet_ms=QUIET_MS, timeout_s=run.timeout_s)
        # A different sample each time, and different between sessions (indices < 80:
        # every explainable entry's test split is longer).
        index = (7 + 11 * self.idx + 29 * self.explained) % 80
        self.explained += 1
        self.step = f"choose sample #{index} of {ref}"
        await choose_text(page, "explain_index", rf"^#{index}:", typed=f"#{index}:")
        await wait_drawn(page, "Explain", EXPLAIN_READY, quiet_ms=QUIET_MS, timeout_s=run.timeout_s)
        await self._check("explain", f"choose {ref} #{index}")
        need = {**EXPLAIN_READY, METRIC: 4, EXPLAIN_FIGURE: 1}
        start = time.perf_counter()
        self.step = f"click Explain ({ref} #{index}) -> figure shown"
        await page.locator(".st-key-explain_go button").click()
        await self._timed("Explain", need, "explain", f"explain {ref.partition('@')[0]}", start)
        self.step = f"wait until the Explain page of {ref} #{index} finished"
        await wait_drawn(page, "Explain", need, quiet_ms=QUIET_MS, timeout_s=run.timeout_s)
        await self._check("explain", f"explain {ref} #{index}")

    async def _recover(self, page_name: str, action: str, err: BaseException) -> None:
        what = "timeout" if isinstance(err, PlaywrightTimeout) else type(err).__name__
        shown = await main_text(self.page)
        if action == "explain":  # which image the wait did not count (not loaded, not drawn)
            shown += " | images: " + await image_states(self.page)
        self.run.error(
            self.name,
            page_name,
            action,
            f"{what} at step '{self.step}': {str(err).splitlines()[0][:200]} | the page shows: "
            + shown,
        )
        try:
            if self.run.shots:
                self.run.shots.mkdir(parents=True, exist_ok=True)
                shot = self.run.shots / f"{self.name}-{len(self.run.errors)}.png"
                await self.page.screenshot(path=str(shot), full_page=True)
        except Exception:  # a screenshot is a debugging aid only
            pass
        self.current = "zoo"
        try:  # start over from the Zoo page, as a person would reload
            await self.page.goto(self.run.url + "/")
            _, _, title, need = ZOO
            await wait_drawn(self.page, title, need, quiet_ms=QUIET_MS, timeout_s=120)
        except Exception as again:
            self.run.error(self.name, "zoo", "reload", f"{type(again).__name__}: {again}")

    async def loop(self) -> None:
        run = self.run
        await run.start.wait()
        first = 1 + self.idx % (len(PAGES) - 1)  # never the Zoo page it is on
        order = PAGES[first:] + PAGES[:first]
        step = 0
        # A person reads a page before the next click: uniform on [0.5, 1.5] x think_s,
        # seeded per session (the same pauses in every run). 0: click on at once.
        pauses = random.Random(self.idx)
        while run.in_window():
            spec = order[step % len(order)]
            step += 1
            if spec[0] == self.current:  # after a reload onto the Zoo page: no click to time
                continue
            if run.think_s > 0:
                await asyncio.sleep(run.think_s * pauses.uniform(0.5, 1.5))
                if not run.in_window():
                    break
            action = "open"
            try:
                await self._switch(spec, timed=True)
                if spec[0] == "explain":
                    action = "explain"
                    await self._explain()
            except Exception as err:
                await self._recover(spec[0], action, err)
        # After the window: go on until this session has seen the new version (untimed).
        while self.idx not in run.seen:
            if run.training_over() and run.trained_at is None:
                break  # the training failed or ran out of time: nothing to see
            if run.now() > run.seconds + run.train_timeout_s + 60:
                break
            for spec in (PAGES[1], ZOO):
                await asyncio.sleep(2)  # a person glancing now and then, not a loop
                try:
                    await self._switch(spec, timed=False)
                except Exception as err:
                    await self._recover(spec[0], "open", err)


class Trainer:
    """The training session: Train page, entry and options filled in before the window;
    at the start, Train click -> "Stored NAME@N" shown."""

    def __init__(self, run: Run, context, entry: str, options: dict[str, int]) -> None:
        self.run, self.context, self.entry, self.options = run, context, entry, options
        self.page = None
        self.ready = {FORM: 1}

    async def open(self) -> None:
        run = self.run
        self.page = page = await self.context.new_page()
        page.on("pageerror", lambda err: run.error("trainer", "train", "javascript", str(err)))
        await page.goto(run.url + "/train", timeout=300_000)
        await wait_drawn(page, "Train", self.ready, quiet_ms=QUIET_MS, timeout_s=300)
        await choose_text(page, "train_entry", rf"^{re.escape(self.entry)}$")
        await wait_drawn(page, "Train", self.ready, quiet_ms=QUIET_MS, timeout_s=300)
        for option, value in self.options.items():
            box = page.locator(f".st-key-train_{self.entry}_{option} input")
            await box.fill(str(value))
            await box.press("Tab")  # commit the value (a form sends what was committed)

    async def loop(self) -> None:
        run = self.run
        await run.start.wait()
        start = time.perf_counter()
        try:
            await self._train(start)
        except Exception as err:  # the trainer's page broke: an error, not a crashed bench
            run.error("trainer", "train", "train", f"{type(err).__name__}: {err}")
            run.training = {"ok": False, "error": f"{type(err).__name__}: {err}"[:300]}
            run.training["started_at_s"] = start - run.t0

    async def _train(self, start: float) -> None:
        run, page = self.run, self.page
        await page.locator(".st-key-train_submit button").click()
        deadline = start + run.train_timeout_s
        outcome: dict = {}
        while time.perf_counter() < deadline:
            texts = await page.locator(SUCCESS).all_inner_texts()
            stored = next((m for t in texts if (m := re.search(r"Stored (\S+@\d+)", t))), None)
            if stored:
                run.trained_at = run.now()
                outcome = {
                    "ok": True,
                    "ref": stored.group(1),
                    "seconds": time.perf_counter() - start,
                    "message": texts[0].strip(),
                }
                break
            errors = await shown_errors(page)
            if errors:
                for message in errors:
                    run.error("trainer", "train", "train", message)
                outcome = {"ok": False, "error": errors[0]}
                break
            await asyncio.sleep(0.5)
        else:
            shown = await main_text(page)
            run.error("trainer", "train", "train", f"no 'Stored' after {run.train_timeout_s:.0f} s")
            outcome = {"ok": False, "error": f"timeout; the page shows: {shown}"}
        outcome["started_at_s"] = start - run.t0
        run.training = outcome
        print(f"  trainer: {outcome}", flush=True)
        if outcome.get("ok"):
            try:
                await wait_drawn(page, "Train", self.ready, quiet_ms=QUIET_MS, timeout_s=60)
                await self.run_check()
            except Exception as err:
                run.error("trainer", "train", "after training", f"{type(err).__name__}: {err}")

    async def run_check(self) -> None:
        for message in await shown_errors(self.page):
            self.run.error("trainer", "train", "after training", message)
