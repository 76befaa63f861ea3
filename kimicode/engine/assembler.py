"""The one assembler: shelves in, the messages of a request out, in one cache-stable order.

Providers bill a byte-identical prompt prefix at a fraction of the price (Moonshot: about a
fifth), so every request -- ask, chat, review -- is laid out the same way, stable parts first:

1. one system message: the prompt, the project's AGENTS.md / KIMI.md, then the repository
   shelf. It changes only when the repository is packed again;
2. the history: the state record and any restored turns at the head of the first history
   message (they change only at a compaction or a pin), then the recorded turns verbatim,
   oldest first. Between compactions a request is the previous one plus the new turns;
3. the tail: what belongs to this request alone, as pieces of one last user message, each
   counted on its shelf. A one-turn request (ask, review) puts its attachments, recalled
   memory and question here; a conversation puts its memory recalls here, after the question,
   so that the next request's prefix still holds the question;
4. the tool rounds of a one-turn request (``after``): the answers that called tools and the
   tools' results, after the question (a conversation records them as turns: in the history).

Consecutive messages of one role are joined, so the roles alternate whatever was recorded;
an answer that called tools and each tool's result stay messages of their own, and a result
whose call is no longer shown (compacted away) is shown as the user's text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Sequence

from kimicode.prompt import (
    MESSAGE_OVERHEAD,
    BudgetPlan,
    Message,
    Request,
    Role,
    ShelfTable,
    TurnView,
    call_tokens,
    count_messages,
    framing_tokens,
    middle_out,
)
from kimicode.tokens import TokenCounter

MIN_SHORTENED = 32  # tokens: a message shortened below this would say nothing


@dataclass(frozen=True)
class Piece:
    """Part of the last user message, and the shelf its tokens count on."""

    shelf: str  # memory | recent | repo
    text: str


@dataclass(frozen=True)
class Shelves:
    """The contents of one request before assembly; empty shelves are left out."""

    system: str  # prompt + project instructions
    repo: str = ""  # the repository shelf, rendered
    repo_tokens: int | None = None  # its count when already known (the pack counted it)
    state: str = ""  # the rendered state record
    restored: Sequence[TurnView] = ()
    recent: Sequence[TurnView] = ()
    tail: Sequence[Piece] = ()
    notes: list[str] = field(default_factory=list)
    after: Sequence[TurnView] = ()  # a one-turn request's tool rounds, after the question
    tools: Sequence[dict[str, Any]] = ()  # the tools offered: the provider reads them with the system prompt


def restored_block(views: Sequence[TurnView]) -> str:
    """Compressed turns shown again verbatim, read back from the session file."""
    if not views:
        return ""
    ids = [v.id for v in views]
    lines = [f"## Restored from the session file: turns {ids[0]}-{ids[-1]} (verbatim)"]
    for view in views:
        lines.append(f"[turn {view.id}, {view.role}]\n{view.text.rstrip()}")
    return "\n\n".join(lines) + "\n"


def _role(name: str) -> Role:
    """What is not the model's own answer (tool output, attached files) is the user's to send."""
    return "system" if name == "system" else "assistant" if name == "assistant" else "user"


class _Messages:
    """Messages with roles alternating: a message of the last one's role is joined to it.

    Tool calls and results are never joined: each result answers one call of the answer before it.
    """

    def __init__(self) -> None:
        self.items: list[Message] = []
        self.open: set[str] = set()  # calls of the last answer not yet answered

    def view(self, view: TurnView) -> None:
        if view.call_id and view.call_id in self.open:
            self.open.discard(view.call_id)
            self.items.append(Message("tool", view.text, tool_call_id=view.call_id))
        elif view.call_id:
            self.add("user", view.text)  # its call was compacted away: the provider rejects a lone result
        elif view.tool_calls:
            self.items.append(Message("assistant", view.text, view.reasoning, tuple(view.tool_calls)))
            self.open = {c.id for c in view.tool_calls}
        else:
            self.add(view.role, view.text, view.reasoning)

    def add(self, name: str, text: str, reasoning: str = "") -> None:
        role = _role(name)
        if self.open:  # an answer whose calls went unanswered (cut short): the provider rejects it
            self._close()
        last = self.items[-1] if self.items else None
        if last is not None and last.role == role and not last.tool_calls and role != "tool":
            content = f"{last.content}\n\n{text}" if last.content else text
            thought = (last.reasoning + "\n\n" + reasoning).strip() if reasoning else last.reasoning
            self.items[-1] = Message(last.role, content, thought)
            return
        self.items.append(Message(role, text, reasoning))

    def _close(self) -> None:
        for call in sorted(self.open):
            self.items.append(Message("tool", "[no result: the answer stopped before this call ran]", tool_call_id=call))
        self.open = set()

    def done(self) -> list[Message]:
        if self.open:
            self._close()
        return self.items


class Assembler:
    """Lays out requests for one budget plan.

    ``exact``: count every message with the tokenizer (a conversation, whose shelves are tight);
    otherwise short texts are bounded by their byte length, which spares a one-turn request the
    ~0.2 s the tokenizer takes to load.
    """

    def __init__(self, plan: BudgetPlan, counter: TokenCounter, *, exact: bool = True) -> None:
        self.plan = plan
        self.counter = counter
        self.exact = exact
        self.count: Callable[[str], int] = counter.count if exact else counter.bound

    def system_text(self, shelves: Shelves) -> str:
        return shelves.system if not shelves.repo else f"{shelves.system.rstrip()}\n\n{shelves.repo}"

    def messages(self, shelves: Shelves, state: str, recent: Sequence[TurnView]) -> list[Message]:
        out = _Messages()
        if shelves.system or shelves.repo:
            out.add("system", self.system_text(shelves))
        lead = "\n\n".join(p.rstrip() for p in (state, restored_block(shelves.restored)) if p)
        if lead:
            out.add("user", lead)
        for view in recent:
            out.view(view)
        tail = "".join(piece.text for piece in shelves.tail)
        if tail.strip():
            out.add("user", tail.rstrip())
        for view in shelves.after:
            out.view(view)
        return out.done()

    def assemble(self, shelves: Shelves, *, shorten: bool = False) -> Request:
        """The request; with ``shorten``, turns (largest first), then the state, give way middle-out
        until it fits the prompt limit. A conversation compacts before it gets here, so shortening
        is the last resort for a state or a single message too large for what the window leaves."""
        count = self.count
        limit = self.plan.prompt_limit
        notes = list(shelves.notes)
        recent = list(shelves.recent)
        state = shelves.state
        messages = self.messages(shelves, state, recent)
        tokens = self._tokens(messages, shelves, state, recent)
        if shorten:
            for n in sorted(range(len(recent)), key=lambda i: -recent[i].tokens):
                if tokens <= limit:
                    break
                view = recent[n]
                room = max(view.tokens - MESSAGE_OVERHEAD - (tokens - limit) - 16, MIN_SHORTENED)
                text = middle_out(view.text, room, count)
                recent[n] = replace(view, text=text, reasoning="", tokens=count(text) + MESSAGE_OVERHEAD + call_tokens(view.tool_calls, count),
                                    shortened=True)
                notes.append(f"turn {view.id} was shortened middle-out to fit the window "
                             f"({view.tokens:,} -> {recent[n].tokens:,} tokens)")
                messages = self.messages(shelves, state, recent)
                tokens = self._tokens(messages, shelves, state, recent)
            if tokens > limit and state:
                before = count(state)
                state = middle_out(state, max(before - (tokens - limit) - 16, MIN_SHORTENED), count)
                notes.append(f"the state record ({before:,} tokens) does not fit what the window leaves: its middle was elided")
                messages = self.messages(shelves, state, recent)
                tokens = self._tokens(messages, shelves, state, recent)
        table = ShelfTable(self.plan.window, self._sizes(shelves, state, recent))
        return Request(messages, table, tokens, limit, notes, tools=list(shelves.tools))

    def _tokens(self, messages: list[Message], shelves: Shelves, state: str, recent: Sequence[TurnView]) -> int:
        if self.exact:
            return count_messages(messages, self.counter) + self._tools(shelves)
        return sum(v for k, v in self._sizes(shelves, state, recent).items() if k != "reply")

    def _tools(self, shelves: Shelves) -> int:
        return self.count(json.dumps(list(shelves.tools))) if shelves.tools else 0

    def _sizes(self, shelves: Shelves, state: str, recent: Sequence[TurnView]) -> dict[str, int]:
        count = self.count
        system = count(shelves.system) + framing_tokens(1) if shelves.system else framing_tokens(0)
        system += self._tools(shelves)
        sizes = {"system": system, "memory": 0,
                 "state": (count(state) if state else 0) + sum(v.tokens for v in shelves.restored),
                 "recent": sum(v.tokens for v in recent),
                 "repo": (shelves.repo_tokens if shelves.repo_tokens is not None else count(shelves.repo)) if shelves.repo else 0,
                 "reply": self.plan.reply}
        own_message = bool(shelves.tail) and not recent and not state and not shelves.restored
        for piece in shelves.tail:
            if piece.text.strip():
                sizes[piece.shelf] += count(piece.text)
        if own_message:
            sizes["recent"] += MESSAGE_OVERHEAD  # the tail is a message of its own
        sizes["recent"] += sum(v.tokens for v in shelves.after)
        return sizes
