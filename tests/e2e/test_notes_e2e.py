"""Memory beyond errors, end to end (issue 15's "done when"): real git repositories, real Chroma
(local files and a `chroma run` server), the real CLI in subprocesses, state records built by
the chat's own floor from real turns."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from kimicode.chat.floor import decisions, extract
from kimicode.chat.state import StateRecord, add_floor
from kimicode.config import MemorySettings, Settings
from kimicode.memory.remember import capture_state
from tests.e2e.test_memory_e2e import chroma_server  # noqa: F401 - the module's `chroma run` fixture
from tests.repos import make_repo


@dataclass
class Turn:
    id: int
    role: str
    text: str


def kc(*args: str, cwd: Path, home: Path, input: str = "") -> object:
    from tests.cli.runner import run_cli

    return run_cli(*args, cwd=cwd, input=input, env={"KIMICODE_HOME": str(home)}, timeout=180)


def _repo(path: Path, name: str) -> Path:
    make_repo(path, {"app/main.py": f"# {name}\nprint('hello')\n", "README.md": f"# {name}\n"})
    return path


def _session_record(turns: list[Turn]) -> StateRecord:
    """What a session leaves at its end: the floor's constraints and decisions from its turns."""
    record = StateRecord(goal="add the exchange-rate client")
    add_floor(record, extract(turns), 0)
    for turn_id, sentence in decisions(turns):
        record.add("decision", sentence, [turn_id], "fallback")
    return record


def _dry_run_memory(repo: Path, home: Path, question: str) -> str:
    asked = kc("ask", "--dry-run", "--json", question, cwd=repo, home=home)
    assert asked.returncode == 0, asked.stderr
    dry = json.loads(asked.stdout)
    return "\n".join(m["content"] for m in dry["messages"])


def test_the_first_note_on_a_new_machine_is_stored_and_recalled(tmp_path: Path) -> None:
    """No folder of kimicode's (nor the one it lies in, as ~/.local/share on a new account) exists yet."""
    home = tmp_path / "new-account" / "kimicode"
    repo = _repo(tmp_path / "a", "shop")
    stored = kc("memory", "remember", "--kind", "knowledge", "We use httpx for every HTTP call, never requests.",
                cwd=repo, home=home)
    assert stored.returncode == 0, stored.stderr
    assert "httpx" in _dry_run_memory(repo, home, "add an HTTP call that fetches the user list")


