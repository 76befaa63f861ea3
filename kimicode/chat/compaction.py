"""One compaction: fold the oldest turns into the state record, with a report of what happened.

Order of work, each step bounded (no step loops back to an earlier one):
1. code carries constraints, paths and errors of the leaving turns (the floor), and the
   execution frontier and environment (kimicode/chat/frontier.py);
2. the model is asked for a patch (one request; see summarize.py);
3. a patch whose result is larger than its input is rejected; no patch, an invalid one or
   a rejected one means the extractive fallback (decision sentences, first sentences);
4. with the model's patch applied, one probe request asks what the summary lost; what it
   names is added (never more than the input it replaces);
5. the record is fitted to its shelf by retiring the least useful uncarried items;
6. the check pass: every carried item (pins, floor, frontier) of the record the fold started
   from must be in the result verbatim; anything missing is put back, and the report says so.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Protocol, Sequence

from kimicode.chat import frontier
from kimicode.chat.floor import decisions, digest, extract, normalise
from kimicode.chat.ledger import CheckResult, check
from kimicode.chat.state import (
    LedgerDiff,
    StatePatch,
    StateRecord,
    add_floor,
    apply_patch,
    fit,
    render,
    render_item,
)
from kimicode.chat.summarize import Summarizer, SummaryOutcome
from kimicode.chat.toolfacts import carry_tool_facts, tool_facts

Count = Callable[[str], int]


class TextTurn(Protocol):
    id: int
    role: str
    text: str


@dataclass
class CompactionReport:
    """When and why a compaction ran, with token figures: a record the TUI can show."""

    number: int
    time: str
    trigger: str  # budget | manual | overflow | count (the provider's count near the window)
    reason: str
    first_turn: int
    last_turn: int
    turns_moved: int
    tokens_moved: int
    state_before: int
    state_after: int
    history_before: int
    history_after: int = 0
    history_room: int = 0
    method: str = "model"  # model | fallback | truncate | hide (restored turns hidden) | abandoned (did not shrink)
    fallback_reason: str = ""
    ledger_kept: int = 0
    ledger_added: int = 0
    ledger_restored: list[str] = field(default_factory=list)
    evicted: list[str] = field(default_factory=list)
    left_out: list[int] = field(default_factory=list)  # turns the model did not see (too large)
    rejected_entries: list[str] = field(default_factory=list)  # patch entries that failed validation
    notes: list[str] = field(default_factory=list)
    superseded: list[str] = field(default_factory=list)  # frontier and environment items a newer statement replaced
    checked: int = 0  # carried items the check pass looked for (all present, or put back: ledger_restored)
    probe: str = ""  # what the probe request found, or why it did not run

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CompactionReport:
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})

    def line(self) -> str:
        """One line for a status bar or a note turn."""
        span = f"turns {self.first_turn}-{self.last_turn}" if self.turns_moved else "no turns"
        how = {"model": "summarized by the model", "fallback": "extractive fallback", "truncate": "dropped (truncation)",
               "hide": "restored turns hidden", "abandoned": "abandoned: it did not shrink the context"}[self.method]
        text = (f"compaction {self.number} ({self.trigger}): {self.reason}; moved {span} ({self.tokens_moved:,} tokens) "
                f"into the state, {how}; state {self.state_before:,} -> {self.state_after:,} tokens, "
                f"history {self.history_before:,} -> {self.history_after:,} of {self.history_room:,}")
        if self.fallback_reason:
            text += f"; fallback because {self.fallback_reason}"
        if self.ledger_restored:
            text += f"; ledger items put back by code: {', '.join(self.ledger_restored)}"
        return text


@dataclass
class Fold:
    record: StateRecord
    method: str
    fallback_reason: str
    state_before: int
    state_after: int
    tokens_moved: int
    ledger: LedgerDiff
    evicted: list[str]
    left_out: list[int]
    rejected_entries: list[str]
    base: StateRecord | None = None  # the record with the floor carried, before the model's patch
    superseded: list[str] = field(default_factory=list)
    check: CheckResult | None = None
    probe: str = ""


def fallback(base: StateRecord, turns: Sequence[TextTurn], count: Count, limit: int, number: int) -> StateRecord:
    """The extractive summary: decision sentences and first sentences, within ``limit`` tokens."""
    new = base.copy()
    room = limit - count(render(new))
    first_user = next((t for t in turns if t.role == "user"), None)
    if not new.goal and first_user is not None:
        goal = digest(first_user)
        if count(goal) + 4 <= room:  # a guess at the goal: the user's first words
            new.goal = goal
            room -= count(goal) + 4
    for turn_id, sentence in decisions(turns):
        if any(normalise(i.text) == normalise(sentence) for i in new.active("decision")):
            continue
        item = new.add("decision", sentence, [turn_id], "fallback", since=number)
        room -= count(render_item(item)) + 1
        if room < 0:
            new.items.pop()  # never existed: the turn itself stays on disk
            return new
    for turn in turns:
        if turn.role not in ("user", "assistant") or not turn.text.strip():
            continue
        item = new.add("digest", f"{turn.role}: {digest(turn)}", [turn.id], "fallback", since=number)
        room -= count(render_item(item)) + 1
        if room < 0:
            new.items.pop()
            break
    return new


def fold(record: StateRecord, turns: Sequence[TextTurn], *, summarizer: Summarizer | None, count: Count,
         cap: int, strategy: str = "state", probe: bool = False) -> Fold:
    """Fold ``turns`` (oldest first, already redacted) into a copy of ``record``."""
    number = record.compactions + 1
    state_before = count(render(record)) if not record.empty else 0
    tokens_moved = sum(count(t.text) for t in turns)
    last = max((t.id for t in turns), default=record.through)
    if strategy == "truncate":
        # The benchmark's baseline: old turns are simply dropped from the request.
        new = record.copy()
        new.through, new.compactions = max(record.through, last), number
        return Fold(new, "truncate", "", state_before, state_before, tokens_moved, LedgerDiff(len(record.ledger()), [], []), [], [], [])
    base = record.copy()
    add_floor(base, extract(turns), number)
    _, superseded = frontier.carry(base, frontier.extract(turns), number)
    carry_tool_facts(base, tool_facts(turns), number)
    outcome = summarizer.summarize(base, turns) if summarizer is not None else SummaryOutcome(None, "no summarizer is configured")
    limit = state_before + tokens_moved
    candidate: StateRecord | None = None
    why = outcome.error
    if outcome.patch is not None:
        candidate = apply_patch(base, outcome.patch, number)
        size = count(render(candidate))
        if size > limit:
            why = f"the model's summary ({size:,} tokens) was larger than its input ({limit:,} tokens)"
            candidate = None
    method = "model" if candidate is not None else "fallback"
    probed = ""
    if candidate is None:
        candidate = fallback(base, turns, count, limit, number)
    elif probe and summarizer is not None:
        candidate, probed = _probe(summarizer, candidate, turns, count, limit, number)
    candidate.through = max(record.through, last)
    candidate.compactions = number
    evicted = fit(candidate, cap, count, number)
    checked = check(base, candidate)  # what code superseded in ``base`` is not expected back
    carried_before, carried_after = record.ledger(), candidate.ledger()
    ledger = LedgerDiff(sum(i in carried_after for i in carried_before),
                        [i for i in carried_after if i not in carried_before], checked.restored)
    state_after = count(render(candidate)) if not candidate.empty else 0
    rejected = outcome.patch.dropped if outcome.patch is not None else []
    return Fold(candidate, method, why if method == "fallback" else "", state_before, state_after, tokens_moved,
                ledger, evicted, outcome.left_out, rejected, base, superseded, checked, probed)


def _probe(summarizer: Summarizer, candidate: StateRecord, turns: Sequence[TextTurn], count: Count, limit: int,
           number: int) -> tuple[StateRecord, str]:
    """Ask once what the summary lost; add what the answer names, unless that outgrows the input."""
    outcome = summarizer.probe(candidate, turns)
    if outcome.patch is None:
        return candidate, f"not merged: {outcome.error}"
    if not outcome.patch.add:
        return candidate, "nothing lost, by the model's answer"
    probed = apply_patch(candidate, StatePatch(add=outcome.patch.add), number)
    size = count(render(probed))
    if size > limit:
        return candidate, f"not merged: its {len(outcome.patch.add)} additions would make the record ({size:,} tokens) larger than its input ({limit:,})"
    added = [i.id for i in probed.items if candidate.get(i.id) is None]
    return probed, f"added {len(added)} items the summary had lost ({', '.join(added)})" if added else "nothing new"
