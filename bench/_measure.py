"""Run one command as a subprocess and measure it: wall time and peak memory of its process tree.

Standard library only, Linux only (reads /proc).

Peak memory is the larger of two numbers:

* the peak of the *sum* of the resident set sizes (RSS) of the process and all its live
  descendants, sampled from /proc every ``interval`` seconds (catches worker processes that run
  at the same time, which ``ru_maxrss`` cannot add up);
* ``ru_maxrss`` from ``os.wait4``: the exact high-water mark of the largest single process in the
  tree (the kernel keeps it, so it also catches a peak shorter than the sampling interval).

The sum of RSS counts pages shared between processes (forked workers) once per process, so for a
multi-process tool it is an upper bound; for a single process it is exact.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

_PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass
class Measurement:
    argv: list[str]
    returncode: int
    wall_s: float
    peak_rss_bytes: int       # max(sampled tree sum, ru_maxrss)
    tree_peak_bytes: int      # sampled peak of the tree's summed RSS
    maxrss_bytes: int         # ru_maxrss of the largest single process (from wait4)
    max_procs: int            # most processes seen alive in the tree at once
    stdout_path: Path
    stderr_path: Path
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    def stdout_bytes(self) -> int:
        return self.stdout_path.stat().st_size

    def tail(self, which: str = "stderr", lines: int = 5) -> str:
        path = self.stderr_path if which == "stderr" else self.stdout_path
        try:
            with path.open("rb") as f:
                f.seek(max(0, path.stat().st_size - 8192))
                text = f.read().decode("utf-8", "replace")
        except OSError:
            return ""
        return "\n".join(text.strip().splitlines()[-lines:])


def _parent_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue  # exited meanwhile
        # "pid (comm) state ppid ...": comm may contain spaces and parentheses, so split after the last ')'.
        fields = stat[stat.rfind(b")") + 2:].split()
        children.setdefault(int(fields[1]), []).append(int(name))
    return children


def _tree_rss(root: int) -> tuple[int, int]:
    """Summed RSS (bytes) and process count of ``root`` and its live descendants."""
    children = _parent_map()
    total, count, todo = 0, 0, [root]
    while todo:
        pid = todo.pop()
        try:
            with open(f"/proc/{pid}/statm", "rb") as f:
                rss_pages = int(f.read().split()[1])
        except (OSError, IndexError, ValueError):
            continue
        # A zombie (exited, not yet reaped) still has /proc/PID/statm with zeros: harmless.
        total += rss_pages * _PAGE
        count += 1
        todo.extend(children.get(pid, ()))
    return total, count


class _Sampler(threading.Thread):
    def __init__(self, pid: int, interval: float) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.peak = self.max_procs = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            total, count = _tree_rss(self.pid)
            self.peak = max(self.peak, total)
            self.max_procs = max(self.max_procs, count)
            self._stop_event.wait(self.interval)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


def run_measured(argv: Sequence[str], *, cwd: str | os.PathLike | None = None,
                 env: Mapping[str, str] | None = None, workdir: Path,
                 timeout: float | None = None, interval: float = 0.05, label: str = "run") -> Measurement:
    """Run ``argv`` to completion; stdout and stderr go to files in ``workdir``.

    stdin is /dev/null, so a tool that asks a question gets EOF rather than hanging. The command
    runs in its own session; on timeout the whole process group is killed.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    out_path, err_path = workdir / f"{label}.stdout", workdir / f"{label}.stderr"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(list(argv), cwd=cwd, env=dict(env) if env is not None else None,
                                stdin=subprocess.DEVNULL, stdout=out, stderr=err, start_new_session=True)
        sampler = _Sampler(proc.pid, interval)
        sampler.start()
        timed_out = False
        timer = None
        if timeout:
            def kill() -> None:
                nonlocal timed_out
                timed_out = True
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            timer = threading.Timer(timeout, kill)
            timer.daemon = True
            timer.start()
        # wait4 instead of proc.wait(): it also returns the child's rusage (ru_maxrss covers the
        # child and every descendant it reaped). Popen's own bookkeeping is updated by hand.
        while True:
            try:
                _, status, usage = os.wait4(proc.pid, 0)
                break
            except InterruptedError:
                continue
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if timer is not None:
            timer.cancel()
        sampler.stop()
    maxrss = usage.ru_maxrss * 1024  # kilobytes on Linux
    return Measurement(argv=list(argv), returncode=proc.returncode, wall_s=wall,
                       peak_rss_bytes=max(maxrss, sampler.peak), tree_peak_bytes=sampler.peak,
                       maxrss_bytes=maxrss, max_procs=sampler.max_procs,
                       stdout_path=out_path, stderr_path=err_path, timed_out=timed_out)
