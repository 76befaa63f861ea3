"""The done-when run of docs/edits.md: `ask --edit --yes --test-cmd` against the scripted server fixes a
failing test in two rounds (the first failure goes back to the model), stores the failure's fingerprint
with its fix, and `kimicode undo` then restores the original files byte for byte."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tests.cli.runner import run_cli
from tests.openai_server import OpenAIServer
from tests.openai_server import ToolCall as ScriptedCall
from tests.repos import make_repo

CALC = b"def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a + b\n"
TESTS = (b"from calc import add, mul\n\n\ndef test_add():\n    assert add(2, 3) == 5\n\n\n"
         b"def test_mul():\n    assert mul(2, 3) == 6\n")


def edit(old: str, new: str, n: int) -> ScriptedCall:
    return ScriptedCall("edit_file", json.dumps({"path": "calc.py", "old": old, "new": new}), f"call_edit_{n}")


def test_the_test_loop_fixes_a_failing_test_in_two_rounds_and_undo_restores(tmp_path: Path,
                                                                           openai_server: OpenAIServer) -> None:
    root = tmp_path / "repo"
    make_repo(root, {".kimicode.toml": "max_retries = 1\ntimeout = 5.0\n", "calc.py": CALC, "test_calc.py": TESTS,
                     ".gitignore": "__pycache__/\n.pytest_cache/\n"})
    server = openai_server
    server.reply("", tool_calls=[edit("return a - b", "return a + b", 1)])
    server.reply("add subtracted instead of adding.")
    server.reply("", tool_calls=[edit("def mul(a, b):\n    return a + b", "def mul(a, b):\n    return a * b", 2)])
    server.reply("Root cause: mul added instead of multiplying; it multiplies now.")
    env = {"KIMICODE_BASE_URL": server.base_url}
    # the plugins of this test environment would only slow the inner run down
    command = f"PYTEST_DISABLE_PLUGIN_AUTOLOAD=1 {sys.executable} -m pytest -q -p no:cacheprovider"
    result = run_cli("ask", "--edit", "--yes", "--test-cmd", command, "fix the failing test", cwd=root, env=env, input="")
    assert result.returncode == 0, result.stderr
    assert (root / "calc.py").read_bytes() == b"def add(a, b):\n    return a + b\n\n\ndef mul(a, b):\n    return a * b\n"
    third = server.chat_requests[2].body
    fed_back = third["messages"][-1]
    assert fed_back["role"] == "user" and "test_mul" in fed_back["content"] and "assert 5 == 6" in fed_back["content"]
    assert "the tests pass" in result.stderr
    assert "remembered" in result.stderr
    undone = run_cli("undo", cwd=root, env=env)
    assert undone.returncode == 0, undone.stderr
    assert (root / "calc.py").read_bytes() == CALC
