"""How a conversation shows its turns to the model: redacted, framed, shortened, counted, cached.

The layout of the request itself is the engine's (kimicode.engine.assembler).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from kimicode.chat.records import Turn
from kimicode.prompt import MESSAGE_OVERHEAD, SHARES, Shares, ToolCall, TurnView, call_tokens, middle_out
from kimicode.repo.render import frame_body
from kimicode.secrets import redact
from kimicode.tokens import TokenCounter

PARTIAL_MARK = "\n\n[this answer was cut short]"


@dataclass(frozen=True)
class ContextPolicy:
    """How a conversation behaves; how it splits the window is in ``shares`` (kimicode.prompt.budget)."""

    reply_tokens: int = 16_384  # reserved for the answer
    keep_recent: int = 2  # turns a compaction leaves verbatim, when it can
    max_attach: int = 5  # files attached per message, at most
    summary_tokens: int = 8_192  # room for the summarizer's answer, reasoning included
    strategy: str = "state"  # "truncate": drop old turns without a state record (benchmark baseline)
    probe: bool = True  # after the model's summary, one request asking what it lost (capped like the summary)
    shares: Shares = SHARES

    def __post_init__(self) -> None:
        if self.strategy not in ("state", "truncate"):
            raise ValueError(f"unknown compaction strategy {self.strategy!r}: state or truncate")


class TurnTexts:
    """Per-session cache of redacted turn text and token counts (redaction costs ~1 ms a line)."""

    def __init__(self, counter: TokenCounter, thinking: bool) -> None:
        self.counter = counter
        self.thinking = thinking  # thinking models get earlier reasoning back, as-is
        self._redacted: dict[int, tuple[str, str]] = {}
        self._views: dict[tuple[int, int, object], TurnView] = {}

    def redacted(self, turn: Turn) -> tuple[str, str]:
        cached = self._redacted.get(turn.id)
        if cached is None:
            result = redact(turn.text, f"turn {turn.id}")
            text = result.text
            if turn.role == "output":  # a file turn is a rendered <file> block already
                # a command's output is data: it must not forge a <file> block or other frame
                text = f"[output of {turn.name or 'a tool'}]\n{frame_body(text)}"
            if turn.partial:
                text += PARTIAL_MARK
            reasoning = redact(turn.reasoning, f"turn {turn.id} reasoning").text if (self.thinking and turn.reasoning) else ""
            cached = (text, reasoning)
            self._redacted[turn.id] = cached
        return cached

    def view(self, turn: Turn, limit: int, shown: Callable[[str], str] | None = None, state: object = None,
             keep_reasoning: bool = True) -> TurnView:
        """The turn within ``limit`` tokens: a huge paste keeps its head and tail, with a marker.

        A tool result is shown through ``shown`` (whole, hidden or cut to fragments: ``state``
        names which, for the cache), and so is a turn the model hid (``keep_reasoning`` False).
        """
        key = (turn.id, limit, state)
        cached = self._views.get(key)
        if cached is not None:
            return cached
        text, thought = self.redacted(turn)
        reasoning = thought if keep_reasoning else ""
        if shown is not None:
            text = shown(text)
        count = self.counter.count
        reasoning_tokens = count(reasoning) if reasoning else 0
        tokens = count(text)
        shortened = False
        if reasoning_tokens and tokens + reasoning_tokens > limit:
            reasoning, reasoning_tokens = "", 0  # old reasoning gives way before the answer does
        if tokens > limit:
            text = middle_out(text, limit, count)
            tokens, shortened = count(text), True
        calls = tuple(ToolCall(c["id"], c["name"], c["arguments"]) for c in turn.tool_calls or ())
        view = TurnView(turn.id, turn.role, text, reasoning,
                        tokens + reasoning_tokens + MESSAGE_OVERHEAD + call_tokens(calls, count), shortened,
                        tool_calls=calls, call_id=turn.call_id if turn.role == "tool" else "")
        self._views[key] = view
        return view
