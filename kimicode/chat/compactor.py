"""When and what a conversation compacts: the oldest turns move into the state record.

How one fold works (floor, model patch, fallback, fit, ledger) is kimicode.chat.compaction;
this module decides when to run it, which turns leave, and records what happened: a state
snapshot, the report, a note in the transcript, and a CompactionBegan/Ended pair of events.
Every step is bounded: at most one model call and one code-only pass per compaction.
"""

from __future__ import annotations

import dataclasses

from kimicode.chat.compaction import CompactionReport, fold
from kimicode.chat.context import ContextPolicy
from kimicode.chat.files import ContextFiles
from kimicode.chat.history import History
from kimicode.chat.log import SessionLog
from kimicode.chat.records import Compacted, RestoreHidden, Turn
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
        self.emit: Emit = ignore

    def _fold_text(self, turn: Turn) -> str:
        if turn.role == "file":
            # The summarizer gets no file bodies: the file joins the repo shelf instead (see ContextFiles.absorb).
            return f"[the file {turn.name} was shown in full]"
        return self.history.texts.redacted(turn)[0]

    def _record(self, report: CompactionReport) -> CompactionReport:
        self.log.write(Compacted(report))
        self.reports.append(report)
        self.log.note(report.line(), "compaction")
        self.emit(CompactionEnded(report.number, report.trigger, report.line()))
        return report

    def _fold(self, trigger: str, reason: str, turns: list[Turn], room: int, with_model: bool) -> CompactionReport:
        history = self.history
        before = history.tokens(room)
        texts = [dataclasses.replace(t, text=self._fold_text(t)) for t in turns]
        cap = history.budget.plan.share("state", room)
        result = fold(history.record, texts, summarizer=self.summarizer if with_model else None,
                      count=history.counter.count, cap=cap, strategy=self.policy.strategy)
        history.record = result.record
        absorbed = self.files.absorb(turns, room - history.tokens(room))
        room = history.budget.history_room()
        report = CompactionReport(
            number=history.record.compactions, time=now(), trigger=trigger, reason=reason,
            first_turn=turns[0].id, last_turn=turns[-1].id, turns_moved=len(turns), tokens_moved=result.tokens_moved,
            state_before=result.state_before, state_after=result.state_after, history_before=before,
            history_after=history.tokens(room), history_room=room, method=result.method,
            fallback_reason=result.fallback_reason, ledger_kept=result.ledger.kept, ledger_added=len(result.ledger.added),
            ledger_restored=result.ledger.restored, evicted=result.evicted, left_out=result.left_out,
            rejected_entries=result.rejected_entries,
        )
        if not with_model and self.policy.strategy == "state":
            report.notes.append("a second pass by code alone: the first did not free enough room")
        if absorbed:
            report.notes.append(f"files attached in the moved turns joined the repository shelf: {', '.join(absorbed)}")
        history.save_state()
        return self._record(report)

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
                return [self._record(CompactionReport(history.record.compactions, now(), trigger, reason, 0, 0, 0, 0,
                                                      state, state, need, history.tokens(room), room, method="hide"))]
        reports: list[CompactionReport] = []
        turns = self._movable(room, target, force)
        if turns:
            announce()
            reports.append(self._fold(trigger, reason, turns, room, with_model=True))
        if history.tokens(room) > room:
            # Bounded second pass, code only: never a second model call, never a loop.
            more = self._movable(room, target, everything=True)
            if more:
                announce()
                reports.append(self._fold(trigger, reason, more, room, with_model=False))
        return reports
