"""What the engine tells a face while it works: typed events, rendered by the CLI or the TUI.

The core never prints and never touches a widget: it calls ``emit(event)``. A face matches on
the event's type and shows it its own way (stderr lines for `ask` and `review`, widgets in the
TUI). An ``emit`` may raise to stop the work (the TUI's stop key): the model client then
returns what arrived, marked partial.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Literal

from kimicode.prompt import ToolCall


@dataclass(frozen=True)
class TurnBegan:
    """The user's message is on record and the request is being prepared."""

    turn: int  # the user turn's id (0 for a one-turn request, which records nothing)
    text: str


@dataclass(frozen=True)
class TurnEnded:
    """The answer is on record (``turn``: its id), complete or, with ``partial``, cut short."""

    turn: int
    partial: bool = False
    interrupted: bool = False  # stopped by the user, as opposed to a dropped stream
    error: str = ""  # why a partial answer stopped early


@dataclass(frozen=True)
class ReasoningDelta:
    text: str


@dataclass(frozen=True)
class ContentDelta:
    text: str


@dataclass(frozen=True)
class ToolCalled:
    """The model asked for a tool; the tool loop answers it."""

    call: ToolCall


@dataclass(frozen=True)
class ToolFinished:
    """A tool call ran: what a face shows as one line (tool, arguments, size, time)."""

    call: ToolCall
    output: int  # the output's id, as the model sees it ([output of CALL, id N])
    line: str  # the call as one line: read_file(path='a.py')
    tokens: int  # of the result as sent
    seconds: float
    error: bool = False
    truncated: bool = False  # cut to its budget
    text: str = ""  # the result as sent (a face may show it when the line is expanded)
    source: str = "kimicode"  # or the MCP server that ran it (faces always show those calls)


@dataclass(frozen=True)
class CompactionBegan:
    trigger: str  # budget | manual | overflow
    reason: str


@dataclass(frozen=True)
class CompactionEnded:
    number: int
    trigger: str
    line: str  # one line with the figures, as the session file's note says it


@dataclass(frozen=True)
class UsageReported:
    """The provider's count for one request, beside ours."""

    model: str
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int | None
    estimated: int  # our count of that prompt


@dataclass(frozen=True)
class Failed:
    """The request failed for good; one line the user can act on."""

    message: str


@dataclass(frozen=True)
class Notice:
    """Something the user should know: a retry, a shrink, a file attached, a write that failed."""

    text: str
    level: Literal["info", "warning"] = "info"
    topic: str = ""  # retry | shrink | ...: for a face that shows some notices its own way


Event = (TurnBegan | TurnEnded | ReasoningDelta | ContentDelta | ToolCalled | ToolFinished | CompactionBegan | CompactionEnded
         | UsageReported | Failed | Notice)
Emit = Callable[[Event], None]


def ignore(event: Event) -> None:
    """An ``emit`` for callers that show nothing while the work runs."""
