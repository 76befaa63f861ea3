"""The state record, the deterministic floor, the summarizer and request assembly.

Summaries come from the loopback server (valid JSON, invalid JSON, HTTP errors); sessions
write real JSONL files under the isolated home.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kimicode.chat import ChatError, Conversation, LoadedSession, SessionStore, Turn
from kimicode.chat.compaction import fold
from kimicode.chat.context import ContextPolicy
from kimicode.chat.floor import error_fingerprint, extract, paths_in
from kimicode.chat.ledger import check
from kimicode.chat.state import InvalidSummary, StateRecord, apply_patch, fit, parse_patch, render
from kimicode.chat.summarize import Summarizer
from kimicode.llm import ChatClient, Endpoint
from kimicode.locations import user_locations
from kimicode.memory.remember import Stored
from kimicode.models import ModelSpec
from kimicode.prompt import framing_tokens
from kimicode.tokens import TokenCounter
from tests.openai_server import OpenAIServer

COUNTER = TokenCounter()


def client_for(server: OpenAIServer, window: int = 6_000, thinking: bool = False) -> ChatClient:
    spec = ModelSpec("test-model", window, window, thinking=thinking)
    return ChatClient(Endpoint(server.base_url, "", "test-model", timeout=5.0, max_retries=0), spec)


def new_session(tmp_path: Path, server: OpenAIServer, summary_server: OpenAIServer | None = None, window: int = 6_000,
                **policy: Any) -> Conversation:
    store = SessionStore(user_locations().data_dir)
    file, meta = store.create(tmp_path, "test-model")
    policy.setdefault("reply_tokens", 500)
    summarizer = client_for(summary_server, window) if summary_server else None
    return Conversation(file, LoadedSession(meta, file.path), client_for(server, window), COUNTER,
                       policy=ContextPolicy(**policy), summarizer_client=summarizer)


def turn(n: int, role: str, text: str) -> Turn:
    return Turn(id=n, role=role, text=text)


def within(body: dict[str, Any], limit: int) -> int:
    """Prompt tokens of a recorded request, counted independently of the session."""
    messages = body["messages"]
    tokens = framing_tokens(len(messages))
    for m in messages:
        tokens += COUNTER.count(m["content"]) + COUNTER.count(m.get("reasoning_content", ""))
    assert tokens <= limit
    return tokens


def prose(n: int, words: int = 60) -> str:
    """Neutral filler sentences: no constraints, paths or errors for the floor to find."""
    vocab = "the team looked at a report about weather gardens music rivers lunch trains colour paper ideas".split()
    out = [vocab[(n * 7 + i * 3) % len(vocab)] for i in range(words)]
    return " ".join(out).capitalize() + "."


# -- the floor -----------------------------------------------------------------------


def test_floor_finds_constraints_paths_and_errors_verbatim() -> None:
    text = (
        "Please look at src/billing/rounding.py:42 first. Never use the requests library; stick to urllib. "
        "I don't know why it fails. We must keep Python 3.9 support.\n"
        "```\nTraceback (most recent call last):\n  File \"app/main.py\", line 3, in <module>\n"
        "psycopg2.OperationalError: could not connect to server: Connection refused\n```\n"
        "Do not touch legacy/old_billing.py."
    )
    found = extract([turn(1, "user", text), turn(2, "assistant", "You must not worry; see docs/adr/0001.md.")])
    constraints = [f.text for f in found if f.kind == "constraint"]
    assert constraints == ["Never use the requests library; stick to urllib.", "We must keep Python 3.9 support.",
                           "Do not touch legacy/old_billing.py."]  # only the user states constraints
    assert [f.text for f in found if f.kind == "error"] == ["psycopg2.OperationalError: could not connect to server: Connection refused"]
    files = [f.text for f in found if f.kind == "file"]
    assert files == ["src/billing/rounding.py", "app/main.py", "legacy/old_billing.py", "docs/adr/0001.md"]


def test_paths_skip_urls_versions_and_fractions() -> None:
    assert paths_in("see https://example.com/a/b.py, v1.2.3, 10/20/2024 and e.g. that; edit ./x/y.ts and setup.py") == ["./x/y.ts", "setup.py"]


def test_error_fingerprint_ignores_what_varies_between_runs() -> None:
    a = error_fingerprint("KeyError: 'user_42' at 0x7f3a2c in /home/a/app.py line 10")
    b = error_fingerprint("KeyError: 'user_97' at 0x11aa00 in /srv/b/app.py line 311")
    assert a == b and a != error_fingerprint("ValueError: 'user_42'")


def test_a_repeated_error_is_one_item_seen_twice() -> None:
    record = StateRecord()
    from kimicode.chat.state import add_floor

    add_floor(record, extract([turn(1, "tool", "ValueError: bad value 3"), turn(2, "tool", "ValueError: bad value 7")]), 1)
    errors = record.active("error")
    assert len(errors) == 1 and errors[0].turns == [1, 2] and errors[0].seen == 2
    assert errors[0].text == "ValueError: bad value 3"  # the first occurrence, verbatim


# -- the model's patch ---------------------------------------------------------------


def seeded() -> StateRecord:
    record = StateRecord(goal="fix rounding", through=4)
    record.add("constraint", "Never use floats for money.", [1], "floor")
    record.add("decision", "Use Decimal.", [2], "model")
    record.add("question", "Which rounding mode?", [3], "model")
    return record


def test_patch_adds_updates_and_retires_by_id_and_keeps_the_rest() -> None:
    record = seeded()
    answer = "```json\n" + json.dumps({
        "goal": None,
        "add": [{"kind": "fact", "text": "Rounding lives in src/money.py.", "turns": [5, 99]}],
        "update": [{"id": "D1", "text": "Use Decimal with ROUND_HALF_EVEN.", "turns": [6]}],
        "retire": [{"id": "Q1", "reason": "answered in turn 6"}],
    }) + "\n```"
    patch = parse_patch(answer, record, known_turns={5, 6})
    new = apply_patch(record, patch, number=2)
    assert new.goal == "fix rounding"
    assert new.get("F1").text == "Rounding lives in src/money.py." and new.get("F1").turns == [5]  # unknown turn 99 dropped
    assert new.get("D1").text == "Use Decimal with ROUND_HALF_EVEN." and new.get("D1").previous == ["Use Decimal."]
    assert new.get("Q1").status == "retired" and "answered in turn 6" in new.get("Q1").reason
    assert record.get("Q1").active  # the input record is untouched
    assert {i.id for i in new.items} >= {i.id for i in record.items}  # nothing vanished


def test_patch_cannot_touch_carried_items() -> None:
    record = seeded()
    patch = parse_patch(json.dumps({"retire": [{"id": "C1", "reason": "obsolete"}],
                                    "update": [{"id": "C1", "text": "Floats are fine."}]}), record, set())
    assert patch.retire == [] and patch.update == []
    assert all("carried verbatim" in d for d in patch.dropped)
    assert apply_patch(record, patch, 2).get("C1").text == "Never use floats for money."


@pytest.mark.parametrize("answer, why", [
    ("Sure! Here is the summary: the user wants rounding fixed.", "no JSON object"),
    ('{"goal": "x", "add": [', "not valid JSON"),
    ("[1, 2]", "no JSON object"),
    ('{"summary": "text"}', "none of goal"),
    ('{"add": {"kind": "fact"}}', "must be a list"),
    ('{"goal": 42}', "goal"),
    ('{"add": [{"kind": "poem", "text": "a"}, {"text": ""}, {"kind": "fact"}]}', "malformed"),
])
def test_invalid_answers_are_rejected_with_a_reason(answer: str, why: str) -> None:
    with pytest.raises(InvalidSummary, match=why):
        parse_patch(answer, seeded(), {1})


def test_fit_retires_uncarried_items_and_never_the_ledger() -> None:
    record = seeded()
    for n in range(30):
        record.add("digest", f"user: message number {n} about lunch and trains", [n], "fallback")
    pinned = record.add("pin", "Ship before Friday.", [], "pin")
    evicted = fit(record, cap=60, count=COUNTER.count, number=3)
    assert evicted and all(record.get(i).status == "retired" and "evicted" in record.get(i).reason for i in evicted)
    assert record.get("C1").active and pinned.active
    assert len(record.items) == 34  # retired, not deleted: still on disk and searchable


def test_the_check_puts_back_a_missing_carried_item() -> None:
    before = seeded()
    before.add("pin", "line one\nline two", [], "pin")
    after = before.copy()
    after.items = [i for i in after.items if i.id != "P1"]
    after.get("C1").text = "paraphrased"
    result = check(before, after)
    assert sorted(result.restored) == ["C1", "P1"]
    assert after.ledger() == before.ledger()


def test_render_is_deterministic_and_keeps_multiline_pins_byte_for_byte() -> None:
    record = seeded()
    record.add("pin", "def f():\n    return 1\n", [7], "pin")
    text = render(record)
    assert text == render(StateRecord.from_dict(json.loads(json.dumps(record.to_dict()))))
    assert "def f():\n    return 1\n" in text and "Never use floats for money." in text
    assert render(StateRecord()) == ""


# -- one compaction ------------------------------------------------------------------


def moved_turns() -> list[Turn]:
    return [
        turn(5, "user", "Never round half up. The code is in src/money.py. " + prose(1, 200)),
        turn(6, "assistant", "We decided to use Decimal with ROUND_HALF_EVEN. " + prose(2, 200)),
        turn(7, "tool", "ZeroDivisionError: division by zero"),
    ]


def test_fold_with_a_valid_model_summary(openai_server: OpenAIServer) -> None:
    openai_server.reply(json.dumps({"goal": "Fix rounding in src/money.py.",
                                    "add": [{"kind": "decision", "text": "Use Decimal with ROUND_HALF_EVEN.", "turns": [6]}],
                                    "retire": [{"id": "C1", "reason": "no longer needed"}]}), chunk_size=500)
    with client_for(openai_server) as client:
        result = fold(seeded(), moved_turns(), summarizer=Summarizer(client, COUNTER, 6_000, 500), count=COUNTER.count, cap=2_000)
    record = result.record
    assert result.method == "model" and result.fallback_reason == ""
    assert record.goal == "Fix rounding in src/money.py." and record.through == 7 and record.compactions == 1
    assert record.get("C1").active  # the model may not retire what code carries
    assert {"Never round half up.", "src/money.py", "ZeroDivisionError: division by zero"} <= {i.text for i in record.active()}
    assert result.ledger.restored == [] and len(result.ledger.added) == 3
    sent = openai_server.chat_requests[-1].body["messages"][0]["content"]
    assert '<turn id="6" role="assistant">' in sent and '"carried": true' in sent


@pytest.mark.parametrize("script", ["not json at all", "http-500", "cut"])
def test_fold_falls_back_to_extraction_and_says_why(openai_server: OpenAIServer, script: str) -> None:
    if script == "http-500":
        openai_server.fail(500)
    elif script == "cut":
        openai_server.cut_stream(after_chunks=3, content='{"goal": "half an answer that never')
    else:
        openai_server.reply(script)
    with client_for(openai_server) as client:
        result = fold(seeded(), moved_turns(), summarizer=Summarizer(client, COUNTER, 6_000, 500), count=COUNTER.count, cap=2_000)
    assert result.method == "fallback"
    assert {"not json at all": "unusable", "http-500": "failed", "cut": "cut short"}[script] in result.fallback_reason
    texts = {i.text for i in result.record.active()}
    assert "We decided to use Decimal with ROUND_HALF_EVEN." in texts  # the fallback's decision sentences
    assert "Never round half up." in texts and "ZeroDivisionError: division by zero" in texts
    assert any(t.startswith("user: Never round half up.") for t in texts)  # first sentences


def test_a_summary_larger_than_its_input_is_rejected(openai_server: OpenAIServer) -> None:
    huge = [{"kind": "fact", "text": f"Fact {n}: " + "x" * 900, "turns": [5]} for n in range(12)]
    openai_server.reply(json.dumps({"add": huge}), chunk_size=2_000)
    with client_for(openai_server) as client:
        result = fold(StateRecord(), moved_turns(), summarizer=Summarizer(client, COUNTER, 6_000, 500), count=COUNTER.count, cap=20_000)
    assert result.method == "fallback" and "larger than its input" in result.fallback_reason
    assert result.state_after <= result.state_before + result.tokens_moved


def test_summary_request_shortens_and_leaves_out_the_oldest_turns_to_fit(openai_server: OpenAIServer) -> None:
    big = [turn(n, "user", f"Log {n}\n" + "\n".join(f"line {k} of a very long pasted log" for k in range(400))) for n in range(1, 6)]
    with client_for(openai_server, window=3_000) as client:
        summarizer = Summarizer(client, COUNTER, 3_000, 500)
        blocks, outcome = summarizer.fit(StateRecord(), big)
        prompt = summarizer._prompt(StateRecord(), blocks)
    assert outcome.shortened and outcome.left_out == [1, 2, 3][: len(outcome.left_out)]
    assert COUNTER.count(prompt) <= 3_000 - 500 and "elided from the middle" in prompt


def test_truncate_strategy_keeps_no_state() -> None:
    result = fold(seeded(), moved_turns(), summarizer=None, count=COUNTER.count, cap=2_000, strategy="truncate")
    assert result.method == "truncate" and result.record.through == 7 and len(result.record.items) == 3


# -- the request ---------------------------------------------------------------------


def test_huge_paste_is_cut_middle_out_and_the_request_fits(tmp_path: Path, openai_server: OpenAIServer) -> None:
    log = "$ make test\n" + "".join(f"step {n}: compiling module number {n}\n" for n in range(5_000)) + "FAILED: 3 tests\n"
    with new_session(tmp_path, openai_server) as session:
        exchange = session.send(log)
    body = openai_server.chat_requests[-1].body
    within(body, 6_000 - 500)
    sent = body["messages"][-1]["content"]
    assert sent.startswith("$ make test") and sent.rstrip().endswith("FAILED: 3 tests")
    assert "lines," in sent and "elided from the middle" in sent
    assert exchange.prompt_tokens <= 5_500
    assert session.turns[0].text == log  # the file keeps every byte


def test_stable_prefix_between_turns_and_alternating_roles(tmp_path: Path, openai_server: OpenAIServer) -> None:
    with new_session(tmp_path, openai_server, window=50_000) as session:
        for n in range(4):
            session.send(f"Question {n}. " + prose(n))
        session.log.turn("output", "1 passed", name="pytest")
        session.send("And now?")
    bodies = [r.body for r in openai_server.chat_requests]
    for previous, current in zip(bodies, bodies[1:]):
        assert json.dumps(current["messages"]).startswith(json.dumps(previous["messages"])[:-2])  # only appended
    roles = [m["role"] for m in bodies[-1]["messages"]]
    assert roles[0] == "system" and all(a != b for a, b in zip(roles[1:], roles[2:]))
    assert "[output of pytest]\n1 passed\n\nAnd now?" in bodies[-1]["messages"][-1]["content"]


def test_secrets_are_redacted_before_sending(tmp_path: Path, openai_server: OpenAIServer) -> None:
    with new_session(tmp_path, openai_server) as session:
        session.send('my config has aws_secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY" in it')
    sent = json.dumps(openai_server.chat_requests[-1].body)
    assert "wJalrXUtnFEMI" not in sent and "[REDACTED:" in sent


def test_thinking_models_get_earlier_reasoning_back(tmp_path: Path, openai_server: OpenAIServer) -> None:
    store = SessionStore(user_locations().data_dir)
    file, meta = store.create(tmp_path, "t")
    openai_server.reply("42", reasoning="six times seven")
    with Conversation(file, LoadedSession(meta, file.path), client_for(openai_server, 8_000, thinking=True), COUNTER,
                     policy=ContextPolicy(reply_tokens=500)) as session:
        session.send("What is six times seven?")
        session.send("Thanks.")
    assistant = openai_server.chat_requests[-1].body["messages"][2]
    assert assistant == {"role": "assistant", "content": "42", "reasoning_content": "six times seven"}


def test_provider_overflow_compacts_and_retries_once(tmp_path: Path, openai_server: OpenAIServer) -> None:
    with OpenAIServer() as summaries, new_session(tmp_path, openai_server, summaries, window=20_000) as session:
        for n in range(6):
            session.send(f"Step {n}. " + prose(n, 200))
        openai_server.context_overflow()
        exchange = session.send("Go on.")
        assert exchange.result.content == "ok"
        assert any(r.trigger == "overflow" for r in exchange.compactions)
        assert any("too long" in note for note in exchange.notes)
        openai_server.context_overflow()
        openai_server.context_overflow()
        with pytest.raises(ChatError, match="context window"):
            session.send("Again.")
        assert session.turns[-1].role == "note" and "failed" in session.turns[-1].text


# -- the repository shelf ------------------------------------------------------------


def test_repo_is_packed_once_and_named_files_are_attached_then_absorbed(tmp_path: Path, openai_server: OpenAIServer) -> None:
    from kimicode.chat.repo_shelf import RepoPacker
    from kimicode.chat.session import SessionFile, load_session
    from kimicode.repo.pack import PackOptions
    from tests.repos import make_repo

    root = tmp_path / "repo"
    body = "".join(f"    total += {k}  # step {k}\n" for k in range(120))
    files = {f"pkg/mod{n}.py": f"def func{n}(total):\n{body}    return total\n" for n in range(12)}
    files["AGENTS.md"] = "Answer in English.\n"
    files[".env"] = "TOKEN=abc\n"
    make_repo(root, files)
    window = 30_000

    def session_for(file: SessionFile, loaded: LoadedSession) -> Conversation:
        packer = RepoPacker(root, PackOptions(budget=6_000), tmp_path / "cache", COUNTER)
        return Conversation(file, loaded, client_for(openai_server, window), COUNTER, policy=ContextPolicy(reply_tokens=1_000),
                           packer=packer, project_root=root, summarizer_client=client_for(openai_server, window))

    file, meta = SessionStore(user_locations().data_dir).create(root, "test-model")
    with session_for(file, LoadedSession(meta, file.path)) as session:
        assert session.repo.tokens and session.repo.tokens <= session.repo.budget and not session.repo.failed
        outside = sorted(set(session.repo.listed) - set(session.repo.full) - {"AGENTS.md"})[0]
        first = session.send("What does this repository do?")
        system = openai_server.chat_requests[-1].body["messages"][0]["content"]
        assert "# Project instructions (AGENTS.md)" in system and '<repository name="repo"' in system
        exchange = session.send(f"Explain {outside} and .env please.")
        assert len(exchange.notes) == 1 and exchange.notes[0].startswith(f"attached {outside} in full (")
        assert (session.turns[-2].role, session.turns[-2].name) == ("file", outside)
        messages = openai_server.chat_requests[-1].body["messages"]
        assert messages[0]["content"] == system  # the cached prefix is untouched
        assert messages[-1]["content"].startswith(f"Explain {outside}") and f'<file path="{outside}" mode="full">' in messages[-1]["content"]
        assert "TOKEN=abc" not in json.dumps(messages)  # .env is never listed, so never attached
        session.send(f"And {outside} once more?")
        assert not [t for t in session.turns[-2:] if t.name.startswith("file:")]  # already attached
        session.compact()
        assert outside in session.repo.full and session.repo.added == (outside,)
        assert any("joined the repository shelf" in n for n in session.reports[-1].notes)
        path = session.path
    assert first.shelves.sizes["repo"] > 0
    with session_for(SessionFile.reopen(path), load_session(path)) as resumed:
        assert resumed.repo.added == (outside,) and resumed.repo.text == session.repo.text


def test_memory_recall_goes_last_and_a_failing_index_only_warns(tmp_path: Path, openai_server: OpenAIServer) -> None:
    asked: list[str] = []

    class Recall:  # a SessionMemory's face: shelf(text, budget)
        def shelf(self, question: str, budget: int) -> str:
            return recall(question, budget)

        def capture(self, record: object, source: str) -> Stored:
            return Stored("", ())

        def take_notices(self) -> list[str]:  # what a rerank could not do: nothing here
            return []

        def close(self) -> None:
            pass

    def recall(question: str, budget: int) -> str:
        asked.append(question)
        if "broken" in question:
            raise RuntimeError("index is locked")
        return "# Memory: errors seen before\nKeyError: fixed by adding the key." if "KeyError" in question else ""

    store = SessionStore(user_locations().data_dir)
    file, meta = store.create(tmp_path, "t")
    with Conversation(file, LoadedSession(meta, file.path), client_for(openai_server), COUNTER,
                     policy=ContextPolicy(reply_tokens=500), memory=Recall()) as session:  # type: ignore[arg-type]
        exchange = session.send("It fails with KeyError: 'x'")
        assert exchange.shelves.sizes["memory"] > 0
        assert openai_server.chat_requests[-1].body["messages"][-1]["content"].endswith("KeyError: fixed by adding the key.")
        session.send("Now it is broken differently.")
        assert session.warnings == ["memory recall failed: index is locked"]
        assert "Memory" not in openai_server.chat_requests[-1].body["messages"][-1]["content"]
    assert asked == ["It fails with KeyError: 'x'", "Now it is broken differently."]  # once per question
