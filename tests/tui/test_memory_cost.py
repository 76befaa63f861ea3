"""What memory's own model requests cost is shown in the chat, as ask and review print it. Pilot
against the loopback server, real Chroma on disk in the test's KIMICODE_HOME."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest

from kimicode.config import MemorySettings
from tests.tui.conftest import SIZE, idle, send, settings_for
from tests.tui.test_commands import run

pytestmark = pytest.mark.anyio

NOTES = ("We use httpx for every HTTP call, never requests.",
         "Timestamps are always timezone-aware UTC.",
         "Money amounts are integer cents, never floats.")
RERANK = "Which notes must be followed"  # prompts/rerank.md


async def test_budget_shows_what_the_memory_rerank_requests_cost(make_app: Any, openai_server: Any, demo_repo: Path) -> None:
    settings = settings_for(demo_repo, openai_server.base_url, memory=True)
    app = make_app(settings=dataclasses.replace(settings, memory=MemorySettings(enabled=True, rerank=True)))
    async with app.run_test(size=SIZE) as pilot:
        await idle(pilot)
        for note in NOTES:
            await send(pilot, f"/remember {note}")
        assert "Memory's own requests" not in await run(pilot, "/budget")  # none made yet
        await send(pilot, "Record when the user last logged in, with its timestamp.")
        reranks = [r for r in openai_server.chat_requests if RERANK in r.body["messages"][-1]["content"]]
        assert len(reranks) == 1
        budget = await run(pilot, "/budget")
        assert re.search(r"Memory's own requests this session: memory rerank: 1 request, [\d,]+ prompt \+ \d+ "
                         r"completion tokens, \$\d+\.\d{4}", budget), budget
