"""Model-backed recall through the real faces (ask, chat, review, `memory import`) against the
loopback server: the rerank request is made and its answer orders the memory shelf the next
request carries; a failure, a timeout or a garbage answer keeps the embedding's order with one
line; a dry run asks no model; a repository's config cannot turn either step on.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from kimicode.chat import open_conversation
from kimicode.config import load_settings
from tests.openai_server import OpenAIServer, Reply
from tests.repos import make_repo, write_files

NOTES = ("We use httpx for every HTTP call, never requests.",
         "Timestamps are always timezone-aware UTC; naive datetimes are a bug.",
         "Money amounts are integer cents, never floats.",
         "Every public function has a docstring.")
QUESTION = "Record when the user last logged in."
RERANK = "Which notes must be followed"  # prompts/rerank.md
EXPAND = "A note kept about a software project"  # prompts/expand.md


def kc(*args: str, cwd: Path, server: OpenAIServer) -> Any:
    from tests.cli.runner import run_cli

    env = {"KIMICODE_HOME": os.environ["KIMICODE_HOME"], "KIMICODE_BASE_URL": server.base_url, "KIMICODE_MODEL": "kimi-k2.6"}
    return run_cli(*args, cwd=cwd, env=env, timeout=180)


def user_config(text: str) -> None:
    path = Path(os.environ["KIMICODE_HOME"]) / "config" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def repo_with_notes(tmp_path: Path, server: OpenAIServer, files: dict[str, str] | None = None) -> Path:
    root = tmp_path / "repo"
    make_repo(root, {"app/main.py": "print('hello')\n", **(files or {})})
    for note in NOTES:
        stored = kc("memory", "remember", "--kind", "knowledge", note, cwd=root, server=server)
        assert stored.returncode == 0, stored.stderr
    return root


def prompt_of(request: Any) -> str:
    return "\n".join(m["content"] for m in request.body["messages"])


def shelf_lines(text: str) -> list[str]:
    """The notes on a memory shelf, in its order."""
    return [line for line in text.splitlines() if line.startswith("- [m:")]


def the_last_candidate(body: dict[str, Any]) -> Reply | None:
    """A rerank that names only the last candidate it was shown: whatever the embedding ranked it,
    it must come first after the rerank."""
    prompt = body["messages"][-1]["content"]
    if RERANK not in prompt:
        return None
    return Reply(max(re.findall(r"^(\d+)\. ", prompt, re.MULTILINE), key=int))


def chosen_text(rerank_prompt: str) -> str:
    numbered = dict(re.findall(r"^(\d+)\. (.*)$", rerank_prompt, re.MULTILINE))
    return numbered[max(numbered, key=int)]


def test_ask_sends_the_rerank_first_and_its_order_reaches_the_shelf(tmp_path: Path, openai_server: OpenAIServer) -> None:
    user_config("[memory]\nrerank = true\n")
    root = repo_with_notes(tmp_path, openai_server)
    assert openai_server.chat_requests == []  # storing asked nothing: expand is off

    dry = kc("ask", "--dry-run", "--json", "--no-tools", QUESTION, cwd=root, server=openai_server)
    assert dry.returncode == 0, dry.stderr
    assert openai_server.chat_requests == [] and "memory rerank not run: a dry run makes no model request" in dry.stderr
    embedding_order = shelf_lines("\n".join(m["content"] for m in json.loads(dry.stdout)["messages"]))
    assert len(embedding_order) == 4

    openai_server.answer = the_last_candidate
    asked = kc("ask", "--no-tools", QUESTION, cwd=root, server=openai_server)
    assert asked.returncode == 0, asked.stderr
    rerank, answer = openai_server.chat_requests
    assert RERANK in prompt_of(rerank) and QUESTION in prompt_of(rerank)
    assert rerank.body["max_tokens"] == 24 + 1_024 and not rerank.body.get("tools")
    first = chosen_text(prompt_of(rerank))
    shelf = shelf_lines(prompt_of(answer))
    assert first in shelf[0] and first not in embedding_order[0]  # the model's choice leads; the embedding had another
    assert sorted(shelf) == sorted(embedding_order)  # reordered, nothing lost
    assert "memory rerank failed" not in asked.stderr and "memory rerank unusable" not in asked.stderr
    cost = re.search(r"memory rerank: 1 request, ([\d,]+) prompt \+ (\d+) completion tokens, \$(\d+\.\d{4})", asked.stderr)
    assert cost is not None and int(cost.group(1).replace(",", "")) > 100, asked.stderr  # the server's usage


def test_a_failed_rerank_keeps_the_embedding_order_with_one_line(tmp_path: Path, openai_server: OpenAIServer) -> None:
    user_config("[memory]\nrerank = true\nmodel_seconds = 1.0\n")
    root = repo_with_notes(tmp_path, openai_server)
    dry = kc("ask", "--dry-run", "--json", "--no-tools", QUESTION, cwd=root, server=openai_server)
    embedding_order = shelf_lines("\n".join(m["content"] for m in json.loads(dry.stdout)["messages"]))
    cases = [(lambda: openai_server.fail(500), "memory rerank failed: the API answered 500"),
             (lambda: openai_server.reply("Both notes about time matter here."), "memory rerank unusable answer (no note number)"),
             (lambda: openai_server.slow(5.0, "1"), "memory rerank failed: no complete answer from")]
    for script, said in cases:
        before = len(openai_server.chat_requests)
        script()
        openai_server.reply("the answer")
        asked = kc("ask", "--no-tools", QUESTION, cwd=root, server=openai_server)
        assert asked.returncode == 0, asked.stderr
        assert "Traceback" not in asked.stderr and asked.stdout.strip() == "the answer"
        lines = [line for line in asked.stderr.splitlines() if "memory rerank" in line and "memory rerank: 1 request" not in line]
        assert len(lines) == 1 and said in lines[0] and lines[0].endswith("the notes keep the embedding's order"), asked.stderr
        sent = openai_server.chat_requests[before:]
        assert len(sent) == 2 and RERANK in prompt_of(sent[0])  # no retry of the rerank
        assert shelf_lines(prompt_of(sent[1])) == embedding_order
    assert "within memory.model_seconds = 1 s" in lines[0]


def test_a_repository_config_cannot_turn_the_model_steps_on(tmp_path: Path, openai_server: OpenAIServer) -> None:
    root = repo_with_notes(tmp_path, openai_server,
                           {".kimicode.toml": "[memory]\nrerank = true\nexpand = true\nmodel_seconds = 900.0\n"})
    asked = kc("ask", "--no-tools", QUESTION, cwd=root, server=openai_server)
    assert asked.returncode == 0, asked.stderr
    for key in ("memory.rerank", "memory.expand", "memory.model_seconds"):
        assert f"ignored '{key}': a repository cannot" in asked.stderr
    assert "spend your tokens" in asked.stderr
    [only] = openai_server.chat_requests  # the answer; no rerank, and no expansion when the notes were stored
    assert RERANK not in prompt_of(only) and len(shelf_lines(prompt_of(only))) == 4


def test_chat_reranks_each_turn_and_expands_what_it_stores(tmp_path: Path, openai_server: OpenAIServer) -> None:
    user_config("[memory]\nrerank = true\nexpand = true\n")
    root = repo_with_notes(tmp_path, openai_server)
    expansions = [prompt_of(r) for r in openai_server.chat_requests]
    assert len(expansions) == 4 and all(EXPAND in p for p in expansions)  # `memory remember`: one each

    def answer(body: dict[str, Any]) -> Reply | None:
        if EXPAND in body["messages"][-1]["content"]:
            return Reply("Store the time a payment settled\nCompare two audit dates")
        return the_last_candidate(body)

    openai_server.answer = answer
    settings = load_settings(root, {"base_url": openai_server.base_url, "model": "kimi-k2.6", "max_retries": 0})
    before = len(openai_server.chat_requests)
    with open_conversation(settings, root, use_repo=False) as chat:
        chat.send(QUESTION)
        chat.send("Now add a column for the amount paid.")
        said = chat.remember("We decided to keep audit dates in a separate table.")
        sent = openai_server.chat_requests[before:]
        kinds = ["rerank" if RERANK in prompt_of(r) else "expand" if EXPAND in prompt_of(r) else "turn" for r in sent]
        assert kinds == ["rerank", "turn", "rerank", "turn", "expand"]
        for rerank, turn in ((sent[0], sent[1]), (sent[2], sent[3])):
            assert chosen_text(prompt_of(rerank)) in shelf_lines(prompt_of(turn))[0]
        assert "added" in said and chat.warnings == []
    from kimicode.memory.remember import open_notes

    store, _ = open_notes(settings, root)
    [decision] = [n for n in store.notes() if n.kind == "decision"]
    assert decision.expansion == "Store the time a payment settled\nCompare two audit dates"
    store.close()


def test_a_model_switch_moves_the_rerank_to_the_new_model(tmp_path: Path, openai_server: OpenAIServer) -> None:
    from kimicode.chat.start import switch_model

    user_config("[memory]\nrerank = true\n")
    root = repo_with_notes(tmp_path, openai_server)
    openai_server.answer = the_last_candidate
    settings = load_settings(root, {"base_url": openai_server.base_url, "model": "kimi-k2.6", "max_retries": 0})
    with open_conversation(settings, root, use_repo=False) as chat:
        switch_model(chat, settings, "kimi-k2.7-code")
        before = len(openai_server.chat_requests)
        chat.send(QUESTION)
        sent = openai_server.chat_requests[before:]
        assert RERANK in prompt_of(sent[0])
        assert [r.body["model"] for r in sent] == ["kimi-k2.7-code", "kimi-k2.7-code"]  # the rerank, then the turn


def test_chat_says_once_when_a_turn_rerank_fails(tmp_path: Path, openai_server: OpenAIServer) -> None:
    user_config("[memory]\nrerank = true\n")
    root = repo_with_notes(tmp_path, openai_server)
    settings = load_settings(root, {"base_url": openai_server.base_url, "model": "kimi-k2.6", "max_retries": 0})
    openai_server.fail(500)
    with open_conversation(settings, root, use_repo=False) as chat:
        chat.send(QUESTION)
        assert [w for w in chat.warnings if "memory rerank" in w] == [
            next(w for w in chat.warnings if w.startswith("memory rerank failed: the API answered 500"))]
        assert len(shelf_lines(prompt_of(openai_server.chat_requests[-1]))) == 4  # the turn went on, with memory


def test_review_reranks_what_it_recalls(tmp_path: Path, openai_server: OpenAIServer) -> None:
    user_config("[memory]\nrerank = true\n")
    root = repo_with_notes(tmp_path, openai_server)
    write_files(root, {"app/audit.py": "from datetime import datetime\n\n\ndef stamp():\n    return datetime.now()\n"})
    import git

    git.Repo(root).git.add("app/audit.py")
    dry = kc("review", "--staged", "--dry-run", cwd=root, server=openai_server)
    assert dry.returncode == 0, dry.stderr
    assert openai_server.chat_requests == [] and "memory rerank not run" in dry.stdout + dry.stderr
    openai_server.answer = the_last_candidate
    openai_server.default_reply = Reply(json.dumps({"findings": []}))
    reviewed = kc("review", "--staged", cwd=root, server=openai_server)
    assert reviewed.returncode == 0, reviewed.stderr
    rerank, review = openai_server.chat_requests
    assert RERANK in prompt_of(rerank) and "app/audit.py" in prompt_of(rerank)
    assert chosen_text(prompt_of(rerank)) in shelf_lines(prompt_of(review))[0]
    assert len(re.findall(r"memory rerank: 1 request, [\d,]+ prompt \+ \d+ completion tokens", reviewed.stderr)) == 1


def test_import_expands_notes_that_come_without_one(tmp_path: Path, openai_server: OpenAIServer) -> None:
    root = repo_with_notes(tmp_path, openai_server)
    exported = kc("memory", "export", "--kind", "knowledge", cwd=root, server=openai_server)
    assert exported.returncode == 0, exported.stderr
    other = tmp_path / "other"
    make_repo(other, {"README.md": "# other\n"})
    (tmp_path / "notes.jsonl").write_text(exported.stdout)
    user_config("[memory]\nexpand = true\n")
    openai_server.fail(500)  # the first expansion fails: the rest are not asked for, every note is imported
    imported = kc("memory", "import", str(tmp_path / "notes.jsonl"), cwd=other, server=openai_server)
    assert imported.returncode == 0, imported.stderr
    assert "4 notes: 4 new, 0 merged (memory expansion failed (the API answered 500" in imported.stderr
    assert len(openai_server.chat_requests) == 1
    (tmp_path / "again.jsonl").write_text(exported.stdout)
    openai_server.default_reply = Reply("Write the invoice total")
    third = tmp_path / "third"
    make_repo(third, {"README.md": "# third\n"})
    imported = kc("memory", "import", str(tmp_path / "again.jsonl"), cwd=third, server=openai_server)
    assert imported.returncode == 0 and "expansion" not in imported.stderr, imported.stderr
    assert len(openai_server.chat_requests) == 5 and all(EXPAND in prompt_of(r) for r in openai_server.chat_requests[1:])
