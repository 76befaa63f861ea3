"""Every slash command, run through the prompt as a user would, against the loopback server."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from kimicode.config import ModelOverride
from kimicode.tui.commands import COMMANDS, CommandError, help_markdown, is_command, parse
from kimicode.tui.widgets.chat_view import AssistantMessage, CommandOutput, Notice
from kimicode.tui.widgets.files_panel import FilesTable
from kimicode.tui.widgets.prompt import PromptInput
from tests.tui.conftest import SIZE, SMALL_PACK, idle, send, settings_for, submit, wait_for

SUMMARY = json.dumps({"goal": "Explain the calculator.", "add": [{"kind": "fact", "text": "calc.add returns a + b.", "turns": [1]}]})

pytestmark = pytest.mark.anyio


def last_text(app: Any) -> str:
    widgets = [w for w in app.chat.children if isinstance(w, (Notice, CommandOutput))]
    return widgets[-1].text if widgets else ""


async def run(pilot: Any, text: str) -> str:
    await send(pilot, text)
    return last_text(pilot.app)


def test_parse_and_hints() -> None:
    assert is_command("/pack query") and not is_command("/usr/bin/env is a path") and not is_command("//x")
    assert parse("/PACK  the query ").arg == "the query"
    for bad, hint in (("/pakc", "did you mean /pack?"), ("/add", "/add needs an argument"), ("/zzz", "/help lists")):
        try:
            parse(bad)
        except CommandError as exc:
            assert hint in str(exc)
        else:
            raise AssertionError(bad)


def test_help_is_a_table_with_one_row_per_command_whatever_its_text_holds() -> None:
    from markdown_it import MarkdownIt  # the parser Textual's Markdown widget uses

    tokens = MarkdownIt("gfm-like").parse(help_markdown([("ctrl+q", "quit")]))
    cells = [t.children[0].content for t in tokens if t.type == "inline" and t.children and t.children[0].type == "code_inline"]
    assert cells == [f"/{c.name}" + (f" {c.usage}" if c.usage else "") for c in COMMANDS]
    assert "/context [lean|full]" in cells
    rows = [t for t in tokens if t.type == "tr_open"]
    assert len(rows) == 2 + len(COMMANDS) + 1  # two header rows, the commands, one key


async def test_files_add_drop_pack_and_the_panel(make_app: Any, openai_server: Any, demo_repo: Path) -> None:
    app = make_app(settings=settings_for(demo_repo, openai_server.base_url, **SMALL_PACK))
    async with app.run_test(size=SIZE) as pilot:
        await idle(pilot)
        paths = lambda: {r.path: r.mode for r in app.snapshot.files}  # noqa: E731
        assert "shapes.py" not in paths() and paths()["calc.py"] == "full"

        assert "added shapes.py in full" in await run(pilot, "/add shapes.py")
        assert paths()["shapes.py"] == "attached"
        assert "already in the context" in await run(pilot, "/add calc.py")
        assert "not a file kimicode may send" in await run(pilot, "/add missing.py")

        await send(pilot, "what is area_7?")
        sent = json.dumps(openai_server.chat_requests[-1].body["messages"])
        assert "def area_7(width, height)" in sent  # the attached file went to the model

        assert "dropped calc.py" in await run(pilot, "/drop calc.py")
        assert "calc.py" not in paths()
        assert "not in the context" in await run(pilot, "/drop nothing.py")

        assert 'packed the repository for "tests"' in await run(pilot, "/pack tests")

        await pilot.press("f2")  # the panel lists the same files, and drops from there
        panel = app.files
        assert panel.display and panel.has_class("-show")
        table = panel.query_one(FilesTable)
        assert table.row_count == len(app.snapshot.files)
        table.focus()
        table.move_cursor(row=0)
        first = app.snapshot.files[0].path
        await pilot.press("delete")
        await idle(pilot)
        assert first not in paths() and f"dropped {first}" in last_text(app)

        app.prompt.text = "a draft"
        panel.query_one("#files-add").focus()
        await pilot.press(*"calc.py", "enter")
        await idle(pilot)
        assert "added calc.py in full" in last_text(app)
        assert app.prompt.text == "a draft"  # the panel leaves the message box alone
        await pilot.press("f2")
        assert not panel.has_class("-show") and app.prompt.has_focus


async def test_compact_state_pin_restore_search(make_app: Any, openai_server: Any) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await idle(pilot)
        assert "nothing to compact" in await run(pilot, "/compact")
        assert "state summary is empty" in await run(pilot, "/state")
        for n in range(3):
            openai_server.reply(f"answer {n}: calc.add adds numbers")
            await send(pilot, f"question {n} about calc.add")
        assert "P1" in await run(pilot, "/pin Never change the signature of add.")
        before = app.snapshot.table.sizes
        openai_server.reply(SUMMARY)  # the summarizer's answer
        line = await run(pilot, "/compact")
        assert line.startswith("compaction 1 (manual)") and "summarized by the model" in line
        after = app.snapshot.table.sizes
        assert after["recent"] < before["recent"] and after["state"] > before["state"]
        summary_request = openai_server.chat_requests[-2].body["messages"]
        assert len(summary_request) == 1 and "You keep the state record" in summary_request[0]["content"]
        probe_request = openai_server.chat_requests[-1].body  # the check pass asks what the summary lost
        assert "You check a summary" in probe_request["messages"][0]["content"] and probe_request["max_tokens"] > 0

        state = await run(pilot, "/state")
        assert "Never change the signature of add." in state and "calc.add returns a + b." in state
        assert "unpinned P1" in await run(pilot, "/unpin p1")

        listing = await run(pilot, "/restore")
        assert "/restore FIRST-LAST" in listing and "compaction 1: turns 1-" in listing
        assert "restored turns 1-2" in await run(pilot, "/restore 1-2")
        assert "turn numbers" in await run(pilot, "/restore x")

        found = await run(pilot, "/search question 0")
        assert "turn 1 (user)" in found
        assert "nothing found" in await run(pilot, "/search zebra")


async def test_model_budget_export_clear_help_and_unknown(make_app: Any, openai_server: Any, demo_repo: Path) -> None:
    settings = settings_for(demo_repo, openai_server.base_url)
    settings = dataclasses.replace(settings, models={"tiny-model": ModelOverride(context_window=32_000)})
    app = make_app(settings=settings)
    async with app.run_test(size=SIZE) as pilot:
        await idle(pilot)
        assert "kimi-k2.7-code: 262,144-token window" in await run(pilot, "/model")
        assert "answering with tiny-model" in await run(pilot, "/model tiny-model")
        assert app.snapshot.table.window == 32_000
        await send(pilot, "hi")
        assert openai_server.chat_requests[-1].body["model"] == "tiny-model"

        budget = await run(pilot, "/budget")
        assert "| repo |" in budget and "Window: 32,000 tokens (tiny-model)" in budget and "Last call" in budget

        old = app.workspace.session
        exported = await run(pilot, "/export notes/chat.md")
        assert (demo_repo / "notes" / "chat.md").read_text().startswith(f"# kimicode session {old.id}")
        await run(pilot, "/export notes/chat.json")
        assert json.loads((demo_repo / "notes" / "chat.json").read_text())["session"]["id"] == old.id
        assert "exported" in exported

        assert "stays on disk" in await run(pilot, "/clear")
        assert app.workspace.session.id != old.id and old.path.exists()
        assert not app.query(AssistantMessage)

        await submit(pilot, "/help")
        assert "/compact" in last_text(app) and "Ctrl+C" in last_text(app)
        await submit(pilot, "/pakc")
        assert "did you mean /pack?" in last_text(app)
        await pilot.press("f1")  # the help screen; the app keeps ticking underneath
        await pilot.pause(0.4)
        assert app.screen.__class__.__name__ == "HelpScreen"
        await pilot.press("escape")
        assert app.screen.__class__.__name__ != "HelpScreen"


async def test_memory_and_forget_use_the_error_store(make_app: Any, openai_server: Any, demo_repo: Path) -> None:
    from kimicode.memory.capture import build_fingerprint
    from kimicode.memory.store import MemoryStore

    settings = settings_for(demo_repo, openai_server.base_url, memory=True)
    store = MemoryStore.open(settings, demo_repo)
    record, _ = store.add(build_fingerprint('Traceback (most recent call last):\n  File "calc.py", line 2, in add\n'
                                            "TypeError: unsupported operand type(s) for +: 'int' and 'str'\n",
                                            demo_repo, fix="convert the input with int()"))
    store.close()
    app = make_app(settings=settings)
    async with app.run_test(size=SIZE) as pilot:
        await idle(pilot, timeout=30)
        listed = await run(pilot, "/memory")
        assert record.id[:12] in listed and "TypeError" in listed and "int()" in listed
        assert "TypeError" in await run(pilot, "/memory unsupported operand int str")
        assert f"forgot {record.id[:12]}" in await run(pilot, f"/forget {record.id[:12]}")
        assert "no errors remembered" in await run(pilot, "/memory")
        assert "no remembered error" in await run(pilot, "/forget abcdef")


async def test_remember_stores_a_note_that_memory_lists(make_app: Any, openai_server: Any, demo_repo: Path) -> None:
    app = make_app(settings=settings_for(demo_repo, openai_server.base_url, memory=True))
    async with app.run_test(size=SIZE) as pilot:
        await idle(pilot, timeout=30)
        said = await run(pilot, "/remember We use httpx, never requests.")
        assert "1 added" in said and "knowledge/repository: We use httpx, never requests." in said
        listed = await run(pilot, "/memory")
        assert "knowledge/repository: We use httpx, never requests." in listed and "no errors remembered" in listed
        assert "1 confirmed" in await run(pilot, "/remember We use httpx, never requests.")  # not a duplicate
        assert "needs an argument" in await run(pilot, "/remember")


async def test_memory_turned_off_says_unavailable(make_app: Any) -> None:
    app = make_app(memory=False)
    async with app.run_test(size=SIZE) as pilot:
        await idle(pilot)
        assert (await run(pilot, "/memory")).startswith("memory unavailable")


async def test_completion_and_history(make_app: Any, openai_server: Any) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await idle(pilot)
        prompt = app.query_one(PromptInput)
        await pilot.press(*"/pa", "tab")
        assert prompt.text == "/pack "
        prompt.text = ""
        await pilot.press(*"/com", "tab")  # compact and compactions: the common prefix, both listed
        assert prompt.text == "/compact" and "compactions" in str(app.hints.render())
        prompt.text = ""
        await pilot.press(*"/add te", "tab")
        assert prompt.text == "/add tests/"
        await pilot.press("tab")
        assert prompt.text == "/add tests/test_calc.py "
        prompt.text = ""
        await pilot.press(*"/add ", "tab")  # several: the common prefix stays, the rest are listed
        assert app.hints.display and "calc.py" in str(app.hints.render())

        await pilot.press("ctrl+a")
        prompt.text = ""
        await send(pilot, "first")
        await pilot.press(*"line one", "ctrl+j", *"line two")
        assert prompt.text == "line one\nline two"
        await pilot.press("up", "up")  # the first "up" moves to line one, the second browses history
        assert prompt.text == "first"
        await pilot.press("down")
        assert prompt.text == "line one\nline two"


async def test_busy_session_refuses_a_second_message(make_app: Any, openai_server: Any) -> None:
    openai_server.reply("slow " * 200, chunk_size=4, chunk_delay=0.01)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await idle(pilot)
        await submit(pilot, "one")
        await wait_for(pilot, lambda: app.streaming)
        # Called directly: Pilot's key presses wait for the app to be idle, i.e. for the stream to end.
        app.prompt.text = "two"
        assert await app.submit("two") is False
        assert app.prompt.text == "two"  # kept for later, not lost
        app.action_stop()
        await idle(pilot)
        assert len(openai_server.chat_requests) == 1


async def test_ctrl_c_when_idle_says_how_to_quit_and_stops_a_compaction(make_app: Any, openai_server: Any) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await idle(pilot)
        await pilot.press("ctrl+c")  # nothing streams: before, nothing visible happened
        await pilot.pause()
        assert any("Ctrl+Q quits; `kimicode --resume` continues" in n.message for n in app._notifications)
        for n in range(3):
            openai_server.reply(f"answer {n}: calc.add adds numbers")
            await send(pilot, f"question {n} about calc.add")
        openai_server.keep_alive("{")  # the summary starts, then never ends
        await submit(pilot, "/compact")
        await wait_for(pilot, lambda: len(openai_server.chat_requests) == 4 and app.busy == "compacting the conversation")
        await pilot.press("ctrl+c")
        await idle(pilot)
        line = last_text(app)
        assert line.startswith("compaction 1 (manual)") and "interrupted" in line  # finished by code, not by the model
        await pilot.press("ctrl+q")
    assert app.saved_session is not None  # named on the way out, with how to continue it
