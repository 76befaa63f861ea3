"""Edits in the chat: each proposed change is a coloured diff to Apply or Skip; /undo, /diff, a resumed /undo.

The loopback server plays the model and replies with edit_file calls; the files are real, and
what the model read back is taken from the requests the server received.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kimicode.tui.screens.review import ReviewScreen
from kimicode.tui.widgets.chat_view import AssistantMessage, Notice
from kimicode.tui.widgets.diff_view import DiffView
from tests.openai_server import ToolCall as ScriptedCall
from tests.tui.conftest import DEMO_FILES, SIZE, idle, send, settings_for, submit, wait_for

pytestmark = pytest.mark.anyio

OLD = "def sub(a, b):\n    return a - b\n"
NEW = "def sub(a, b):\n    \"\"\"a minus b.\"\"\"\n    return a - b\n"


def edit_call(call_id: str, path: str = "calc.py", old: str = OLD, new: str = NEW) -> ScriptedCall:
    return ScriptedCall("edit_file", json.dumps({"path": path, "old": old, "new": new}), call_id)


def tool_results(server: Any) -> list[str]:
    """What the model read back from its tool calls: the tool messages of the last request (past their
    first line, which names the call)."""
    messages = server.chat_requests[-1].body["messages"]
    return [m["content"].split("\n", 1)[1] for m in messages if m["role"] == "tool"]


async def reviewing(pilot: Any) -> ReviewScreen:
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, ReviewScreen))
    await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, ReviewScreen)
    return screen


async def ask_and_answer(pilot: Any, message: str, key: str) -> None:
    """Send ``message``, answer the review it brings with ``key``, wait for the turn to end."""
    await idle(pilot)
    await submit(pilot, message)
    await reviewing(pilot)
    await pilot.press(key)
    await idle(pilot)


def notices(app: Any) -> list[str]:
    return [n.text for n in app.query(Notice)]


async def test_apply_writes_the_file_and_undo_restores_it_byte_for_byte(make_app: Any, openai_server: Any,
                                                                         demo_repo: Path) -> None:
    calc = demo_repo / "calc.py"
    original = calc.read_bytes()
    openai_server.reply("", tool_calls=[edit_call("e1")])
    openai_server.reply("sub has a docstring now.")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await idle(pilot)
        await submit(pilot, "document sub")
        screen = await reviewing(pilot)
        shown = str(screen.query_one(DiffView).render())
        assert "calc.py: modified, +1 -0" in str(screen.query_one("#review-title").render())
        assert '+    """a minus b."""' in shown and "--- a/calc.py" in shown and "@@" in shown
        assert calc.read_bytes() == original  # nothing is written while the user looks
        await pilot.press("a")
        await idle(pilot)
        assert calc.read_text() == DEMO_FILES["calc.py"].replace(OLD, NEW)
        assert tool_results(openai_server) == ["applied calc.py: modified, +1 -0"]
        assert "approved calc.py (modify)" in notices(app)
        assert app.query_one(AssistantMessage).text == "sub has a docstring now."

        await send(pilot, "/diff")
        diff = app.chat.query_one(DiffView).diff
        assert diff.startswith("--- a/calc.py\n+++ b/calc.py\n") and '+    """a minus b."""' in diff

        await send(pilot, "/undo")
        assert calc.read_bytes() == original
        assert any(n.startswith("undid turn-1: 1 file(s) restored") for n in notices(app)), notices(app)
        await send(pilot, "/undo")
        assert notices(app)[-1].startswith("nothing to undo")
        await send(pilot, "/diff")
        assert notices(app)[-1].startswith("kimicode changed no file in this session")


async def test_skip_leaves_the_file_and_the_model_reads_it(make_app: Any, openai_server: Any, demo_repo: Path) -> None:
    calc = demo_repo / "calc.py"
    original = calc.read_bytes()
    openai_server.reply("", tool_calls=[edit_call("e1")])
    openai_server.reply("Left as it is.")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await idle(pilot)
        await submit(pilot, "document sub")
        await reviewing(pilot)
        await pilot.click("#skip")  # the buttons work as the keys do
        await idle(pilot)
        assert calc.read_bytes() == original
        assert tool_results(openai_server) == ["error: the user declined this call of edit_file"]
        assert "skipped calc.py (modify)" in notices(app)
        await send(pilot, "/undo")
        assert notices(app)[-1].startswith("nothing to undo")


async def test_apply_all_applies_the_rest_of_the_turn_without_asking(make_app: Any, openai_server: Any,
                                                                     demo_repo: Path) -> None:
    openai_server.reply("", tool_calls=[edit_call("e1"),
                                        edit_call("e2", "README.md", "A tiny calculator", "A small calculator")])
    openai_server.reply("", tool_calls=[ScriptedCall("write_file", json.dumps({"path": "NOTES.md", "content": "notes\n"}), "w1")])
    openai_server.reply("Three changes.")
    openai_server.reply("", tool_calls=[edit_call("e3", "README.md", "A small calculator", "A calculator")])
    openai_server.reply("Asked again.")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ask_and_answer(pilot, "tidy up", "t")
        assert not isinstance(app.screen, ReviewScreen)
        assert "A small calculator" in (demo_repo / "README.md").read_text()
        assert (demo_repo / "NOTES.md").read_text() == "notes\n"
        assert tool_results(openai_server)[-1] == "applied NOTES.md: created, +1 -0"
        # the next turn asks again
        await ask_and_answer(pilot, "once more", "s")
        assert "A small calculator" in (demo_repo / "README.md").read_text()
        # the whole first turn is one set: one /undo takes back all three files
        await send(pilot, "/undo")
        assert (demo_repo / "README.md").read_text() == DEMO_FILES["README.md"]
        assert (demo_repo / "calc.py").read_text() == DEMO_FILES["calc.py"]
        assert not (demo_repo / "NOTES.md").exists()


async def test_undo_is_refused_in_one_line_when_the_file_changed_since(make_app: Any, openai_server: Any,
                                                                       demo_repo: Path) -> None:
    openai_server.reply("", tool_calls=[edit_call("e1")])
    openai_server.reply("done")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ask_and_answer(pilot, "document sub", "a")
        mine = (demo_repo / "calc.py").read_text() + "# my own line\n"
        (demo_repo / "calc.py").write_text(mine)
        await send(pilot, "/undo")
        assert notices(app)[-1] == "calc.py changed since kimicode wrote it: nothing was undone"
        assert (demo_repo / "calc.py").read_text() == mine


async def test_ctrl_c_while_a_change_waits_skips_it_and_stops(make_app: Any, openai_server: Any, demo_repo: Path) -> None:
    original = (demo_repo / "calc.py").read_bytes()
    openai_server.reply("", tool_calls=[edit_call("e1")])
    openai_server.trickle("never ")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ask_and_answer(pilot, "document sub", "ctrl+c")
        assert not isinstance(app.screen, ReviewScreen)
        assert (demo_repo / "calc.py").read_bytes() == original
        assert "skipped calc.py (modify)" in notices(app)
        assert tool_results(openai_server) == ["error: the user declined this call of edit_file"]
        answer = app.query_one(AssistantMessage)
        assert answer.partial


async def test_a_resumed_session_undoes_and_kimicode_undo_finds_it(make_app: Any, openai_server: Any,
                                                                   demo_repo: Path) -> None:
    from kimicode.chat import SessionStore
    from kimicode.chat.checkpoints import latest_edited
    from kimicode.locations import user_locations

    original = (demo_repo / "calc.py").read_bytes()
    openai_server.reply("", tool_calls=[edit_call("e1")])
    openai_server.reply("done")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ask_and_answer(pilot, "document sub", "a")
        path = app.workspace.session.path
    found = latest_edited(SessionStore(user_locations().data_dir), demo_repo)
    assert found is not None and found.path == path and found.set_id == "turn-1"
    second = make_app(resume=True)
    async with second.run_test(size=SIZE) as pilot:
        await idle(pilot)
        assert second.workspace.session.path == path
        await send(pilot, "/diff")
        assert second.chat.query_one(DiffView).diff.startswith("--- a/calc.py")
        await send(pilot, "/undo")
        assert (demo_repo / "calc.py").read_bytes() == original
    assert latest_edited(SessionStore(user_locations().data_dir), demo_repo) is None


async def test_edit_off_gives_the_model_no_edit_tools(make_app: Any, openai_server: Any, demo_repo: Path) -> None:
    openai_server.reply("no tools to edit with")
    openai_server.reply("now I may")
    app = make_app(settings=settings_for(demo_repo, openai_server.base_url, **{"edits.chat": False}))
    async with app.run_test(size=SIZE) as pilot:
        await idle(pilot)
        await send(pilot, "hello")
        names = {t["function"]["name"] for t in openai_server.chat_requests[-1].body["tools"]}
        assert "read_file" in names and "edit_file" not in names
        await send(pilot, "/edit on")
        assert notices(app)[-1].startswith("editing on")
        await send(pilot, "hello again")
        names = {t["function"]["name"] for t in openai_server.chat_requests[-1].body["tools"]}
        assert {"edit_file", "write_file", "apply_patch"} <= names


async def test_a_patch_is_reviewed_file_by_file(make_app: Any, openai_server: Any, demo_repo: Path) -> None:
    patch = ("--- a/calc.py\n+++ b/calc.py\n@@ -4,3 +4,4 @@\n \n def sub(a, b):\n+    \"\"\"a minus b.\"\"\"\n     return a - b\n"
             "--- a/README.md\n+++ b/README.md\n@@ -1,3 +1,3 @@\n # demo\n \n-A tiny calculator used by the TUI tests.\n"
             "+A calculator.\n")
    openai_server.reply("", tool_calls=[ScriptedCall("apply_patch", json.dumps({"patch": patch}), "p1")])
    openai_server.reply("One of two.")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await idle(pilot)
        await submit(pilot, "patch both")
        first = await reviewing(pilot)
        assert first.change.path == "calc.py" and "file 1 of 2" in str(first.query_one("#review-title").render())
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, ReviewScreen) and app.screen is not first)
        assert app.screen.change.path == "README.md"
        await pilot.press("s")
        await idle(pilot)
        assert (demo_repo / "calc.py").read_text() == DEMO_FILES["calc.py"].replace(OLD, NEW)
        assert (demo_repo / "README.md").read_text() == DEMO_FILES["README.md"]
        assert tool_results(openai_server) == ["applied calc.py: modified, +1 -0\nthe user declined the changes to: README.md"]
        shown = notices(app)
        assert shown.index("approved calc.py (modify)") < shown.index("skipped README.md (modify)")
