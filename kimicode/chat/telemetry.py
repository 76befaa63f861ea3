"""Compaction telemetry for /budget: how often, how much, and how much of the conversation is still reachable.

Reachable, of every turn ever sent (by tokens): *verbatim* in the request (recent and restored
turns), *summarized* (compressed, but an active state item cites it as a source), or *on disk
only* (compressed, and no active item cites it: /search and /restore still reach it). An
estimate: an item that cites a turn may keep only part of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Protocol, Sequence

from kimicode.chat.compaction import CompactionReport
from kimicode.chat.state import StateRecord

SHRANK = ("model", "fallback", "truncate")


class TextTurn(Protocol):
    id: int
    role: str
    text: str


@dataclass(frozen=True)
class Reach:
    total: int  # tokens of every turn sent so far (notes are never sent)
    verbatim: int
    summarized: int
    disk: int

    def share(self, part: int) -> float:
        return 100 * part / self.total if self.total else 0.0


@dataclass(frozen=True)
class Pressure:
    """How close the next compaction is: the history shelves against their room."""

    history: int
    room: int
    warn_at: int  # above this, the budget bar warns

    @property
    def warn(self) -> bool:
        return self.history >= self.warn_at

    @property
    def share(self) -> float:
        return 100 * self.history / self.room if self.room else 100.0


@dataclass(frozen=True)
class Telemetry:
    compactions: int  # that shrank the context
    abandoned: int  # that did not, and changed nothing
    tokens_before: int  # history, summed over the compactions
    tokens_after: int
    retired: int  # state items retired (superseded, evicted, obsolete), all still on disk
    reach: Reach


def reach(turns: Iterable[TextTurn], record: StateRecord, visible: set[int], count: Callable[[str], int]) -> Reach:
    cited = {t for item in record.active() for t in item.turns}
    total = verbatim = summarized = 0
    for turn in turns:
        if turn.role == "note":
            continue
        tokens = count(turn.text)
        total += tokens
        if turn.id in visible:
            verbatim += tokens
        elif turn.id in cited:
            summarized += tokens
    return Reach(total, verbatim, summarized, total - verbatim - summarized)


def telemetry(reports: Sequence[CompactionReport], record: StateRecord, found: Reach) -> Telemetry:
    done = [r for r in reports if r.method in SHRANK]
    return Telemetry(len(done), sum(r.method == "abandoned" for r in reports), sum(r.history_before for r in done),
                     sum(r.history_after for r in done), sum(not i.active for i in record.items), found)
