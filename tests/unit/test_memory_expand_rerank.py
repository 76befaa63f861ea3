"""Capture-time expansion and recall-time rerank of notes: the pure parts, and the store with a real Chroma."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kimicode.memory.chroma import ChromaPlace
from kimicode.memory.consolidate import Candidate
from kimicode.memory.expand import REPLY_TOKENS, expansion_prompt, parse_expansion
from kimicode.memory.journal import Journal
from kimicode.memory.notes import Note, NoteError, Place, new_note
from kimicode.memory.notes_store import NoteFilter, NoteStore
from kimicode.memory.remember import remember, undo
from kimicode.memory.rerank import PER_KIND, parse_order, rerank, rerank_prompt
from kimicode.memory.shelf import Ranked

A = Place("root:" + "a" * 40)
WHEN = "2026-11-01T00:00:00Z"
TOKEN = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"


def note(kind: str, text: str) -> Note:
    return new_note(kind, text, A, when=WHEN, source="test")


def test_parse_expansion_keeps_one_request_a_line() -> None:
    answer = ("Here you go:\n1. **Record when the user last logged in**\n2) Store the time an order shipped.\n"
              "- store the time an order shipped\n\n* " + "x" * 300 + "\nRequest 4: Compare two audit dates")
    assert parse_expansion(answer).splitlines() == ["Here you go:", "Record when the user last logged in",
                                                   "Store the time an order shipped.", "Compare two audit dates"]
    assert len(parse_expansion("\n".join(f"task number {n}" for n in range(20))).splitlines()) == 8
    assert "UTC" in expansion_prompt(note("knowledge", "Timestamps are always UTC."))


def test_expansion_round_trip_and_rewording_drops_it() -> None:
    first = note("knowledge", "Timestamps are always UTC.")
    grown = Note.from_dict({**first.to_dict(), "expansion": "Record when the user last logged in"})
    assert grown.document == "Timestamps are always UTC.\nRecord when the user last logged in"
    assert Note.from_dict(grown.to_dict()) == grown
    assert grown.revised("Timestamps are always UTC.", WHEN, "").expansion == grown.expansion  # the same words: kept
    assert grown.revised("Timestamps are local time now.", WHEN, "changed").expansion == ""
    with pytest.raises(NoteError, match="expansion must be a string"):
        Note.from_dict({**first.to_dict(), "expansion": ["a list"]})


class Writer:
    """Stands for the model: writes requests for the note in its prompt, and counts the calls."""

    def __init__(self, fail: bool = False) -> None:
        self.prompts: list[str] = []
        self.fail = fail

    def __call__(self, prompt: str, reply_tokens: int) -> str:
        assert reply_tokens == REPLY_TOKENS
        self.prompts.append(prompt)
        if self.fail:
            raise OSError("the model is unreachable")
        if "local time" in prompt:
            return "1. Show the local time of the meeting"
        if "UTC" in prompt:
            return f"1. Record when the user last logged in\n2. Paste the deploy token {TOKEN} in the scheduler"
        return "1. Something else"


def test_expansion_is_stored_redacted_found_and_redone_on_update(tmp_path: Path) -> None:
    store = NoteStore(A, shared=ChromaPlace(folder=tmp_path / "team"), private=ChromaPlace(folder=tmp_path / "me"))
    journal, writer = Journal(tmp_path / "me"), Writer()
    remember(store, journal, [Candidate("knowledge", "Timestamps are always timezone-aware UTC; naive datetimes are a bug.")],
             source="t", expand=writer)
    remember(store, journal, [Candidate("knowledge", "Money amounts are integer cents."),
                              Candidate("knowledge", "The login page is served by the auth service.")], source="t")
    [stored] = [n for n in store.notes() if "UTC" in n.text]
    assert "Record when the user last logged in" in stored.expansion
    assert TOKEN not in stored.expansion and "REDACTED" in stored.expansion
    best = store.search("Record when the user last logged in", NoteFilter(("knowledge",)))[0]
    assert best.note.id == stored.id  # without the expansion, the login page note shares more words
    confirmed = remember(store, journal, [Candidate("knowledge", "Timestamps are always timezone-aware UTC; naive datetimes are a bug.")],
                         source="t", expand=writer)
    assert confirmed.count("confirmed") == 1 and len(writer.prompts) == 1  # same words: not written again
    remember(store, journal, [Candidate("knowledge", "Timestamps are local time now, naive datetimes are fine, never UTC.")],
             source="t", expand=writer)
    [reworded] = [n for n in store.notes() if n.id == stored.id]
    assert len(writer.prompts) == 2 and reworded.expansion == "Show the local time of the meeting"
    undo(store, journal)
    [back] = [n for n in store.notes() if n.id == stored.id]
    assert back.text == stored.text


def test_a_failing_model_stores_the_notes_without_expansion_and_asks_once(tmp_path: Path) -> None:
    store = NoteStore(A, shared=ChromaPlace(folder=tmp_path / "team"), private=ChromaPlace(folder=tmp_path / "me"))
    writer = Writer(fail=True)
    stored = remember(store, Journal(tmp_path / "me"), [Candidate("knowledge", "Timestamps are always UTC."),
                                                        Candidate("knowledge", "Money amounts are integer cents.")],
                      source="t", expand=writer)
    assert stored.count("added") == 2
    assert len(writer.prompts) == 1 and [n.expansion for n in store.notes()] == ["", ""]  # not asked again for the second
    assert "memory expansion failed (the model is unreachable): 2 notes stored without it" in stored.summary()


def ranked() -> dict[str, list[Ranked]]:
    knowledge = [Ranked(note("knowledge", f"Convention number {n}."), 1.0 - n / 100, n > 2) for n in range(8)]
    return {"knowledge": knowledge, "preference": [Ranked(note("preference", "I like tabs."), 0.5, False)]}


def test_parse_order() -> None:
    assert parse_order("3, 1, 3, 0, 99, 2", 5) == [2, 0, 1]
    assert parse_order("0", 5) == []  # none applies: a usable answer
    assert parse_order("none of them", 5) is None and parse_order("", 5) is None and parse_order("77, 99", 5) is None


def test_rerank_puts_the_named_notes_first_in_each_kind() -> None:
    before = ranked()
    prompts: list[str] = []

    def judge(prompt: str, reply_tokens: int) -> str:
        prompts.append(prompt)
        return "5, 6, 2"  # knowledge 5 and 2 (1-based), then the preference

    def five_a_kind(prompt: str, reply_tokens: int) -> str:  # a slow model: only the shortest prompt fits
        return "" if prompt.count("Convention number") <= 5 else "too slow"

    done = rerank("add a column", before, judge, five_a_kind)
    after = done.ranked
    assert prompts[0].count("Convention number") == 5 and "add a column" in prompts[0]
    assert (done.fallback, done.shown, done.named) == ("", 6, 3)
    rerank("add a column", before, judge)
    assert prompts[1].count("Convention number") == min(PER_KIND, 8)
    never = rerank("add a column", before, judge, lambda prompt, reply: "the local model would take ~90 s")
    assert never.ranked == before and never.fallback == "not run: the local model would take ~90 s" and len(prompts) == 2
    ids = [r.note.text for r in after["knowledge"]]
    assert ids[:2] == ["Convention number 4.", "Convention number 1."]
    assert sorted(ids) == sorted(r.note.text for r in before["knowledge"])
    assert not after["knowledge"][0].spare  # named by the model: likely, even if the embedding thought it spare
    assert [r.note.text for r in after["preference"]] == ["I like tabs."]


def test_rerank_leaves_the_order_when_the_model_fails() -> None:
    before = ranked()

    def broken(prompt: str, reply_tokens: int) -> str:
        raise TimeoutError("no answer")

    failed = rerank("add a column", before, broken)
    assert failed.ranked == before and failed.fallback == "failed: no answer"
    garbage = rerank("add a column", before, lambda prompt, reply: "I think the conventions matter " * 5)
    assert garbage.ranked == before and garbage.fallback.startswith("unusable answer (no note number): 'I think the")
    assert rerank("add a column", {}, broken).ranked == {}
    assert "1. Convention number 0." in rerank_prompt("x", before["knowledge"][:2])
    sent = rerank_prompt(f"deploy with token {TOKEN} " + "x" * 9000, before["knowledge"][:2])
    assert TOKEN not in sent and len(sent) < 6000  # the request is sent: redacted, and cut short


def test_session_memory_asks_the_configured_model_to_expand_and_to_rerank(tmp_path: Path) -> None:
    """Through the real client against the loopback server: the prompts it received, its answers used."""
    from kimicode.config import MemorySettings, Settings
    from kimicode.engine.memory import SessionMemory
    from kimicode.engine.memory_model import MemoryModel
    from kimicode.models import model_spec
    from tests.openai_server import OpenAIServer, Reply
    from tests.repos import make_repo

    root = tmp_path / "repo"
    make_repo(root, {"app.py": "print('hi')\n"})

    def answer(body: dict) -> Reply:
        prompt = body["messages"][-1]["content"]
        if "Which notes must be followed" in prompt:  # the rerank: it picks the note on timestamps
            return Reply(re.search(r"^(\d+)\. Timestamps", prompt, re.MULTILINE).group(1))  # type: ignore[union-attr]
        return Reply("Record when the user last logged in")

    with OpenAIServer() as server:
        server.answer = answer
        settings = Settings(base_url=server.base_url, model="kimi-k2.6", memory=MemorySettings(rerank=True, expand=True))
        memory = SessionMemory(root, settings, tmp_path / "data", model=MemoryModel.from_settings(settings, model_spec("kimi-k2.6")))
        memory.remember("We use httpx for every HTTP call, never requests.")
        memory.remember("Timestamps are always timezone-aware UTC in this repository.")
        prompts = [r.body["messages"][-1]["content"] for r in server.chat_requests]
        assert len(prompts) == 2 and all("note kept" in p for p in prompts)  # expanded when stored
        shelf = memory.shelf("Add a call to fetch the rates over HTTP", 2000)
        rerank_body = server.chat_requests[-1].body
        assert "Add a call to fetch the rates over HTTP" in rerank_body["messages"][-1]["content"]
        assert rerank_body["max_tokens"] == 24 + 1_024  # a thinking model reasons within the cap
        lines = [line for line in shelf.splitlines() if line.startswith("- [m:")]
        assert "Timestamps" in lines[0]  # the model's choice comes first, though httpx shares the words
        memory.shelf("Add a call to fetch the rates over HTTP", 900)  # another budget: the same order, no new request
        memory.shelf("what did the last error say", 900, rerank=False)  # a tool's lookup: no request
        assert len(server.chat_requests) == 3 and memory.take_notices() == []
        assert [s.purpose for s in memory.model.spent] == ["expand", "expand", "rerank"]  # type: ignore[union-attr]
        memory.close()


def test_a_paced_local_model_reranks_what_it_can_read_in_its_share_of_the_target() -> None:
    """A local model sized by its measured speed gets a quarter of [local] target_seconds for a
    rerank: fewer candidates a kind when the full prompt would take longer, none when even 5 would."""
    import dataclasses

    from kimicode.config import LocalSettings, MemorySettings, Settings
    from kimicode.engine.memory_model import MemoryModel
    from kimicode.models import ModelSpec

    slow = ModelSpec("local", 8_192, 1_024, prefill_rate=40.0, generate_rate=10.0, prompt_cap=1_200)
    settings = Settings(base_url="http://127.0.0.1:9/v1", model="local", memory=MemorySettings(rerank=True),
                        local=LocalSettings(target_seconds=40.0))
    model = MemoryModel.from_settings(settings, slow, count=lambda text: len(text) // 4)
    assert model is not None and model.local_seconds == 10.0 and model.reply_cap(24) == 24  # not a thinking model
    knowledge = [Ranked(note("knowledge", f"Convention number {n} says something about the code."), 1.0, False)
                 for n in range(40)]
    prompts: list[str] = []

    def ask(prompt: str, reply_tokens: int) -> str:
        prompts.append(prompt)
        return "2"

    done = rerank("add a column", {"knowledge": knowledge}, ask, model.fits)
    assert done.fallback == "" and 5 <= done.shown < 40  # ~10 s at 40 tokens/s read and 10 written: a few lines
    assert model.fits(prompts[0], 24) == ""
    slower = MemoryModel.from_settings(settings, dataclasses.replace(slow, prefill_rate=2.0), count=lambda text: len(text) // 4)
    assert slower is not None
    never = rerank("add a column", {"knowledge": knowledge}, ask, slower.fits)
    assert never.fallback.startswith("not run: the local model would take ~") and "a quarter of [local] target_seconds" in never.fallback
    assert len(prompts) == 1
    unpaced = MemoryModel.from_settings(settings, dataclasses.replace(slow, prompt_cap=None))
    assert unpaced is not None and unpaced.local_seconds == 0.0  # a remote model: its deadline alone bounds it
