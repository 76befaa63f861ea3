"""bench/_measure.py's memory sampler: a process that ends while a sample is taken."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

BENCH = Path(__file__).resolve().parents[2] / "bench" / "_measure.py"


def measure() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_measure", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _state(pid: int) -> str:
    stat = Path(f"/proc/{pid}/stat").read_bytes()
    return stat[stat.rfind(b")") + 2:].split()[0].decode()


def test_a_process_that_ended_holds_no_memory_not_the_rss_read_a_moment_before() -> None:
    # The sampler reads a process's RSS, then its PSS: a forked worker that exits in between used to
    # be counted at its RSS, its shared pages in full (pack_bench's cold peaks of 243 and 324 MB
    # against 180 MB in every other run).
    _measure = measure()
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        deadline = time.monotonic() + 10
        while _state(child.pid) != "Z":  # exited, not reaped yet
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert _measure._pss(child.pid) == 0
    finally:
        child.wait()
    assert _measure._pss(child.pid) == 0  # reaped: gone
    assert _measure._pss(1) is None or _measure._pss(1) > 0  # alive: read, or unreadable (its RSS then)
