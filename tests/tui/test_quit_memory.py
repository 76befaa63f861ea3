"""Quitting with memory on: what the session established is remembered (durably, once), and the
work a capture needs is done while the user reads, not after Ctrl+Q. Pilot against the loopback
server, real Chroma on disk in the test's KIMICODE_HOME."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kimicode.locations import user_locations
from tests.openai_server import Reply
from tests.tui.conftest import SIZE, idle, send, settings_for, wait_for

pytestmark = pytest.mark.anyio

DECISION = "We decided to keep calc.py free of imports."


def index() -> Path:
    return user_locations().data_dir / "memory" / "chroma" / "chroma.sqlite3"


def batches() -> list[str]:
    from kimicode.memory.journal import Journal

    return list(dict.fromkeys(c.batch for c in Journal(user_locations().data_dir).changes()))


def remembered(root: Path) -> list[str]:
    from kimicode.memory.remember import open_notes

    store, _ = open_notes(settings_for(root, "http://127.0.0.1:9", memory=True), root)
    try:
        return [n.text for n in store.notes()]
    finally:
        store.close()


async def test_the_index_opens_while_the_user_reads_and_quitting_remembers(make_app: Any, demo_repo: Path) -> None:
    app = make_app(memory=True)
    async with app.run_test(size=SIZE) as pilot:
        await idle(pilot)
        assert not index().exists()  # nothing recalled yet, and nothing to capture
        await send(pilot, f"{DECISION} What does calc.py do?")
        # before Ctrl+Q: the answer is on screen, the store is made ready in the background
        await wait_for(pilot, index().exists)
        await wait_for(pilot, lambda: not any(w.group == "warm" and w.is_running for w in app.workers))
        assert batches() == []  # ready, not written: the session's end stores
        await pilot.press("ctrl+q")
    notes = remembered(demo_repo)
    assert any("free of imports" in text for text in notes), notes
    assert len(batches()) == 1


async def test_quitting_right_after_a_compaction_stores_nothing_again(make_app: Any, openai_server: Any,
                                                                      demo_repo: Path) -> None:
    # every answer is a state patch: the compaction's summary sets the session's goal
    openai_server.default_reply = Reply('{"goal": "Keep the calculator small", "add": [], "update": [], "retire": []}')
    app = make_app(memory=True)
    async with app.run_test(size=SIZE) as pilot:
        await idle(pilot)
        await send(pilot, "What does calc.py do? " + "Explain the subtraction in calc.py in detail. " * 30)
        await send(pilot, "And what does sub return?")
        await send(pilot, "/compact")
        assert "summarized by the model" in app.workspace.session.reports[-1].line()
        stored = remembered(demo_repo)
        assert len(batches()) == 1 and any(t.startswith("Task: Keep the calculator small") for t in stored), stored
        await pilot.press("ctrl+q")
    # nothing was said since: the session's end stores nothing (before, it rewrote the task note
    # from the items not captured yet, which dropped its files) and adds no batch, so
    # `memory undo` still takes back the compaction's notes
    assert remembered(demo_repo) == stored
    assert len(batches()) == 1
