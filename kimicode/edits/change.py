"""One proposed or applied change to one file: its path and its text before and after (None: absent).

Text is the file's exact content (line endings kept: read as bytes and decoded as UTF-8, never
translated), so a change written back, or undone, gives byte-identical files. Only valid UTF-8
files are edited (``disk.read_text`` refuses the rest), so every text encodes back exactly.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


@dataclass(frozen=True)
class FileChange:
    path: str  # POSIX, relative to the repository root
    before: str | None  # None: the file does not exist before the change
    after: str | None  # None: the change deletes it

    @property
    def kind(self) -> str:
        """create, delete, modify (or none when nothing changes)."""
        if self.before == self.after:
            return "none"
        if self.before is None:
            return "create"
        if self.after is None:
            return "delete"
        return "modify"

    def reversed(self) -> FileChange:
        """The change that undoes this one."""
        return FileChange(self.path, self.after, self.before)


def digest(text: str | None) -> str:
    """The SHA-256 of a file's content ("" for an absent file): what checkpoints compare."""
    return "" if text is None else hashlib.sha256(text.encode("utf-8")).hexdigest()
