"""The session log: every turn and record of one conversation, on disk before anything else happens.

The conversation writes only through here: turns (user messages, answers, attached files,
command output, notes) and typed records (kimicode.chat.records). Each is one fsynced line.
An old session file is never rewritten: before the first line this version appends to it, a
``version`` record says that what follows is in the current format.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from kimicode.chat.records import FORMAT_VERSION, FormatChanged, Record, SessionMeta, Turn, to_json
from kimicode.chat.session import LoadedSession, SessionFile, now


class SessionLog:
    """The turns of one session and its open file (appending, fsynced, locked)."""

    def __init__(self, file: SessionFile, loaded: LoadedSession, scrub: Callable[[str], str] = str) -> None:
        self._file = file
        self.meta: SessionMeta = loaded.meta
        self.path: Path = loaded.path
        self.turns: list[Turn] = list(loaded.turns)
        self.warnings: list[str] = list(loaded.warnings)
        self.scrub = scrub  # takes the API key out of what is written
        self._next_id = loaded.next_turn_id
        self._outdated = loaded.version < FORMAT_VERSION

    @property
    def id(self) -> str:
        return self.meta.id

    def _append(self, data: dict[str, Any]) -> None:
        if self._outdated:
            self._file.append(to_json(FormatChanged(FORMAT_VERSION)))
            self._outdated = False
        self._file.append(data)  # fsynced: on disk before anything else happens

    def turn(self, role: str, text: str, **extra: Any) -> Turn:
        if "reasoning" in extra:
            extra["reasoning"] = self.scrub(extra["reasoning"])
        turn = Turn(id=self._next_id, role=role, text=self.scrub(text), time=now(), **extra)
        self._append(turn.to_record())
        self.turns.append(turn)
        self._next_id += 1
        return turn

    def note(self, text: str, kind: str = "note") -> Turn:
        """A note for the transcript; never sent to the model."""
        return self.turn("note", text, name=kind)

    def write(self, record: Record) -> None:
        self._append(to_json(record))

    def close(self) -> None:
        self._file.close()
