"""How long `kimicode ask` and `kimicode review` take to give up on a server that is not running.

A port bound and never listened on refuses every connection at once, so the time is kimicode's
own: start-up, discovery's probe, and the retries. Each row is run REPEAT times (the median and
the range are printed), beside `ask --dry-run` (start-up and planning, no request) as the floor.

    .venv/bin/python bench/refused.py                     # this checkout
    .venv/bin/python bench/refused.py --tree /path/to/old # another checkout's kimicode, same venv
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPEAT = 3


def run(args: list[str], cwd: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "kimicode", *args], cwd=cwd, env=env, capture_output=True, text=True,
                   timeout=300, stdin=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tree", type=Path, help="run the kimicode package of this checkout instead")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))  # bound, never listening: refused
        work = Path(tmp) / "repo"
        work.mkdir()
        subprocess.run(["git", "init", "-q"], cwd=work, check=True)
        (work / "app.py").write_text("def f(x):\n    return x\n")
        subprocess.run(["git", "add", "app.py"], cwd=work, check=True)
        env = {**os.environ, "KIMICODE_HOME": str(Path(tmp) / "home"),
               "KIMICODE_BASE_URL": f"http://127.0.0.1:{closed.getsockname()[1]}/v1"}
        if options.tree:
            env["PYTHONPATH"] = str(options.tree.resolve())
        rows = {
            "ask --dry-run (no request)": ["ask", "--dry-run", "--no-repo", "q?"],
            "ask, server refused": ["ask", "--no-repo", "q?"],
            "review, server refused": ["review"],
        }
        print(f"kimicode from {options.tree or Path(__file__).resolve().parent.parent}; {REPEAT} runs each")
        for name, args in rows.items():
            times = [run(args, work, env) for _ in range(REPEAT)]
            print(f"{name:<28} median {statistics.median(times):5.2f} s  (range {min(times):.2f}-{max(times):.2f})")


if __name__ == "__main__":
    main()
