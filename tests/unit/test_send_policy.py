"""The one send policy (kimicode.engine.send) against the loopback server: near-window counts,
overflow shrink-and-retry, calibration, events; and a conversation near the window."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kimicode.chat import ContextPolicy, Conversation, LoadedSession, RepoPacker, SessionStore
from kimicode.engine import (
    Assembler,
    Calibration,
    CannotShrink,
    ContentDelta,
    Event,
    Notice,
    Piece,
    Sender,
    Shelves,
    Shrink,
    UsageReported,
)
from kimicode.llm import ChatClient, ContextOverflow, Endpoint
from kimicode.locations import user_locations
from kimicode.models import ModelSpec
from kimicode.prompt import BudgetPlan, Request
from kimicode.repo.pack import PackOptions
from kimicode.tokens import TokenCounter
from tests.openai_server import OpenAIServer
from tests.repos import make_repo

COUNTER = TokenCounter()
WINDOW = 4_000


def client_for(server: OpenAIServer, window: int = WINDOW) -> ChatClient:
    return ChatClient(Endpoint(server.base_url, "", "test-model", timeout=5.0, max_retries=0), ModelSpec("test-model", window, window))


class Builder:
    """A request of ``size`` tokens of filler; a shrink makes it smaller, ``shrinkable`` times."""

    def __init__(self, plan: BudgetPlan, size: int, shrinkable: int = 1) -> None:
        self.assembler = Assembler(plan, COUNTER)
        self.size = size
        self.shrinkable = shrinkable
        self.shrinks: list[Shrink] = []

    def __call__(self, shrink: Shrink | None) -> Request:
        if shrink is not None:
            if not self.shrinkable:
                raise CannotShrink
            self.shrinkable -= 1
            self.shrinks.append(shrink)
            self.size = shrink.size("the filler", self.size)
        return self.assembler.assemble(Shelves("Be brief.", tail=(Piece("recent", "word " * self.size),)))


def test_near_the_window_the_provider_count_shrinks_before_sending(openai_server: OpenAIServer, tmp_path: Path) -> None:
    plan = BudgetPlan.for_model(WINDOW, WINDOW, 500, pack_budget=0)
    seen: list[Event] = []
    openai_server.estimate_tokens = 3_900  # with the 500-token reply: 400 over the window
    openai_server.reply("ok")
    with client_for(openai_server) as client:
        sender = Sender(client, plan, calibration=Calibration(tmp_path, "test-model", 1.0), emit=seen.append)
        build = Builder(plan, 3_300)
        request, result = sender.within_budget(build, sender.stream)
    assert [r.path for r in openai_server.requests] == ["/v1/tokenizers/estimate-token-count", "/v1/chat/completions"]
    assert build.shrinks[0].reason == "near-window" and build.size == int((3_300 - 400) * 0.95)
    assert request.tokens < 3_300 and result.content == "ok"
    assert openai_server.chat_requests[0].body["max_tokens"] == 500  # the reply shelf bounds every answer
    shrink = [e for e in seen if isinstance(e, Notice) and e.topic == "shrink"]
    assert shrink and "the provider counts 3,900 prompt tokens; shrinking the filler from 3,300 to" in shrink[0].text
    assert any(isinstance(e, ContentDelta) for e in seen) and any(isinstance(e, UsageReported) for e in seen)
    samples = json.loads((tmp_path / "calibration.json").read_text())["models"]["test-model"]["samples"]
    assert [actual for _, actual in samples][:1] == [3_900]  # the provider's count, learned before sending


def test_a_server_without_a_count_endpoint_is_not_asked_again(openai_server: OpenAIServer) -> None:
    plan = BudgetPlan.for_model(WINDOW, WINDOW, 500, pack_budget=0)
    openai_server.estimate_status = 404
    with client_for(openai_server) as client:
        sender = Sender(client, plan)
        for _ in range(2):
            openai_server.reply("ok")
            sender.within_budget(Builder(plan, 3_300), sender.stream)
    paths = [r.path for r in openai_server.requests]
    assert paths.count("/v1/tokenizers/estimate-token-count") == 1 and paths.count("/v1/chat/completions") == 2


@pytest.mark.parametrize("shrinkable", [1, 0])
def test_too_long_shrinks_once_then_gives_up(openai_server: OpenAIServer, shrinkable: int) -> None:
    plan = BudgetPlan.for_model(WINDOW, WINDOW, 500, pack_budget=0)
    seen: list[Event] = []
    for _ in range(3):
        openai_server.context_overflow()
    with client_for(openai_server) as client:
        sender = Sender(client, plan, emit=seen.append)
        build = Builder(plan, 1_000, shrinkable)
        with pytest.raises(ContextOverflow):
            sender.within_budget(build, sender.stream)
    assert len(openai_server.chat_requests) == 1 + shrinkable  # one retry when something could shrink, none else
    assert [s.reason for s in build.shrinks] == ["overflow"] * shrinkable
    assert build.size == (500 if shrinkable else 1_000)
    told = [e.text for e in seen if isinstance(e, Notice) and e.topic == "shrink"]
    assert told == (["the provider says the request is too long; shrinking the filler from 1,000 to 500 tokens "
                     "and retrying once"] if shrinkable else [])


def test_a_conversation_near_the_window_compacts_and_keeps_its_repository(tmp_path: Path, openai_server: OpenAIServer) -> None:
    root = tmp_path / "repo"
    make_repo(root, {"calc.py": "def add(a, b):\n    return a + b\n", "README.md": "# calc\n"})
    file, meta = SessionStore(user_locations().data_dir).create(root, "test-model")
    packer = RepoPacker(root, PackOptions(budget=2_000), tmp_path / "cache", COUNTER)
    events: list[Event] = []
    with Conversation(file, LoadedSession(meta, file.path), client_for(openai_server, 8_000), COUNTER,
                      policy=ContextPolicy(reply_tokens=500), packer=packer, project_root=root) as session:
        openai_server.estimate_tokens = 1_000  # the provider counts little: the history fills up
        for n in range(40):
            session.send(f"Question {n} about calc.add. " + "The details matter here. " * 50)
            if session.request().tokens + 500 >= 0.9 * 8_000 + 50:  # near the window
                break
        assert not session.reports and session.request().tokens + 500 >= 0.9 * 8_000
        system = openai_server.chat_requests[-1].body["messages"][0]["content"]
        openai_server.estimate_tokens = 7_900  # more than the window leaves: 7,900 + 500 > 8,000
        exchange = session.send("And the last one?", events.append)
    assert [r.trigger for r in exchange.compactions] == ["count"]
    assert openai_server.chat_requests[-1].body["messages"][0]["content"] == system  # the cached prefix holds
    assert any(isinstance(e, Notice) and "the provider counts 7,900 prompt tokens; shrinking the conversation" in e.text
               for e in events)
    assert any(type(e).__name__ == "CompactionEnded" for e in events)
