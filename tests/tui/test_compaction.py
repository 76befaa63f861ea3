"""Compaction in the TUI: the budget bar warns before it happens, /compactions shows the ledger,
/budget the figures, /pin keeps a state item verbatim. Pilot against the loopback server."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from kimicode.tui.widgets.chat_view import Notice
from tests.openai_server import Reply
from tests.tui.conftest import SIZE, idle, send, small_model
from tests.tui.test_commands import run

pytestmark = pytest.mark.anyio


async def test_the_bar_warns_before_a_compaction_and_the_ledger_shows_it(make_app: Any, openai_server: Any,
                                                                         demo_repo: Path) -> None:
    settings = small_model(demo_repo, openai_server.base_url, 8_000)
    openai_server.default_reply = Reply("The calculator adds numbers. " * 12)
    app = make_app(settings=settings)
    async with app.run_test(size=SIZE) as pilot:
        await idle(pilot)
        assert "compaction near" not in str(app.budget.render())
        warned_before: list[bool] = []  # per turn: did the bar warn before it was sent?
        for n in range(30):
            bar = str(app.budget.render())
            await send(pilot, f"question {n}: " + "tell me more about calc.add and its tests. " * 8)
            warned_before.append("⚠ compaction near" in bar)
            if any(w.kind == "compaction" for w in app.chat.query(Notice)):
                break
        else:
            raise AssertionError("no compaction in 30 turns")
        assert warned_before[-1], "the turn that compacted was not warned about"
        assert not warned_before[0]
        pressure = app.snapshot.pressure
        assert pressure is not None and not pressure.warn  # the compaction made room: the warning is gone
        assert "compaction near" not in str(app.budget.render())

        table = await run(pilot, "/compactions")
        assert re.search(r"^\| 1 \| (budget|count) \| (model|fallback) \| 1-", table, re.M) and "`/compactions N`" in table
        for ledger in app.workspace.session.ledgers:  # every retired item is listed with its reason
            assert all(f"[{i.id}] {i.text} — {i.note}" in table for i in ledger.retired)
        detail = await run(pilot, "/compactions 1")
        assert detail.startswith("### Compaction 1 (") and "check pass:" in detail and "kept verbatim by code" in detail
        assert "no compaction 7" in await run(pilot, "/compactions 7")

        budget = await run(pilot, "/budget")
        assert "Compactions: 1 (history" in budget and "% verbatim in the request" in budget and "% on disk only" in budget

        item = next(i for i in app.workspace.session.record.active() if not i.carried)
        assert f"pinned {item.id}" in await run(pilot, f"/pin {item.id.lower()}")
        assert item.pinned and "pinned" in await run(pilot, "/state")
        assert f"unpinned {item.id}" in await run(pilot, f"/unpin {item.id}")
        assert "no active state item Z9" in await run(pilot, "/pin Z9")
