"""recall_errors: the model asks the error memory about an error it met while reading (real Chroma on disk)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.runner import run_cli
from tests.e2e.recall_set import PAIRS
from tests.openai_server import OpenAIServer
from tests.openai_server import ToolCall as ScriptedCall
from tests.repos import make_repo

BUG = PAIRS[0]
FIX = "load_user indexed USERS directly; use USERS.get(uid) and raise UserNotFound"


def test_the_model_recalls_a_remembered_error_through_a_tool(tmp_path: Path, openai_server: OpenAIServer) -> None:
    repo = tmp_path / "repo"
    make_repo(repo, {"app/models.py": "USERS = {}\n\ndef load_user(cfg, uid):\n    return USERS[uid]['name']\n"})
    added = run_cli("memory", "add", "--root-cause", "ids from the old API are strings", "--fix", FIX,
                    "--file", "app/models.py", cwd=repo, input=BUG.first)
    assert added.returncode == 0, added.stderr
    openai_server.reply("", tool_calls=[ScriptedCall("recall_errors", json.dumps({"text": BUG.second}), "r0")])
    openai_server.reply("Use USERS.get.")
    asked = run_cli("ask", "why do users fail to load?", cwd=repo, env={"KIMICODE_BASE_URL": openai_server.base_url},
                    input="")
    assert asked.returncode == 0, asked.stderr
    result = [m["content"] for m in openai_server.chat_requests[1].body["messages"] if m["role"] == "tool"][0]
    assert FIX in result and "ids from the old API are strings" in result
