"""What a cold pack does more than once, and what its main process does alone, in every process.

    PYTHONPATH=<checkout> .venv/bin/python bench/pack_work.py [--corpus DIR] [--query Q] [--budget N]
        [--baseline <other checkout>]

Runs one cold pack in this process (a fresh cache) with counters on a few functions, which each
process (the main one and every forked worker) appends to a log: how many times the secret
detectors were built (0.1 s each), the redactions made (calls, distinct files, MB, CPU seconds),
the outline queries compiled, the texts made and the tokens counted (in the main process: serially, while the
cores idle). ``--baseline`` runs the same in a child process with that checkout first on
PYTHONPATH, and prints the two side by side; a counter a checkout does not have is left out.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any, Callable

QUERY = "where does the json decoder report errors with a line and column"


def _logged(log: Path, owner: Any, name: str, label: str, describe: Callable[..., Any] = lambda *a, **k: None) -> None:
    """Wrap ``owner.name`` so that each call appends (pid, label, seconds of CPU, detail) to ``log``."""
    real = getattr(owner, name, None)
    if real is None:
        return  # not in this checkout

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.thread_time()
        try:
            return real(*args, **kwargs)
        finally:
            line = json.dumps([os.getpid(), label, time.thread_time() - start, describe(*args, **kwargs)])
            with open(log, "a", encoding="utf-8") as out:  # one short append a call: whole lines across processes
                out.write(line + "\n")

    setattr(owner, name, wrapper)


def _measure(corpus: Path, query: str, budget: int) -> dict[str, float]:
    from kimicode.repo import contents, pack
    from kimicode.secrets import engine
    from kimicode.tokens import TokenCounter

    log = Path(tempfile.mkdtemp()) / "calls.jsonl"
    _logged(log, engine, "_plugins", "detectors")
    _logged(log, contents, "redact", "redact", lambda text, path, *a, **k: [path, len(text)])
    import tree_sitter

    _logged(log, tree_sitter, "Query", "outline query compiled")  # outline._query imports it when it compiles
    _logged(log, TokenCounter, "raw", "tokens counted")
    if hasattr(contents, "make_texts"):  # a file's texts made together (before: one call a text)
        _logged(log, contents, "make_texts", "texts", lambda root, path, modes, *a, **k: len(modes))
    else:
        _logged(log, contents, "make_text", "texts", lambda *a, **k: 1)
    cache = Path(tempfile.mkdtemp())
    main = os.getpid()
    result = pack.pack_repository(corpus, pack.PackOptions(budget=budget, query=query), cache)
    rows = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    out: dict[str, float] = defaultdict(float)
    redacted: set[str] = set()
    for pid, label, seconds, detail in rows:
        where = "main" if pid == main else "workers"
        out[f"{label}: calls ({where})"] += 1
        out[f"{label}: CPU s ({where})"] += seconds
        if label == "redact":
            redacted.add(detail[0])
            out["redact: MB"] += detail[1] / 1e6
        if label == "texts":  # calls count files; these count their texts
            out[f"texts: made ({where})"] += detail
    out["redact: distinct files"] = len(redacted)
    out["pack: tokens"] = result.report.total_tokens
    return dict(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=Path("/tmp/kimicode-corpus/stdinc"))
    parser.add_argument("--query", default=QUERY)
    parser.add_argument("--budget", type=int, default=128_000)
    parser.add_argument("--baseline", type=Path, help="another checkout, measured the same way in a child process")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)  # the child's answer
    args = parser.parse_args()
    mine = _measure(args.corpus, args.query, args.budget)
    if args.json:
        print(json.dumps(mine))
        return
    columns = {"this checkout": mine}
    if args.baseline:
        env = dict(os.environ, PYTHONPATH=str(args.baseline))
        command = [sys.executable, __file__, "--corpus", str(args.corpus), "--query", args.query,
                   "--budget", str(args.budget), "--json"]
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
        columns[f"baseline {args.baseline}"] = json.loads(done.stdout.splitlines()[-1])
    names = sorted({key for column in columns.values() for key in column})
    width = max(map(len, names))
    print(f"{'':{width}}  " + "  ".join(f"{title:>22}" for title in columns))
    for name in names:
        cells = [f"{column[name]:22.3f}" if name in column else f"{'-':>22}" for column in columns.values()]
        print(f"{name:{width}}  " + "  ".join(cells))


if __name__ == "__main__":
    main()
