"""Helpers the benchmarks share (run as `python bench/NAME.py`, so this is importable)."""

from __future__ import annotations

import os
import platform
from pathlib import Path


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
