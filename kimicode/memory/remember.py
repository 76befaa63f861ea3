"""Remembering notes: from ``/remember TEXT``, and from a session's state record when it ends or
compacts; consolidated against what is stored, journaled so the user can see and undo it.

The state record comes from the chat layer (kimicode/chat/state.py); memory only reads it
through the small ``StateLike`` protocol, so it imports nothing from chat/.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Callable, Iterable, Protocol, Sequence

from kimicode.memory.consolidate import (
    NEIGHBOURS,
    Action,
    Candidate,
    Neighbour,
    consolidation_prompt,
    decide,
    parse_decisions,
)
from kimicode.memory.expand import expand_all
from kimicode.memory.journal import Change, Journal, new_batch
from kimicode.memory.notes import DEFAULT_SCOPE, KINDS, Note, NoteError, Place, new_note, normal_form
from kimicode.memory.notes_store import NoteFilter, NoteStore

TASK_NOTE_CHARS = 900  # a task note: goal, decisions, open ends, files
Ask = Callable[[str], str]  # sends a prompt to the model, returns its answer (raises on failure)
Expand = Callable[[str, int], str]  # the same, with a cap on the answer's tokens

_PREFIX = re.compile(r"^\s*(knowledge|convention|rule|preference|pref|decision|decided|task)\s*:\s*", re.IGNORECASE)
_PREFIX_KIND = {"knowledge": "knowledge", "convention": "knowledge", "rule": "knowledge", "preference": "preference",
                "pref": "preference", "decision": "decision", "decided": "decision", "task": "task"}
_DECISION = re.compile(
    r"\b(decided|decision|we chose|we picked|we went with|going with|settled on|agreed|the plan is|we will use|"
    r"we'll use|let'?s go with|opted for|chose \S+ over)\b", re.IGNORECASE)
_MINE = re.compile(r"\b(I|I'm|I'd|I've|my|me|myself)\b")
_OURS = re.compile(r"\b(we|we're|our|us|this (?:repo|repository|project|codebase|service|app)|here|the team)\b", re.IGNORECASE)


class StateItemLike(Protocol):
    kind: str
    text: str
    status: str


class StateLike(Protocol):
    @property
    def goal(self) -> str: ...
    @property
    def items(self) -> list[Any]: ...  # of StateItemLike


def classify(text: str) -> tuple[str, str]:
    """(kind, text without its label) for a statement the user asked to remember.

    A label ("decision: ...") decides; else a decision's wording, then who it is about: "I",
    "my", "me" make a preference (the user's, across repositories); "we", "our", "this repo"
    make knowledge of the repository. A statement about neither stays the user's preference:
    kept private when in doubt rather than shared with a team.
    """
    label = _PREFIX.match(text)
    if label:
        return _PREFIX_KIND[label.group(1).lower()], text[label.end():].strip()
    if _DECISION.search(text):
        return "decision", text.strip()
    if _OURS.search(text) and not _MINE.search(text):
        return "knowledge", text.strip()
    return "preference", text.strip()


def candidates_from_state(record: StateLike, task: str = "", known: frozenset[tuple[str, str]] = frozenset()) -> list[Candidate]:
    """What a session established that outlives it: constraints and pins (knowledge, or the user's
    preferences), decisions, facts (knowledge), and the task itself (goal, decisions, open ends).

    ``known``: (kind, text) of items remembered already in this session, which are not offered
    again; the task note is still written from all of them, as it replaces the one stored before.
    """
    out: list[Candidate] = []
    active = [i for i in record.items if getattr(i, "status", "active") == "active"]
    for item in active:
        if (item.kind, item.text) in known:
            continue
        if item.kind in ("constraint", "pin"):
            kind, text = classify(item.text)
            out.append(Candidate("preference" if kind == "preference" else ("decision" if kind == "decision" else "knowledge"), text))
        elif item.kind == "decision":
            out.append(Candidate("decision", item.text))
        elif item.kind == "fact":
            out.append(Candidate("knowledge", item.text))
    goal = " ".join((record.goal or "").split())
    if goal:
        out.append(Candidate("task", _task_text(goal, active), task=task))
    seen: set[str] = set()
    return [c for c in out if not (normal_form(c.text) in seen or seen.add(normal_form(c.text)))]  # type: ignore[func-returns-value]


def _task_text(goal: str, items: Sequence[Any]) -> str:
    parts = [f"Task: {goal.rstrip('.')}."]
    decided = [i.text.rstrip(".") for i in items if i.kind == "decision"]
    open_ends = [i.text.rstrip("?.") for i in items if i.kind == "question"]
    files = [i.text for i in items if i.kind == "file"]
    if decided:
        parts.append("Decided: " + "; ".join(decided) + ".")
    if open_ends:
        parts.append("Open: " + "; ".join(open_ends) + ".")
    if files:
        parts.append("Files: " + ", ".join(files[:12]) + ".")
    text = " ".join(parts)
    return text if len(text) <= TASK_NOTE_CHARS else text[: TASK_NOTE_CHARS - 3].rstrip() + "..."


# -- consolidating and storing -------------------------------------------------------------------


@dataclass(frozen=True)
class Stored:
    """What one remembering did: the journal batch and its changes."""

    batch: str
    changes: tuple[Change, ...]
    warning: str = ""  # nothing was stored: why
    notice: str = ""  # stored, but without something: why (a model-written expansion that failed)

    def count(self, event: str) -> int:
        return sum(1 for c in self.changes if c.event == event)

    def summary(self) -> str:
        if self.warning:
            return self.warning
        parts = [f"{self.count(e)} {e}" for e in ("added", "updated", "deleted", "confirmed", "restored") if self.count(e)]
        said = ("memory: " + ", ".join(parts) + f" (batch {self.batch})") if parts else "memory: nothing new to remember"
        return f"{said}; {self.notice}" if self.notice else said

    def lines(self) -> list[str]:
        marks = {"added": "+", "updated": "~", "deleted": "-", "confirmed": "=", "restored": "<"}
        out = []
        for change in self.changes:
            note = change.note
            out.append(f"{marks.get(change.event, '?')} [{note.id[:8]}] {note.kind}/{note.scope}: {note.text[:150]}")
            if change.event == "updated" and change.before is not None:
                out.append(f"      was: {change.before.text[:150]}")
        return out


def now_iso() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _neighbours(store: NoteStore, candidate: Candidate, scope: str, fresh: Sequence[Note]) -> list[Neighbour]:
    """Stored notes of the candidate's kind and scope nearest to it, and the notes of this batch."""
    from kimicode.memory.text_features import similarity

    hits = [Neighbour(h.note, h.similarity) for h in store.search(candidate.text, NoteFilter((candidate.kind,), (scope,)), n=NEIGHBOURS)]
    if candidate.kind == "task" and candidate.task:  # the task's own note, however its wording drifted
        hits += [Neighbour(n, 0.0) for n in store.notes(NoteFilter(("task",), (scope,))) if n.task == candidate.task]
    hits += [Neighbour(n, similarity(candidate.text, n.text)) for n in fresh if n.kind == candidate.kind and n.scope == scope]
    best: dict[str, Neighbour] = {}
    for near in hits:
        if near.note.id not in best or best[near.note.id].similarity < near.similarity:
            best[near.note.id] = near
    return sorted(best.values(), key=lambda n: n.similarity, reverse=True)


def consolidate(store: NoteStore, candidates: Sequence[Candidate], ask: Ask | None = None) -> list[Action]:
    """An event per candidate: by the model when ``ask`` is given and answers usably, else by rule."""
    pairs = [(c, _neighbours(store, c, c.scope or DEFAULT_SCOPE[c.kind], ())) for c in candidates]
    if ask is not None and pairs:
        try:
            return parse_decisions(ask(consolidation_prompt(pairs)), pairs)
        except Exception:  # noqa: BLE001 - the model is optional here: the rule decides instead
            pass
    return [decide(c, n) for c, n in pairs]


def apply(store: NoteStore, journal: Journal, actions: Iterable[Action], *, when: str, source: str,
          batch: str | None = None, expand: Expand | None = None) -> Stored:
    """Carry ``actions`` out, in order, and journal them as one batch. With ``expand`` (a model), a
    note stored with a new wording gets the requests it applies to (expand.py) first."""
    batch = batch or new_batch()
    current: dict[str, Note] = {}  # notes as this batch left them
    changes: list[Change] = []
    for action in actions:
        target = current.get(action.target.id, action.target) if action.target is not None else None
        candidate = action.candidate
        if action.event == "add":
            note = new_note(candidate.kind, candidate.text, store.place, scope=candidate.scope, when=when, source=source,
                            files=candidate.files, task=candidate.task)
            if note.id in current:
                continue
            changes.append(Change(batch, when, "added", None, note))
            current[note.id] = note
        elif action.event == "update" and target is not None:
            note = replace(target.revised(action.text or candidate.text, when, action.why), source=source)
            changes.append(Change(batch, when, "updated", target, note, action.why))
            current[note.id] = note
        elif action.event == "delete" and target is not None:
            changes.append(Change(batch, when, "deleted", target, None, action.why))
            current.pop(target.id, None)
        elif action.event == "none" and target is not None:
            note = replace(target, confirmed=target.confirmed + 1, updated=max(target.updated, when))
            changes.append(Change(batch, when, "confirmed", target, note, action.why))
            current[note.id] = note
    notice = ""
    if expand is not None:  # an added or reworded note has no expansion yet (Note.revised drops it)
        changes, notice = expand_changes(changes, expand, current)
    store.put([c.after for c in changes if c.after is not None and current.get(c.after.id) is c.after])
    store.delete([c.before for c in changes if c.event == "deleted" and c.before is not None])
    journal.record(changes)
    return Stored(batch, tuple(changes), notice=notice)


def expand_changes(changes: list[Change], expand: Expand, current: dict[str, Note] | None = None) -> tuple[list[Change], str]:
    """``changes`` with the notes they store expanded when they have no expansion yet (new or
    reworded); ``current`` (id -> the note a batch leaves) follows. Returns the changes and
    expand_all's line."""
    due = [n for n, c in enumerate(changes) if c.after is not None and not c.after.expansion
           and (current is None or current.get(c.after.id) is c.after)]
    grown, notice = expand_all([changes[n].after for n in due], expand)  # type: ignore[misc]
    changes = list(changes)
    for n, note in zip(due, grown):
        changes[n] = replace(changes[n], after=note)
        if current is not None:
            current[note.id] = note
    return changes, notice


def remember(store: NoteStore, journal: Journal, candidates: Sequence[Candidate], *, source: str,
             ask: Ask | None = None, when: str | None = None, expand: Expand | None = None) -> Stored:
    when = when or now_iso()
    return apply(store, journal, consolidate(store, candidates, ask), when=when, source=source, expand=expand)


def candidate_from_text(text: str, kind: str | None = None, scope: str | None = None, task: str | None = None) -> Candidate:
    """``/remember TEXT`` and ``kimicode memory remember``: the kind from the words unless given."""
    guessed, body = classify(text)
    kind = kind or guessed
    if kind not in KINDS:
        raise NoteError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    if not body.strip():
        raise NoteError("nothing to remember: the text is empty")
    return Candidate(kind, body, scope, task=task)


def undo(store: NoteStore, journal: Journal, ref: str | None = None, when: str | None = None) -> Stored:
    """Revert batch ``ref`` (the last one when None): what it added goes, what it changed or deleted comes back."""
    changes = journal.batch(ref)
    if not changes:
        raise LookupError("nothing to undo" if ref is None else f"no batch {ref!r} in the memory journal")
    when = when or now_iso()
    batch = new_batch()
    put: list[Note] = []
    gone: list[Note] = []
    out: list[Change] = []
    for change in reversed(changes):
        if change.before is None and change.after is not None:
            gone.append(change.after)
        elif change.before is not None:
            put.append(change.before)
        out.append(Change(batch, when, "restored", change.after, change.before, f"undo of {change.batch}"))
    store.delete(gone)
    store.put(put)
    journal.record(out)
    return Stored(batch, tuple(out))


def expired(notes: Iterable[Note], retention_days: dict[str, int], now: datetime) -> list[Note]:
    """Notes not updated within their kind's retention (0 days: kept for ever)."""
    out = []
    for note in notes:
        days = retention_days.get(note.kind, 0)
        if days <= 0:
            continue
        try:
            updated = datetime.fromisoformat((note.updated or note.created).replace("Z", "+00:00"))
        except ValueError:
            continue
        if updated < now - timedelta(days=days):
            out.append(note)
    return out


def prune(store: NoteStore, journal: Journal, retention_days: dict[str, int], *, dry_run: bool = False,
          now: datetime | None = None) -> Stored:
    now = now or datetime.now(UTC)
    old = expired(store.notes(), retention_days, now)
    when = now.replace(microsecond=0).isoformat().replace("+00:00", "Z")
    batch = new_batch()
    changes = tuple(Change(batch, when, "deleted", n, None, f"older than {retention_days.get(n.kind)} days") for n in old)
    if not dry_run and old:
        store.delete(old)
        journal.record(list(changes))
    return Stored(batch, changes)


def open_notes(settings: Any, root: Path | None, data_dir: Path | None = None, task: str | None = None) -> tuple[NoteStore, Journal]:
    """The notes visible from ``root`` (any folder outside a repository sees user notes only) and the journal."""
    from kimicode.locations import user_locations
    from kimicode.memory.identity import current_task, repo_identity

    data_dir = data_dir or user_locations().data_dir
    if root is None:
        place = Place()
    else:
        place = Place(repo_identity(root).key, current_task(root) if task is None else task)
    return NoteStore.open(settings, place, data_dir), Journal(data_dir)


def capture_state(settings: Any, root: Path | None, record: StateLike, *, source: str = "session", ask: Ask | None = None,
                  data_dir: Path | None = None, expand: Expand | None = None,
                  known: frozenset[tuple[str, str]] = frozenset()) -> Stored:
    """At a session's end or compaction: remember what its state record established (but the items
    in ``known``, see candidates_from_state). Never raises: memory is optional, so a failure comes
    back as the Stored's one-line warning."""
    from kimicode.memory.chroma import MemoryUnavailable

    if not settings.memory.enabled or not settings.memory.capture:
        return Stored("", ())
    try:
        store, journal = open_notes(settings, root, data_dir)
        candidates = candidates_from_state(record, store.place.task, known)
        if root is None:  # outside a repository only the user's own preferences have a home
            candidates = [c for c in candidates if c.kind == "preference"]
        return remember(store, journal, candidates, source=source, ask=ask, expand=expand) if candidates else Stored("", ())
    except (MemoryUnavailable, NoteError) as exc:
        return Stored("", (), f"memory: not remembered: {exc}")


def remember_text(settings: Any, root: Path | None, text: str, *, source: str, data_dir: Path | None = None,
                  expand: Expand | None = None) -> Stored:
    """``/remember TEXT`` in a session: kind and scope from the words. Raises NoteError, MemoryUnavailable."""
    store, journal = open_notes(settings, root, data_dir)
    try:
        candidate = candidate_from_text(text)
        if root is None and candidate.kind != "preference":  # outside a repository only the user's own notes have a home
            candidate = replace(candidate, kind="preference")
        return remember(store, journal, [candidate], source=source, expand=expand)
    finally:
        store.close()
