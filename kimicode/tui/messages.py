"""Messages the worker threads post to the app (Textual's post_message is thread-safe).

All go to the app itself, so they are handled one at a time in the order they were
posted: the last delta of an answer is always written before the answer is closed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from textual.message import Message

from kimicode.tui.workspace import Outcome, Snapshot

if TYPE_CHECKING:
    from kimicode.chat import Turn
    from kimicode.engine import Event


@dataclass
class SessionOpened(Message):
    notes: list[str]
    turns: list[Turn]  # to show a resumed conversation
    resumed: bool


@dataclass
class SessionFailed(Message):
    error: str


@dataclass
class EngineEvent(Message):
    """One event of the conversation engine (kimicode.engine.events), as it happened."""

    event: Event


@dataclass
class Unsent(Message):
    """The user's message could not even be recorded (a full disk): it goes back in the box."""

    text: str
    error: str


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


@dataclass
class EditDecided(Message):
    """The user's answer to each file of a proposed edit (one line each, for the chat)."""

    lines: list[str]
