"""Multi-needle, proactive-interference accuracy of `kimicode ask` with and without tools.

A real repository (this one by default) is copied to a temp dir and facts are planted far apart
in its largest Python files: each key gets several revisions ("rev 1", "rev 2", ...) in
different files, so the early values interfere with the latest one, and a question asks for the
value of the highest revision. The pack budget is kept small enough that the pack cannot hold
every file in full: the full pack alone may miss needles; with tools the model can search.

Three modes, each `kimicode ask --json` as a subprocess against the endpoint given by flags:
  full        the packed repository, no tools
  lean+tools  outlines and the tree only; the model reads files through tools
  full+tools  the packed repository and the tools
For each: accuracy (the latest value in the answer) and tokens per answer (every request of the
answer summed, as the provider counts them), side by side from the same run.

Usage: .venv/bin/python bench/needles.py --base-url URL --model NAME [--api-key-env VAR]
       [--repo DIR] [--keys 6] [--revisions 3] [--budget 24000] [--modes full,lean+tools,full+tools]
Without --base-url it prints that it was skipped and exits 0 (no endpoint: nothing to measure).
``--offline`` needs no endpoint: it prints, per mode, the first request of each question
(`ask --dry-run`): its prompt tokens and how many latest revisions it already holds, i.e. what
the model can answer without calling a tool.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from kimicode.prompt import Message, count_messages  # noqa: E402
from kimicode.tokens import TokenCounter  # noqa: E402

COUNTER = TokenCounter()
KIMICODE = Path(sys.executable).with_name("kimicode")
MODES = {"full": ["--no-tools", "--context", "full"], "lean+tools": ["--tools", "--context", "lean"],
         "full+tools": ["--tools", "--context", "full"]}


@dataclass(frozen=True)
class Needle:
    key: str
    latest: str  # the value of the highest revision
    places: tuple[str, ...]  # path:line of each revision, oldest first


def copy_repo(source: Path, target: Path) -> None:
    """The tracked files of ``source`` at HEAD, in a fresh repository at ``target`` (committed once planted)."""
    target.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(source), "archive", "HEAD"], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    subprocess.run(["git", "-C", str(target), "init", "-q", "-b", "main"], check=True)


def commit(target: Path) -> None:
    subprocess.run(["git", "-C", str(target), "add", "-A"], check=True)
    subprocess.run(["git", "-C", str(target), "-c", "user.name=bench", "-c", "user.email=bench@example.invalid",
                    "commit", "-qm", "planted"], check=True)


def plant(root: Path, keys: int, revisions: int, rng: random.Random) -> list[Needle]:
    """Revisions of each key, each in another large file, at a line far from the others."""
    files = sorted((p for p in root.rglob("*.py") if ".git" not in p.parts), key=lambda p: -p.stat().st_size)
    files = files[: max(keys * revisions, 8)]
    needles = []
    slot = 0
    for k in range(keys):
        key = f"relay-{rng.randrange(100, 999)}-{k}"
        values = [str(rng.randrange(10_000, 99_999)) for _ in range(revisions)]
        places = []
        for rev, value in enumerate(values, 1):
            path = files[slot % len(files)]
            slot += 1
            lines = path.read_text(encoding="utf-8").split("\n")
            at = rng.randrange(len(lines) // 4, max(len(lines) * 3 // 4, len(lines) // 4 + 1))
            # a comment line of its own, never inside a string: before a line that starts a statement at column 0
            while at < len(lines) and lines[at][:1] in (" ", "\t", ")", "]", "}", '"', "'"):
                at += 1
            lines.insert(at, f"# ops note: the port of {key} is {value} (revision {rev} of this setting)")
            path.write_text("\n".join(lines), encoding="utf-8")
            places.append(f"{path.relative_to(root)}:{at + 1}")
        needles.append(Needle(key, values[-1], tuple(places)))
    commit(root)
    return needles


def question_for(needle: Needle) -> str:
    return (f"Comments in this repository note the port of {needle.key} several times, each with a revision "
            f"number. What is its port in the highest revision? Answer with the number.")


def ask(root: Path, home: Path, args: argparse.Namespace, mode: str, needle: Needle) -> dict[str, object]:
    question = question_for(needle)
    env = dict(os.environ, KIMICODE_HOME=str(home), TIKTOKEN_CACHE_DIR=str(home / "tiktoken"),
               KIMICODE_BASE_URL=args.base_url, KIMICODE_MODEL=args.model, KIMICODE_BUDGET=str(args.budget))
    if args.api_key_env and os.environ.get(args.api_key_env):
        env["KIMICODE_API_KEY"] = os.environ[args.api_key_env]
    proc = subprocess.run([str(KIMICODE), "ask", "--json", *MODES[mode], question], cwd=root, env=env,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=args.timeout)
    if proc.returncode != 0 or not proc.stdout.strip():
        return {"ok": False, "prompt": 0, "completion": 0, "requests": 0, "error": proc.stderr.strip()[-300:]}
    body = json.loads(proc.stdout)
    tools = body.get("tools")
    usage = (tools or {}).get("usage") or body.get("usage") or {}
    return {"ok": needle.latest in str(body.get("answer", "")), "prompt": int(usage.get("prompt_tokens") or 0),
            "completion": int(usage.get("completion_tokens") or 0), "requests": (tools or {}).get("requests", 1),
            "calls": len((tools or {}).get("calls", []))}


def first_request(root: Path, home: Path, args: argparse.Namespace, mode: str, needle: Needle) -> dict[str, object]:
    """`ask --dry-run` of the question: the first request's size, and whether it holds the latest value."""
    env = dict(os.environ, KIMICODE_HOME=str(home), TIKTOKEN_CACHE_DIR=str(home / "tiktoken"),
               KIMICODE_MODEL=args.model, KIMICODE_BUDGET=str(args.budget))
    proc = subprocess.run([str(KIMICODE), "ask", "--dry-run", "--json", *MODES[mode], question_for(needle)], cwd=root,
                          env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=args.timeout)
    if proc.returncode != 0:
        raise SystemExit(f"needles: ask --dry-run failed: {proc.stderr.strip()[-300:]}")
    body = json.loads(proc.stdout)
    text = json.dumps(body["messages"])
    # counted exactly (dry-run bounds short parts by their bytes): the messages and the tools' descriptions
    messages = [Message(m["role"], m["content"]) for m in body["messages"]]
    tokens = count_messages(messages, COUNTER) + (COUNTER.count(json.dumps(body["tools"])) if body.get("tools") else 0)
    return {"ok": f"{needle.key} is {needle.latest}" in text, "prompt": tokens}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", help="an OpenAI-compatible endpoint; without it the benchmark is skipped")
    parser.add_argument("--model", default="kimi-k2.7-code")
    parser.add_argument("--api-key-env", default="MOONSHOT_API_KEY", help="the variable holding the key")
    parser.add_argument("--repo", type=Path, default=REPO, help="the repository to plant needles in (copied)")
    parser.add_argument("--keys", type=int, default=6)
    parser.add_argument("--revisions", type=int, default=3)
    parser.add_argument("--budget", type=int, default=24_000, help="pack.budget: small enough to leave files out")
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--offline", action="store_true", help="no endpoint: measure each mode's first request only")
    args = parser.parse_args()
    if not args.base_url and not args.offline:
        print("needles: skipped (no endpoint: give --base-url and --model, or --offline for the first requests)")
        return 0
    modes = [m for m in args.modes.split(",") if m]
    unknown = [m for m in modes if m not in MODES]
    if unknown:
        parser.error(f"unknown modes {unknown}: choose from {', '.join(MODES)}")
    work = Path(tempfile.mkdtemp(prefix="kimicode-needles-"))
    try:
        root = work / "repo"
        copy_repo(args.repo.resolve(), root)
        needles = plant(root, args.keys, args.revisions, random.Random(args.seed))
        print(f"repository {args.repo} ({len(needles)} keys x {args.revisions} revisions), model {args.model}, "
              f"pack.budget {args.budget:,}")
        if args.offline:
            print(f"{'mode':<12} {'latest value in the first request':>34} {'first request tokens':>21}")
            for mode in modes:
                firsts = [first_request(root, work / f"home-{mode}", args, mode, needle) for needle in needles]
                seen = sum(1 for f in firsts if f["ok"])
                print(f"{mode:<12} {seen:>29}/{len(firsts):<4} {statistics.mean(int(f['prompt']) for f in firsts):>21,.0f}")
            return 0
        print(f"{'mode':<12} {'accuracy':>9} {'prompt tok/answer':>18} {'completion':>11} {'requests':>9} {'calls':>6}")
        for mode in modes:
            runs = [ask(root, work / f"home-{mode}", args, mode, needle) for needle in needles]
            for run in runs:
                if "error" in run:
                    print(f"  {mode}: a question failed: {run['error']}", file=sys.stderr)
            right = sum(1 for r in runs if r["ok"])
            print(f"{mode:<12} {right:>4}/{len(runs):<4} {statistics.mean(int(r['prompt']) for r in runs):>18,.0f} "
                  f"{statistics.mean(int(r['completion']) for r in runs):>11,.0f} "
                  f"{statistics.mean(int(r['requests']) for r in runs):>9.1f} "
                  f"{statistics.mean(int(r.get('calls', 0)) for r in runs):>6.1f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
