"""Does a long conversation remember what matters? State compression vs plain truncation.

    .venv/bin/python bench/fidelity.py [--turns 100] [--window 10000] [--replies model|scripted]
    .venv/bin/python bench/fidelity.py --loopback     # exercise the pipeline offline (scores meaningless)

Twenty facts are planted in a scripted conversation (constraints, file paths, error
messages, decisions), padded with filler, under a small budget (``--window``) so that old
turns must leave the request many times. At the end one question per fact is asked, and
an answer counts when it contains the expected words. The conversation runs twice:
``state`` (kimicode's compaction into a structured state record) and ``truncate`` (old
turns simply dropped). Needs a configured endpoint and key (MOONSHOT_API_KEY or
KIMICODE_API_KEY, base_url/model from the config); without a key it says so and exits 0.

``--replies scripted`` answers the filler turns from a loopback server and spends the real
model only on compaction summaries and the final quiz (far fewer requests: useful on a
low rate tier).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kimicode.chat import Conversation  # noqa: E402
from kimicode.chat.context import ContextPolicy  # noqa: E402
from kimicode.chat.session import LoadedSession, SessionStore  # noqa: E402
from kimicode.config import load_settings  # noqa: E402
from kimicode.llm import ChatClient, Endpoint, LLMError  # noqa: E402
from kimicode.models import model_spec  # noqa: E402
from kimicode.tokens import TokenCounter  # noqa: E402


@dataclass(frozen=True)
class Fact:
    kind: str
    statement: str  # what the user says
    question: str
    expect: tuple[str, ...]  # any of these, case-insensitive, makes the answer right


FACTS = (
    Fact("constraint", "Never call the payments API without an idempotency key.", "What must every call to the payments API include?", ("idempotency",)),
    Fact("constraint", "All amounts must be stored as integer cents, not floats.", "How must amounts be stored?", ("cents",)),
    Fact("constraint", "Do not add new dependencies without asking me first.", "What must you do before adding a new dependency?", ("ask",)),
    Fact("constraint", "Always run the migrations with --dry-run first.", "Which flag must the migrations run with first?", ("dry-run", "dry run")),
    Fact("constraint", "Keep every public function under 50 lines.", "What is the length limit for public functions?", ("50",)),
    Fact("constraint", "The CLI must keep working on Python 3.9.", "Which Python version must the CLI keep working on?", ("3.9",)),
    Fact("path", "The rounding code lives in src/billing/rounding.py, please read it.", "In which file does the rounding code live?", ("src/billing/rounding.py",)),
    Fact("path", "The reconciliation is in services/ledger/reconcile.go, please read it.", "Which file holds the ledger reconciliation?", ("reconcile.go",)),
    Fact("path", "The checkout script is web/static/js/checkout.tsx, please read it.", "Which file is the checkout page's script?", ("checkout.tsx",)),
    Fact("path", "The database is set up in infra/terraform/main.tf, please read it.", "Which file sets up the database?", ("infra/terraform/main.tf", "main.tf")),
    Fact("path", "The currency decision record is docs/adr/0007-currency.md, please read it.", "Which file is the currency decision record?", ("0007",)),
    Fact("error", "The database check failed:\n```\npsycopg2.OperationalError: could not connect to server: Connection refused\n```",
         "What error did the database check give?", ("connection refused",)),
    Fact("error", "The averaging script failed:\n```\nZeroDivisionError: division by zero\n```", "Which Python exception did the averaging script raise?", ("zerodivisionerror",)),
    Fact("error", "The Rust build failed:\n```\nerror[E0502]: cannot borrow `ledger` as mutable because it is also borrowed as immutable\n```",
         "Which Rust error code did the build hit?", ("e0502",)),
    Fact("error", "The checkout page crashed:\n```\nTypeError: Cannot read properties of undefined (reading 'total')\n```",
         "Which property was read from undefined in the checkout crash?", ("total",)),
    Fact("error", "The test run failed:\n```\nFAILED tests/test_rounding.py::test_half_even - AssertionError: assert 0.15 == 0.2\n```",
         "Which test failed in tests/test_rounding.py?", ("test_half_even",)),
    Fact("decision", "We decided to use banker's rounding (ROUND_HALF_EVEN) everywhere.", "Which rounding mode did we decide on?", ("half_even", "half even", "banker")),
    Fact("decision", "We decided that the reconcile job runs nightly at 02:00 UTC.", "When does the reconcile job run?", ("02:00", "2:00", "2 am", "2am")),
    Fact("decision", "We decided that currency codes follow ISO 4217.", "Which standard do currency codes follow?", ("4217",)),
    Fact("decision", "We decided to keep the legacy endpoint until 2027.", "Until when do we keep the legacy endpoint?", ("2027",)),
)
VOCAB = ("the team looked at a report about weather gardens music rivers lunch trains colour paper ideas "
         "window garden bridge morning evening story picture meeting kitchen").split()


def filler(n: int, words: int = 150) -> str:
    return " ".join(VOCAB[(n * 13 + i * 7 + i * i) % len(VOCAB)] for i in range(words)).capitalize() + "."


def conversation(turns: int) -> list[str]:
    """User messages; the facts are spread over the first 70% so that all of them must survive compaction."""
    spread = max(int(turns * 0.7) // len(FACTS), 1)
    planted = {2 + n * spread: fact for n, fact in enumerate(FACTS)}
    return [f"Note {n}. {filler(n)} " + (planted[n].statement if n in planted else "") + " (Reply in one short sentence.)"
            for n in range(1, turns + 1)]


def quiz() -> str:
    lines = ["Answer each question from what we discussed, on its own line as 'N. answer'. "
             "If you do not know, write 'N. unknown'."]
    lines += [f"{n}. {fact.question}" for n, fact in enumerate(FACTS, start=1)]
    return "\n".join(lines)


def score(answer: str) -> list[bool]:
    found = {int(m.group(1)): m.group(2) for m in re.finditer(r"^\s*(\d+)[.)]\s*(.*)$", answer, re.MULTILINE)}
    return [any(e in found.get(n, "").lower() for e in fact.expect) for n, fact in enumerate(FACTS, start=1)]


def run(strategy: str, chat: ChatClient, summarizer: ChatClient, model: ChatClient, turns: int, home: Path) -> dict:
    counter = TokenCounter()
    file, meta = SessionStore(home / strategy).create(home, chat.spec.name)
    started = time.perf_counter()
    with Conversation(file, LoadedSession(meta, file.path), chat, counter, summarizer_client=summarizer,
                     policy=ContextPolicy(reply_tokens=min(3_000, chat.spec.context_window // 3), strategy=strategy)) as session:
        for n, text in enumerate(conversation(turns), start=1):
            session.send(text)
            if sys.stderr.isatty():
                print(f"\r{strategy}: turn {n}/{turns}, {len(session.reports)} compactions", end="", file=sys.stderr, flush=True)
        session.use_client(model)
        exchange = session.send(quiz())
        if sys.stderr.isatty():
            print(file=sys.stderr)
        marks = score(exchange.assistant.text)
        methods = [r.method for r in session.reports]
    by_kind: dict[str, list[bool]] = {}
    for fact, ok in zip(FACTS, marks):
        by_kind.setdefault(fact.kind, []).append(ok)
    return {"strategy": strategy, "correct": sum(marks), "of": len(FACTS), "marks": marks,
            "by_kind": {k: f"{sum(v)}/{len(v)}" for k, v in by_kind.items()}, "compactions": len(methods),
            "fallbacks": methods.count("fallback"), "quiz_prompt_tokens": exchange.prompt_tokens,
            "answer": exchange.assistant.text, "seconds": round(time.perf_counter() - started, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--turns", type=int, default=100, help="user turns before the quiz")
    parser.add_argument("--window", type=int, default=10_000, help="the budget the session works within")
    parser.add_argument("--replies", choices=["model", "scripted"], default="model")
    parser.add_argument("--loopback", action="store_true", help="no endpoint: the loopback test server answers everything")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args(argv)
    settings = load_settings(ROOT)
    servers = []
    if args.loopback or args.replies == "scripted":
        from tests.openai_server import OpenAIServer, Reply

        servers = [OpenAIServer().start() for _ in range(1 if not args.loopback else 2)]
        servers[0].default_reply = Reply("Noted.")
        if args.loopback:
            servers[1].default_reply = Reply(json.dumps({"add": [{"kind": "fact", "text": "Loopback fact.", "turns": []}]}))
    elif not settings.api_key:
        print("fidelity: skipped: no API key configured (set MOONSHOT_API_KEY or KIMICODE_API_KEY)")
        return 0
    spec = dataclasses.replace(model_spec(settings.model, settings.models), context_window=args.window, max_output=args.window)
    real = Endpoint.from_settings(settings)
    if args.loopback:
        real = Endpoint(servers[1].base_url, "", settings.model, timeout=30.0, max_retries=0)
    scripted = Endpoint(servers[0].base_url, "", settings.model, timeout=30.0, max_retries=0) if servers else real
    results = []
    try:
        with tempfile.TemporaryDirectory(prefix="kimicode-fidelity-") as tmp:
            os.environ["KIMICODE_HOME"] = tmp
            for strategy in ("state", "truncate"):
                clients = [ChatClient(scripted, spec), ChatClient(real, spec), ChatClient(real, spec)]
                try:
                    results.append(run(strategy, *clients, args.turns, Path(tmp)))
                except LLMError as exc:
                    print(f"\nfidelity: {strategy}: the endpoint failed: {exc}", file=sys.stderr)
                    return 1
                finally:
                    for client in clients:
                        client.close()
    finally:
        for server in servers:
            server.close()
    print(f"{'strategy':<10} {'correct':>8} {'compactions':>12} {'fallbacks':>10} {'quiz prompt':>12}  by kind")
    for r in results:
        kinds = ", ".join(f"{k} {v}" for k, v in r["by_kind"].items())
        print(f"{r['strategy']:<10} {r['correct']:>4}/{r['of']:<3} {r['compactions']:>12} {r['fallbacks']:>10} "
              f"{r['quiz_prompt_tokens']:>12,}  {kinds}")
    if args.loopback:
        print("(loopback: the answers are scripted, the scores mean nothing; this checks the pipeline only)")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
