"""Helpers the benchmarks share (run as `python bench/NAME.py`, so this is importable)."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def machine() -> str:
    """CPU model and core count, e.g. 'x86_64 AMD EPYC cores=2'."""
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{platform.machine()} {cpu} cores={os.cpu_count()}".strip()


def train_quick_zoo(store: str | Path) -> None:
    """Train every default zoo entry with its quick settings into `store` (a subprocess,
    `zoo train --all --quick`; about 2-3 minutes on 2 cores)."""
    print(f"training the default zoo (quick) into {store} ...", flush=True)
    cmd = [sys.executable, "-m", "zoo.cli", "--store", str(store), "train", "--all", "--quick"]
    root = Path(__file__).resolve().parents[1]
    subprocess.run(cmd, cwd=root, check=True, stdout=subprocess.DEVNULL)


@contextmanager
def store_or_temporary(store: str | None, prefix: str) -> Iterator[str]:
    """`store` when one was given, else a fresh temporary folder, removed on exit."""
    if store is not None:
        yield store
        return
    tmp = tempfile.mkdtemp(prefix=prefix)
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def header(benchmark: str, versions: dict[str, Any]) -> dict[str, Any]:
    """A results file's first keys: the benchmark, today's date, the machine and the
    versions (Python's, then `__version__` of each module given by name)."""
    return {
        "benchmark": benchmark,
        "date": dt.date.today().isoformat(),
        "machine": machine(),
        "versions": {
            "python": platform.python_version(),
            **{name: module.__version__ for name, module in versions.items()},
        },
    }


def write_results(path: str | Path, result: dict[str, Any]) -> Path:
    """Write `result` as indented JSON (NumPy numbers as floats) and say where."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=float) + "\n")
    print(f"\nwrote {out}")
    return out


class CpuByRole:
    """CPU seconds used by each kind of process while it runs, read from /proc (Linux).

    `roles` maps a name to substrings of a process's command line; a process counts under
    the first role it matches. Every `every` seconds a thread reads each matching
    process's own user + system time and keeps the first and the last reading per
    process: a process running before the window counts only what it used inside it, one
    that ends is still counted (up to its last reading), and a child reaped by its parent
    is not counted twice (its time is never read from the parent's). Use as a context
    manager; `seconds` holds the totals after it.

        with CpuByRole({"server": ["streamlit"], "chromium": ["chromium"]}) as cpu:
            ...
        print(cpu.seconds)
    """

    def __init__(self, roles: dict[str, list[str]], every: float = 1.0) -> None:
        import threading

        self.roles, self.every = roles, every
        self.seconds: dict[str, float] = {}
        self._first: dict[tuple[int, float], float] = {}  # (pid, start time) -> CPU at first
        self._last: dict[tuple[int, float], tuple[str, float]] = {}
        self._started: set[int] = set(int(p) for p in os.listdir("/proc") if p.isdigit())
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._tick = os.sysconf("SC_CLK_TCK")

    def __enter__(self) -> CpuByRole:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        totals: dict[str, float] = {}
        for key, (role, cpu) in self._last.items():
            totals[role] = totals.get(role, 0.0) + cpu - self._first[key]
        self.seconds = {k: round(v, 1) for k, v in sorted(totals.items(), key=lambda kv: -kv[1])}

    def _role(self, pid: str) -> str | None:
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, UnicodeDecodeError):
            return None
        return next((r for r, keys in self.roles.items() if any(k in cmd for k in keys)), None)

    def _loop(self) -> None:
        while True:
            for pid in filter(str.isdigit, os.listdir("/proc")):
                role = self._role(pid)
                if role is None:
                    continue
                try:
                    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                    # utime and stime: the process's own time, not its reaped children's.
                    cpu = (int(fields[11]) + int(fields[12])) / self._tick
                    key = (int(pid), int(fields[19]) / self._tick)  # a reused pid is new
                except (OSError, IndexError, ValueError):
                    continue
                # Running when the window opened: count from here; started inside it: all.
                self._first.setdefault(key, cpu if int(pid) in self._started else 0.0)
                self._last[key] = (role, cpu)
            if self._stop.wait(self.every):
                return
