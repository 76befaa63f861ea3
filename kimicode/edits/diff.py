"""A change shown as a unified diff (``git apply`` and ``patch`` read it), for the user and the model."""

from __future__ import annotations

import difflib
from typing import Iterable

from kimicode.edits.change import FileChange

NO_NEWLINE = "\\ No newline at end of file\n"


def _lines(text: str | None) -> list[str]:
    return [] if text is None else text.splitlines(keepends=True)


def _marked(lines: Iterable[str]) -> Iterable[str]:
    """difflib's lines, with git's marker after a last line that has no newline."""
    for line in lines:
        if line.endswith("\n"):
            yield line
        else:
            yield line + "\n"
            yield NO_NEWLINE


def unified_diff(change: FileChange, context: int = 3) -> str:
    """The change as a unified diff with a/ and b/ names (/dev/null for a created or deleted file)."""
    if change.before == change.after:
        return ""
    old = "/dev/null" if change.before is None else f"a/{change.path}"
    new = "/dev/null" if change.after is None else f"b/{change.path}"
    lines = difflib.unified_diff(_lines(change.before), _lines(change.after), old, new, n=context)
    return "".join(_marked(lines))


def unified_diffs(changes: Iterable[FileChange], context: int = 3) -> str:
    """Several changes, one diff after the other."""
    return "".join(unified_diff(change, context) for change in changes)


def summary(change: FileChange) -> str:
    """One line: the path, what happened, lines added and removed (``src/a.py: modified, +3 -1``)."""
    added = removed = 0
    for line in unified_diff(change, 0).splitlines():
        if line.startswith("+") and not line.startswith("+++"):
            added += 1
        elif line.startswith("-") and not line.startswith("---"):
            removed += 1
    verb = {"create": "created", "delete": "deleted", "modify": "modified", "none": "unchanged"}[change.kind]
    return f"{change.path}: {verb}, +{added} -{removed}"
