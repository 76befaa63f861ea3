"""How much of each chat request is a byte-identical prefix of the previous one (what a provider caches).

    .venv/bin/python bench/cache_prefix.py [--repo PATH] [--turns 50] [--json FILE]

A scripted conversation (questions, pasted logs, files named now and then, some of them
outside the pack so that the repository is re-packed) runs through `Conversation` against
the loopback OpenAI-compatible server of the tests: no network, no key. Every request the
server receives is rendered as the model's prompt (role markers and contents, in order)
and compared with the previous one. The share is the token count of the longest common
prefix over the token count of the whole prompt.

Two scenarios by default: a Kimi-sized window (262,144) where no compaction is needed in
50 turns, and a small window (32,000) where compaction runs. Each turn is tagged: re-pack
(the repository was packed again), compaction, file attached (a file the user named was
attached in full after the message), or plain. Goal: >= 90% on every turn that did not re-pack.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kimicode.chat import Conversation  # noqa: E402
from kimicode.chat.context import ContextPolicy  # noqa: E402
from kimicode.chat.repo_shelf import RepoPacker  # noqa: E402
from kimicode.chat.session import LoadedSession, SessionStore  # noqa: E402
from kimicode.llm import ChatClient, Endpoint  # noqa: E402
from kimicode.models import model_spec  # noqa: E402
from kimicode.repo.pack import PackOptions  # noqa: E402
from kimicode.tokens import TokenCounter  # noqa: E402
from tests.openai_server import OpenAIServer, Reply  # noqa: E402

GOAL = 0.90
WORDS = ("the request budget shelf token window cache prefix state summary turn repository file outline "
         "compaction reply stream model answer error retry pack query rank graph import").split()


@dataclass
class Scenario:
    name: str
    window: int
    pack_budget: int
    reply: int


@dataclass
class TurnFigures:
    turn: int
    prompt_tokens: int
    prefix_tokens: int
    previous_tokens: int  # the previous request's prompt
    repacked: bool
    attached: bool  # a file named by the user was attached in full
    compacted: bool

    @property
    def share(self) -> float:
        return self.prefix_tokens / self.prompt_tokens if self.prompt_tokens else 0.0

    @property
    def reuse(self) -> float:
        """How much of the previous prompt this one reuses: 100% unless something early changed."""
        return self.prefix_tokens / self.previous_tokens if self.previous_tokens else 0.0

    @property
    def tag(self) -> str:
        return "re-pack" if self.repacked else "compaction" if self.compacted else "file attached" if self.attached else "plain"


@dataclass
class Outcome:
    scenario: Scenario
    turns: list[TurnFigures] = field(default_factory=list)
    repo_tokens: int = 0
    repo_note: str = ""
    seconds: float = 0.0


def sentence(n: int, words: int) -> str:
    return " ".join(WORDS[(n * 11 + i * 5 + i * i) % len(WORDS)] for i in range(words)).capitalize() + "."


def pasted_log(n: int, lines: int) -> str:
    body = "".join(f"tests/unit/test_mod{k % 17}.py::test_case_{k} PASSED [{k * 100 // lines:3d}%]\n" for k in range(lines))
    return f"Here is the test output:\n```\n{body}FAILED tests/unit/test_mod3.py::test_case_{n} - AssertionError: assert {n} == {n + 1}\n```"


def script(turns: int, files: list[str]) -> list[str]:
    """User messages: mostly questions, a pasted log every 9th turn, a file named every 6th."""
    messages = []
    for n in range(1, turns + 1):
        text = f"Question {n}. {sentence(n, 40 + (n % 4) * 30)}"
        if n % 9 == 0:
            text += "\n" + pasted_log(n, 120 + (n % 3) * 80)
        if n % 6 == 0 and files:
            text += f" Please look at {files[(n // 6) % len(files)]} for this."
        messages.append(text)
    return messages


def answer(n: int) -> Reply:
    return Reply(f"Answer {n}. " + " ".join(sentence(n + k, 50) for k in range(2 + n % 5)), chunk_size=2_000)


def rendered(messages: list[dict[str, Any]]) -> str:
    """The prompt as a chat template lays it out: role markers, then contents, in order."""
    return "".join(f"<|{m['role']}|>{m.get('reasoning_content', '')}{m['content']}<|end|>" for m in messages)


def common_prefix(a: str, b: str) -> int:
    limit = min(len(a), len(b))
    lo, hi = 0, limit
    while lo < hi:  # binary search on slices: fast for prompts of megabytes
        mid = (lo + hi + 1) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def run(scenario: Scenario, repo: Path, turns: int, home: Path) -> Outcome:
    counter = TokenCounter()
    spec = dataclasses.replace(model_spec("kimi-k2.6"), context_window=scenario.window, max_output=scenario.window)
    outcome = Outcome(scenario)
    started = time.perf_counter()
    with OpenAIServer() as chat, OpenAIServer() as summaries:
        summaries.default_reply = Reply(json.dumps({"goal": "Understand the chat core.", "add": [
            {"kind": "fact", "text": "The budget has six shelves.", "turns": []}]}), chunk_size=2_000)
        chat.queue(*(answer(n) for n in range(1, turns + 1)))
        endpoint = Endpoint(chat.base_url, "", spec.name, timeout=30.0, max_retries=0)
        summary_endpoint = Endpoint(summaries.base_url, "", spec.name, timeout=30.0, max_retries=0)
        options = PackOptions(budget=scenario.pack_budget)
        packer = RepoPacker(repo, options, home / "cache", counter)
        store = SessionStore(home / scenario.name)
        file, meta = store.create(repo, spec.name)
        session = Conversation(file, LoadedSession(meta, file.path), ChatClient(endpoint, spec), counter,
                              policy=ContextPolicy(reply_tokens=scenario.reply), packer=packer,
                              summarizer_client=ChatClient(summary_endpoint, spec), project_root=repo)
        outcome.repo_tokens, outcome.repo_note = session.repo.tokens, session.repo.note
        in_pack = sorted(session.repo.full)
        outline = sorted(session.repo.outline)
        # Alternate files already in full (no re-pack) with files only outlined (re-pack).
        files = [p for pair in zip(in_pack[1:], outline[5:]) for p in pair] or in_pack
        previous, previous_tokens = "", 0
        with session:
            for n, text in enumerate(script(turns, files), start=1):
                exchange = session.send(text)
                prompt = rendered(chat.chat_requests[-1].body["messages"])
                tokens = counter.count(prompt)
                if previous:
                    prefix = common_prefix(previous, prompt)
                    outcome.turns.append(TurnFigures(n, tokens, counter.count(prompt[:prefix]), previous_tokens,
                                                     any(x.startswith("re-packed") for x in exchange.notes),
                                                     any(x.startswith("attached ") for x in exchange.notes),
                                                     bool(exchange.compactions)))
                previous, previous_tokens = prompt, tokens
    outcome.seconds = time.perf_counter() - started
    return outcome


def summarize(outcome: Outcome) -> dict[str, Any]:
    rows = outcome.turns
    by_tag: dict[str, list[TurnFigures]] = {}
    for row in rows:
        by_tag.setdefault(row.tag, []).append(row)
    not_repacked = [r.share for r in rows if not r.repacked]
    return {
        "scenario": outcome.scenario.name, "window": outcome.scenario.window, "pack_budget": outcome.scenario.pack_budget,
        "repo_tokens": outcome.repo_tokens, "repo_note": outcome.repo_note, "turns_compared": len(rows),
        "repacks": sum(r.repacked for r in rows), "compactions": sum(r.compacted for r in rows),
        "files_attached": sum(r.attached for r in rows),
        "mean_prompt_tokens": round(statistics.mean(r.prompt_tokens for r in rows)) if rows else 0,
        "no_repack_mean": statistics.mean(not_repacked) if not_repacked else 0.0,
        "no_repack_min": min(not_repacked) if not_repacked else 0.0,
        "no_repack_at_goal": sum(s >= GOAL for s in not_repacked), "no_repack_turns": len(not_repacked),
        "by_tag": {tag: {"turns": len(v), "mean": statistics.mean(r.share for r in v), "min": min(r.share for r in v),
                         "reuse_min": min(r.reuse for r in v)} for tag, v in sorted(by_tag.items())},
        "seconds": round(outcome.seconds, 1),
    }


def print_table(results: list[dict[str, Any]]) -> None:
    print(f"{'scenario':<10} {'window':>8} {'repo tok':>9} {'turns':>6} {'re-packs':>9} {'compact':>8} "
          f"{'mean prompt':>12} {'no-re-pack mean':>16} {'min':>7} {'>= 90%':>8}")
    for r in results:
        print(f"{r['scenario']:<10} {r['window']:>8,} {r['repo_tokens']:>9,} {r['turns_compared']:>6} {r['repacks']:>9} "
              f"{r['compactions']:>8} {r['mean_prompt_tokens']:>12,} {r['no_repack_mean']:>15.1%} {r['no_repack_min']:>7.1%} "
              f"{r['no_repack_at_goal']:>4}/{r['no_repack_turns']:<3}")
    print()
    for r in results:
        parts = ", ".join(f"{tag}: {v['turns']} turns, share mean {v['mean']:.1%} min {v['min']:.1%}, "
                          f"reuse of the previous prompt min {v['reuse_min']:.1%}" for tag, v in r["by_tag"].items())
        print(f"{r['scenario']}: {parts} ({r['seconds']} s)")
        if r["repo_note"]:
            print(f"  note: {r['repo_note']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repo", type=Path, default=ROOT, help="repository to pack (default: this checkout)")
    parser.add_argument("--turns", type=int, default=50)
    parser.add_argument("--json", type=Path, help="write per-turn figures here")
    args = parser.parse_args(argv)
    scenarios = [Scenario("kimi", 262_144, 64_000, 16_384), Scenario("small", 32_000, 8_000, 4_096)]
    results, raw = [], []
    with tempfile.TemporaryDirectory(prefix="kimicode-bench-") as tmp:
        os.environ["KIMICODE_HOME"] = tmp  # nothing reaches the user's real dirs
        for scenario in scenarios:
            outcome = run(scenario, args.repo.resolve(), args.turns, Path(tmp))
            results.append(summarize(outcome))
            raw.append({"scenario": scenario.name,
                        "turns": [dataclasses.asdict(t) | {"share": t.share, "reuse": t.reuse, "tag": t.tag} for t in outcome.turns]})
    print_table(results)
    if args.json:
        args.json.write_text(json.dumps({"summary": results, "turns": raw}, indent=1))
    print()
    for r in results:
        met = r["no_repack_at_goal"] == r["no_repack_turns"]
        print(f"{r['scenario']}: goal (>= {GOAL:.0%} on every turn without a re-pack) "
              f"{'met' if met else 'NOT met'}: {r['no_repack_at_goal']}/{r['no_repack_turns']} turns")
    stable = all(v["reuse_min"] >= 0.999 for r in results for tag, v in r["by_tag"].items() if tag in ("plain", "file attached"))
    print(f"ordering: every turn without a re-pack or compaction reuses 100% of the previous prompt: {'yes' if stable else 'NO'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
