"""How long the review hook holds a commit, and what it sends, when the input or the provider is bad.

Rows, each run as `kimicode review --staged` in a new session (no terminal: the CI / IDE case)
against the loopback server, once with the limits off (review.deadline = 0, review.max_tokens =
0, review.max_parts = 0: what kimicode did before they existed) and once with the defaults:

- huge diff: a staged diff of --mb MB of generated Python (default 9.9), instant server;
- stuck provider: a one-line change, the server sends SSE keep-alive comments for ever
  (the "limits off" run is stopped at --cap seconds and reported as such).

"limits off" also turns off idle_timeout and request_deadline. "~tokens sent" is the size of the
request bodies the server received, in characters / 4.

Run: .venv/bin/python bench/hook_faults.py [--mb 9.9] [--cap 180]
Wall times depend on the machine's load (printed before and after); requests and tokens do not.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.openai_server import OpenAIServer  # noqa: E402
from tests.repos import make_repo, write_files  # noqa: E402

# every limit this work added, off: the behaviour before it
OFF = "idle_timeout = 0\nrequest_deadline = 0\n[review]\ndeadline = 0\nmax_tokens = 0\nmax_parts = 0\n"


def big_diff(root: Path, megabytes: float) -> None:
    rng = random.Random(1)
    total, index = 0, 0
    while total < megabytes * 1_000_000:
        text = "".join(f"def func_{index}_{n}(value):\n    return value * {rng.randint(1, 10**6)} + {n}\n\n" for n in range(400))
        write_files(root, {f"gen/m{index}.py": text})
        total, index = total + len(text), index + 1


def run(root: Path, home: Path, server: OpenAIServer, config: str, cap: float) -> tuple[str, float]:
    write_files(home / "config", {"config.toml": config})
    env = {**os.environ, "KIMICODE_HOME": str(home), "KIMICODE_BASE_URL": server.base_url, "NO_COLOR": "1"}
    started = time.monotonic()
    try:
        done = subprocess.run([sys.executable, "-m", "kimicode", "review", "--staged"], cwd=root, env=env, capture_output=True,
                              text=True, timeout=cap, start_new_session=True, stdin=subprocess.DEVNULL)
        last = (done.stderr.strip().splitlines() or [""])[-1]
        outcome = f"exit {done.returncode}: {last[:110]}"
    except subprocess.TimeoutExpired:
        outcome = f"still waiting after {cap:g} s (stopped)"
    return outcome, time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=9.9)
    parser.add_argument("--cap", type=float, default=180.0, help="seconds before a run that hangs is stopped")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    rows = []
    with tempfile.TemporaryDirectory(prefix="kimicode-hook-bench-") as tmp, OpenAIServer() as server:
        server.default_reply.content = '{"findings": []}'
        base = Path(tmp)
        huge = base / "huge"
        make_repo(huge, {"seed.py": "x = 1\n"})
        big_diff(huge, args.mb)
        subprocess.run(["git", "add", "-A"], cwd=huge, check=True)
        stuck = base / "stuck"
        make_repo(stuck, {"a.py": "x = 1\n"})
        write_files(stuck, {"a.py": "x = 2\n"})
        subprocess.run(["git", "add", "-A"], cwd=stuck, check=True)
        for name, root, setup in ((f"huge diff ({args.mb:g} MB)", huge, None), ("stuck provider (keep-alive)", stuck, "keep")):
            for label, config in (("limits off", OFF), ("defaults", "")):
                if setup == "keep":
                    for _ in range(10):
                        server.keep_alive("", every=0.5)
                before = len(server.chat_requests)
                outcome, wall = run(root, base / f"home-{len(rows)}", server, config, args.cap)
                sent = server.chat_requests[before:]
                tokens = sum(len(str(r.body)) for r in sent) // 4
                rows.append((name, label, len(sent), tokens, wall, outcome))
                while server.pending:
                    server.next_script()  # drop what this row did not use
    print(f"{'case':<28} {'limits':<10} {'requests':>8} {'~tokens sent':>13} {'wall s':>8}  outcome")
    for name, label, requests, tokens, wall, outcome in rows:
        print(f"{name:<28} {label:<10} {requests:>8} {tokens:>13,} {wall:>8.1f}  {outcome}")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
