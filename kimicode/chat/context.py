"""Assemble the messages of one chat request from its shelves, stable parts first.

Providers bill a byte-identical prompt prefix at a fraction of the price (Moonshot: about a
fifth), so the order is chosen for the cache:

1. one system message: prompts/system.md, the repo's AGENTS.md / KIMI.md, the packed
   repository. It changes only when the repository is re-packed;
2. the state record (and any restored turns), at the head of the first history message.
   It changes only when a compaction runs or the user pins something;
3. the recent turns verbatim, oldest first: between compactions a request is the previous
   request plus the new turns;
4. memory recalls, if any, at the very end (they differ from question to question).

Consecutive messages of one role are joined, so the roles alternate whatever was recorded
(an unanswered question followed by a new one, tool output after a question).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from kimicode.budget import MESSAGE_OVERHEAD, ShelfTable, framing_tokens, middle_out
from kimicode.chat.session import Turn
from kimicode.repo.render import frame_body
from kimicode.secrets import redact
from kimicode.tokens import TokenCounter

PARTIAL_MARK = "\n\n[this answer was cut short]"


FILE_TURN = "file:"  # name prefix of a tool turn that attaches a repository file


def is_file_turn(turn: Turn) -> bool:
    return turn.role == "tool" and turn.name.startswith(FILE_TURN)


@dataclass(frozen=True)
class ContextPolicy:
    """How a session spends the model's window; every share is of a shelf named below."""

    reply_tokens: int = 16_384  # reserved for the answer
    repo_share: float = 0.5  # of the prompt room (window - reply - system): most the packed repo may take
    compact_to: float = 0.6  # of the history room: what history may use right after a compaction
    state_share: float = 0.35  # of the history room: most the state record may take
    message_share: float = 0.5  # of the history room: one message beyond this is shortened middle-out
    recall_share: float = 0.1  # of the history room: most the memory recalls may take
    keep_recent: int = 2  # turns a compaction leaves verbatim, when it can
    max_attach: int = 5  # files attached per message, at most
    summary_tokens: int = 8_192  # room for the summarizer's answer, reasoning included
    strategy: str = "state"  # "truncate": drop old turns without a state record (benchmark baseline)

    def __post_init__(self) -> None:
        if self.strategy not in ("state", "truncate"):
            raise ValueError(f"unknown compaction strategy {self.strategy!r}: state or truncate")
        if not 0 < self.compact_to < 1 or not 0 < self.state_share < 1 or not 0 <= self.repo_share < 1:
            raise ValueError("compact_to and state_share must be between 0 and 1, repo_share below 1")


@dataclass(frozen=True)
class TurnView:
    """A turn as a request shows it: redacted, perhaps shortened, counted."""

    id: int
    role: str
    text: str
    reasoning: str
    tokens: int  # text and reasoning, plus the per-message overhead
    shortened: bool = False


class TurnTexts:
    """Per-session cache of redacted turn text and token counts (redaction costs ~1 ms a line)."""

    def __init__(self, counter: TokenCounter, thinking: bool) -> None:
        self.counter = counter
        self.thinking = thinking  # thinking models get earlier reasoning back, as-is
        self.redactions: list[tuple[int, int, str]] = []  # (turn, line, kind)
        self._redacted: dict[int, tuple[str, str]] = {}
        self._views: dict[tuple[int, int], TurnView] = {}

    def redacted(self, turn: Turn) -> tuple[str, str]:
        cached = self._redacted.get(turn.id)
        if cached is None:
            result = redact(turn.text, f"turn {turn.id}")
            self.redactions.extend((turn.id, f.line, f.kind) for f in result.findings)
            text = result.text
            if turn.role == "tool" and not is_file_turn(turn):  # a file turn is a rendered <file> block already
                # a command's output is data: it must not forge a <file> block or other frame
                text = f"[output of {turn.name or 'a tool'}]\n{frame_body(text)}"
            if turn.partial:
                text += PARTIAL_MARK
            reasoning = redact(turn.reasoning, f"turn {turn.id} reasoning").text if (self.thinking and turn.reasoning) else ""
            cached = (text, reasoning)
            self._redacted[turn.id] = cached
        return cached

    def view(self, turn: Turn, limit: int) -> TurnView:
        """The turn within ``limit`` tokens: a huge paste keeps its head and tail, with a marker."""
        key = (turn.id, limit)
        cached = self._views.get(key)
        if cached is not None:
            return cached
        text, reasoning = self.redacted(turn)
        count = self.counter.count
        reasoning_tokens = count(reasoning) if reasoning else 0
        tokens = count(text)
        shortened = False
        if reasoning_tokens and tokens + reasoning_tokens > limit:
            reasoning, reasoning_tokens = "", 0  # old reasoning gives way before the answer does
        if tokens > limit:
            text = middle_out(text, limit, count)
            tokens, shortened = count(text), True
        view = TurnView(turn.id, turn.role, text, reasoning, tokens + reasoning_tokens + MESSAGE_OVERHEAD, shortened)
        self._views[key] = view
        return view

    def forget(self, turn_id: int) -> None:
        self._redacted.pop(turn_id, None)
        for key in [k for k in self._views if k[0] == turn_id]:
            del self._views[key]


