"""The memory journal: every change to the notes, so the user can see it and take it back.

One JSON line per change (added, updated, deleted, restored), with the note before and after,
grouped in batches: everything one session end, one ``/remember`` or one ``memory prune``
stored is one batch, and ``memory undo`` reverts the last batch (or a named one) as a whole.
The file lives in the user's own data folder (0600), also when notes go to a team server:
what a user changed is theirs to review and undo.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from kimicode.locations import PRIVATE_FILE, private_dir
from kimicode.memory.notes import Note, NoteError

KEEP_LINES = 5_000  # older entries are dropped when the journal is rewritten


@dataclass(frozen=True)
class Change:
    batch: str
    at: str  # ISO 8601 UTC
    event: str  # added | updated | deleted | confirmed | restored
    before: Note | None
    after: Note | None
    why: str = ""

    @property
    def note(self) -> Note:
        note = self.after or self.before
        assert note is not None
        return note

    def to_dict(self) -> dict[str, Any]:
        return {"batch": self.batch, "at": self.at, "event": self.event, "why": self.why,
                "before": self.before.to_dict() if self.before else None,
                "after": self.after.to_dict() if self.after else None}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Change:
        before, after = data.get("before"), data.get("after")
        return cls(str(data["batch"]), str(data.get("at", "")), str(data["event"]),
                   Note.from_dict(before) if before else None, Note.from_dict(after) if after else None,
                   str(data.get("why", "")))


def new_batch() -> str:
    return f"{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-{os.getpid() % 10000:04d}{time.time_ns() % 1000:03d}"


class Journal:
    def __init__(self, data_dir: Path) -> None:
        self.folder = data_dir / "memory"
        self.path = self.folder / "journal.jsonl"
        self.data_dir = data_dir

    def record(self, changes: list[Change]) -> None:
        """Append ``changes`` durably (fsync): a change the user cannot see is a change they cannot undo."""
        if not changes:
            return
        private_dir(self.folder, self.data_dir)
        data = "".join(json.dumps(c.to_dict(), ensure_ascii=False) + "\n" for c in changes).encode("utf-8")
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, PRIVATE_FILE)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)

    def changes(self) -> list[Change]:
        """Every readable change, oldest first; a damaged line is skipped, not fatal."""
        return list(self._read())

    def _read(self) -> Iterator[Change]:
        try:
            lines = self.path.read_text(encoding="utf-8", errors="replace").splitlines()
        except FileNotFoundError:
            return
        for line in lines[-KEEP_LINES:]:
            try:
                yield Change.from_dict(json.loads(line))
            except (ValueError, KeyError, TypeError, NoteError):
                continue

    def batch(self, ref: str | None = None) -> list[Change]:
        """The changes of batch ``ref`` (or a unique prefix); the last batch when ``ref`` is None."""
        changes = [c for c in self.changes() if c.event != "restored"]
        undone = {c.why.removeprefix("undo of ") for c in self.changes() if c.event == "restored"}
        batches = [b for b in dict.fromkeys(c.batch for c in changes) if b not in undone]
        if ref is None:
            chosen = batches[-1:]
        else:
            chosen = [b for b in batches if b == ref] or [b for b in batches if b.startswith(ref)]
            if len(chosen) > 1:
                raise LookupError(f"{ref!r} matches more than one batch: give more of it")
        return [c for c in changes if chosen and c.batch == chosen[0]]
