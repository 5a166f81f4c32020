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
