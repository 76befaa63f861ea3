"""A 300-turn conversation under a small budget: every request fits, the planted facts survive.

Twenty facts are planted along the way (constraints, paths, error messages, and decisions
the user pins). The chat model and the summarizer are two loopback servers; the
summarizer answers valid JSON most of the time, plus invalid JSON, an HTTP error and a
cut stream, and it tries to retire a carried constraint. Whatever it does, every fact
the deterministic floor covers must be in every request from the turn it was planted on,
verbatim, and no request may exceed the window minus the reply reserve. Then the session
is resumed from its file and carries on.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kimicode.chat import Conversation
from kimicode.chat.context import ContextPolicy
from kimicode.chat.session import LoadedSession, SessionFile, SessionStore, load_session
from kimicode.llm import ChatClient, Endpoint
from kimicode.locations import user_locations
from kimicode.models import ModelSpec
from kimicode.prompt import framing_tokens
from kimicode.tokens import TokenCounter
from tests.openai_server import OpenAIServer, Reply

WINDOW, REPLY = 7_000, 800
USER_TURNS = 150  # and as many answers: 300 turns
COUNTER = TokenCounter()

CONSTRAINTS = [
    "Never call the payments API without an idempotency key.",
    "All amounts must be stored as integer cents, not floats.",
    "Do not add new dependencies without asking me first.",
    "Always run the migrations with --dry-run first.",
    "Keep every public function under 50 lines.",
    "The CLI must keep working on Python 3.9.",
]
PATHS = ["src/billing/rounding.py", "services/ledger/reconcile.go", "web/static/js/checkout.tsx",
         "infra/terraform/main.tf", "docs/adr/0007-currency.md"]
ERRORS = [
    "psycopg2.OperationalError: could not connect to server: Connection refused",
    "ZeroDivisionError: division by zero",
    "error[E0502]: cannot borrow `ledger` as mutable because it is also borrowed as immutable",
    "TypeError: Cannot read properties of undefined (reading 'total')",
    "FAILED tests/test_rounding.py::test_half_even - AssertionError: assert 0.15 == 0.2",
]
PINNED = [
    "Decision: use banker's rounding (ROUND_HALF_EVEN) everywhere.",
    "Decision: the reconcile job runs nightly at 02:00 UTC.",
    "Decision: currency codes follow ISO 4217.",
    "Decision: we keep the legacy endpoint until 2027.",
]
VOCAB = ("the team looked at a report about weather gardens music rivers lunch trains colour paper ideas "
         "window garden bridge morning evening story picture meeting kitchen").split()


def filler(n: int, words: int) -> str:
    text = " ".join(VOCAB[(n * 13 + i * 7 + i * i) % len(VOCAB)] for i in range(words))
    return text.capitalize() + "."


def script() -> dict[int, tuple[str, str]]:
    """User turn number -> (kind, fact), spread over the conversation."""
    facts = [("constraint", c) for c in CONSTRAINTS] + [("path", p) for p in PATHS] + \
            [("error", e) for e in ERRORS] + [("pin", d) for d in PINNED]
    return {3 + n * 7: fact for n, fact in enumerate(facts)}  # user turns 3, 10, ..., 136


def message(n: int, planted: tuple[str, str] | None) -> str:
    text = f"Turn {n}. {filler(n, 90 + n % 5 * 25)}"
    if planted is None:
        return text
    kind, fact = planted
    if kind == "path":
        return f"{text} The code in question is {fact}, please read it."
    if kind == "error":
        return f"{text} The run failed like this:\n```\nTraceback (most recent call last):\n  File \"x\", line 1\n{fact}\n```"
    return f"{text} {fact}"


def summary_reply(n: int) -> Reply:
    body = {"goal": "Fix the billing rounding without breaking the ledger.",
            "add": [{"kind": "fact", "text": f"Batch {n} discussed gardens and trains.", "turns": []}],
            "retire": [{"id": "C1", "reason": "the model thinks it is obsolete"}]}
    return Reply(json.dumps(body), chunk_size=1_000)


def client(server: OpenAIServer) -> ChatClient:
    return ChatClient(Endpoint(server.base_url, "", "test-model", timeout=5.0, max_retries=0),
                      ModelSpec("test-model", WINDOW, WINDOW))


def prompt_tokens(body: dict[str, Any]) -> int:
    messages = body["messages"]
    return framing_tokens(len(messages)) + sum(COUNTER.count(m["content"]) + COUNTER.count(m.get("reasoning_content", ""))
                                               for m in messages)


def test_three_hundred_turns_within_budget_keep_every_floor_fact(tmp_path: Path) -> None:
    planted = script()
    policy = ContextPolicy(reply_tokens=REPLY)
    with OpenAIServer() as chat, OpenAIServer() as summaries:
        chat.default_reply = Reply("Understood. " + filler(1, 60), chunk_size=1_000)
        summaries.default_reply = summary_reply(0)
        summaries.queue(Reply("Here is my summary: all good.", chunk_size=1_000))  # invalid JSON first
        summaries.fail(400, {"error": {"message": "bad request", "type": "invalid_request_error"}})
        summaries.cut_stream(after_chunks=2, content='{"goal": "cut', chunk_size=3)
        summaries.queue(*(summary_reply(n) for n in range(1, 4)))
        file, meta = SessionStore(user_locations().data_dir).create(tmp_path, "test-model")
        session = Conversation(file, LoadedSession(meta, file.path), client(chat), COUNTER, policy=policy,
                              summarizer_client=client(summaries))
        expected: list[tuple[int, str]] = []  # (user turn, fact that must be verbatim from then on)
        for n in range(1, USER_TURNS + 1):
            fact = planted.get(n)
            exchange = session.send(message(n, fact))
            if fact is not None:
                expected.append((n, fact[1]))
                if fact[0] == "pin":
                    session.history.pin(fact[1])
            assert exchange.prompt_tokens <= WINDOW - REPLY
        session.close()

        bodies = [r.body for r in chat.chat_requests]
        assert len(bodies) == USER_TURNS
        for n, body in enumerate(bodies, start=1):
            assert prompt_tokens(body) <= WINDOW - REPLY, f"request {n} is over budget"
            sent = "\n".join(m["content"] for m in body["messages"])
            # A pinned decision joins the ledger right after its turn is sent.
            missing = [fact for turn, fact in expected if turn < n or (turn == n and fact not in PINNED)]
            missing = [fact for fact in missing if fact not in sent]
            assert not missing, f"request {n} lost {missing}"

        reports = session.reports
        methods = {r.method for r in reports}
        assert len(reports) >= 10 and {"model", "fallback"} <= methods
        assert all(r.history_after <= r.history_room for r in reports)
        assert all(not r.ledger_restored for r in reports)  # code never needed to put an item back
        assert any("unusable" in r.fallback_reason for r in reports)
        assert any("failed" in r.fallback_reason for r in reports)
        assert session.record.get("C1").active  # the summarizer's retirement of a carried item was refused
        assert len(session.record.active("fact")) >= 1
        last = bodies[-1]["messages"]
        assert last[0]["role"] == "system" and last[1]["content"].startswith("# Conversation state (turns 1-")

        # Resume from the file, as `kimicode --resume` will, and carry on.
        loaded = load_session(session.path)
        assert loaded.warnings == [] and len(loaded.turns) == len(session.turns)
        resumed = Conversation(SessionFile.reopen(session.path), loaded, client(chat), COUNTER, policy=policy,
                              summarizer_client=client(summaries))
        with resumed:
            assert resumed.record.to_dict() == session.record.to_dict()
            resumed.send("Summarize the constraints we agreed on.")
        final = chat.chat_requests[-1].body
        assert prompt_tokens(final) <= WINDOW - REPLY
        text = "\n".join(m["content"] for m in final["messages"])
        assert all(fact in text for _, fact in expected)
