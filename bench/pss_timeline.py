"""Where a command's peak memory is: the PSS of each process of its tree over time.

    python3 bench/pss_timeline.py [--every S] -- .venv/bin/kimicode pack CORPUS --budget 128000 --output F

Prints one line per sample: seconds since start, the tree's summed PSS, then each process's
PSS/private dirty memory in MB (the command first, then its children, e.g. forked workers), and
the sample with the highest sum at the end. A worker's private dirty memory is what it copied or
made on its own; the rest of its PSS is its share of pages it still shares with the parent.
Standard library only, Linux only (reads /proc).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import time


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as fh:
                found += [int(x) for x in fh.read().split()]
    except OSError:
        pass  # the process ended meanwhile
    return found


def _memory(pid: int) -> tuple[int, int]:
    """(PSS, private dirty) in MB; zeros for a process that ended meanwhile."""
    fields = {}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                name, _, rest = line.partition(":")
                if name in ("Pss", "Private_Dirty"):
                    fields[name] = int(rest.split()[0]) // 1024
    except OSError:
        pass
    return fields.get("Pss", 0), fields.get("Private_Dirty", 0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--every", type=float, default=0.5, help="seconds between samples")
    parser.add_argument("command", nargs="+")
    args = parser.parse_args()
    start = time.monotonic()
    proc = subprocess.Popen(args.command, stdout=subprocess.DEVNULL)
    peak = (0, "")
    while proc.poll() is None:
        tree = [proc.pid]
        for pid in tree:  # grows while walked: children, grandchildren, ...
            tree += _children(pid)
        sizes = [_memory(pid) for pid in tree]
        total = sum(pss for pss, _ in sizes)
        line = f"{time.monotonic() - start:7.1f} s  {total:5d} MB  " + "  ".join(f"{pss}/{own}" for pss, own in sizes)
        print(line, flush=True)
        peak = max(peak, (total, line))
        time.sleep(args.every)
    print(f"exit {proc.returncode}; highest sum: {peak[1]}")
    return proc.returncode


if __name__ == "__main__":
    raise SystemExit(main())
