"""/add and /drop in the chat core: Conversation.add_file / drop_file and RepoPacker.add.

Real session files in tmp dirs and the loopback server; nothing of kimicode is patched.
"""

from __future__ import annotations

import json
from pathlib import Path

from kimicode.chat import Conversation
from kimicode.chat.context import ContextPolicy
from kimicode.chat.repo_shelf import RepoPacker
from kimicode.chat.session import LoadedSession, SessionFile, SessionStore, load_session
from kimicode.locations import user_locations
from kimicode.repo.pack import PackOptions
from kimicode.tokens import TokenCounter
from tests.openai_server import OpenAIServer
from tests.repos import make_repo
from tests.unit.test_state import client_for

COUNTER = TokenCounter()
WINDOW = 30_000


def make(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    body = "".join(f"    total += {k}  # step {k}\n" for k in range(120))
    files = {f"pkg/mod{n}.py": f"def func{n}(total):\n{body}    return total\n" for n in range(12)}
    files["README.md"] = "A small repository about totals.\n"
    make_repo(root, files)
    return root


def packer_for(root: Path, tmp_path: Path, budget: int = 6_000) -> RepoPacker:
    return RepoPacker(root, PackOptions(budget=budget), tmp_path / "cache", COUNTER)


def session_for(root: Path, tmp_path: Path, server: OpenAIServer, file: SessionFile, loaded: LoadedSession) -> Conversation:
    return Conversation(file, loaded, client_for(server, WINDOW), COUNTER, policy=ContextPolicy(reply_tokens=1_000),
                       packer=packer_for(root, tmp_path), project_root=root, summarizer_client=client_for(server, WINDOW))


def new(root: Path, tmp_path: Path, server: OpenAIServer) -> Conversation:
    file, meta = SessionStore(user_locations().data_dir).create(root, "test-model")
    return session_for(root, tmp_path, server, file, LoadedSession(meta, file.path))


def reopen(root: Path, tmp_path: Path, server: OpenAIServer, path: Path) -> Conversation:
    return session_for(root, tmp_path, server, SessionFile.reopen(path), load_session(path))


def records(path: Path, kind: str) -> list[dict]:
    return [r for r in map(json.loads, path.read_text(encoding="utf-8").splitlines()) if r.get("type") == kind]


def test_a_dropped_packed_file_stays_dropped_after_resume(tmp_path: Path, openai_server: OpenAIServer) -> None:
    root = make(tmp_path)
    with new(root, tmp_path, openai_server) as session:
        packed = sorted(session.repo.full)[0]
        assert f'<file path="{packed}"' in session.repo.text
        line = session.drop_file(packed)
        assert line.startswith(f"dropped {packed}") and "packed again" in line
        assert f'<file path="{packed}"' not in session.repo.text and packed in session.files.dropped
        session.send(f"What does {packed} do?")  # naming it does not attach it again
        sent = json.dumps(openai_server.chat_requests[-1].body["messages"])
        assert f'<file path=\\"{packed}\\"' not in sent
        assert not [t for t in session.turns if t.name == f"file:{packed}"]
        before = session.request().messages
        path = session.path
    assert records(path, "drop")[0]["paths"] == [packed]
    with reopen(root, tmp_path, openai_server, path) as resumed:
        assert resumed.files.dropped == {packed}
        assert resumed.request().messages == before  # the same prefix as before the restart
        assert "added" in resumed.add_file(packed)  # adding it again takes it back
        assert packed not in resumed.files.dropped
    assert records(path, "undrop")[0]["paths"] == [packed]
    with reopen(root, tmp_path, openai_server, path) as again:
        assert not again.files.dropped
        assert f'<file path="{packed}" mode="full">' in again.request().messages[-1].content


def test_a_dropped_attached_file_leaves_the_next_request_and_is_never_absorbed(tmp_path: Path, openai_server: OpenAIServer) -> None:
    root = make(tmp_path)
    with new(root, tmp_path, openai_server) as session:
        outside = sorted(session.repo.listed - session.repo.full - {"README.md"})[0]
        assert session.add_file(outside).startswith(f"added {outside} in full")
        session.send("Look at it.")
        assert f'<file path=\\"{outside}\\" mode=\\"full\\">' in json.dumps(openai_server.chat_requests[-1].body["messages"])
        assert session.drop_file(outside).startswith(f"dropped {outside}")
        session.send("And now?")
        assert f'<file path=\\"{outside}\\" mode=\\"full\\">' not in json.dumps(openai_server.chat_requests[-1].body["messages"])
        session.compact()
        assert outside not in session.repo.full and outside not in session.repo.added
        assert "already dropped" in session.drop_file(outside)
        path = session.path
    with reopen(root, tmp_path, openai_server, path) as resumed:
        assert outside in resumed.files.dropped and outside not in resumed.repo.added
        resumed.send("Still gone?")
        assert f'<file path=\\"{outside}\\" mode=\\"full\\">' not in json.dumps(openai_server.chat_requests[-1].body["messages"])


def test_adding_an_outlined_file_replaces_its_outline(tmp_path: Path) -> None:
    root = make(tmp_path)
    packer = packer_for(root, tmp_path, budget=4_000)
    shelf = packer.pack(None, 20_000)
    assert shelf.outline, "the test repository should pack some files as outlines"
    path = sorted(shelf.outline)[0]
    grown = packer.add(shelf, [path])
    assert grown is not None and path in grown.full and path not in grown.outline and grown.added == (path,)
    modes = [b.mode for b in grown.blocks if b.path == path]
    assert modes == ["full"]  # the outline is gone, replaced in place
    assert grown.text.count(f'path="{path}"') == 1
    order = [b.path for b in shelf.blocks]
    assert [b.path for b in grown.blocks] == order  # the same place in the shelf
