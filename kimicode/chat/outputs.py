"""The tool results of a conversation: which a request shows whole, hidden or cut to fragments.

Results are ``tool`` turns in the session file; what the model did to them (``hide``,
``restore``, ``fragment``) is written as records, so a resumed session shows them exactly as
before. A result ``keep_rounds`` tool rounds old is hidden automatically (a rule over the
turns on disk, so it too is the same after a resume); a restore holds it for as many rounds.
Implements the context tools' ``Sculpt`` over the session. ``hide`` and ``restore`` also take
the ids of user and assistant turns: a hidden turn is shown as a one-line stub with its summary
(an answer keeps its tool calls, which the results after it answer); its text stays on disk.
"""

from __future__ import annotations

import threading

from kimicode.chat.log import SessionLog
from kimicode.chat.records import OutputFragment, OutputsHidden, OutputsShown, Record, Replayed, Turn, fold_outputs
from kimicode.chat.session import now
from kimicode.engine.transcript import kept_lines, matching_lines, search_report, shown_output
from kimicode.tools.base import ToolError

SAID = ("user", "assistant")  # the turns of the conversation itself
SCULPTED = ("tool", *SAID)  # what hide and restore take


class Outputs:
    def __init__(self, log: SessionLog, replayed: Replayed, keep_rounds: int) -> None:
        self.log = log
        self.keep_rounds = keep_rounds
        self.state = Replayed(hidden=dict(replayed.hidden), shown=dict(replayed.shown), fragments=dict(replayed.fragments))
        self._lock = threading.Lock()  # the calls of one round run in parallel: one record at a time

    def rounds(self) -> int:
        """Tool rounds recorded so far (answers that called tools)."""
        return sum(1 for t in self.log.turns if t.role == "assistant" and t.tool_calls)

    def _round_of(self) -> dict[int, int]:
        rounds: dict[int, int] = {}
        number = 0
        for turn in self.log.turns:
            if turn.role == "assistant" and turn.tool_calls:
                number += 1
            elif turn.role == "tool":
                rounds[turn.id] = number
        return rounds

    def hidden_turns(self) -> dict[int, str]:
        """User and assistant turns the model hid: turn id -> the summary they are hidden behind."""
        said = {t.id for t in self.log.turns if t.role in SAID}
        return {n: summary for n, summary in self.state.hidden.items() if n in said}

    def views_state(self) -> dict[int, tuple[str | None, tuple[tuple[int, int], ...]]]:
        """Each tool turn's (hidden summary or None, kept ranges), the K-round rule applied."""
        now_round = self.rounds()
        out: dict[int, tuple[str | None, tuple[tuple[int, int], ...]]] = {}
        state = self.state
        for turn_id, number in self._round_of().items():
            hidden = state.hidden.get(turn_id)
            restored = state.shown.get(turn_id)
            old = now_round - number >= self.keep_rounds and (restored is None or now_round - restored >= self.keep_rounds)
            if hidden is None and turn_id not in state.fragments and old:
                hidden = ""
            out[turn_id] = (hidden, state.fragments.get(turn_id, ()) if hidden is None else ())
        return out

    @staticmethod
    def stub(turn: Turn, text: str, *, summary: str) -> str:
        """A hidden user or assistant turn as a request shows it."""
        why = f": {summary}" if summary else ""
        return f"[turn {turn.id}, {turn.role}] hidden{why}. restore([{turn.id}]) shows it again."

    @staticmethod
    def shown(turn: Turn, text: str, *, hidden: str | None, kept: tuple[tuple[int, int], ...]) -> str:
        return shown_output(turn.id, turn.name, text, hidden, kept)

    # -- the context tools ------------------------------------------------------------------

    def _tool_turns(self, ids: list[int], roles: tuple[str, ...] = ("tool",)) -> list[Turn]:
        turns = {t.id: t for t in self.log.turns if t.role in roles}
        missing = [i for i in ids if i not in turns]
        if missing:
            what = "output or turn" if len(roles) > 1 else "output"
            raise ToolError(f"no {what} {', '.join(map(str, missing))} (the ids are those in [output of ..., id N]"
                            f"{' or search_history' if len(roles) > 1 else ''})")
        return [turns[i] for i in ids]

    def _write(self, record: Record) -> None:
        with self._lock:
            self.log.write(record)
            fold_outputs(self.state, record)

    def hide(self, ids: list[int], summary: str) -> str:
        self._tool_turns(ids, SCULPTED)
        self._write(OutputsHidden(tuple(ids), summary, now()))
        return f"hidden: {', '.join(map(str, ids))}"

    def restore(self, ids: list[int]) -> str:
        self._tool_turns(ids, SCULPTED)
        self._write(OutputsShown(tuple(ids), self.rounds(), now()))
        return f"restored: {', '.join(map(str, ids))} (shown whole from the next request on)"

    def fragment(self, item: int, ranges: list[tuple[int, int]]) -> str:
        turn = self._tool_turns([item])[0]
        kept = kept_lines(turn.text, item, ranges)
        self._write(OutputFragment(item, kept, now()))
        return f"output {item}: kept lines {', '.join(f'{a}-{b}' for a, b in kept)}"

    def search(self, query: str) -> str:
        words = query.lower().split()
        hidden = self.views_state()
        said = self.hidden_turns()
        turns = [t for t in self.log.turns if t.role in SCULPTED]
        hits = [hit for t in turns for hit in (
            matching_lines(t.id, t.text, words, hidden.get(t.id, (None,))[0] is not None) if t.role == "tool"
            else matching_lines(t.id, t.text, words, t.id in said, label=f"turn {t.id} ({t.role})"))]
        spoken = sum(t.role != "tool" for t in turns)
        return search_report(hits, f"{len(turns) - spoken} outputs and {spoken} turns", query)
