"""Issue 15's "done when", through the engine: real chat sessions against the loopback server
(tests/openai_server.py), real git repositories, real Chroma on disk, the real CLI.

A session in which the user states a convention and a decision ends; the next session in the
same repository (and `ask --dry-run`, and `review --dry-run`) gets both on its memory shelf; a
preference stated in repository A is recalled in repository B, A's repository memory is not; a
contradicting statement updates the memory instead of adding a duplicate.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from kimicode.chat import open_conversation
from kimicode.config import load_settings
from tests.openai_server import OpenAIServer
from tests.repos import make_repo, write_files

CONVENTION = "We use httpx, never requests."
DECISION = "We decided that every outgoing request gets a 10 second timeout and two retries."
PREFERENCE = "I prefer type hints on every function."


def kc(*args: str, cwd: Path) -> Any:
    from tests.cli.runner import run_cli

    return run_cli(*args, cwd=cwd, env={"KIMICODE_HOME": os.environ["KIMICODE_HOME"]}, timeout=180)


def _repo(path: Path, name: str) -> Path:
    make_repo(path, {"app/main.py": f"# {name}\nprint('hello')\n", "README.md": f"# {name}\n"})
    return path


def _settings(root: Path, server: OpenAIServer) -> Any:
    return load_settings(root, {"base_url": server.base_url, "model": "kimi-k2.6", "max_retries": 0})


def _dry_run(repo: Path, question: str) -> str:
    asked = kc("ask", "--dry-run", "--json", question, cwd=repo)
    assert asked.returncode == 0, asked.stderr
    return "\n".join(m["content"] for m in json.loads(asked.stdout)["messages"])


def _notes(repo: Path) -> list[dict[str, Any]]:
    listed = kc("memory", "list", "--json", cwd=repo)
    assert listed.returncode == 0, listed.stderr
    return [n for n in json.loads(listed.stdout) if "kind" in n and n.get("kind") != "error"]


def test_a_session_teaches_the_next_one_through_the_engine(tmp_path: Path, openai_server: OpenAIServer) -> None:
    repo_a, repo_b = _repo(tmp_path / "a", "shop"), _repo(tmp_path / "b", "blog")
    settings = _settings(repo_a, openai_server)
    with open_conversation(settings, repo_a, use_repo=False) as first:
        first.send(f"Add a client for the exchange-rate API. {CONVENTION}")
        first.send(f"{DECISION} {PREFERENCE}")
        assert "Memory from earlier sessions" not in json.dumps(openai_server.chat_requests[-1].body)  # nothing yet
    told = [t.text for t in first.turns if t.role == "note" and t.name == "memory"]
    assert told and "added" in told[0] and CONVENTION in told[0]  # the user sees what was stored
    with open_conversation(settings, repo_a, resume=True, use_repo=False) as resumed:
        pass  # resumed and left without a word: nothing is captured again
    assert [t.text for t in resumed.turns if t.role == "note" and t.name == "memory"] == told

    # the next session in the same repository: both on the memory shelf of its first request, with ids
    with open_conversation(settings, repo_a, use_repo=False) as second:
        second.send("Add an HTTP call that fetches the user's avatar from the CDN.")
        sent = openai_server.chat_requests[-1].body["messages"][-1]["content"]
        assert CONVENTION in sent and DECISION in sent and "[m:" in sent
        assert sent.index("Add an HTTP call") < sent.index(CONVENTION)  # recalls after the question: the prefix stays cached
        assert second.shelves().sizes["memory"] > 0
    shelf = _dry_run(repo_a, "Add an HTTP call that fetches the user's avatar from the CDN.")
    assert CONVENTION in shelf and DECISION in shelf

    # another repository: the user's preference follows them, repository A's memory does not
    elsewhere = _dry_run(repo_b, "Write a helper that formats a date.")
    assert PREFERENCE in elsewhere
    assert "httpx" not in elsewhere and "10 second timeout" not in elsewhere

    # a contradiction, said in a session with /remember: the convention is updated, not duplicated
    before = [n for n in _notes(repo_a) if "httpx" in n["text"]]
    assert len(before) == 1
    with open_conversation(settings, repo_a, use_repo=False) as third:
        said = third.remember("We use requests for every HTTP call now, never httpx.")
    assert "~ [" in said and "was: " + CONVENTION in said, said
    after = [n for n in _notes(repo_a) if "httpx" in n["text"]]
    assert len(after) == 1 and after[0]["id"] == before[0]["id"] and "We use requests" in after[0]["text"]
    assert CONVENTION not in _dry_run(repo_a, "Add an HTTP call to the payments API.")


def test_review_recalls_what_bears_on_the_change(tmp_path: Path, openai_server: OpenAIServer) -> None:
    repo = _repo(tmp_path / "a", "shop")
    with open_conversation(_settings(repo, openai_server), repo, use_repo=False) as session:
        session.remember(CONVENTION)
    write_files(repo, {"app/rates.py": "import requests\n\n\ndef rate(code):\n    return requests.get(f'/rates/{code}').json()\n"})
    import git

    git.Repo(repo).git.add("app/rates.py")
    from kimicode.memory.capture import build_fingerprint
    from kimicode.memory.store import MemoryStore

    settings = _settings(repo, openai_server)
    store = MemoryStore.open(settings, repo)
    bug, _ = store.add(build_fingerprint("Traceback (most recent call last):\n  File \"app/rates.py\", line 5, in rate\n"
                                         "KeyError: 'rates'\n", repo, fix="the API answers {'data': ...}: read data.rates",
                                         files=["app/rates.py"]))
    other, _ = store.add(build_fingerprint("Traceback (most recent call last):\n  File \"app/main.py\", line 1, in <module>\n"
                                           "NameError: name 'prnt' is not defined\n", repo, files=["app/main.py"]))
    store.close()
    reviewed = kc("review", "--staged", "--dry-run", cwd=repo)
    assert reviewed.returncode == 0, reviewed.stderr
    assert CONVENTION in reviewed.stdout and "[m:" in reviewed.stdout
    # the error once fixed in the changed file comes with its fix; one fixed elsewhere does not
    assert bug.id[:12] in reviewed.stdout and "read data.rates" in reviewed.stdout
    assert "fixed in files this change touches" in reviewed.stdout and other.id[:12] not in reviewed.stdout


def test_compaction_captures_once_per_session(tmp_path: Path, openai_server: OpenAIServer) -> None:
    repo = _repo(tmp_path / "a", "shop")
    with open_conversation(_settings(repo, openai_server), repo, use_repo=False) as session:
        session.send(f"Add a client for the exchange-rate API. {CONVENTION}")
        for n in range(6):
            session.send(f"Next step {n}: wire it into the checkout.")
        assert session.compact()
        told = [t.text for t in session.turns if t.role == "note" and t.name == "memory"]
        assert len(told) == 1 and CONVENTION in told[0]  # captured at the compaction
    told = [t.text for t in session.turns if t.role == "note" and t.name == "memory"]
    assert not any(CONVENTION in t for t in told[1:])  # not again at the end of the same session
    assert len([n for n in _notes(repo) if n["text"] == CONVENTION]) == 1


def test_a_broken_index_costs_a_note_never_the_session(tmp_path: Path, openai_server: OpenAIServer) -> None:
    from kimicode.locations import user_locations

    repo = _repo(tmp_path / "a", "shop")
    index = user_locations().data_dir / "memory" / "chroma"
    index.mkdir(parents=True)
    (index / "chroma.sqlite3").write_bytes(b"this is not a database" * 100)
    settings = _settings(repo, openai_server)
    with open_conversation(settings, repo, use_repo=False) as session:
        session.send(f"Add a client for the exchange-rate API. {CONVENTION}")
        assert any(w.startswith("memory recall failed: ") for w in session.warnings)  # one line, the turn went on
    told = [t.text for t in session.turns if t.role == "note" and t.name == "memory"]
    assert len(told) == 1 and told[0].startswith("memory: not remembered: ")
    with open_conversation(settings, repo, resume=True, use_repo=False) as again:  # closed and unlocked
        assert again.id == session.id


def test_a_decision_in_other_words_reaches_a_roomy_shelf(tmp_path: Path) -> None:
    """The request shares no word with the decision it needs: a large window's shelf still
    carries it (after the likely notes), for the model to judge."""
    repo = _repo(tmp_path / "a", "shop")
    decision = "We decided to publish releases only on Tuesdays, after the staging soak."
    stored = kc("memory", "remember", decision, cwd=repo)
    assert stored.returncode == 0, stored.stderr
    shelf = _dry_run(repo, "Bump the version and get this out to customers.")
    assert decision in shelf and "Decisions made earlier" in shelf
