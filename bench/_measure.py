"""Run one command as a subprocess and measure it: wall time, CPU time and peak memory of its process tree.

Standard library only, Linux only (reads /proc).

Peak memory is the larger of two numbers:

* the peak of the *sum* of the proportional set sizes (PSS) of the process and all its live
  descendants, sampled from /proc every ``interval`` seconds. This adds up worker processes that
  run at the same time, which ``ru_maxrss`` cannot, and charges a page shared by n processes
  (forked workers, shared libraries) 1/n to each, so shared pages count once in the sum.
* ``ru_maxrss`` from ``os.wait4``: the exact high-water mark of the resident set of the largest
  single process in the tree (the kernel keeps it, so it also catches a peak shorter than the
  sampling interval).

CPU time is user + system from the same ``wait4``: the process and every descendant it reaped
(forked workers included). It moves far less than wall time when other work shares the machine.

The summed RSS is sampled too (``tree_rss_peak_bytes``): it counts shared pages once per process,
an upper bound for forking tools. Where smaps_rollup is missing, PSS falls back to RSS; while the
tree is a single process, its RSS is used (ru_maxrss bounds it anyway) since reading smaps_rollup
costs time in proportion to the process's size. The sampling interval grows when a sample is slow,
so the sampler stays under about a tenth of one CPU.
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
    peak_bytes: int           # max(sampled tree PSS sum, ru_maxrss)
    tree_pss_peak_bytes: int  # sampled peak of the tree's summed PSS
    tree_rss_peak_bytes: int  # sampled peak of the tree's summed RSS (shared pages counted per process)
    maxrss_bytes: int         # ru_maxrss of the largest single process (from wait4)
    max_procs: int            # most processes seen alive in the tree at once
    cpu_s: float              # user + system CPU of the process and the descendants it reaped (wait4)
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


def _pss(pid: int) -> int | None:
    """PSS in bytes; 0 for a process that has ended; None if it cannot be read (then its RSS is counted)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as f:
            for line in f:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1]) * 1024
    except (ProcessLookupError, FileNotFoundError):
        # Ended since its RSS was read (a zombie's smaps are gone too): counting that RSS would charge
        # a forked worker's shared pages in full, 60-150 MB too many at the 10k corpus when one exits
        # between the two reads.
        return 0
    except (OSError, ValueError, IndexError):
        pass
    return None


def _tree_memory(root: int) -> tuple[int, int, int]:
    """Summed PSS and RSS (bytes), and process count, of ``root`` and its live descendants."""
    children = _parent_map()
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, ()))
    rss: dict[int, int] = {}
    for pid in tree:
        try:
            with open(f"/proc/{pid}/statm", "rb") as f:
                rss[pid] = int(f.read().split()[1]) * _PAGE
        except (OSError, IndexError, ValueError):
            continue
        # A zombie (exited, not yet reaped) still has /proc/PID/statm, with zeros: harmless.
    if len(rss) <= 1:
        # One process: its PSS is at most its RSS, which ru_maxrss bounds exactly; reading
        # smaps_rollup costs time proportional to its size (about 80 ms for 3 GB), so skip it.
        total = sum(rss.values())
        return total, total, len(rss)
    pss_total = 0
    for pid, size in rss.items():
        pss = _pss(pid)
        pss_total += size if pss is None else pss
    return pss_total, sum(rss.values()), len(rss)


class _Sampler(threading.Thread):
    def __init__(self, pid: int, interval: float) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.pss_peak = self.rss_peak = self.max_procs = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            began = time.perf_counter()
            pss, rss, count = _tree_memory(self.pid)
            self.pss_peak = max(self.pss_peak, pss)
            self.rss_peak = max(self.rss_peak, rss)
            self.max_procs = max(self.max_procs, count)
            # Keep the sampler under about a tenth of one CPU, even for huge processes.
            self._stop_event.wait(max(self.interval, 9 * (time.perf_counter() - began)))

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
                       peak_bytes=max(maxrss, sampler.pss_peak), tree_pss_peak_bytes=sampler.pss_peak,
                       tree_rss_peak_bytes=sampler.rss_peak,
                       maxrss_bytes=maxrss, max_procs=sampler.max_procs,
                       cpu_s=usage.ru_utime + usage.ru_stime,
                       stdout_path=out_path, stderr_path=err_path, timed_out=timed_out)
