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


def script(server: OpenAIServer) -> None:
    """The first edit fixes add only; the failure of test_mul goes back; the second edit fixes mul."""
    server.reply("", tool_calls=[edit("return a - b", "return a + b", 1)])
    server.reply("add subtracted instead of adding.")
    server.reply("", tool_calls=[edit("def mul(a, b):\n    return a + b", "def mul(a, b):\n    return a * b", 2)])
    server.reply("Root cause: mul added instead of multiplying; it multiplies now.")


def test_the_test_loop_fixes_a_failing_test_in_two_rounds_and_undo_restores(tmp_path: Path,
                                                                           openai_server: OpenAIServer) -> None:
    root = tmp_path / "repo"
    make_repo(root, {".kimicode.toml": "max_retries = 1\ntimeout = 5.0\n", "calc.py": CALC, "test_calc.py": TESTS,
                     ".gitignore": "__pycache__/\n.pytest_cache/\n"})
    server = openai_server
    env = {"KIMICODE_BASE_URL": server.base_url}
    # the plugins of this test environment would only slow the inner run down
    command = f"PYTEST_DISABLE_PLUGIN_AUTOLOAD=1 {sys.executable} -m pytest -q -p no:cacheprovider"
    script(server)
    result = run_cli("ask", "--edit", "--yes", "--test-cmd", command, "fix the failing test", cwd=root, env=env, input="")
    assert result.returncode == 0, result.stderr
    assert (root / "calc.py").read_bytes() == b"def add(a, b):\n    return a + b\n\n\ndef mul(a, b):\n    return a * b\n"
    assert len(server.chat_requests) == 4
    fed_back = server.chat_requests[2].body["messages"][-1]
    assert fed_back["role"] == "user" and "test_mul" in fed_back["content"] and "assert 5 == 6" in fed_back["content"]
    assert "The error memory holds" not in fed_back["content"]  # nothing stored yet
    assert "the tests failed" in result.stderr and "the tests pass" in result.stderr
    assert "remembered AssertionError" in result.stderr and "(new; root cause and fix)" in result.stderr

    listed = run_cli("memory", "list", "--json", cwd=root, env=env)
    stored = [r for r in json.loads(listed.stdout) if r.get("error_type") == "AssertionError"]
    assert len(stored) == 1, listed.stdout
    assert "mul added instead of multiplying" in stored[0]["root_cause"]
    assert "calc.py: modified, +1 -1" in stored[0]["fix"] and "return a * b" in stored[0]["fix"]
    assert stored[0]["files"] == ["calc.py"]

    undone = run_cli("undo", cwd=root, env=env)
    assert undone.returncode == 0, undone.stderr
    assert (root / "calc.py").read_bytes() == CALC and (root / "test_calc.py").read_bytes() == TESTS
    assert "restored calc.py" in undone.stdout

    # the same failure again: the memory recalls the fix with the failure it sends back
    script(server)
    again = run_cli("ask", "--edit", "--yes", "--test-cmd", command, "fix the failing test", cwd=root, env=env, input="")
    assert again.returncode == 0, again.stderr
    fed_back = server.chat_requests[6].body["messages"][-1]
    assert "The error memory holds" in fed_back["content"] and "mul added instead of multiplying" in fed_back["content"]
    assert "the error memory recalls 1 similar failure(s)" in again.stderr
