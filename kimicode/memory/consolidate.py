"""Consolidation: what to do with a candidate memory, given what is stored (Mem0's four events).

For each candidate the stored notes nearest to it (same kind, same scope) are looked at, and
one event is chosen: ``add`` it, ``update`` a stored note with it (the newer statement wins;
the old wording goes into the note's history), ``delete`` a stored note it retracts, or
``none`` when it says what is stored already. A model decides when one is available
(prompts/consolidate.md); its answer is checked, and anything it gets wrong falls back to the
deterministic rule below, which needs no model:

- the same statement (case, punctuation and spacing aside) is ``none`` (and counts as
  confirmed again);
- a retraction ("we no longer use X", "forget that ...") close to a stored note deletes it;
- a statement close to a stored one (similar enough to be about the same thing: the same
  subject with another value, a reversal, a refinement) updates it;
- a task note updates the stored note of the same task (its timeline grows in the history);
- anything else is added.

Everything here is pure; notes_store.py does the looking up, remember.py the storing.
"""

from __future__ import annotations

import json
import re
import string
from dataclasses import dataclass
from typing import Sequence

from kimicode.memory.notes import KINDS, Note, normal_form

SAME_SUBJECT = 0.5  # similarity above which a new statement replaces a stored one (bench/memory_recall.py --consolidation)
RETRACTS = 0.3  # a retraction this close to a stored note deletes it
NEIGHBOURS = 5  # stored notes shown to the model per candidate
EVENTS = ("add", "update", "delete", "none")

_RETRACTION = re.compile(
    r"^\s*(?:please\s+)?(?:forget(?:\s+that)?|disregard|drop the rule|scrap that|ignore (?:the|my) (?:earlier|previous))\b"
    r"|\b(?:no longer|not any ?more|anymore|stopped using|is obsolete|was dropped|has been dropped|was removed)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Candidate:
    """A statement that may become a memory."""

    kind: str
    text: str
    scope: str | None = None  # None: the kind's default
    files: tuple[str, ...] = ()
    task: str | None = None  # None: the task at hand


@dataclass(frozen=True)
class Neighbour:
    note: Note
    similarity: float


@dataclass(frozen=True)
class Action:
    event: str  # add | update | delete | none
    candidate: Candidate
    target: Note | None = None  # the stored note updated, deleted or confirmed
    text: str = ""  # update: the note's new wording (the candidate's, or the model's merge)
    why: str = ""  # said to the user and kept in the note's history


def is_retraction(text: str) -> bool:
    return bool(_RETRACTION.search(text))


def decide(candidate: Candidate, neighbours: Sequence[Neighbour]) -> Action:
    """The deterministic rule: neighbours are stored notes of the same kind and scope, nearest first."""
    same = normal_form(candidate.text)
    for near in neighbours:
        if normal_form(near.note.text) == same:
            return Action("none", candidate, near.note, why="already remembered")
    if candidate.kind == "task" and candidate.task:
        mine = next((n.note for n in neighbours if n.note.task == candidate.task), None)
        if mine is not None:
            return Action("update", candidate, mine, candidate.text, "the task moved on")
    best = neighbours[0] if neighbours else None
    if best is None:
        return Action("add", candidate)
    if is_retraction(candidate.text) and best.similarity >= RETRACTS:
        return Action("delete", candidate, best.note, why=f"retracted: {candidate.text}")
    if best.similarity >= SAME_SUBJECT:
        return Action("update", candidate, best.note, candidate.text, "replaced by a newer statement")
    return Action("add", candidate)


# -- with a model -------------------------------------------------------------------------------


def consolidation_prompt(pairs: Sequence[tuple[Candidate, Sequence[Neighbour]]]) -> str:
    """The prompt for prompts/consolidate.md: each candidate with its nearest stored notes."""
    from kimicode.locations import read_prompt

    blocks = []
    for number, (candidate, neighbours) in enumerate(pairs, start=1):
        lines = [f"## Candidate {number} ({candidate.kind})", candidate.text, "", "Stored notes nearest to it:"]
        lines += [f"- [{n.note.id}] {n.note.text}" for n in neighbours[:NEIGHBOURS]] or ["- (none)"]
        blocks.append("\n".join(lines))
    return string.Template(read_prompt("consolidate.md")).safe_substitute(candidates="\n\n".join(blocks),
                                                                          kinds=", ".join(KINDS))


def parse_decisions(answer: str, pairs: Sequence[tuple[Candidate, Sequence[Neighbour]]]) -> list[Action]:
    """The model's events, checked: an entry that names an id it was not shown, an unknown
    event, or a missing candidate falls back to the deterministic rule for that candidate."""
    body = answer.strip()
    body = re.sub(r"^```(?:json)?\s*|\s*```$", "", body)
    start, end = body.find("{"), body.rfind("}")
    entries: dict[int, dict[str, object]] = {}
    try:
        data = json.loads(body[start:end + 1]) if 0 <= start < end else {}
    except ValueError:
        data = {}
    raw = data.get("actions") if isinstance(data, dict) else None
    for entry in raw if isinstance(raw, list) else []:
        if isinstance(entry, dict) and isinstance(entry.get("candidate"), int) and not isinstance(entry.get("candidate"), bool):
            entries.setdefault(int(entry["candidate"]), entry)
    actions = []
    for number, (candidate, neighbours) in enumerate(pairs, start=1):
        actions.append(_checked(entries.get(number), candidate, neighbours) or decide(candidate, neighbours))
    return actions


def _checked(entry: dict[str, object] | None, candidate: Candidate, neighbours: Sequence[Neighbour]) -> Action | None:
    if entry is None:
        return None
    event = str(entry.get("event", "")).lower()
    shown = {n.note.id: n.note for n in neighbours[:NEIGHBOURS]}
    target = shown.get(str(entry.get("id", "")))
    text = entry.get("text")
    why = str(entry.get("reason") or "")[:300]
    if event == "add":
        return Action("add", candidate)
    if event in ("update", "delete", "none") and target is None:
        return None  # an id it was not shown: the model's guess is not trusted
    if event == "update":
        new_text = text.strip() if isinstance(text, str) and text.strip() else candidate.text
        return Action("update", candidate, target, new_text, why or "replaced by a newer statement")
    if event == "delete":
        return Action("delete", candidate, target, why=why or f"contradicted: {candidate.text}")
    if event == "none":
        return Action("none", candidate, target, why=why or "already remembered")
    return None
