"""Sessions written in an older format resume, and the file is never rewritten.

tests/data/session-v1.jsonl was written by kimicode at c9d6c6e (session format 1) driving a chat
over the repository in FILES against the loopback server: two questions, a file the user named
(attached as a ``tool`` turn named ``file:big.py``), a command's output (``tool``), a pin, a
/drop (and the re-pack it caused), a /compact (which moved the attached file into the shelf:
``pack-add``), a /restore and one more question. ``{ROOT}`` stands for the repository's path.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from kimicode.chat import FORMAT_VERSION, SessionStore, load_session, open_conversation
from kimicode.chat.records import migrate
from kimicode.cli import cli
from kimicode.config import ModelOverride, load_settings
from kimicode.locations import user_locations
from tests.openai_server import OpenAIServer
from tests.repos import make_repo

FIXTURE = Path(__file__).resolve().parent.parent / "data" / "session-v1.jsonl"
FILES = {
    "calc.py": "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n",
    "notes/guide.md": "# Guide\n\nRun the tests with pytest.\n",
    "big.py": "".join(f'def area_{n}(width, height):\n    """Area number {n}."""\n    return width * height * {n}\n\n\n'
                      for n in range(40)),
}


def install(tmp_path: Path) -> tuple[Path, Path, str]:
    """The repository and the old session file, where kimicode looks for them."""
    root = tmp_path / "repo"
    make_repo(root, FILES)
    text = FIXTURE.read_text(encoding="utf-8").replace("{ROOT}", str(root.resolve()))
    session_id = json.loads(text.splitlines()[0])["id"]
    path = SessionStore(user_locations().data_dir).repo_dir(root) / f"{session_id}.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text(text, encoding="utf-8")
    return root, path, text


def test_format_1_records_read_as_the_current_format(tmp_path: Path) -> None:
    _, path, _ = install(tmp_path)
    loaded = load_session(path)
    assert loaded.version == 1 and loaded.warnings == []
    roles = [(t.role, t.name) for t in loaded.turns]
    assert ("file", "big.py") in roles and ("output", "pytest") in roles
    assert not any(role == "tool" for role, _ in roles)  # "tool" is left to the tool loop's results
    assert [type(r).__name__ for r in loaded.records] == [
        "StateSaved", "FilesDropped", "Packed", "PackGrown", "StateSaved", "Compacted", "RestoreShown"]


def test_every_format_has_its_migration() -> None:
    assert migrate({"type": "turn", "role": "tool", "name": "file:a/b.py"}, 1)["role"] == "file"
    assert migrate({"type": "turn", "role": "tool", "name": "ls"}, 1) == {"type": "turn", "role": "output", "name": "ls"}
    assert migrate({"type": "pack", "query": None}, 1) == {"type": "pack", "query": None}
    assert migrate({"type": "turn", "role": "tool"}, FORMAT_VERSION)["role"] == "tool"  # current: left alone


def test_a_format_1_session_resumes_and_goes_on_in_the_current_format(tmp_path: Path, openai_server: OpenAIServer,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    root, path, text = install(tmp_path)
    # the limits the session was written with: an 8,000-token window, a 1,200-token repository shelf
    settings = load_settings(root, {"base_url": openai_server.base_url, "model": "kimi-k2.6", "max_retries": 0,
                                    "pack.budget": 1_200, "ask.reply_tokens": 500})
    settings = dataclasses.replace(settings, models={"kimi-k2.6": ModelOverride(context_window=8_000, max_output=8_000)})
    openai_server.reply("Still short.")
    with open_conversation(settings, root, resume=True, use_memory=False) as session:
        # nothing about the old format; only what an 8K window gives up (said for every small window)
        assert session.id == path.stem and [w for w in session.warnings if not w.startswith("a small window")] == []
        assert session.files.dropped == {"notes/guide.md"} and session.history.restored == [(1, 2)]
        assert [i.text for i in session.record.active("pin")] == ["Keep answers short."]
        assert session.reports[0].trigger == "manual" and session.record.through == 6
        assert session.repo.added == ("big.py",) and "big.py" in session.repo.full  # pack-add replayed
        assert "notes/guide.md" not in session.repo.listed - session.files.dropped
        session.send("Anything else?")
    messages = openai_server.chat_requests[-1].body["messages"]
    system, lead = messages[0]["content"], messages[1]["content"]
    assert '<file path="big.py" mode="full">' in system and '<file path="notes/guide.md"' not in system
    assert "Keep answers short." in lead and "## Restored from the session file: turns 1-2" in lead
    assert messages[-1] == {"role": "user", "content": "Anything else?"}

    lines = path.read_text(encoding="utf-8").splitlines()
    old = text.splitlines()
    assert lines[: len(old)] == old  # never rewritten
    assert json.loads(lines[len(old)]) == {"type": "version", "version": FORMAT_VERSION}
    again = load_session(path)
    assert again.version == FORMAT_VERSION and again.warnings == []
    assert [(t.role, t.text) for t in again.turns[-2:]] == [("user", "Anything else?"), ("assistant", "Still short.")]

    monkeypatch.chdir(root)
    shown = CliRunner().invoke(cli, ["sessions", "show", path.stem], catch_exceptions=False)
    assert shown.exit_code == 0 and "Attached file (big.py)" in shown.output and "Tool output (pytest)" in shown.output
