"""Tool calls in the TUI: one collapsible line per call (tool, arguments, size, time), also after a resume."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kimicode.tui.widgets.chat_view import AssistantMessage, ToolLine
from tests.openai_server import ToolCall as ScriptedCall
from tests.tui.conftest import SIZE, idle, send

pytestmark = pytest.mark.anyio


async def test_each_call_is_a_line_that_opens_onto_its_result(make_app: Any, openai_server: Any) -> None:
    openai_server.reply("", tool_calls=[ScriptedCall("read_file", json.dumps({"path": "calc.py"}), "c0"),
                                        ScriptedCall("read_file", json.dumps({"path": "../etc/passwd"}), "c1")])
    openai_server.reply("`add` returns the sum.")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await idle(pilot)
        await send(pilot, "what does add do?")
        lines = list(app.query(ToolLine))
        assert [line.line for line in lines] == ["[3] read_file(path='calc.py')", "[4] read_file(path='../etc/passwd')"]
        assert "tokens" in lines[0].detail and " s" in lines[0].detail and lines[1].detail.startswith("error")
        assert lines[0].collapsed and lines[1].has_class("-error")
        answer = app.query_one(AssistantMessage)
        assert answer.text == "`add` returns the sum."
        children = list(app.chat.children)
        assert children.index(lines[1]) < children.index(answer)  # the calls are shown above the answer
        lines[0].collapsed = False
        await pilot.pause()
        shown = str(lines[0].query_one(".tool-result").render())
        assert "def add(a, b):" in shown
        path = app.workspace.session.path
    second = make_app(resume=True)
    async with second.run_test(size=SIZE) as pilot:
        await idle(pilot)
        assert second.workspace.session.path == path
        assert [line.line for line in second.query(ToolLine)] == ["[3] read_file(path='calc.py')", "[4] read_file(path='../etc/passwd')"]
        assert [a.text for a in second.query(AssistantMessage)] == ["`add` returns the sum."]


async def test_context_lean_is_a_toggle_in_the_chat(make_app: Any, openai_server: Any) -> None:
    from kimicode.tui.widgets.chat_view import Notice

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await idle(pilot)
        await send(pilot, "/context lean")
        assert any(n.text.startswith("context lean: 0 files in full") for n in app.query(Notice)), [n.text for n in app.query(Notice)]
        assert app.workspace.session.files.lean
        await send(pilot, "/context")
        assert any("context: lean" in n.text for n in app.query(Notice))
        await send(pilot, "/context full")
        assert not app.workspace.session.files.lean
