"""The files in a chat's context, for the files panel, /add and /drop.

Runs in worker threads (it reads files and counts tokens). The files come from two
places: the repo shelf (the pack: full files and outlines, plus files added to it) and
files attached to the conversation (``file:PATH`` tool turns not yet compacted).

/add and /drop are the chat core's ``ChatSession.add_file`` / ``drop_file``: an added
file is attached after the last turn (the cached prefix holds), a drop is recorded in the
session file so that a resumed session leaves the file out too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kimicode.chat.chat import ChatSession
from kimicode.chat.context import FILE_TURN, is_file_turn


@dataclass(frozen=True)
class FileRow:
    path: str
    mode: str  # full | outline | added | attached
    tokens: int


def attached_turns(session: ChatSession) -> list[Any]:
    """File turns the next request still shows verbatim (not yet folded into the state, not dropped)."""
    through = session.state.through
    dropped = session.dropped
    return [t for t in session.turns if t.id > through and is_file_turn(t) and t.name[len(FILE_TURN):] not in dropped]


def rows(session: ChatSession) -> list[FileRow]:
    """One row per file, in the order the request shows them; a file shown twice (in the shelf,
    then attached in a turn) adds up."""
    count = session.counter.count
    added = set(session.repo.added)
    found: dict[str, FileRow] = {}

    def put(path: str, mode: str, tokens: int) -> None:
        old = found.get(path)
        found[path] = FileRow(path, mode, tokens) if old is None else FileRow(path, f"{old.mode}+{mode}", old.tokens + tokens)

    for block in session.repo.blocks:
        put(block.path, "added" if block.path in added and block.mode == "full" else block.mode, block.tokens)
    for turn in attached_turns(session):
        put(turn.name[len(FILE_TURN):], "attached", count(turn.text))
    return list(found.values())


def add(session: ChatSession, pattern: str) -> str:
    """/add PATH: attach files in full; one line (or a few) for the chat."""
    return session.add_file(pattern)


def drop(session: ChatSession, pattern: str) -> str:
    """/drop PATH: take files out of the context; one line for the chat."""
    return session.drop_file(pattern)
