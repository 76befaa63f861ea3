"""Session files: append-only JSONL with fsync, damaged lines, kill -9, resume, the CLI.

Real files under the isolated home, real subprocesses killed with SIGKILL, the loopback
OpenAI-compatible server for answers.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from kimicode.chat import (
    ChatError,
    ContextPolicy,
    Conversation,
    LoadedSession,
    SessionError,
    SessionFile,
    SessionLocked,
    SessionStore,
    Turn,
    load_session,
    open_conversation,
)
from kimicode.chat.session import write_atomic
from kimicode.cli import cli
from kimicode.config import load_settings
from kimicode.llm import ChatClient, Endpoint
from kimicode.locations import user_locations
from kimicode.models import ModelSpec
from kimicode.tokens import TokenCounter
from tests.openai_server import OpenAIServer

COUNTER = TokenCounter()
KEY = "sk-test-session-9d8c7b6a5f4e"


def store() -> SessionStore:
    return SessionStore(user_locations().data_dir)


def new_session(root: Path, server: OpenAIServer, window: int = 8_000, api_key: str = "", **policy: Any) -> Conversation:
    file, meta = store().create(root, "test-model")
    spec = ModelSpec("test-model", window, window)
    client = ChatClient(Endpoint(server.base_url, api_key, "test-model", timeout=5.0, max_retries=0), spec)
    policy.setdefault("reply_tokens", 500)
    return Conversation(file, LoadedSession(meta, file.path), client, COUNTER, policy=ContextPolicy(**policy))


def reopen(path: Path, server: OpenAIServer, window: int = 8_000, **policy: Any) -> Conversation:
    file = SessionFile.reopen(path)
    loaded = load_session(path)
    spec = ModelSpec("test-model", window, window)
    client = ChatClient(Endpoint(server.base_url, "", "test-model", timeout=5.0, max_retries=0), spec)
    policy.setdefault("reply_tokens", 500)
    return Conversation(file, loaded, client, COUNTER, policy=ContextPolicy(**policy))


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


# -- the file ------------------------------------------------------------------------


def test_every_turn_is_one_json_line_on_disk(tmp_path: Path, openai_server: OpenAIServer) -> None:
    openai_server.reply("Hello back.", reasoning="be polite")
    with new_session(tmp_path, openai_server) as session:
        exchange = session.send("Hello.")
        assert (exchange.user.id, exchange.assistant.id) == (1, 2)
        records = lines(session.path)  # readable while the session is open: every write is complete
    assert records[0]["type"] == "session" and records[0]["root"] == str(tmp_path.resolve())
    turns = [r for r in records if r["type"] == "turn"]
    assert [(t["id"], t["role"], t["text"]) for t in turns] == [(1, "user", "Hello."), (2, "assistant", "Hello back.")]
    assert turns[1]["reasoning"] == "be polite" and turns[1]["usage"]["prompt_tokens"] > 0
    assert (session.path.stat().st_mode & 0o777) == 0o600
    assert re.fullmatch(r"\d{8}-\d{6}-[0-9a-f]{4}", session.id) and session.path.parent == store().repo_dir(tmp_path)


def test_half_written_last_line_is_skipped_and_the_next_append_starts_fresh(tmp_path: Path, openai_server: OpenAIServer) -> None:
    with new_session(tmp_path, openai_server) as session:
        session.send("First question.")
        path = session.path
    with path.open("ab") as fh:
        fh.write(b'{"type":"turn","id":3,"role":"user","text":"cut in the mid')  # what kill -9 during write leaves
    loaded = load_session(path)
    assert [t.id for t in loaded.turns] == [1, 2]
    assert len(loaded.warnings) == 1 and "half-written" in loaded.warnings[0]
    with reopen(path, openai_server) as session:
        assert session.warnings == loaded.warnings
        session.send("Second question.")
    loaded = load_session(path)
    assert [t.text for t in loaded.turns] == ["First question.", "ok", "Second question.", "ok"]
    assert len(loaded.warnings) == 1 and "damaged" in loaded.warnings[0]  # now a middle line, still skipped


def test_damaged_lines_duplicates_and_a_missing_header_never_crash(tmp_path: Path) -> None:
    path = tmp_path / "20250101-000000-abcd.jsonl"
    path.write_bytes(
        b'{"type":"turn","id":1,"role":"user","text":"a"}\n'
        b"\x00\xff garbage\n"
        b'{"type":"turn","id":1,"role":"user","text":"again"}\n'
        b'{"type":"turn","id":"x","role":"robot","text":3}\n'
        b"[1, 2, 3]\n"
        b'{"type":"turn","id":2,"role":"assistant","text":"b"}\n'
    )
    loaded = load_session(path)
    assert [(t.id, t.text) for t in loaded.turns] == [(1, "a"), (2, "b")]
    assert loaded.meta.id == path.stem and len(loaded.warnings) == 5


def test_a_session_is_locked_while_open(tmp_path: Path, openai_server: OpenAIServer) -> None:
    with new_session(tmp_path, openai_server) as session:
        with pytest.raises(SessionLocked, match="another kimicode process"):
            SessionFile.reopen(session.path)
    SessionFile.reopen(session.path).close()  # closing released the lock


def test_write_atomic_replaces_the_whole_file(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    path.write_text("old\n")
    write_atomic(path, [{"type": "session", "id": "s"}, Turn(1, "user", "hi").to_record()])
    assert lines(path)[1]["text"] == "hi" and list(tmp_path.iterdir()) == [path]


# -- the store -----------------------------------------------------------------------


def test_sessions_are_kept_per_repository_and_found_by_id_prefix(tmp_path: Path, openai_server: OpenAIServer) -> None:
    repo_a, repo_b = tmp_path / "a", tmp_path / "b"
    repo_a.mkdir(), repo_b.mkdir()
    ids = []
    for root in (repo_a, repo_a, repo_b):
        with new_session(root, openai_server) as session:
            session.send(f"About {root.name}.")
            ids.append(session.id)
        time.sleep(0.01)
    listed = store().list(repo_a)
    assert {i.id for i in listed} == set(ids[:2]) and all(i.turns == 2 and i.title == "About a." for i in listed)
    assert len(store().list()) == 3
    assert store().latest(repo_b).stem == ids[2]
    assert store().find(ids[2]).stem == ids[2]
    assert store().find(ids[2][:-1]).stem == ids[2] or len({i[:-1] for i in ids}) < 3
    with pytest.raises(SessionError, match="no session"):
        store().find("19990101")
    with pytest.raises(SessionError, match="matches 3 sessions"):
        store().find(ids[0][:2])
    with pytest.raises(SessionError, match="no session for"):
        store().resolve(tmp_path / "c", None)


# -- resume --------------------------------------------------------------------------


def test_resume_brings_back_turns_state_pins_and_restored_turns(tmp_path: Path, openai_server: OpenAIServer) -> None:
    with new_session(tmp_path, openai_server, window=4_000, keep_recent=2) as session:
        for n in range(12):
            session.send(f"Message {n} is about trains and lunch and rivers and paper. " * 30)
        session.history.pin("Ship before Friday.")
        assert session.record.through > 0 and session.reports
        session.history.restore(2, 2)
        before = session.request().messages
        record, path = session.record.to_dict(), session.path
    with reopen(path, openai_server, window=4_000, keep_recent=2) as resumed:
        assert resumed.record.to_dict() == record
        assert resumed.history.restored == [(2, 2)] and len(resumed.reports) == len(session.reports)
        assert resumed.request().messages == before  # byte-identical: the cache survives a restart
        resumed.send("Where were we?")
    assert "Ship before Friday." in openai_server.chat_requests[-1].body["messages"][1]["content"]


def test_open_session_resumes_the_last_session_of_the_repository(tmp_path: Path, openai_server: OpenAIServer) -> None:
    settings = load_settings(tmp_path, {"base_url": openai_server.base_url, "model": "kimi-k2.6", "max_retries": 0})
    with open_conversation(settings, tmp_path, use_repo=False) as first:
        first.send("Remember the number 31337.")
    with open_conversation(settings, tmp_path, resume=True, use_repo=False) as again:
        assert again.id == first.id and [t.text for t in again.turns][:1] == ["Remember the number 31337."]
        again.send("Which number?")
    assert "31337" in json.dumps(openai_server.chat_requests[-1].body["messages"])
    with open_conversation(settings, tmp_path, session_id=first.id[:15], use_repo=False) as by_id:
        assert by_id.id == first.id and len(by_id.turns) == 4


def test_the_api_key_never_reaches_the_session_file(tmp_path: Path, openai_server: OpenAIServer) -> None:
    openai_server.reply(f"Your key is {KEY}.")
    with new_session(tmp_path, openai_server, api_key=KEY) as session:
        session.send(f"I set MOONSHOT_API_KEY={KEY} in my shell.")
        path = session.path
    assert KEY not in path.read_text(encoding="utf-8")


def test_restore_and_search(tmp_path: Path, openai_server: OpenAIServer) -> None:
    with new_session(tmp_path, openai_server, window=3_200, keep_recent=2) as session:
        session.send("The magic word is xylophone. " + "Trains and lunch. " * 40)
        for n in range(10):
            session.send(f"Filler {n}. " + "Rivers and paper. " * 80)
        assert session.record.through >= 1
        hits = session.history.search("XYLOPHONE magic")
        assert hits[0].kind == "turn" and hits[0].ref == "1" and not hits[0].in_context
        assert "magic word is xylophone" in hits[0].snippet
        restored = session.history.restore(1, 1)
        assert restored.turns == [1] and restored.tokens > 0
        assert "Restored from the session file: turns 1-1" in session.request().messages[1].content
        assert session.history.search("xylophone")[0].in_context
        with pytest.raises(ChatError, match="restore fewer"):
            session.history.restore(1, session.record.through)
        with pytest.raises(ChatError, match="not compressed"):
            session.history.restore(session.turns[-1].id, session.turns[-1].id)
        with pytest.raises(ChatError, match="nothing to search"):
            session.history.search("  ")


# -- kill -9 -------------------------------------------------------------------------

CHILD = r"""
import sys
from pathlib import Path
from kimicode.config import load_settings
from kimicode.chat import open_conversation
from kimicode.engine import ContentDelta

