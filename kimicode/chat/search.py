"""/search over a session: compressed turns stay on disk, so they can be found and restored.

A plain word search (every word must occur, case-insensitive) over the turns as recorded
and over every state item, retired ones included: what compaction evicted is still found.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

from kimicode.chat.records import Turn
from kimicode.chat.state import StateRecord

SNIPPET = 80  # characters of context shown per hit


@dataclass(frozen=True)
class SearchHit:
    kind: str  # "turn" or "state"
    ref: str  # turn id, or state item id
    role: str  # the turn's role, or the item's kind
    snippet: str
    in_context: bool  # the model sees it in the next request (a verbatim turn, an active item)


def snippet(text: str, term: str) -> str:
    flat = " ".join(text.split())
    at = max(flat.lower().find(term), 0)
    start = max(at - SNIPPET // 2, 0)
    piece = flat[start : start + SNIPPET]
    return ("..." if start else "") + piece + ("..." if start + SNIPPET < len(flat) else "")


def search(turns: Sequence[Turn], record: StateRecord, text: str, visible: Iterable[int], limit: int = 50) -> list[SearchHit]:
    """Turns newest first, then state items; ``visible`` are the turn ids the next request shows."""
    terms = [t.lower() for t in text.split()]
    if not terms:
        return []
    shown = set(visible)
    hits = [
        SearchHit("turn", str(t.id), t.role, snippet(t.text, terms[0]), t.id in shown)
        for t in reversed(turns)
        if all(term in t.text.lower() for term in terms)
    ]
    hits += [
        SearchHit("state", i.id, i.kind, snippet(i.text, terms[0]), i.active)
        for i in record.items
        if all(term in i.text.lower() for term in terms)
    ]
    return hits[:limit]
