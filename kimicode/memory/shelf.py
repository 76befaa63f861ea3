"""The memory shelf: the remembered notes and errors a request needs, within its token budget.

Each kind has a share of the shelf's budget; a kind that needs less leaves the rest to the
others. Within a kind, notes are ranked by relevance to the request (embedding similarity),
with a little weight for recency and for notes stated more than once, and the notes of the
task at hand first. Every entry carries its id (``[m:3f2a1b9c]`` for a note, ``[e:92de5a0a]``
for an error) so the model can say which memory it relied on.

The model is the judge of which notes bear on a request: no offline similarity matches "record
when the user last logged in" to "timestamps are timezone-aware UTC" (bench/memory_recall.py).
So the shelf is filled in two rounds. First the *likely* notes: conventions and preferences
(standing rules, like an AGENTS.md: they bear on requests that share no word with them) and the
few decisions and tasks similar enough to the request. Then, with the room left, the *spare*
ones, best first: every other note of each kind, for the model to use or ignore. A small
shelf holds the likely notes only; a large window's shelf holds every note.

Ranking and fitting are pure (``rank``, ``fit``); ``recall`` asks the stores.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Callable, NamedTuple, Sequence

from kimicode.memory.notes import Note, Place

KIND_ORDER = ("preference", "knowledge", "decision", "task", "error")
SHARES = {"error": 0.30, "knowledge": 0.25, "decision": 0.20, "preference": 0.15, "task": 0.10}
MIN_RELEVANCE = 0.08  # similarity from which a decision or task is likely about the request (bench/memory_recall.py)
MAX_LIKELY = 5  # decisions or tasks shelved as likely; the others are spare
STANDING = frozenset({"knowledge", "preference"})  # likely whatever their similarity, up to MAX_STANDING
MAX_STANDING = 60
# Notes of one kind a shelf considers (and asks each index for): far more than a 2,000-token shelf
# holds, as many as a large window's does (a 262K-token ask gives memory about 25,000 tokens).
MAX_PER_KIND = 150
RECENCY_WEIGHT = 0.05  # a note updated today gains this much over one from long ago
HALF_LIFE_DAYS = 90.0
CONFIRMED_WEIGHT = 0.02  # per extra time a note was stated, up to 3
TASK_BOOST = 1.0  # the notes of the task at hand come before any other task's (similarity is at most 1)
ENTRY_CHARS = 600
TITLES = {"preference": "The user's preferences", "knowledge": "Conventions and facts of this repository",
          "decision": "Decisions made earlier", "task": "Tasks worked on before", "error": "Errors seen before"}
HEADER = ("# Memory from earlier sessions\n\nThe remembered notes most likely to bear on this request, best first; "
          "use those that do and ignore the rest. They may be out of date, and the code wins over a memory. "
          "Cite an id like [m:1a2b3c4d] when you rely on one.\n")


@dataclass(frozen=True)
class Recalled:
    kind: str
    id: str
    text: str  # the entry as rendered, one line
    score: float
    scope: str = ""
    spare: bool = False  # shelved only with room left once every kind's likely notes are in


class Ranked(NamedTuple):
    note: Note
    score: float
    spare: bool


@dataclass(frozen=True)
class MemoryShelf:
    items: tuple[Recalled, ...] = ()
    text: str = ""  # "" when nothing was recalled
    tokens: int = 0
    warning: str = ""  # one line when memory is unavailable

    def ids(self) -> list[str]:
        return [i.id for i in self.items]


def _age_days(stamp: str, now: datetime) -> float:
    try:
        when = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return 10_000.0
    return max(0.0, (now - when).total_seconds() / 86400)


def score(note: Note, similarity: float, place: Place, now: datetime) -> float:
    recency = math.pow(0.5, _age_days(note.updated or note.created, now) / HALF_LIFE_DAYS)
    value = similarity + RECENCY_WEIGHT * recency + CONFIRMED_WEIGHT * min(note.confirmed - 1, 3)
    if note.kind == "task" and place.task and note.task == place.task:
        value += TASK_BOOST
    return value


def rank(hits: Sequence[tuple[Note, float]], place: Place, now: datetime | None = None) -> dict[str, list[Ranked]]:
    """Per kind, the admitted notes: the likely ones best first, then the spare ones best first."""
    now = now or datetime.now(UTC)
    out: dict[str, list[Ranked]] = {}
    by_kind: dict[str, list[tuple[Note, float, float]]] = {}
    for note, similarity in hits:
        if not place.admits(note):
            continue  # never shown outside its scope, whatever a store returned
        by_kind.setdefault(note.kind, []).append((note, similarity, score(note, similarity, place, now)))
    for kind, items in by_kind.items():
        items.sort(key=lambda item: (item[2], item[0].updated, item[0].id), reverse=True)
        likely: list[Ranked] = []
        spare: list[Ranked] = []
        for note, similarity, value in items:
            current = note.kind == "task" and bool(place.task) and note.task == place.task
            if kind in STANDING:
                sure = len(likely) < MAX_STANDING
            else:
                sure = (similarity >= MIN_RELEVANCE or current) and len(likely) < MAX_LIKELY
            (likely if sure else spare).append(Ranked(note, value, not sure))
        out[kind] = likely + spare
    return out


def note_entry(note: Note) -> str:
    text = note.text if len(note.text) <= ENTRY_CHARS else note.text[: ENTRY_CHARS - 3] + "..."
    where = {"user": "yours", "repository": "this repository", "task": f"task {note.task}"}[note.scope]
    return f"- [m:{note.id[:8]}] {text} ({where}; {(note.updated or note.created)[:10]})"


def _choose(entries: dict[str, list[Recalled]], room: int, count: Callable[[str], int]) -> tuple[dict[str, list[Recalled]], int]:
    """Each kind's entries in order while they fit its share of ``room``; shares a kind leaves
    unused go to the kinds that still have entries. Returns the chosen entries and their tokens."""
    chosen: dict[str, list[Recalled]] = {k: [] for k in KIND_ORDER}
    costs = {k: [count(e.text + "\n") for e in entries.get(k, [])[:MAX_PER_KIND]] for k in KIND_ORDER}
    active = [k for k in KIND_ORDER if costs[k]]
    if room <= 0 or not active:
        return chosen, 0
    allowance = {k: room * SHARES[k] / sum(SHARES[a] for a in active) for k in active}
    spent = 0
    for _ in range(2):  # second pass: what others left unused
        for kind in active:
            for n in range(len(chosen[kind]), len(costs[kind])):  # what is chosen is a prefix: go on after it
                if costs[kind][n] > allowance[kind] or spent + costs[kind][n] > room:
                    break
                chosen[kind].append(entries[kind][n])
                allowance[kind] -= costs[kind][n]
                spent += costs[kind][n]
        leftover = sum(allowance[k] for k in active if len(chosen[k]) == len(costs[k]))
        hungry = [k for k in active if len(chosen[k]) < len(costs[k])]
        if not hungry or leftover <= 0:
            break
        for kind in hungry:
            allowance[kind] += leftover / len(hungry)
    return chosen, spent


def fit(entries: dict[str, list[Recalled]], budget: int, count: Callable[[str], int]) -> MemoryShelf:
    """The shelf: the likely entries within the kinds' shares, then the spare ones with the room
    left (the same shares). Never more than ``budget`` tokens."""
    if budget <= 0 or not any(entries.values()):
        return MemoryShelf()
    fixed = count(HEADER) + sum(count(f"\n## {TITLES[k]}\n") for k in KIND_ORDER if entries.get(k))
    room = budget - fixed
    if room <= 0:
        return MemoryShelf()
    likely, spent = _choose({k: [e for e in v if not e.spare] for k, v in entries.items()}, room, count)
    spare, _ = _choose({k: [e for e in v if e.spare] for k, v in entries.items()}, room - spent, count)
    chosen = {k: likely[k] + spare[k] for k in KIND_ORDER}
    parts = [HEADER]
    for kind in KIND_ORDER:
        if chosen[kind]:
            parts.append(f"\n## {TITLES[kind]}\n" + "".join(e.text + "\n" for e in chosen[kind]))
    items = tuple(e for k in KIND_ORDER for e in chosen[k])
    if not items:
        return MemoryShelf()
    text = "".join(parts)
    return MemoryShelf(items, text, count(text))


def ranked_notes(text: str, notes: Any, now: datetime | None = None) -> dict[str, list[Ranked]]:
    """Per kind, the notes of ``notes`` (a NoteStore) for a request ``text``, best first."""
    from kimicode.memory.notes import KINDS
    from kimicode.memory.notes_store import NoteFilter

    hits: list[tuple[Note, float]] = []
    for kind in KINDS:
        hits += [(h.note, h.similarity) for h in notes.search(text, NoteFilter((kind,)), n=MAX_PER_KIND)]
    if notes.place.task:  # the task at hand's own notes, however the request is worded
        hits += [(n, 0.0) for n in notes.notes(NoteFilter(("task",))) if n.task == notes.place.task]
    best: dict[str, tuple[Note, float]] = {}
    for note, similarity in hits:
        if note.id not in best or best[note.id][1] < similarity:
            best[note.id] = (note, similarity)
    return rank(list(best.values()), notes.place, now)


def entries_of(ranked: dict[str, list[Ranked]]) -> dict[str, list[Recalled]]:
    return {k: [Recalled(k, r.note.id, note_entry(r.note), r.score, r.note.scope, r.spare) for r in items]
            for k, items in ranked.items()}


def recall(text: str, notes: Any, budget: int, count: Callable[[str], int], *, errors: Sequence[Recalled] = (),
           now: datetime | None = None) -> MemoryShelf:
    """The shelf for a request ``text``: notes from ``notes`` (a NoteStore) and the error entries given."""
    entries = entries_of(ranked_notes(text, notes, now))
    if errors:
        entries["error"] = list(errors)
    return fit(entries, budget, count)
