"""The model's part of a compaction: one request that turns leaving turns into a state patch.

The request itself must fit the window: long turns are shortened middle-out, and if the
turns still do not fit, the oldest ones are left out of the request (code still carries
their constraints, paths and errors, and the fallback their first sentences). A provider
that says "too long" anyway gets one retry with half the turns (the engine's send policy
decides when; what shrinks is decided here). Any failure comes back as
``SummaryOutcome.error``, never as an exception: a compaction must always finish.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from typing import Protocol, Sequence

from kimicode.chat.state import InvalidSummary, StatePatch, StateRecord, model_view, parse_patch
from kimicode.engine.assembler import Assembler, Piece, Shelves
from kimicode.engine.send import CannotShrink, Sender, Shrink
from kimicode.llm import ChatClient, ContextOverflow, LLMError
from kimicode.locations import read_prompt
from kimicode.prompt import BudgetPlan, Request, framing_tokens, middle_out
from kimicode.tokens import TokenCounter

MIN_TURN_TOKENS = 200  # below this, shortening a turn leaves nothing worth summarizing


class TextTurn(Protocol):
    id: int
    role: str
    text: str


@dataclass
class SummaryOutcome:
    patch: StatePatch | None
    error: str = ""  # why there is no usable patch
    left_out: list[int] = field(default_factory=list)  # turns not shown to the model (too large)
    shortened: list[int] = field(default_factory=list)  # turns shown middle-out
    prompt_tokens: int = 0


def _block(turn: TextTurn, text: str) -> str:
    return f'<turn id="{turn.id}" role="{turn.role}">\n{text.rstrip()}\n</turn>\n'


class Summarizer:
    """Asks a model for a state patch; ``reply_tokens`` bounds the answer (reasoning included)."""

    def __init__(self, client: ChatClient, counter: TokenCounter, window: int, reply_tokens: int) -> None:
        self.counter = counter
        self.window = window
        self.reply_tokens = reply_tokens
        plan = BudgetPlan(window, reply_tokens, 0)
        self.sender = Sender(client, plan)  # nothing of the summary streams to the user
        self.assembler = Assembler(plan, counter)
        self._template = string.Template(read_prompt("summarize.md"))
        self._probe = string.Template(read_prompt("probe.md"))

    def _prompt(self, record: StateRecord, blocks: Sequence[tuple[TextTurn, str]],
                template: string.Template | None = None) -> str:
        return (template or self._template).substitute(
            record=model_view(record),
            turns="".join(_block(t, text) for t, text in blocks),
            first=blocks[0][0].id if blocks else "-",
            last=blocks[-1][0].id if blocks else "-",
        )

    def fit(self, record: StateRecord, turns: Sequence[TextTurn], room: int | None = None,
            template: string.Template | None = None) -> tuple[list[tuple[TextTurn, str]], SummaryOutcome]:
        """The turns as the request will show them, within ``room`` tokens."""
        room = room if room is not None else self.window - self.reply_tokens - framing_tokens(1)
        outcome = SummaryOutcome(patch=None)
        count = self.counter.count
        fixed = count(self._prompt(record, [], template))
        blocks = [(t, t.text) for t in turns]
        sizes = [count(text) for _, text in blocks]
        if fixed + sum(sizes) > room and blocks:
            share = max(MIN_TURN_TOKENS, (room - fixed) // len(blocks))
            for n, (turn, text) in enumerate(blocks):
                if sizes[n] > share:
                    blocks[n] = (turn, middle_out(text, share, count))
                    sizes[n] = count(blocks[n][1])
                    outcome.shortened.append(turn.id)
        while blocks and fixed + sum(sizes) + 40 * len(blocks) > room:
            turn, _ = blocks.pop(0)  # the oldest first: codex's rule when compaction overflows
            sizes.pop(0)
            outcome.left_out.append(turn.id)
        return blocks, outcome

    def summarize(self, record: StateRecord, turns: Sequence[TextTurn]) -> SummaryOutcome:
        """The model's patch for the record, from the leaving turns."""
        return self._ask(record, turns, self._template, "summary")

    def probe(self, record: StateRecord, turns: Sequence[TextTurn]) -> SummaryOutcome:
        """The check pass's one question to the model: what did ``record`` lose of ``turns``?

        The answer has the summary's schema; only its additions are used (kimicode/chat/compaction.py).
        Capped like the summary (``reply_tokens``) and stopped like any request (the client's cancel).
        """
        return self._ask(record, turns, self._probe, "probe")

    def _ask(self, record: StateRecord, turns: Sequence[TextTurn], template: string.Template, what: str) -> SummaryOutcome:
        blocks, outcome = self.fit(record, turns, template=template)
        if not blocks:
            outcome.error = f"the leaving turns do not fit a {what} request"
            return outcome

        def build(shrink: Shrink | None) -> Request:
            nonlocal blocks
            if shrink is not None:
                if len(blocks) < 2:
                    raise CannotShrink
                half = len(blocks) // 2  # once, with the newer half: never loop
                outcome.left_out.extend(t.id for t, _ in blocks[:half])
                blocks = blocks[half:]
            request = self.assembler.assemble(Shelves("", tail=(Piece("recent", self._prompt(record, blocks, template)),)))
            outcome.prompt_tokens = request.tokens
            return request

        try:
            _, result = self.sender.within_budget(build, self.sender.stream)
        except ContextOverflow as exc:
            outcome.error = f"the {what} request was too long for the model ({exc})"
            return outcome
        except LLMError as exc:
            outcome.error = f"the {what} request failed: {exc}"
            return outcome
        if result.partial:
            outcome.error = f"the {what} was cut short ({result.error or 'stopped early'})"
            return outcome
        try:
            known = {t.id for t in turns} | {t for i in record.items for t in i.turns}
            outcome.patch = parse_patch(result.content, record, known)
        except InvalidSummary as exc:
            outcome.error = f"the model's {what} was unusable: {exc}"
        return outcome
