"""The history of a conversation as requests show it: the state record, restored turns, recent turns.

``Budget`` is what the window leaves each shelf of one conversation; it follows the model
(/model) and the repository shelf, whose size the conversation's files keep current.
``History`` decides which recorded turns a request shows, counts them, and keeps what the user
does to them: pins (/pin, /unpin), turns shown again (/restore), /search. ``Recalls`` is the
memory shelf: what the error index knows about the newest question.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Callable

from kimicode.chat.context import TurnTexts
from kimicode.chat.errors import ChatError
from kimicode.chat.log import SessionLog
from kimicode.chat.outputs import Outputs
from kimicode.chat.records import RestoreShown, StateSaved, Turn
from kimicode.chat.search import SearchHit, search
from kimicode.chat.session import now
from kimicode.chat.state import StateItem, StateRecord, render
from kimicode.engine.assembler import restored_block
from kimicode.prompt import MESSAGE_OVERHEAD, BudgetPlan, TurnView, framing_tokens
from kimicode.tokens import TokenCounter

SAFETY = 16  # tokens: joining the system prompt and the pack may count a little above the parts
MIN_MESSAGE = 64  # tokens: the smallest limit for one message


class Budget:
    """The plan for one conversation, less its system shelf and its repository shelf."""

    def __init__(self, plan: BudgetPlan, system: int) -> None:
        self.plan = plan
        self.system = system  # tokens of the system shelf
        self.repo = 0  # tokens of the repository shelf (kept current by the conversation's files)

    def repo_budget(self) -> int:
        return self.plan.chat_repo(self.system)

    def history_room(self) -> int:
        """Tokens for state, restored turns, recent turns and recalls."""
        return self.plan.prompt_limit - self.system - self.repo - framing_tokens(1) - SAFETY

    def message_limit(self, room: int) -> int:
        return max(self.plan.share("message", room), MIN_MESSAGE)


@dataclass(frozen=True)
class Restored:
    first: int
    last: int
    turns: list[int]
    tokens: int


class History:
    """The turns a request shows: those after the state record, and any restored verbatim."""

    def __init__(self, log: SessionLog, counter: TokenCounter, budget: Budget, thinking: bool,
                 hidden: Callable[[Turn], bool]) -> None:
        self.log = log
        self.counter = counter
        self.budget = budget
        self.texts = TurnTexts(counter, thinking=thinking)
        self.hidden = hidden  # a turn the user took out (a dropped file)
        self.record = StateRecord()
        self.restored: list[tuple[int, int]] = []
        self.outputs: Outputs | None = None  # the tool results' state, when the conversation has tools

    def shown(self, turn: Turn) -> bool:
        """Notes are never sent; nor is a turn the user took out."""
        return turn.role != "note" and not self.hidden(turn)

    def recent(self) -> list[Turn]:
        return [t for t in self.log.turns if t.id > self.record.through and self.shown(t)]

    def restored_turns(self) -> list[Turn]:
        wanted = {n for first, last in self.restored for n in range(first, last + 1)}
        return [t for t in self.log.turns if t.id in wanted and t.id <= self.record.through and self.shown(t)]

    def views(self, turns: list[Turn], room: int) -> list[TurnView]:
        limit = self.budget.message_limit(room)
        said = self.outputs.hidden_turns() if self.outputs is not None else {}
        if self.outputs is None or not any(t.role == "tool" or t.id in said for t in turns):
            return [self.texts.view(t, limit) for t in turns]
        states = self.outputs.views_state()
        views = []
        for turn in turns:
            if turn.id in said:  # the model hid it: a stub, without the reasoning
                summary = said[turn.id]
                views.append(self.texts.view(turn, limit, partial(Outputs.stub, turn, summary=summary), ("said", summary),
                                             keep_reasoning=False))
                continue
            if turn.role != "tool":
                views.append(self.texts.view(turn, limit))
                continue
            hidden, kept = states.get(turn.id, (None, ()))
            views.append(self.texts.view(turn, limit, partial(Outputs.shown, turn, hidden=hidden, kept=kept), (hidden, kept)))
        return views

    def state_tokens(self) -> int:
        text = render(self.record)
        return self.counter.count(text) + MESSAGE_OVERHEAD if text else 0

    def tokens(self, room: int) -> int:
        """What the history shelves take now, within ``room``."""
        restored = self.views(self.restored_turns(), room)
        extra = self.counter.count(restored_block(restored)) if restored else 0
        return self.state_tokens() + extra + sum(v.tokens for v in self.views(self.recent(), room))

    def attached(self) -> set[str]:
        """Files attached in full in the turns the request shows verbatim."""
        return {t.name for t in self.recent() if t.role == "file"}

    def last_question(self) -> str:
        """The newest user message, redacted ("" before the first)."""
        last = next((t for t in reversed(self.log.turns) if t.role == "user"), None)
        return self.texts.redacted(last)[0] if last is not None else ""

    def save_state(self) -> None:
        self.log.write(StateSaved(self.record, now()))

    # -- what the user does to the history ------------------------------------------------

    def pin(self, text: str | None = None, *, turn: int | None = None, item: str | None = None) -> StateItem:
        """/pin TEXT, a turn, or a state item by id: carried verbatim by code in every request from now on.

        A pinned item is never summarized: the model cannot update or retire it, and it is never
        evicted to fit the state shelf.
        """
        if item is not None:
            found = self.record.get(item)
            if found is None or not found.active:
                raise ChatError(f"no active state item {item} (/state lists them)")
            if not found.pinned and found.origin != "pin":
                found.pinned = True
                self.save_state()
            return found
        if turn is not None:
            source = next((t for t in self.log.turns if t.id == turn and t.role != "note"), None)
            if source is None:
                raise ChatError(f"no turn {turn} to pin")
            body = self.texts.redacted(source)[0]
            turns = [turn]
        else:
            if not text or not text.strip():
                raise ChatError("nothing to pin: /pin TEXT or pin a turn")
            from kimicode.secrets import redact

            body, turns = redact(text.strip(), "pin").text, []
        same = next((i for i in self.record.active("pin") if i.text == body), None)
        if same is not None:
            return same
        pinned = self.record.add("pin", body, turns, "pin", since=self.record.compactions)
        self.save_state()
        return pinned

    def unpin(self, item_id: str) -> StateItem:
        """A pin the user wrote is retired; a pinned state item goes back to being summarized."""
        item = self.record.get(item_id)
        if item is None or not item.active or not (item.kind == "pin" or item.pinned):
            raise ChatError(f"no active pin {item_id}")
        if item.pinned:
            item.pinned = False
        else:
            item.status, item.reason = "retired", f"unpinned by the user at {now()}"
        self.save_state()
        return item

    def restore(self, first: int, last: int) -> Restored:
        """/restore FIRST..LAST: show compressed turns verbatim again (until the next compaction)."""
        if last < first:
            first, last = last, first
        turns = [t for t in self.log.turns if first <= t.id <= last and t.role != "note" and t.id <= self.record.through]
        if not turns:
            raise ChatError(f"turns {first}-{last} are not compressed: nothing to restore")
        room = self.budget.history_room()
        cost = sum(v.tokens for v in self.views(turns, room))
        left = room - self.tokens(room)
        if cost > left:
            raise ChatError(f"turns {first}-{last} need {cost:,} tokens and the conversation shelf has "
                            f"{max(left, 0):,} left: restore fewer turns")
        self.restored.append((first, last))
        self.log.write(RestoreShown(first, last, now()))
        return Restored(first, last, [t.id for t in turns], cost)

    def search(self, text: str, limit: int = 50) -> list[SearchHit]:
        """/search TEXT: every turn on disk and every state item (retired too) holding all the words."""
        if not text.split():
            raise ChatError("nothing to search for")
        visible = {t.id for t in self.recent()} | {t.id for t in self.restored_turns()}
        return search(self.log.turns, self.record, text, visible, limit)


class Recalls:
    """The memory shelf of a conversation: the engine's recall for the newest question, within its cap."""

    def __init__(self, recall: Callable[[str, int], str] | None, warnings: list[str]) -> None:
        self.recall = recall  # kimicode.engine.memory.SessionMemory.shelf
        self.warnings = warnings
        self._last: tuple[str, int, str] = ("", 0, "")  # (question, cap, recall): the budget bar asks again

    def text(self, question: str, cap: int) -> str:
        """The recalls for ``question``, within ``cap`` tokens ("" when there are none)."""
        if self.recall is None or not question:
            return ""
        if self._last[:2] != (question, cap):
            try:
                found = self.recall(question, cap) or ""
            except Exception as exc:  # noqa: BLE001 - memory is optional: degrade, never fail the turn
                self.warnings.append(f"memory recall failed: {exc}")
                found = ""
            self._last = (question, cap, found)
        return self._last[2]
