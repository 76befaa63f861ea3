"""When and what a conversation compacts: the oldest turns move into the state record.

How one fold works (floor, model patch, fallback, fit, ledger) is kimicode.chat.compaction;
this module decides when to run it, which turns leave, and records what happened: a state
snapshot, the report, its ledger (kimicode/chat/ledger.py), a note in the transcript, and a
CompactionBegan/Ended pair of events. Every step is bounded: at most two model calls (the
summary and its probe) and one code-only pass per compaction.

A compaction never grows the context and never loops: one that does not leave the history
smaller than it found it is abandoned (the record stays as it was, the report and the ledger say
so), no second pass follows it, and the next automatic one waits until the conversation has
grown by a new exchange (gemini-cli #16213: compression every turn that shrinks nothing).
"""

from __future__ import annotations

import dataclasses

from kimicode.chat.compaction import CompactionReport, fold
from kimicode.chat.context import ContextPolicy
from kimicode.chat.files import ContextFiles
from kimicode.chat.history import History
from kimicode.chat.ledger import CompactionLedger, draw_up
from kimicode.chat.log import SessionLog
from kimicode.chat.records import Compacted, Ledgered, RestoreHidden, Turn
from kimicode.chat.session import now
from kimicode.chat.summarize import Summarizer
from kimicode.engine.events import CompactionBegan, CompactionEnded, Emit, ignore

REASONS = {
    "overflow": "the provider said the request was too long",
    "count": "the provider's token count says the request would not fit",
    "manual": "asked for (/compact)",
}


