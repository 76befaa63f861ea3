"""Notes: records, scopes, consolidation, classification, the shelf (pure parts), and the store."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from kimicode.chat.state import StateRecord
from kimicode.memory.chroma import ChromaPlace
from kimicode.memory.consolidate import Candidate, Neighbour, decide, parse_decisions
from kimicode.memory.journal import Journal
from kimicode.memory.notes import Note, NoteError, Place, new_note
from kimicode.memory.notes_store import NoteFilter, NoteStore
from kimicode.memory.remember import candidates_from_state, classify, expired, prune, remember, undo
from kimicode.memory.shelf import HEADER, TITLES, Recalled, entries_of, fit, rank
from kimicode.memory.text_features import similarity

A, B = Place("root:" + "a" * 40, "feature-x"), Place("root:" + "b" * 40)
WHEN = "2026-11-01T00:00:00Z"


def note(kind: str, text: str, place: Place = A, **kw: object) -> Note:
    return new_note(kind, text, place, when=str(kw.pop("when", WHEN)), source="test", **kw)  # type: ignore[arg-type]


# -- records and scopes -------------------------------------------------------------------------

def test_scope_rules() -> None:
    pref, repo, task = note("preference", "I like tabs"), note("knowledge", "we use httpx"), note("decision", "keep it", scope="task")
    assert (pref.scope, repo.scope, task.scope, task.task) == ("user", "repository", "task", "feature-x")
    assert all(A.admits(n) for n in (pref, repo, task))
    assert B.admits(pref) and not B.admits(repo) and not B.admits(task)  # user notes follow the user
    assert not Place(A.repo, "other").admits(task) and Place(A.repo, "other").admits(repo)
    assert not Place(A.repo, "").admits(task)
    assert note("knowledge", "We use httpx.").id == note("knowledge", "we use HTTPX").id  # same statement, same id
    assert note("knowledge", "we use httpx").id != note("knowledge", "we use httpx", B).id
    with pytest.raises(NoteError, match="needs a task"):
        note("decision", "x", Place(A.repo, ""), scope="task")
    with pytest.raises(NoteError, match="needs a repository"):
        note("knowledge", "x", Place())


def test_round_trip_and_history() -> None:
    first = note("knowledge", "we use httpx, never requests", files=("app/http.py",))
    second = first.revised("we use requests now", "2026-11-02T00:00:00Z", "replaced")
    assert second.id == first.id and second.text == "we use requests now" and second.history[0].text == first.text
    assert Note.from_dict(second.to_dict()) == second
    assert second.restored("2026-11-03T00:00:00Z").text == first.text
    with pytest.raises(NoteError):
        Note.from_dict({**second.to_dict(), "kind": "gossip"})
    with pytest.raises(NoteError):
        Note.from_dict({**second.to_dict(), "confirmed": 0})


# -- consolidation (the rule) ---------------------------------------------------------------------

def near(n: Note, text: str) -> Neighbour:
    return Neighbour(n, similarity(text, n.text))


@pytest.mark.parametrize(("stored", "new", "event"), [
    ("We use httpx for every HTTP call, never requests.", "we use HTTPX for every http call - never requests", "none"),
    ("We use httpx for every HTTP call, never requests.", "We use requests for every HTTP call now, never httpx.", "update"),
    ("Password reset links expire after 30 minutes.", "Password reset links expire after 2 hours.", "update"),
    ("We use httpx for every HTTP call, never requests.", "We no longer use httpx for HTTP calls.", "delete"),
    ("We use httpx for every HTTP call, never requests.", "Timestamps are stored in UTC.", "add"),
    ("Retries use tenacity with exponential backoff.", "The CLI is built with Typer.", "add"),
])
def test_rule(stored: str, new: str, event: str) -> None:
    old = note("knowledge", stored)
    assert decide(Candidate("knowledge", new), [near(old, new)]).event == event


def test_task_note_updates_its_task() -> None:
    old = note("task", "Task: add 2FA. TOTP done.", task="totp")
    action = decide(Candidate("task", "Task: two-factor login. Recovery codes done too.", task="totp"), [Neighbour(old, 0.1)])
    assert action.event == "update" and action.target == old


def test_model_answer_is_checked() -> None:
    old = note("knowledge", "We use httpx for every HTTP call, never requests.")
    pairs = [(Candidate("knowledge", "Switched to requests."), [Neighbour(old, 0.3)]),
             (Candidate("knowledge", "Timestamps are UTC."), [Neighbour(old, 0.0)]),
             (Candidate("knowledge", "Something new."), [])]
    update = f'{{"candidate": 1, "event": "update", "id": "{old.id}", "text": "We use requests, not httpx."}}'
    answer = '```json\n{"actions": [' + update + ', {"candidate": 2, "event": "delete", "id": "0000000000000000"}]}\n```'
    actions = parse_decisions(answer, pairs)
    assert (actions[0].event, actions[0].text) == ("update", "We use requests, not httpx.")
    assert actions[1].event == "add"  # an id it was not shown: the rule decides instead
    assert actions[2].event == "add"  # not answered: the rule
    assert [a.event for a in parse_decisions("no json here", pairs)] == ["add", "add", "add"]


# -- classification and capture from a state record -----------------------------------------------

@pytest.mark.parametrize(("text", "kind"), [
    ("we use httpx, never requests", "knowledge"),
    ("In this repo migrations are written by hand.", "knowledge"),
    ("I prefer small commits", "preference"),
    ("Answer briefly, code first.", "preference"),
    ("We decided to keep sessions in Redis because they are hot", "decision"),
    ("decision: Postgres over MySQL", "decision"),
    ("task: migrate to Vite; open: tests", "task"),
])
def test_classify(text: str, kind: str) -> None:
    assert classify(text)[0] == kind


def test_candidates_from_a_state_record() -> None:
    record = StateRecord(goal="Add the exchange-rate client")
    record.add("constraint", "We use httpx, never requests.", [1], "floor")
    record.add("constraint", "I want type hints on every function.", [1], "floor")
    record.add("decision", "Rates are cached for an hour because the API is slow.", [2], "model")
    record.add("fact", "The rates API needs a key in RATES_KEY.", [3], "model")
    record.add("question", "Which currencies does finance need?", [3], "model")
    record.add("file", "app/rates.py", [2], "floor")
    retired = record.add("decision", "Rates are fetched on every request.", [1], "model")
    retired.status = "retired"
    found = candidates_from_state(record, "rates")
    kinds = [(c.kind, c.text[:20]) for c in found]
    assert ("knowledge", "We use httpx, never ") in kinds and ("preference", "I want type hints on") in kinds
    assert ("decision", "Rates are cached for") in kinds and ("knowledge", "The rates API needs ") in kinds
    task = next(c for c in found if c.kind == "task")
    assert task.task == "rates" and "Which currencies" in task.text and "app/rates.py" in task.text
    assert not any("every request" in c.text for c in found)  # retired items are not remembered


# -- the shelf ------------------------------------------------------------------------------------

def test_rank_keeps_other_scopes_out_and_the_current_task_first() -> None:
    now = datetime(2026, 11, 2, tzinfo=UTC)
    mine = note("task", "Task: 2FA", task="feature-x")
    other_task = note("task", "Task: dark mode", task="dark")
    foreign = note("knowledge", "we use requests", B)
    secret_task = note("decision", "only here", Place(A.repo, "elsewhere"), scope="task")
    ranked = rank([(mine, 0.0), (other_task, 0.9), (foreign, 0.99), (secret_task, 0.99)], A, now)
    assert [r.note.id for r in ranked["task"]] == [mine.id, other_task.id]
    assert "knowledge" not in ranked and "decision" not in ranked


def test_fit_stays_within_budget_and_shares() -> None:
    count = len  # one token a character: easy to check
    entries = {k: [Recalled(k, f"{k}{i}", f"- [m:{k[:4]}{i}] " + "x" * 60, 1.0 - i / 100) for i in range(30)]
               for k in ("knowledge", "preference", "decision", "task")}
    for budget in (0, 50, 400, 1500, 100_000):
        shelf = fit(entries, budget, count)
        assert shelf.tokens <= budget and (shelf.tokens == 0) == (not shelf.items)
    shelf = fit(entries, 1500, count)
    kinds = {i.kind for i in shelf.items}
    assert kinds == {"knowledge", "preference", "decision", "task"}
    assert all("[m:" in line for line in shelf.text.splitlines() if line.startswith("- "))
    lonely = fit({"decision": entries["decision"][:3]}, 100_000, count)
    assert len(lonely.items) == 3  # a kind alone gets the others' shares


def test_the_model_judges_what_room_allows_and_the_likely_notes_come_first() -> None:
    """A paraphrase shares no word with what it needs: no similarity floor keeps a note off a shelf
    with room for it. The likely notes (standing rules, decisions similar enough) are shelved
    first, each kind within its share; the spare ones fill the room left, best first."""
    now = datetime(2026, 11, 2, tzinfo=UTC)
    decisions = [note("decision", f"We decided to keep {topic} as it is.") for topic in
                 ("the session store", "the payment provider", "the release cadence", "the logging format")]
    rules = [note("knowledge", f"Rule {i}: the {word} module is frozen.") for i, word in enumerate(("api", "db", "ui"))]
    hits = [(decisions[0], 0.0), (decisions[1], 0.01), (decisions[2], 0.6), (decisions[3], 0.02)]
    ranked = rank(hits + [(r, 0.0) for r in rules], A, now)
    assert [(r.note.id, r.spare) for r in ranked["decision"]][:2] == [(decisions[2].id, False), (decisions[3].id, True)]
    assert not any(r.spare for r in ranked["knowledge"])
    entries = entries_of(ranked)
    roomy = fit(entries, 5_000, len)
    assert set(roomy.ids()) == {n.id for n in decisions + rules}  # whatever their similarity
    likely = [decisions[2].id] + [r.id for r in rules]
    head = len(HEADER) + sum(len(f"\n## {TITLES[k]}\n") for k in ("knowledge", "decision"))
    just = head + sum(len(e.text) + 1 for k in ("knowledge", "decision") for e in entries[k] if not e.spare)
    assert sorted(fit(entries, just + 20, len).ids()) == sorted(likely)  # no room for a spare one
    assert sorted(fit(entries, just + 100, len).ids()) == sorted(likely + [decisions[3].id])  # the best spare one


# -- the store, remembering, undo, retention ------------------------------------------------------

@pytest.fixture
def places(tmp_path: Path) -> dict[str, ChromaPlace]:
    return {name: ChromaPlace(folder=tmp_path / name / "memory" / "chroma") for name in ("team", "me", "you")}


def test_store_scopes_and_filters(places: dict[str, ChromaPlace]) -> None:
    mine = NoteStore(A, shared=places["team"], private=places["me"])
    mine.put([note("knowledge", "We use httpx, never requests."), note("preference", "I like type hints"),
              note("decision", "For this branch: keep the old API", scope="task")])
    NoteStore(B, shared=places["team"], private=places["you"]).put([note("knowledge", "We use requests here.", B),
                                                                     note("preference", "I like no type hints", B)])
    assert {n.text for n in mine.notes()} == {"We use httpx, never requests.", "I like type hints", "For this branch: keep the old API"}
    assert [n.kind for n in mine.notes(NoteFilter(("preference",)))] == ["preference"]
    assert [n.scope for n in mine.notes(NoteFilter(scopes=("task",)))] == ["task"]
    elsewhere = NoteStore(Place(A.repo, "main-work"), shared=places["team"], private=places["me"])
    assert {n.scope for n in elsewhere.notes()} == {"user", "repository"}
    in_b_as_me = NoteStore(B, shared=places["team"], private=places["me"])
    assert {n.text for n in in_b_as_me.notes()} == {"We use requests here.", "I like type hints"}
    hits = mine.search("add an HTTP call to the rates API", NoteFilter(("knowledge",)))
    assert hits[0].note.text == "We use httpx, never requests."


def test_remember_consolidates_and_undo_restores(places: dict[str, ChromaPlace], tmp_path: Path) -> None:
    store, journal = NoteStore(A, shared=places["team"], private=places["me"]), Journal(tmp_path / "me")
    first = remember(store, journal, [Candidate("knowledge", "We use httpx for every HTTP call, never requests.")], source="t")
    assert first.count("added") == 1
    again = remember(store, journal, [Candidate("knowledge", "we use httpx for every HTTP call, never requests")], source="t")
    assert again.count("confirmed") == 1 and len(store.notes()) == 1
    changed = remember(store, journal, [Candidate("knowledge", "We use requests for every HTTP call now, never httpx.")], source="t")
    assert changed.count("updated") == 1
    [stored] = store.notes()
    assert stored.text.startswith("We use requests") and stored.history[-1].text.startswith("We use httpx")
    undo(store, journal)
    [back] = store.notes()
    assert back.text.startswith("We use httpx") and not back.history
    undo(store, journal)  # the confirmation
    undo(store, journal)  # the first add
    assert store.notes() == []
    with pytest.raises(LookupError):
        undo(store, journal)


def test_secrets_are_redacted_before_storing(places: dict[str, ChromaPlace], tmp_path: Path) -> None:
    store = NoteStore(A, shared=places["team"], private=places["me"])
    token = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
    remember(store, Journal(tmp_path / "me"), [Candidate("knowledge", f"The CI token is {token} for the deploy job.")], source="t")
    [stored] = store.notes()
    assert token not in stored.text and "REDACTED" in stored.text


def test_retention(places: dict[str, ChromaPlace], tmp_path: Path) -> None:
    store, journal = NoteStore(A, shared=places["team"], private=places["me"]), Journal(tmp_path / "me")
    old = note("task", "Task: old work", when="2025-01-01T00:00:00Z")
    new = note("task", "Task: new work", when="2026-10-30T00:00:00Z")
    rule = note("knowledge", "Never edit applied migrations.", when="2020-01-01T00:00:00Z")
    store.put([old, new, rule])
    now = datetime(2026, 11, 1, tzinfo=UTC)
    assert [n.id for n in expired([old, new, rule], {"task": 180}, now)] == [old.id]
    assert prune(store, journal, {"task": 180}, dry_run=True, now=now).count("deleted") == 1 and len(store.notes()) == 3
    assert prune(store, journal, {"task": 180}, now=now).count("deleted") == 1
    assert {n.id for n in store.notes()} == {new.id, rule.id}
    undo(store, journal)
    assert len(store.notes()) == 3
