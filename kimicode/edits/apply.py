"""Apply an approved set of changes, each only if the file on disk still is what the change was made from.

The pre-image check is what keeps the user's own work safe: a file the user (or anything else)
changed after kimicode read it is never overwritten. A set is all or nothing: when one file's
pre-image no longer matches, nothing is written and every stale file is named. Nothing here
prints, stages, commits or stashes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from kimicode.edits.change import FileChange
from kimicode.edits.disk import EditError, read_text, write_text


@dataclass(frozen=True)
class Refused:
    path: str
    reason: str  # one line


@dataclass(frozen=True)
class ApplyResult:
    applied: tuple[FileChange, ...] = ()
    refused: tuple[Refused, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.refused


def stale(root: Path, change: FileChange) -> str | None:
    """Why ``change`` may not be applied to the file as it is now, or None."""
    try:
        current = read_text(root, change.path)
    except EditError as exc:
        return str(exc)
    if current == change.before:
        return None
    if change.before is None:
        return f"{change.path} was created since kimicode looked: not overwritten"
    if current is None:
        return f"{change.path} was removed since kimicode read it: not recreated"
    return f"{change.path} changed on disk since kimicode read it: the edit is refused (read it again)"


def apply_changes(root: Path, changes: Sequence[FileChange]) -> ApplyResult:
    """Write every change, or none when any pre-image is stale (or two changes name one file)."""
    paths = [c.path for c in changes]
    twice = sorted({p for p in paths if paths.count(p) > 1})
    if twice:
        return ApplyResult(refused=tuple(Refused(p, f"{p} is changed twice in one set") for p in twice))
    refused = tuple(Refused(c.path, reason) for c in changes if (reason := stale(root, c)))
    if refused:
        return ApplyResult(refused=refused)
    done: list[FileChange] = []
    for change in changes:
        try:
            write_text(root, change.path, change.after)
        except OSError as exc:
            for undo in reversed(done):  # leave the set whole or not at all
                write_text(root, undo.path, undo.before)
            return ApplyResult(refused=(Refused(change.path, f"{change.path}: cannot write it ({exc.strerror})"),))
        done.append(change)
    return ApplyResult(applied=tuple(c for c in done if c.kind != "none"))
