"""Error-memory benchmark: recall quality and add/search latency with 10k stored fingerprints.

    .venv/bin/python bench/memory_bench.py [--records 10000] [--queries 200] [--server] [--json FILE]

Recall: the recall set of tests/e2e/recall_set.py (each pair's first traceback stored, its
second one searched), once on its own and once hidden among N synthetic fingerprints of
the same languages and error types. Latency: bulk import, a single new add, a repeated
add (dedup), and a search, each on the full index, through the real MemoryStore on a
local PersistentClient (or, with --server, a `chroma run` server on loopback).
Everything lives in a temp dir that is removed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kimicode.config import MemorySettings, Settings  # noqa: E402
from kimicode.memory.capture import build_fingerprint  # noqa: E402
from kimicode.memory.fingerprint import Fingerprint  # noqa: E402
from kimicode.memory.recall import MIN_SCORE  # noqa: E402
from tests.e2e.recall_set import NOVEL, PAIRS, UNRELATED  # noqa: E402

MODULES = ["auth", "billing", "cart", "orders", "users", "search", "mailer", "reports", "jobs", "api", "cache", "db",
           "config", "images", "export", "parser", "session", "queue", "payments", "inventory"]
VERBS = ["load", "save", "parse", "render", "fetch", "update", "delete", "validate", "compute", "send", "build", "sync"]
NOUNS = ["user", "order", "invoice", "item", "token", "row", "page", "config", "price", "report", "session", "event"]
PY_ERRORS = [("KeyError", "'{n}_id'"), ("AttributeError", "'NoneType' object has no attribute '{v}'"),
             ("TypeError", "{v}() missing 1 required positional argument: '{n}'"), ("ValueError", "invalid {n}: '{x}'"),
             ("IndexError", "list index out of range"), ("ZeroDivisionError", "division by zero")]
JS_ERRORS = [("TypeError", "Cannot read properties of undefined (reading '{n}')"), ("ReferenceError", "{n} is not defined"),
             ("TypeError", "{n}.{v} is not a function")]
GO_PANICS = ["runtime error: index out of range [{i}] with length {i}", "assignment to entry in nil map",
             "runtime error: invalid memory address or nil pointer dereference"]


def synthetic(n: int, rng: random.Random) -> list[str]:
    """Error texts across languages, with the pools of names real projects reuse (hard distractors)."""
    out = []
    for k in range(n):
        mod, verb, noun = rng.choice(MODULES), rng.choice(VERBS), rng.choice(NOUNS)
        func = f"{verb}_{noun}"
        kind = k % 4
        if kind <= 1:
            etype, msg = rng.choice(PY_ERRORS)
            msg = msg.format(n=noun, v=verb, x=rng.randint(1, 999))
            out.append(f'Traceback (most recent call last):\n  File "/srv/app/{mod}/views.py", line {rng.randint(1, 400)}, in handle\n'
                       f'    x\n  File "/srv/app/{mod}/{noun}s.py", line {rng.randint(1, 400)}, in {func}_{k}\n    y\n{etype}: {msg}\n')
        elif kind == 2:
            etype, msg = rng.choice(JS_ERRORS)
            camel = verb + noun.capitalize()
            out.append(f"{etype}: {msg.format(n=noun, v=verb)}\n    at {camel}{k} (/srv/web/src/{mod}/{noun}.js:{rng.randint(1, 300)}:7)\n"
                       f"    at handler (/srv/web/src/{mod}/index.js:{rng.randint(1, 90)}:3)\n")
        else:
            panic = rng.choice(GO_PANICS).format(i=rng.randint(1, 9))
            out.append(f"panic: {panic}\n\ngoroutine 1 [running]:\nshop/internal/{mod}.{verb.capitalize()}{noun.capitalize()}{k}(...)\n"
                       f"\t/srv/go/internal/{mod}/{noun}.go:{rng.randint(1, 300)} +0x1d\n")
    return out


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def ms(values: list[float]) -> str:
    return f"p50 {statistics.median(values) * 1000:7.1f} ms   p95 {pct(values, 0.95) * 1000:7.1f} ms"


def recall(store, names: dict[str, str]) -> tuple[float, float, int, int]:  # type: ignore[no-untyped-def]
    at1 = at3 = 0
    for pair in PAIRS:
        ranked = [names.get(h.fingerprint.id, "other") for h in store.search(pair.second, n=3)]
        at1 += bool(ranked) and ranked[0] == pair.name
        at3 += pair.name in ranked
        if not ranked or ranked[0] != pair.name:
            print(f"  missed at 1: {pair.name} (ranked: {', '.join(ranked) or 'nothing'})")
    unrelated_first = sum(1 for pair in PAIRS if (hits := store.search(pair.second, n=1))
                          and names.get(hits[0].fingerprint.id) == "unrelated")
    novel_hits = sum(1 for text in NOVEL if store.search(text, n=1, min_score=MIN_SCORE))
    return at1 / len(PAIRS), at3 / len(PAIRS), unrelated_first, novel_hits


def start_server(base: Path) -> tuple[subprocess.Popen, str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    chroma = Path(sys.executable).parent / "chroma"
    proc = subprocess.Popen([str(chroma), "run", "--path", str(base / "server"), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    import httpx

    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/api/v2/heartbeat", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("chroma run did not start within 60 s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=10_000, help="synthetic fingerprints stored (default 10000)")
    parser.add_argument("--queries", type=int, default=200, help="searches and single adds timed (default 200)")
    parser.add_argument("--server", action="store_true", help="measure against a `chroma run` server instead of local files")
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    args = parser.parse_args()

    import git

    from kimicode.memory.store import MemoryStore

    rng = random.Random(7)
    work = Path(tempfile.mkdtemp(prefix="kimicode-memory-bench-"))
    server = None
    results: dict[str, object] = {"records": args.records, "pairs": len(PAIRS), "backend": "server" if args.server else "local"}
    try:
        repo = work / "repo"
        git.Repo.init(repo, initial_branch="main")
        (repo / "README.md").write_text("bench\n")
        r = git.Repo(repo)
        r.git.add("-A")
        r.git.commit("-m", "init", "--author", "b <b@example.invalid>", env={**os.environ, "GIT_COMMITTER_NAME": "b",
                                                                           "GIT_COMMITTER_EMAIL": "b@example.invalid"})
        settings = Settings()
        if args.server:
            server, url = start_server(work)
            settings = Settings(memory=MemorySettings(chroma_url=url))
        started = time.perf_counter()
        store = MemoryStore.open(settings, repo, work / "data")
        results["open_s"] = round(time.perf_counter() - started, 3)

        def record(text: str) -> Fingerprint:
            return build_fingerprint(text, repo, commit="c0ffee", seen="2026-01-01T00:00:00Z")

        firsts = [record(p.first) for p in PAIRS]
        names = {fp.id: p.name for fp, p in zip(firsts, PAIRS)}
        others = [record(t) for t in UNRELATED]
        names.update({fp.id: "unrelated" for fp in others})
        store.add_many(firsts + others)
        r1, r3, unrelated_first, novel = recall(store, names)
        results["recall_alone"] = {"at1": r1, "at3": r3, "unrelated_first": unrelated_first, "novel_matched": novel}

        started = time.perf_counter()
        texts = synthetic(args.records, rng)
        records = [record(t) for t in texts]
        fingerprint_s = time.perf_counter() - started
        started = time.perf_counter()
        for i in range(0, len(records), 1000):
            store.add_many(records[i:i + 1000])
        bulk_s = time.perf_counter() - started
        total = store.count()
        results["stored"] = total
        results["fingerprint_per_s"] = round(len(texts) / fingerprint_s)
        results["bulk_add_per_s"] = round(len(records) / bulk_s)
        r1, r3, unrelated_first, novel = recall(store, names)
        results["recall_10k"] = {"at1": r1, "at3": r3, "unrelated_first": unrelated_first, "novel_matched": novel}

        queries = [rng.choice(PAIRS).second for _ in range(args.queries // 2)] + rng.sample(texts, args.queries - args.queries // 2)
        search_t = []
        for text in queries:
            t = time.perf_counter()
            store.search(text, n=3)
            search_t.append(time.perf_counter() - t)
        new_t, dup_t = [], []
        fresh = [record(t) for t in synthetic(args.queries, random.Random(99))]
        for fp in fresh:
            t = time.perf_counter()
            store.add(fp)
            new_t.append(time.perf_counter() - t)
        for fp in fresh[: max(1, args.queries // 2)]:
            t = time.perf_counter()
            store.add(fp)
            dup_t.append(time.perf_counter() - t)
        results["search_ms"] = {"p50": round(statistics.median(search_t) * 1000, 2), "p95": round(pct(search_t, 0.95) * 1000, 2)}
        results["add_new_ms"] = {"p50": round(statistics.median(new_t) * 1000, 2), "p95": round(pct(new_t, 0.95) * 1000, 2)}
        results["add_dup_ms"] = {"p50": round(statistics.median(dup_t) * 1000, 2), "p95": round(pct(dup_t, 0.95) * 1000, 2)}

        a, b = results["recall_alone"], results["recall_10k"]  # type: ignore[index]
        print(f"kimicode error memory, {results['backend']} Chroma, {total:,} fingerprints stored")
        print(f"  recall set ({len(PAIRS)} pairs + {len(UNRELATED)} unrelated): recall@1 {a['at1']:.3f}  recall@3 {a['at3']:.3f}"
              f"  unrelated first {a['unrelated_first']}  novel errors matched {a['novel_matched']}/{len(NOVEL)}")
        print(f"  same, among {args.records:,} synthetic:      recall@1 {b['at1']:.3f}  recall@3 {b['at3']:.3f}"
              f"  unrelated first {b['unrelated_first']}  novel errors matched {b['novel_matched']}/{len(NOVEL)}")
        print(f"  open (chromadb import + client): {results['open_s']:.2f} s")
        print(f"  fingerprinting: {results['fingerprint_per_s']:,} errors/s; bulk import: {results['bulk_add_per_s']:,} records/s")
        print(f"  search (top 3)  {ms(search_t)}   ({len(search_t)} queries)")
        print(f"  add, new        {ms(new_t)}")
        print(f"  add, seen again {ms(dup_t)}")
        if args.json:
            args.json.write_text(json.dumps(results, indent=1) + "\n")
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
