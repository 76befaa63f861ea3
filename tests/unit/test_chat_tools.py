"""A conversation with tools against the loopback server: rounds recorded as turns, hidden results
recorded as records, and a resumed session rebuilding the very request it would have sent."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import pytest

from kimicode.chat import ChatError, load_session, open_conversation
from kimicode.config import load_settings
from kimicode.prompt import wire
from tests.openai_server import OpenAIServer, counted
from tests.openai_server import ToolCall as ScriptedCall
from tests.repos import make_repo

FILES = {
    "calc/budget.py": "def compute_budget(window, reply):\n    return window - reply  # BUDGET-MARKER\n",
    "notes.md": "# Notes\n\nThe reply reserve is 16k.\n",
}


def calls(*pairs: tuple[str, dict[str, Any]]) -> list[ScriptedCall]:
    return [ScriptedCall(name, json.dumps(args), f"c{n}") for n, (name, args) in enumerate(pairs)]


NO_COUNT = {"prompt_tokens": 0, "completion_tokens": 1, "total_tokens": 1}  # learns no calibration: the pack stays as it was


def settings(root: Path, server: OpenAIServer, **extra: Any) -> Any:
    return load_settings(root, {"base_url": server.base_url, "max_retries": 0, **extra})


def test_a_chat_records_its_tool_rounds_and_resume_rebuilds_the_same_request(tmp_path: Path,
                                                                           openai_server: OpenAIServer) -> None:
    root = tmp_path / "repo"
    make_repo(root, FILES)
    server = openai_server
    server.reply("", usage=NO_COUNT, reasoning="search first", tool_calls=calls(("search_repo", {"pattern": "BUDGET-MARKER"}),
                                                                ("read_file", {"path": "../x"})))
    server.reply("", usage=NO_COUNT, tool_calls=calls(("read_file", {"path": "calc/budget.py"}), ("hide", {"ids": [3], "summary": "found it"})))
    server.reply("It is window minus reply.", usage=NO_COUNT)
    with open_conversation(settings(root, server), root, use_memory=False) as chat:
        exchange = chat.send("How is the budget computed?")
        assert exchange.tools is not None and exchange.tools.rounds == 2
        assert [c.line for c in exchange.tools.calls] == ["search_repo(pattern='BUDGET-MARKER')", "read_file(path='../x')",
                                                          "read_file(path='calc/budget.py')", "hide(ids=[3], summary='found it')"]
        assert exchange.assistant.text == "It is window minus reply."
        assert any(n.startswith("2 tool round(s), 4 call(s): the answer took 3 requests, 0 prompt + 3 completion tokens")
                   for n in exchange.notes), exchange.notes
        roles = [(t.role, bool(t.tool_calls)) for t in chat.turns]
        assert roles == [("user", False), ("assistant", True), ("tool", False), ("tool", False),
                         ("assistant", True), ("tool", False), ("tool", False), ("assistant", False)]
        last = server.chat_requests[-1].body["messages"]
        tool_texts = [m["content"] for m in last if m["role"] == "tool"]
        assert "hidden: found it" in tool_texts[0] and "calc/budget.py:2" not in tool_texts[0]
        assert "leaves the repository" in tool_texts[1] and "2| " not in tool_texts[1]
        assert "BUDGET-MARKER" in tool_texts[2]
        assert next(m for m in last if m.get("tool_calls"))["reasoning_content"] == "search first"
        server.reply("Later answer.", usage=NO_COUNT)
        chat.send("And the reply?")
        before = wire(chat.request().messages)
        path = chat.path
    loaded = load_session(path)
    assert [type(r).__name__ for r in loaded.records].count("OutputsHidden") == 1
    with open_conversation(settings(root, server), root, resume=True, use_memory=False) as chat:
        assert wire(chat.request().messages) == before
        assert chat.request().tools and {t["function"]["name"] for t in chat.request().tools} >= {"read_file", "hide"}


def test_old_results_are_hidden_after_k_rounds_also_after_a_resume(tmp_path: Path, openai_server: OpenAIServer) -> None:
    root = tmp_path / "repo"
    make_repo(root, FILES)
    for _ in range(3):
        openai_server.reply("", usage=NO_COUNT, tool_calls=calls(("read_file", {"path": "notes.md"})))
    openai_server.reply("done", usage=NO_COUNT)
    with open_conversation(settings(root, openai_server, **{"tools.keep_rounds": 2}), root, use_memory=False) as chat:
        chat.send("read the notes thrice")
        texts = [m["content"] for m in openai_server.chat_requests[-1].body["messages"] if m["role"] == "tool"]
        assert "hidden (automatically" in texts[0] and "16k" in texts[1] and "16k" in texts[2]
        before = wire(chat.request().messages)
    with open_conversation(settings(root, openai_server, **{"tools.keep_rounds": 2}), root, resume=True,
                           use_memory=False) as chat:
        assert wire(chat.request().messages) == before


def test_without_tools_a_chat_offers_none(tmp_path: Path, openai_server: OpenAIServer) -> None:
    root = tmp_path / "repo"
    make_repo(root, FILES)
    openai_server.reply("hi")
    with open_conversation(settings(root, openai_server, **{"tools.enabled": False}), root, use_memory=False) as chat:
        chat.send("hello")
    assert "tools" not in openai_server.chat_requests[-1].body


def test_a_chat_calls_an_mcp_servers_tool_and_stops_the_server_on_close(tmp_path: Path, openai_server: OpenAIServer) -> None:
    import sys

    from kimicode.config import McpServer

    root = tmp_path / "repo"
    make_repo(root, FILES)
    script = Path(__file__).resolve().parent.parent / "mcp_server.py"
    config = settings(root, openai_server, **{"mcp.enabled": True})
    config = dataclasses.replace(config, mcp=dataclasses.replace(config.mcp, servers={
        "t": McpServer(command=sys.executable, args=(str(script), str(tmp_path)), timeout=60)}))
    openai_server.reply("", usage=NO_COUNT, tool_calls=calls(("t__lookup", {"key": "answer"})))
    openai_server.reply("forty-two", usage=NO_COUNT)
    with open_conversation(config, root, use_memory=False) as chat:
        exchange = chat.send("what is the answer?")
        assert exchange.tools is not None and exchange.tools.calls[0].source == "t"
        assert not exchange.tools.calls[0].error and "forty-two" in exchange.tools.calls[0].text
        hub_thread = chat.tools.close.__self__.thread  # type: ignore[union-attr]
    assert not hub_thread.is_alive()


def test_context_lean_packs_outlines_only_and_a_resume_keeps_it(tmp_path: Path, openai_server: OpenAIServer) -> None:
    root = tmp_path / "repo"
    make_repo(root, FILES)
    with open_conversation(settings(root, openai_server), root, use_memory=False) as chat:
        assert 'path="calc/budget.py" mode="full"' in chat.request().messages[0].content
        shelf = chat.set_context(True)
        assert not shelf.full and shelf.outline
        system = chat.request().messages[0].content
        assert 'mode="full"' not in system.split("<repository")[1] and 'path="calc/budget.py" mode="outline"' in system
        before = wire(chat.request().messages)
    with open_conversation(settings(root, openai_server), root, resume=True, use_memory=False) as chat:
        assert chat.files.lean and wire(chat.request().messages) == before
        chat.set_context(False)
        assert 'path="calc/budget.py" mode="full"' in chat.request().messages[0].content
    with open_conversation(settings(root, openai_server, **{"tools.enabled": False}), root, use_memory=False) as chat:
        with pytest.raises(ChatError, match="needs the tools"):
            chat.set_context(True)


def test_sessions_show_lists_the_calls_and_their_results(tmp_path: Path, openai_server: OpenAIServer,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from kimicode.cli import cli

    root = tmp_path / "repo"
    make_repo(root, FILES)
    openai_server.reply("", tool_calls=calls(("read_file", {"path": "notes.md"})))
    openai_server.reply("16k.")
    with open_conversation(settings(root, openai_server), root, use_memory=False) as chat:
        chat.send("what is the reserve?")
    monkeypatch.chdir(root)
    shown = CliRunner().invoke(cli, ["sessions", "show"], catch_exceptions=False)
    assert shown.exit_code == 0
    assert "- calls `read_file({\"path\": \"notes.md\"})`" in shown.output
    assert "Tool call (read_file(path='notes.md'))" in shown.output and "The reply reserve is 16k." in shown.output


def test_every_round_of_a_chat_stays_within_a_small_window(tmp_path: Path, openai_server: OpenAIServer) -> None:
    from kimicode.config import ModelOverride

    root = tmp_path / "repo"
    make_repo(root, {**FILES, "notes/long.txt": "".join(f"note line {n}: the quick brown fox\n" for n in range(1, 3001))})
    config = settings(root, openai_server, model="tiny", **{"ask.reply_tokens": 1000, "pack.budget": 2000,
                                                             "tools.keep_rounds": 20, "tools.rounds": 6})
    config = dataclasses.replace(config, models={"tiny": ModelOverride(context_window=12_000, max_output=1000)})
    for n in range(6):
        openai_server.reply("", usage=NO_COUNT, tool_calls=calls(*[("read_file", {"path": "notes/long.txt", "start": 1 + 500 * n + k})
                                                                  for k in range(3)]))
    openai_server.reply("done", usage=NO_COUNT)
    with open_conversation(config, root, use_memory=False) as chat:
        exchange = chat.send("what do the notes say?")
        assert exchange.tools is not None and exchange.tools.rounds == 6
    sizes = [counted(r.body) for r in openai_server.chat_requests]
    assert max(sizes) <= 12_000 - 1000, sizes
    assert max(sizes) > 12_000 - 1000 - 2500, sizes  # the rounds really filled the window


def test_the_model_hides_and_restores_conversation_turns_and_a_resume_rebuilds_the_request(
        tmp_path: Path, openai_server: OpenAIServer) -> None:
    root = tmp_path / "repo"
    make_repo(root, FILES)
    server = openai_server
    server.reply("The reserve is 16k (TURN-TWO-MARKER).", usage=NO_COUNT, reasoning="old thoughts")
    server.reply("", usage=NO_COUNT, tool_calls=calls(("search_history", {"query": "turn-two-marker"}),
                                                      ("search_history", {"query": "absent-word"})))
    server.reply("", usage=NO_COUNT, tool_calls=calls(("hide", {"ids": [1, 2], "summary": "reserve: 16k"})))
    server.reply("Done.", usage=NO_COUNT)
    with open_conversation(settings(root, server), root, use_memory=False) as chat:
        chat.send("What is the reply reserve? QUESTION-ONE")
        exchange = chat.send("Set the first exchange aside.")
        assert exchange.tools is not None
        found = [t.text for t in chat.turns if t.role == "tool"][0]
        assert "turn 2 (assistant) line 1: The reserve is 16k" in found, found
        missed = [t.text for t in chat.turns if t.role == "tool"][1]
        assert re.fullmatch(r"nothing in \d+ outputs and [1-9]\d* turns holds 'absent-word'", missed), missed
        last = server.chat_requests[-1].body["messages"]
        said = [m for m in last if m["role"] in ("user", "assistant")]
        assert said[0]["content"] == "[turn 1, user] hidden: reserve: 16k. restore([1]) shows it again."
        assert said[1]["content"].startswith("[turn 2, assistant] hidden: reserve: 16k.")
        assert "reasoning_content" not in said[1]
        assert not any("QUESTION-ONE" in str(m["content"]) or "TURN-TWO-MARKER" in str(m["content"]) for m in said)
        assert "Set the first exchange aside." in said[2]["content"]  # the turns not hidden stay whole
        before = wire(chat.request().messages)
        path = chat.path
    assert "QUESTION-ONE" in path.read_text() and "TURN-TWO-MARKER" in path.read_text()  # the text stays on disk
    server.reply("", usage=NO_COUNT, tool_calls=calls(("restore", {"ids": [2]}), ("hide", {"ids": [99]})))
    server.reply("Back.", usage=NO_COUNT)
    with open_conversation(settings(root, server), root, resume=True, use_memory=False) as chat:
        assert wire(chat.request().messages) == before
        chat.send("Show the answer again.")
        results = [t.text for t in chat.turns if t.role == "tool"][-2:]
        assert results[0].startswith("restored: 2") and "no output or turn 99" in results[1], results
        last = server.chat_requests[-1].body["messages"]
        said = [m for m in last if m["role"] in ("user", "assistant")]
        assert said[0]["content"].startswith("[turn 1, user] hidden")
        assert said[1]["content"] == "The reserve is 16k (TURN-TWO-MARKER)."


def test_a_compaction_keeps_what_each_folded_tool_call_found_with_its_source(tmp_path: Path,
                                                                             openai_server: OpenAIServer) -> None:
    root = tmp_path / "repo"
    ops = "".join(f"def op_{n}(a, b):\n    return a + b * {n}  # step {n}\n" for n in range(60))
    make_repo(root, {**FILES, "calc/ops.py": ops})
    server = openai_server
    server.reply("", usage=NO_COUNT, tool_calls=calls(("read_file", {"path": "calc/ops.py"}), ("hide", {"ids": [1]})))
    server.reply("The ops add. " + "Explained at length. " * 40, usage=NO_COUNT)
    server.reply("Sure. " + "More words here. " * 40, usage=NO_COUNT)
    server.reply("Fine.", usage=NO_COUNT)
    with open_conversation(settings(root, server), root, use_memory=False) as chat:
        chat.send("What do the ops do?")
        chat.send("Tell me more.")
        chat.send("Thanks.")
        server.reply(json.dumps({"goal": "understand the ops", "add": []}), usage=NO_COUNT)  # the summary: no facts
        server.reply(json.dumps({"add": []}), usage=NO_COUNT)  # the probe
        reports = chat.compact()
        assert reports and reports[0].method == "model", [r.line() for r in reports]
        facts = [i for i in chat.history.record.active("fact") if i.origin == "tool"]
        assert [(i.source, i.turns) for i in facts] == [("read_file(path='calc/ops.py')", [3])]  # hide found nothing
        assert facts[0].text.startswith("read_file(path='calc/ops.py'): ") and "lines)" in facts[0].text
        state = wire(chat.request().messages)
        assert "read_file(path='calc/ops.py'): " in json.dumps(state) and "(turn 3)" in json.dumps(state)
        path = chat.path
    with open_conversation(settings(root, server), root, resume=True, use_memory=False) as chat:
        assert [(i.source, i.turns) for i in chat.history.record.active("fact") if i.origin == "tool"] == \
            [("read_file(path='calc/ops.py')", [3])]
    assert '"source":"read_file(path=' in path.read_text()  # on disk with the state record
