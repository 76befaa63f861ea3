"""Messages the worker threads post to the app (Textual's post_message is thread-safe).

All go to the app itself, so they are handled one at a time in the order they were
posted: the last delta of an answer is always written before the answer is closed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from textual.message import Message

from kimicode.tui.workspace import Outcome, Snapshot


@dataclass
class SessionOpened(Message):
    notes: list[str]
    turns: list[Any]  # kimicode.chat.session.Turn, to show a resumed conversation
    resumed: bool


@dataclass
class SessionFailed(Message):
    error: str


@dataclass
class AnswerDelta(Message):
    text: str
    reasoning: bool = False


@dataclass
class AnswerRetry(Message):
    text: str


@dataclass
class AnswerDone(Message):
    exchange: Any | None  # kimicode.chat.chat.Exchange; None when the request failed
    error: str = ""
    stopped: bool = False
    unsent: str | None = None  # the user's text when it could not even be recorded: it goes back in the box


@dataclass
class CommandDone(Message):
    outcome: Outcome


@dataclass
class Refreshed(Message):
    snapshot: Snapshot


@dataclass
class RepoChanged(Message):
    """Files changed under the repository (from the watcher's thread); empty when only polling noticed."""

    paths: list[str]


@dataclass
class RepoPrepared(Message):
    """The background pack after a change is done (kimicode.tui.app._prepare)."""


@dataclass
class WorkFinished(Message):
    """The session is free again: the next message or command may run."""

    notes: list[str] = field(default_factory=list)