root, base_url, *messages = sys.argv[1:]
settings = load_settings(Path(root), {"base_url": base_url, "model": "kimi-k2.6", "max_retries": 0})
session = open_conversation(settings, Path(root), use_repo=False)
print("SESSION", session.id, flush=True)
def chunk(event):
    if isinstance(event, ContentDelta):
        print("CHUNK", flush=True)
for text in messages:
    session.send(text, chunk)
    print("DONE", flush=True)
"""


def test_kill_9_mid_stream_loses_no_completed_turn_and_resumes(tmp_path: Path, openai_server: OpenAIServer) -> None:
    openai_server.reply("First answer.", chunk_size=100)
    openai_server.reply("Second answer.", chunk_size=100)
    openai_server.reply("A long third answer " * 20, chunk_size=5, chunk_delay=0.2)  # ~16 s if not killed
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path), openai_server.base_url, "One?", "Two?", "Three?"],
                             stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[2])
    seen: list[str] = []
    try:
        assert child.stdout is not None
        for line in child.stdout:
            seen.append(line.split()[0])
            if seen.count("DONE") == 2 and seen[-1] == "CHUNK":
                os.kill(child.pid, signal.SIGKILL)  # mid-stream of the third answer
                break
    finally:
        child.kill()
        child.wait(timeout=10)
    assert child.returncode == -signal.SIGKILL
    path = store().latest(tmp_path)
    loaded = load_session(path)
    assert loaded.warnings == []
    assert [(t.role, t.text) for t in loaded.turns] == [
        ("user", "One?"), ("assistant", "First answer."), ("user", "Two?"), ("assistant", "Second answer."), ("user", "Three?")]
    settings = load_settings(tmp_path, {"base_url": openai_server.base_url, "model": "kimi-k2.6", "max_retries": 0})
    with open_conversation(settings, tmp_path, resume=True, use_repo=False) as session:
        session.send("Still there?")
    messages = openai_server.chat_requests[-1].body["messages"]
    assert messages[-1] == {"role": "user", "content": "Three?\n\nStill there?"}  # the unanswered question is kept
    assert [t.id for t in load_session(path).turns] == [1, 2, 3, 4, 5, 6, 7]


WRITER = r"""
import sys
from pathlib import Path
from kimicode.chat import SessionFile, SessionMeta, Turn
path = Path(sys.argv[1])
handle = SessionFile.create(path, SessionMeta(id=path.stem, root="/r", created="now"))
for n in range(1, 100000):
    handle.append(Turn(n, "user", "x" * 200_000).to_record())
    if n == 3:
        print("GO", flush=True)
