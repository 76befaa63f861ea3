"""CPU of each stage of a pack after one edited file, beside a warm pack: where the edit path spends.

    python bench/edit_stages.py --corpus DIR --cache DIR [--file PATH] [--runs 3] [--fresh]

The cache (``--cache``, a kimicode cache dir) must hold a pack of the corpus already (the first run
makes one if not: a cold pack). Each run packs the unchanged corpus (warm), then appends a line to
``--file`` (relative to the corpus), packs, and puts the file back (bytes and times); it prints each
pack's stages (pack.py's timings) in CPU seconds of the packing process (threads included, git's
children not) and, with ``--fresh``, the CPU of that whole process: each pack then runs in a new
interpreter, as ``kimicode pack`` does, so what a process pays once (imports, the tokenizer,
detect-secrets, numpy) is in every run. Without it the packs share one process: the steady state of
a long-running one (the TUI). Run it with another checkout first on PYTHONPATH to measure that one
the same way (bench/README.md, baselines). Do not run it while another benchmark packs the same
corpus: the edit would be packed there too.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path


def _pack(corpus: Path, cache: Path, budget: int) -> dict[str, object]:
    """One pack in this process: its stages and CPU, and this process's CPU so far (imports included)."""
    time.perf_counter = time.process_time  # pack.py's laps read perf_counter: CPU of this process instead
    start = time.process_time()
    from kimicode.repo import pack

    result = pack.pack_repository(corpus, pack.PackOptions(budget=budget), cache)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {"stages": result.report.timings, "pack": time.process_time() - start, "process": usage.ru_utime + usage.ru_stime,
            "scanned": result.report.files_scanned, "cached": result.report.from_cache, "rss": usage.ru_maxrss / 1024,
            "tokens": result.report.total_tokens, "code": str(Path(pack.__file__).parents[1])}


def _pack_fresh(corpus: Path, cache: Path, budget: int) -> dict[str, object]:
    argv = [sys.executable, __file__, "--child", "--corpus", str(corpus), "--cache", str(cache), "--budget", str(budget)]
    out = subprocess.run(argv, capture_output=True, text=True, check=True, env=os.environ)
    return json.loads(out.stdout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--cache", type=Path, required=True, help="kimicode cache dir kept between runs")
    parser.add_argument("--file", default="copy00/pylib/json/decoder.py", help="the file to edit, relative to the corpus")
    parser.add_argument("--budget", type=int, default=128000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--fresh", action="store_true", help="every pack in a new process (as the CLI)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(_pack(args.corpus, args.cache, args.budget)))
        return 0
    one = _pack_fresh if args.fresh else _pack
    edited = args.corpus / args.file
    original, st = edited.read_bytes(), edited.stat()
    one(args.corpus, args.cache, args.budget)  # the cache holds this state's pack from here on
    cpu: dict[str, list[float]] = {"warm": [], "edit": []}
    for run in range(1, args.runs + 1):
        for kind in ("warm", "edit"):
            try:
                if kind == "edit":
                    edited.write_bytes(original + f"\n/* edit {time.time_ns()} */\n".encode())
                m = one(args.corpus, args.cache, args.budget)
            finally:
                edited.write_bytes(original)
                os.utime(edited, ns=(st.st_atime_ns, st.st_mtime_ns))
            total = float(m["process"] if args.fresh else m["pack"])  # type: ignore[arg-type]
            cpu[kind].append(total)
            stages = " ".join(f"{k} {v:.2f}" for k, v in m["stages"].items())  # type: ignore[attr-defined]
            where = f"process {m['process']:.2f}, of which pack {m['pack']:.2f}" if args.fresh else f"pack {m['pack']:.2f}"
            print(f"run {run} {kind}: {where} s CPU ({stages}); scanned {m['scanned']}; {m['tokens']} tokens; "
                  f"peak RSS {m['rss']:.0f} MB")
    print(f"kimicode from {m['code']}; {'fresh process per pack' if args.fresh else 'one process'}")
    for kind, values in cpu.items():
        print(f"{kind}: median {statistics.median(values):.2f} s CPU (range {min(values):.2f}-{max(values):.2f})")
    print(f"edit - warm: {statistics.median(cpu['edit']) - statistics.median(cpu['warm']):.2f} s CPU (goal <= 0.3)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
