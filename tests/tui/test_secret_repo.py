"""A TUI turn on a repository with about thirty secrets: none reaches the provider."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.secret_repo import SecretRepo
from tests.tui.conftest import SIZE, idle, send

pytestmark = pytest.mark.anyio


async def test_a_chat_turn_sends_none_of_thirty_secrets(make_app: Any, openai_server: Any, tmp_path: Path) -> None:
    secrets = SecretRepo(seed=3)
    root = secrets.build(tmp_path / "repo")
    openai_server.reply("ok")
    openai_server.reply("ok")
    app = make_app(root=root)
    async with app.run_test(size=SIZE) as pilot:
        await idle(pilot)
        await send(pilot, "what do app/github.py and deploy/cluster.yaml configure?")
        pasted = (root / "notify" / "sendgrid.py").read_text() + (root / "infra" / "main.tf").read_text()
        await send(pilot, "and this?\n" + pasted)
    body = "\n".join(json.dumps(r.body) for r in openai_server.requests)
    assert len(openai_server.chat_requests) == 2 and "app/main.py" in body
    assert secrets.leaks(body) == []
