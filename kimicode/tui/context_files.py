"""The files in a chat's context, for the files panel.

Runs in worker threads (it counts tokens). The files come from two places: the repo shelf
(the pack: full files and outlines, plus files added to it) and files attached to the
conversation (``file`` turns not yet compacted). /add and /drop are the conversation's
``add_file`` / ``drop_file``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kimicode.chat import Conversation, Turn


@dataclass(frozen=True)
class FileRow:
    path: str
    mode: str  # full | outline | added | attached
    tokens: int


def attached_turns(session: Conversation) -> list[Turn]:
    """File turns the next request still shows verbatim (not yet folded into the state, not dropped)."""
    through = session.record.through
    dropped = session.files.dropped
    return [t for t in session.turns if t.id > through and t.role == "file" and t.name not in dropped]


def rows(session: Conversation) -> list[FileRow]:
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
        put(turn.name, "attached", count(turn.text))
    return list(found.values())