class Compactor:
    def __init__(self, history: History, files: ContextFiles, log: SessionLog, summarizer: Summarizer,
                 policy: ContextPolicy) -> None:
        self.history = history
        self.files = files
        self.log = log
        self.summarizer = summarizer
        self.policy = policy
        self.reports: list[CompactionReport] = []
        self.ledgers: list[CompactionLedger] = []
        self.emit: Emit = ignore
        self._abandoned_at = -1  # the recent turns' count when a compaction last shrank nothing

    def _fold_text(self, turn: Turn) -> str:
        if turn.role == "file":
            # The summarizer gets no file bodies: the file joins the repo shelf instead (see ContextFiles.absorb).
            return f"[the file {turn.name} was shown in full]"
        return self.history.texts.redacted(turn)[0]

    def _record(self, report: CompactionReport, ledger: CompactionLedger | None = None) -> CompactionReport:
        self.log.write(Compacted(report))
        self.reports.append(report)
        ledger = ledger or CompactionLedger(report.number, report.method)
        self.log.write(Ledgered(ledger))
        self.ledgers.append(ledger)
        self.log.note(report.line(), "compaction")
        self.emit(CompactionEnded(report.number, report.trigger, report.line()))
        return report

    def _fold(self, trigger: str, reason: str, turns: list[Turn], room: int, with_model: bool) -> CompactionReport:
        history = self.history
        before = history.tokens(room)
        texts = [dataclasses.replace(t, text=self._fold_text(t)) for t in turns]
        cap = history.budget.plan.share("state", room)
        previous = history.record
        result = fold(previous, texts, summarizer=self.summarizer if with_model else None,
                      count=history.counter.count, cap=cap, strategy=self.policy.strategy,
                      probe=with_model and self.policy.probe)
        history.record = result.record
        after = history.tokens(room)
        number = result.record.compactions
        report = CompactionReport(
            number=number, time=now(), trigger=trigger, reason=reason,
            first_turn=turns[0].id, last_turn=turns[-1].id, turns_moved=len(turns), tokens_moved=result.tokens_moved,
            state_before=result.state_before, state_after=result.state_after, history_before=before,
            history_after=after, history_room=room, method=result.method,
            fallback_reason=result.fallback_reason, ledger_kept=result.ledger.kept, ledger_added=len(result.ledger.added),
            ledger_restored=result.ledger.restored,
            evicted=result.evicted, left_out=result.left_out, rejected_entries=result.rejected_entries,
            superseded=result.superseded, checked=result.check.checked if result.check else 0, probe=result.probe,
        )
        summarized = [t.id for t in turns]
        if after >= before:
            # Abandoned: the record stays as it was, the turns stay in the request verbatim.
            history.record = previous
            previous.compactions = number  # only the count moves: each attempt has its own number in the ledger
            history.save_state()
            self._abandoned_at = len(history.recent())
            why = (f"folding {len(turns)} turns would take the history from {before:,} to {after:,} tokens: "
                   "it does not shrink the context, so the record stays as it was")
            report.method, report.history_after, report.state_after = "abandoned", before, result.state_before
            report.notes.append(why)
            ledger = CompactionLedger(number, "abandoned", summarized, abandoned=why)
            return self._record(report, ledger)
        absorbed = self.files.absorb(turns, room - after)
        room = history.budget.history_room()
        report.history_after, report.history_room = history.tokens(room), room
        if not with_model and self.policy.strategy == "state":
            report.notes.append("a second pass by code alone: the first did not free enough room")
        if absorbed:
            report.notes.append(f"files attached in the moved turns joined the repository shelf: {', '.join(absorbed)}")
        history.save_state()
        ledger = draw_up(number, result.method, previous, history.record, summarized, result.left_out, result.check,
                         result.probe)
        return self._record(report, ledger)

    def _movable(self, room: int, target: int, everything: bool) -> list[Turn]:
        """The oldest recent turns whose leaving brings history under ``target``."""
        history = self.history
        recent = history.recent()
        # The newest user message (the question being asked) and what follows it never leave.
        last_user = max((n for n, t in enumerate(recent) if t.role == "user"), default=len(recent))
        movable = recent[: min(len(recent) - max(1, self.policy.keep_recent), last_user)]
        if everything or not movable:
            return movable
        views = history.views(recent, room)
        state = history.state_tokens()
        cap = history.budget.plan.share("state", room)
        rest = sum(v.tokens for v in views)
        moved = chosen = 0
        for n in range(len(movable)):
            moved += views[n].tokens
            rest -= views[n].tokens
            chosen = n + 1
            # A summary is rarely a third of its input; the state shelf caps it in any case.
            if min(cap, state + moved // 3) + rest <= target:
                break
        while chosen < len(movable) and recent[chosen].role != "user":
            chosen += 1  # leave history starting with the user's words, not mid-exchange
        return movable[:chosen]

    def compact(self, trigger: str, room: int, force: bool = False) -> list[CompactionReport]:
        """Fold the oldest turns until history fits ``room`` (with ``force``: every turn it may)."""
        history = self.history
        need = history.tokens(room)
        if need <= room and not force:
            return []
        if not force and trigger != "manual" and len(history.recent()) < self._abandoned_at + 2:
            return []  # the last one shrank nothing and the conversation has not grown since: never loop
        target = history.budget.plan.share("compact_to", room)
        reason = REASONS.get(trigger) or f"the conversation needs {need:,} tokens, its shelf holds {room:,}"
        announced = False

        def announce() -> None:  # once per compaction, and only when something will change
            nonlocal announced
            if not announced:
                self.emit(CompactionBegan(trigger, reason))
                announced = True

        if history.restored:
            announce()
            history.restored = []  # restored turns are already in the state: hiding them costs nothing
            self.log.write(RestoreHidden(now()))
            if history.tokens(room) <= target and not force:
                state = history.state_tokens()
                report = CompactionReport(history.record.compactions, now(), trigger, reason, 0, 0, 0, 0,
                                          state, state, need, history.tokens(room), room, method="hide")
                return [self._record(report, CompactionLedger(report.number, "hide"))]
        reports: list[CompactionReport] = []
        turns = self._movable(room, target, force)
        if turns:
            announce()
            reports.append(self._fold(trigger, reason, turns, room, with_model=True))
            if reports[-1].method == "abandoned":
                return reports  # a code-only pass over the same turns would not shrink either
        if history.tokens(room) > room:
            # Bounded second pass, code only: never a second model call, never a loop.
            more = self._movable(room, target, everything=True)
            if more:
                announce()
                reports.append(self._fold(trigger, reason, more, room, with_model=False))
        return reports
