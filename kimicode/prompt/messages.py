"""Messages as the model reads them: typed here, turned into the wire format only by the client.

A request is a list of ``Message``. Thinking models need the reasoning of earlier answers
back as-is (``reasoning``); the tool loop will add assistant messages that call tools
(``tool_calls``) and ``tool`` messages that answer one call each (``tool_call_id``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Literal, Sequence

from kimicode.prompt.budget import MESSAGE_OVERHEAD, framing_tokens
from kimicode.tokens import TokenCounter

Role = Literal["system", "user", "assistant", "tool"]


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: str  # JSON text as the model wrote it; the caller parses and validates


def fold_system(messages: Sequence[Message]) -> list[Message]:
    """``messages`` for a chat template that drops ``role: system`` (Gemma's): the system text leads
    the first user message instead, so the instructions and the repository shelf are still read."""
    system = "\n\n".join(m.content for m in messages if m.role == "system" and m.content)
    rest = [m for m in messages if m.role != "system"]
    if not system:
        return rest
    for n, message in enumerate(rest):
        if message.role == "user":
            rest[n] = Message("user", f"{system}\n\n{message.content}")
            return rest
    return [Message("user", system), *rest]


@dataclass(frozen=True)
class Message:
    role: Role
    content: str
    reasoning: str = ""  # reasoning_content of an assistant message, sent back to thinking models
    tool_calls: tuple[ToolCall, ...] = ()  # an assistant message's calls
    tool_call_id: str = ""  # a tool message: the call it answers

    def wire(self) -> dict[str, Any]:
        """The OpenAI-compatible JSON object for this message."""
        body: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.reasoning:
            body["reasoning_content"] = self.reasoning
        if self.tool_calls:
            body["tool_calls"] = [{"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                                  for c in self.tool_calls]
        if self.tool_call_id:
            body["tool_call_id"] = self.tool_call_id
        return body


def wire(messages: Sequence[Message]) -> list[dict[str, Any]]:
    return [m.wire() for m in messages]


@dataclass(frozen=True)
class TurnView:
    """A recorded turn as a request shows it: redacted, perhaps shortened, counted."""

    id: int
    role: str  # as recorded (user, assistant, tool): the assembler maps it to a message role
    text: str
    reasoning: str = ""
    tokens: int = 0  # text and reasoning, plus the per-message overhead
    shortened: bool = False
    tool_calls: tuple[ToolCall, ...] = ()  # an answer that called tools
    call_id: str = ""  # a tool's result: the call it answers


def count_messages(messages: Sequence[Message], counter: TokenCounter) -> int:
    """Prompt tokens of a request, framing included: the figure checked against the budget."""
    total = framing_tokens(len(messages))
    for message in messages:
        total += counter.count(message.content)
        if message.reasoning:
            total += counter.count(message.reasoning)
        total += call_tokens(message.tool_calls, counter.count)
    return total


def call_tokens(calls: Sequence[ToolCall], count: Callable[[str], int]) -> int:
    """What an answer's tool calls add to its message (name, arguments, framing)."""
    return sum(count(c.name) + count(c.arguments) + MESSAGE_OVERHEAD for c in calls)


