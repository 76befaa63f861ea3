"""CPU of each stage of a pack after one edited file, in this process: where the edit path spends.

    python bench/edit_stages.py --corpus DIR --cache DIR [--file PATH] [--runs 3]

The cache (``--cache``, a kimicode cache dir) must hold a pack of the corpus already (the first run
makes one if not: a cold pack). Each run appends a line to ``--file`` (relative to the corpus),
packs, and puts the file back; it prints the pack's stages (pack.py's timings) in CPU seconds of
this process (git's children are not counted) and the peak RSS. Run it with another checkout first
on PYTHONPATH to measure that one the same way (bench/README.md, baselines). Do not run it while
another benchmark packs the same corpus: the edit would be packed there too.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--cache", type=Path, required=True, help="kimicode cache dir kept between runs")
    parser.add_argument("--file", default="copy00/pylib/json/decoder.py", help="the file to edit, relative to the corpus")
    parser.add_argument("--budget", type=int, default=128000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    time.perf_counter = time.process_time  # pack.py's laps read perf_counter: CPU of this process instead
    from kimicode.repo import pack

    print(f"kimicode from {Path(pack.__file__).parents[1]}")
    edited = args.corpus / args.file
    original = edited.read_bytes()
    for run in range(1, args.runs + 1):
        try:
            edited.write_bytes(original + f"\n/* edit {time.time_ns()} */\n".encode())
            start = time.process_time()
            result = pack.pack_repository(args.corpus, pack.PackOptions(budget=args.budget), args.cache)
            cpu = time.process_time() - start
        finally:
            edited.write_bytes(original)
        stages = " ".join(f"{k} {v:.2f}" for k, v in result.report.timings.items())
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"run {run}: {cpu:.2f} s CPU ({stages}); scanned {result.report.files_scanned}; peak RSS {peak:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