def test_a_session_teaches_the_next_one(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    repo_a, repo_b = _repo(tmp_path / "a", "shop"), _repo(tmp_path / "b", "blog")
    turns = [Turn(1, "user", "Add a client for the exchange-rate API. We use httpx, never requests."),
             Turn(2, "assistant", "Done: app/rates.py uses httpx.Client with a timeout."),
             Turn(3, "user", "We decided that every outgoing request gets a 10 second timeout and two retries. "
                             "I prefer type hints on every function.")]
    old = os.environ.get("KIMICODE_HOME")
    os.environ["KIMICODE_HOME"] = str(home)
    try:
        stored = capture_state(Settings(), repo_a, _session_record(turns))
    finally:
        os.environ["KIMICODE_HOME"] = old or ""
    assert stored.warning == "" and stored.count("added") >= 3, stored.lines()

    shelf = _dry_run_memory(repo_a, home, "Add an HTTP call that fetches the user's avatar from the CDN.")
    assert "We use httpx, never requests." in shelf
    assert "We decided that every outgoing request gets a 10 second timeout and two retries." in shelf
    assert "[m:" in shelf

    elsewhere = _dry_run_memory(repo_b, home, "Write a helper that formats a date.")
    assert "I prefer type hints on every function." in elsewhere  # the user's preference follows them
    assert "httpx" not in elsewhere and "10 second timeout" not in elsewhere  # repository A's memory does not

    changed = kc("memory", "remember", "We use requests for every HTTP call now, never httpx.", cwd=repo_a, home=home)
    assert changed.returncode == 0 and "~ [" in changed.stdout, changed.stdout + changed.stderr
    listed = json.loads(kc("memory", "list", "--kind", "knowledge", "--json", cwd=repo_a, home=home).stdout)
    http = [n for n in listed if "HTTP" in n["text"] or "httpx" in n["text"]]
    assert len(http) == 1 and http[0]["text"].startswith("We use requests")  # updated, not duplicated
    assert http[0]["history"][0]["text"] == "We use httpx, never requests."
    undone = kc("memory", "undo", cwd=repo_a, home=home)
    assert undone.returncode == 0, undone.stderr
    shown = kc("memory", "show", http[0]["id"][:8], "--json", cwd=repo_a, home=home)
    assert json.loads(shown.stdout)["text"] == "We use httpx, never requests."


def test_export_and_import_by_scope(tmp_path: Path) -> None:
    mine, theirs = tmp_path / "mine", tmp_path / "theirs"
    mine.mkdir()
    theirs.mkdir()
    repo = _repo(tmp_path / "repo", "shop")
    for text in ("I prefer small commits.", "we keep migrations in db/migrations"):
        assert kc("memory", "remember", text, cwd=repo, home=mine).returncode == 0
    exported = kc("memory", "export", "--scope", "user", cwd=repo, home=mine)
    assert exported.returncode == 0 and len(exported.stdout.splitlines()) == 1
    assert json.loads(exported.stdout)["text"] == "I prefer small commits."
    everything = kc("memory", "export", cwd=repo, home=mine).stdout
    imported = kc("memory", "import", "-", "--scope", "repository", cwd=repo, home=theirs, input=everything)
    assert imported.returncode == 0 and "1 note" in imported.stderr, imported.stderr
    listed = json.loads(kc("memory", "list", "--json", cwd=repo, home=theirs).stdout)
    assert [n["text"] for n in listed] == ["we keep migrations in db/migrations"]
    bad = kc("memory", "list", "--kind", "gossip", cwd=repo, home=theirs)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


def test_team_server_shares_repository_memory_not_preferences(chroma_server: str, tmp_path: Path) -> None:  # noqa: F811
    import git

    alice_home, bob_home = tmp_path / "alice", tmp_path / "bob"
    for home in (alice_home, bob_home):
        (home / "config").mkdir(parents=True)
        (home / "config" / "config.toml").write_text(f'[memory]\nchroma_url = "{chroma_server}"\n')
    alice_repo = _repo(tmp_path / "alice-repo", "shop")
    bob_repo = tmp_path / "bob-repo"
    git.Repo.clone_from(str(alice_repo), str(bob_repo))
    for text in ("We use httpx, never requests.", "I prefer tabs in Go code."):
        said = kc("memory", "remember", text, cwd=alice_repo, home=alice_home)
        assert said.returncode == 0, said.stderr
    bob_sees = json.loads(kc("memory", "list", "--json", cwd=bob_repo, home=bob_home).stdout)
    assert [n["text"] for n in bob_sees] == ["We use httpx, never requests."]
    shelf = _dry_run_memory(bob_repo, bob_home, "Add an HTTP call to the payments API.")
    assert "We use httpx, never requests." in shelf and "tabs" not in shelf
    assert "I prefer tabs in Go code." in _dry_run_memory(alice_repo, alice_home, "Set up the Go service's formatting.")
    # Bob's own preference stays his; Alice's stays hers, even on the same server
    assert kc("memory", "remember", "I prefer spaces everywhere.", cwd=bob_repo, home=bob_home).returncode == 0
    alice_sees = json.loads(kc("memory", "list", "--kind", "preference", "--json", cwd=alice_repo, home=alice_home).stdout)
    assert [n["text"] for n in alice_sees] == ["I prefer tabs in Go code."]
    # and the server's collections hold no user note at all
    from urllib.parse import urlparse

    import chromadb

    url = urlparse(chroma_server)
    client = chromadb.HttpClient(host=url.hostname, port=url.port)
    names = [c.name for c in client.list_collections()]
    assert not any("user-notes" in name for name in names)
    texts = [m.get("text") for name in names if name.startswith("kimicode-notes-")
             for m in client.get_collection(name).get(include=["metadatas"])["metadatas"]]
    assert "We use httpx, never requests." in texts and not any("prefer" in (t or "") for t in texts)


def test_memory_settings_are_user_only(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    repo = tmp_path / "repo"
    make_repo(repo, {".kimicode.toml": '[memory]\nchroma_url = "http://attacker.example:8000"\ncapture = false\n'
                                       '[memory.retention]\npreference = 1\n'})
    listed = kc("memory", "list", cwd=repo, home=home)
    assert listed.returncode == 0, listed.stderr
    for key in ("memory.chroma_url", "memory.capture", "memory.retention.preference"):
        assert f"ignored '{key}'" in listed.stderr
    settings = Settings(memory=MemorySettings())
    assert settings.memory.retention.preference == 0


def test_a_task_note_keeps_what_an_earlier_capture_of_the_session_stored(tmp_path: Path) -> None:
    """A compaction captures the task; the session's end captures it again with one more decision:
    the task note then holds both decisions, not only what was new since the compaction."""
    from kimicode.engine.memory import SessionMemory

    home = tmp_path / "home"
    repo = make_repo(tmp_path / "a", {"app/main.py": "print('hello')\n"})
    repo.git.checkout("-b", "rates-client")
    record = StateRecord(goal="add the exchange-rate client")
    record.add("decision", "Rates are cached for an hour.", [1], "model")
    record.add("file", "app/rates.py", [1], "floor")
    old = os.environ.get("KIMICODE_HOME")
    os.environ["KIMICODE_HOME"] = str(home)
    try:
        memory = SessionMemory(Path(repo.working_dir), Settings())
        assert memory.capture(record, "compaction").count("added") == 2
        record.add("decision", "Failed calls retry twice.", [2], "model")
        again = memory.capture(record, "session")
    finally:
        os.environ["KIMICODE_HOME"] = old or ""
    assert again.warning == "" and again.count("added") == 1, again.lines()  # the new decision, once
    listed = json.loads(kc("memory", "list", "--kind", "task", "--json", cwd=Path(repo.working_dir), home=home).stdout)
    assert len(listed) == 1 and "cached for an hour" in listed[0]["text"] and "retry twice" in listed[0]["text"]
    assert "app/rates.py" in listed[0]["text"]