def restored_block(views: Sequence[TurnView]) -> str:
    """Compressed turns shown again verbatim, read back from the session file."""
    if not views:
        return ""
    ids = [v.id for v in views]
    lines = [f"## Restored from the session file: turns {ids[0]}-{ids[-1]} (verbatim)"]
    for view in views:
        lines.append(f"[turn {view.id}, {view.role}]\n{view.text.rstrip()}")
    return "\n\n".join(lines) + "\n"


def history_messages(lead: str, views: Iterable[TurnView], recall: str = "") -> list[dict[str, Any]]:
    """The messages after the system message, roles alternating."""
    messages: list[dict[str, Any]] = []

    def add(role: str, text: str, reasoning: str = "") -> None:
        if messages and messages[-1]["role"] == role:
            last = messages[-1]
            last["content"] = f"{last['content']}\n\n{text}" if last["content"] else text
            if reasoning:
                last["reasoning_content"] = (last.get("reasoning_content", "") + "\n\n" + reasoning).strip()
            return
        message: dict[str, Any] = {"role": role, "content": text}
        if reasoning:
            message["reasoning_content"] = reasoning
        messages.append(message)

    if lead:
        add("user", lead.rstrip())
    for view in views:
        add("assistant" if view.role == "assistant" else "user", view.text, view.reasoning)
    if recall:
        add("user", recall.rstrip())
    return messages


def count_messages(messages: Sequence[dict[str, Any]], counter: TokenCounter) -> int:
    """Prompt tokens of a request, framing included: the figure checked against the budget."""
    total = framing_tokens(len(messages))
    for message in messages:
        total += counter.count(message.get("content") or "")
        if message.get("reasoning_content"):
            total += counter.count(message["reasoning_content"])
    return total


@dataclass
class Request:
    messages: list[dict[str, Any]]
    shelves: ShelfTable
    tokens: int  # counted exactly, framing included
    limit: int  # window - reply: never exceeded
    notes: list[str] = field(default_factory=list)


@dataclass
class Shelves:
    """The pieces of one request before assembly."""

    system: str  # prompt + project instructions
    repo: str  # the packed repository ("" when none)
    state: str  # the rendered state record
    restored: list[TurnView]
    recent: list[TurnView]
    recall: str = ""


def assemble(parts: Shelves, counter: TokenCounter, window: int, reply: int) -> Request:
    """Build the request; shorten middle-out (largest message first) if it would not fit.

    The session compacts before it gets here, so shortening is the last resort for a
    state or a single message too large for what is left of the window.
    """
    count = counter.count
    system_text = parts.system if not parts.repo else f"{parts.system.rstrip()}\n\n{parts.repo}"
    limit = window - reply
    notes: list[str] = []
    recent = list(parts.recent)
    state = parts.state

    def build() -> list[dict[str, Any]]:
        lead = "\n\n".join(p.rstrip() for p in (state, restored_block(parts.restored)) if p)
        return [{"role": "system", "content": system_text}, *history_messages(lead, recent, parts.recall)]

    messages = build()
    tokens = count_messages(messages, counter)
    # Largest first, the state last of all: it carries the pinned ledger.
    order = sorted(range(len(recent)), key=lambda n: -recent[n].tokens)
    for n in order:
        if tokens <= limit:
            break
        view = recent[n]
        room = max(view.tokens - MESSAGE_OVERHEAD - (tokens - limit) - 16, 32)
        text = middle_out(view.text, room, count)
        recent[n] = TurnView(view.id, view.role, text, "", count(text) + MESSAGE_OVERHEAD, True)
        notes.append(f"turn {view.id} was shortened middle-out to fit the window ({view.tokens:,} -> {recent[n].tokens:,} tokens)")
        messages = build()
        tokens = count_messages(messages, counter)
    if tokens > limit and state:
        before = count(state)
        state = middle_out(state, max(before - (tokens - limit) - 16, 32), count)
        notes.append(f"the state record ({before:,} tokens) does not fit what the window leaves: its middle was elided")
        messages = build()
        tokens = count_messages(messages, counter)
    sizes = {
        "system": count(parts.system) + framing_tokens(1),
        "memory": count(parts.recall) if parts.recall else 0,
        "state": (count(state) if state else 0) + sum(v.tokens for v in parts.restored),
        "recent": sum(v.tokens for v in recent),
        "repo": count(parts.repo) if parts.repo else 0,
        "reply": reply,
    }
    return Request(messages, ShelfTable(window, sizes), tokens, limit, notes)
