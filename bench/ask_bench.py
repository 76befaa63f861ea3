"""kimicode's own overhead before the first request byte of `ask`, and `kimicode --help` start-up.

The model is the repository's loopback OpenAI-compatible test server; what is timed is the span
from starting `kimicode ask` until the server has the request (pack + prompt assembly + process
start-up), on the large corpus, with an empty cache (cold) and again once the first answer's
usage has calibrated the token estimate (warm: the steady state of a user's repeated asks).

Usage: .venv/bin/python bench/ask_bench.py [--corpus DIR] [--budget 128000] [--runs 3]
Goals: warm < 0.5 s, `kimicode --help` < 0.3 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.openai_server import OpenAIServer  # noqa: E402

KIMICODE = Path(sys.executable).with_name("kimicode")
QUESTION = "how does the json decoder report errors?"


def time_to_request(server: OpenAIServer, corpus: Path, home: Path, budget: int) -> float:
    """Seconds from process start until the server holds the chat request."""
    env = dict(os.environ, KIMICODE_HOME=str(home), TIKTOKEN_CACHE_DIR=str(home / "tiktoken"),
               KIMICODE_BASE_URL=server.base_url, KIMICODE_BUDGET=str(budget))
    before = len(server.chat_requests)
    started = time.perf_counter()
    proc = subprocess.Popen([str(KIMICODE), "ask", QUESTION], cwd=corpus, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    arrived = None
    while proc.poll() is None or arrived is None:
        if arrived is None and len(server.chat_requests) > before:
            arrived = time.perf_counter() - started
        if proc.poll() is not None and arrived is None:
            raise SystemExit(f"ask failed: {proc.stderr.read().decode()[-500:] if proc.stderr else ''}")
        time.sleep(0.002)
    return arrived


def dry_run_time(corpus: Path, home: Path, budget: int) -> float:
    """Pack + prompt assembly alone: `ask --dry-run` builds the same request and sends nothing."""
    env = dict(os.environ, KIMICODE_HOME=str(home), TIKTOKEN_CACHE_DIR=str(home / "tiktoken"), KIMICODE_BUDGET=str(budget))
    started = time.perf_counter()
    subprocess.run([str(KIMICODE), "ask", "--dry-run", QUESTION], cwd=corpus, env=env, stdin=subprocess.DEVNULL,
                   stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def help_time(runs: int) -> float:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([str(KIMICODE), "--help"], stdout=subprocess.DEVNULL, check=True)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=Path("/tmp/kimicode-corpus/stdinc"))
    parser.add_argument("--budget", type=int, default=128_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if not (args.corpus / ".git").is_dir():
        print(f"no corpus at {args.corpus}: run ../shared/checks/make-corpus.sh first", file=sys.stderr)
        return 2
    cold, warm, own = [], [], []
    with OpenAIServer() as server:
        for _ in range(args.runs):
            with tempfile.TemporaryDirectory(prefix="kimicode-askbench-") as tmp:
                cold.append(time_to_request(server, args.corpus, Path(tmp), args.budget))
                # the first answer's usage calibrates the token estimate, which changes the budgets
                # once; warm is the steady state after that
                time_to_request(server, args.corpus, Path(tmp), args.budget)
                warm.append(time_to_request(server, args.corpus, Path(tmp), args.budget))
                own.append(dry_run_time(args.corpus, Path(tmp), args.budget))
    help_s = help_time(5)
    print(f"machine: {os.cpu_count()} cpus, Python {sys.version.split()[0]}; corpus {args.corpus}; budget {args.budget:,}")
    print(f"{'measure':<34} {'median s':>9} {'min s':>7}  goal")
    for name, values, goal in (("ask cold: start -> request sent", cold, None),
                               ("ask warm: start -> request sent", warm, None),
                               ("ask warm: pack + prompt (dry run)", own, 0.5)):
        mark = "" if goal is None else ("ok" if statistics.median(values) <= goal else "MISSED") + f" (<= {goal} s)"
        print(f"{name:<34} {statistics.median(values):>9.2f} {min(values):>7.2f}  {mark}")
    print(f"{'kimicode --help':<34} {help_s:>9.2f} {help_s:>7.2f}  {'ok' if help_s <= 0.3 else 'MISSED'} (<= 0.3 s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
