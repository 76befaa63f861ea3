"""Calibration learns only from plausible provider counts (issue 11).

A server that reports 1,000 prompt tokens for a request of ~10,000 (a template that drops
the system message, a server that truncates, or one that simply misreports) must not make
the next pack larger.
"""

from __future__ import annotations

import json
from pathlib import Path

from kimicode import calibration
from tests.cli.test_ask_cli import FAST, ask
from tests.openai_server import OpenAIServer, Reply
from tests.repos import make_repo

MISREPORTED = {"prompt_tokens": 1_000, "completion_tokens": 2, "total_tokens": 1_002}


def _big_repo(root: Path) -> Path:
    files = {".kimicode.toml": FAST}
    for i in range(60):
        body = "".join(f"    total_{i}_{j} = compute_{j}(value_{i}, factor_{j})  # step {j} of module {i}\n" for j in range(25))
        files[f"pkg/module_{i:02}.py"] = f'"""Module {i}."""\n\n\ndef run_{i}(value_{i}: int) -> int:\n{body}    return 0\n'
    make_repo(root, files)
    return root


def test_a_server_reporting_far_fewer_tokens_does_not_grow_the_next_pack(tmp_path: Path, openai_server: OpenAIServer,
                                                                         isolated_home: Path) -> None:
    root = _big_repo(tmp_path / "repo")
    openai_server.default_reply = Reply("ok", usage=MISREPORTED)
    first = ask("--json", "--budget", "8000", "what does run_3 do?", cwd=root, server=openai_server)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["usage"]["estimated_prompt_tokens"] > 8_000  # ~10x what the server reported

    assert calibration.factor(isolated_home / "data", "kimi-k2.7-code") == 1.0
    second = ask("--json", "--budget", "8000", "what does run_3 do?", cwd=root, server=openai_server)
    assert second.returncode == 0, second.stderr
    sent = [r.body["messages"][1]["content"] for r in openai_server.chat_requests]
    assert len(sent[1]) == len(sent[0])  # the same pack, not one twice as large
    assert json.loads(second.stdout)["files"] == json.loads(first.stdout)["files"]
