"""The history of a conversation as requests show it: the state record, restored turns, recent turns.

``Budget`` is what the window leaves each shelf of one conversation; it follows the model
(/model) and the repository shelf, whose size the conversation's files keep current.
``History`` decides which recorded turns a request shows, and counts them.
"""

from __future__ import annotations

from typing import Callable

from kimicode.chat.context import TurnTexts
from kimicode.chat.log import SessionLog
from kimicode.chat.records import Turn
from kimicode.chat.state import StateRecord, render
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
        return [self.texts.view(t, limit) for t in turns]

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