"""


def test_kill_9_while_writing_never_breaks_loading(tmp_path: Path) -> None:
    path = tmp_path / "20250101-000000-beef.jsonl"
    child = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True,
                             cwd=Path(__file__).resolve().parents[2])
    assert child.stdout is not None and child.stdout.readline().strip() == "GO"
    time.sleep(0.05)
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=10)
    loaded = load_session(path)
    assert len(loaded.turns) >= 3 and [t.id for t in loaded.turns] == list(range(1, len(loaded.turns) + 1))
    assert len(loaded.warnings) <= 1 and all("half-written" in w for w in loaded.warnings)
    with SessionFile.reopen(path) as handle:
        handle.append(Turn(len(loaded.turns) + 1, "user", "after the crash").to_record())
    assert load_session(path).turns[-1].text == "after the crash"


# -- the CLI -------------------------------------------------------------------------


def test_sessions_cli_list_show_export(tmp_path: Path, openai_server: OpenAIServer, monkeypatch: pytest.MonkeyPatch) -> None:
    openai_server.reply("Use `git bisect`.\n\n```\n```inner fence\n```")
    with new_session(tmp_path, openai_server) as session:
        session.send("How do I find the bad commit?")
        session.log.turn("output", "abc123 fix\ndef456 break", name="git log")
        session.history.pin("Never force-push main.")
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    listed = runner.invoke(cli, ["sessions", "list"], catch_exceptions=False)
    assert listed.exit_code == 0 and session.id in listed.output and "How do I find the bad commit?" in listed.output
    as_json = json.loads(runner.invoke(cli, ["sessions", "list", "--all", "--json"]).output)
    assert as_json[0]["id"] == session.id and as_json[0]["turns"] == 3
    shown = runner.invoke(cli, ["sessions", "show"], catch_exceptions=False)  # default: the last one here
    assert shown.exit_code == 0 and "## 2. Assistant" in shown.output and "Never force-push main." in shown.output
    out = tmp_path / "out" / "s.md"
    exported = runner.invoke(cli, ["sessions", "export", session.id, "--format", "md", "--output", str(out)])
    assert exported.exit_code == 0 and out.read_text().startswith(f"# kimicode session {session.id}")
    assert "````\nabc123 fix\ndef456 break\n````" not in out.read_text()  # tool output fence: three backticks suffice
    assert "```\nabc123 fix\ndef456 break\n```" in out.read_text()
    data = json.loads(runner.invoke(cli, ["sessions", "export", session.id[:12], "--format", "json"]).output)
    assert [t["role"] for t in data["turns"]] == ["user", "assistant", "output"] and data["state"]["items"][0]["kind"] == "pin"
    missing = runner.invoke(cli, ["sessions", "show", "19990101-000000-0000"])
    assert missing.exit_code == 2 and "no session" in missing.output


def test_exported_tool_output_fence_outlasts_indented_backtick_runs() -> None:
    from kimicode.chat.export import _turn_md

    output = "log:\n    ```\n    quoted block\n    ```\ndone"
    md = _turn_md(Turn(id=3, role="output", text=output, name="cat"))
    assert "````\nlog:" in md and md.rstrip().endswith("done\n````")
