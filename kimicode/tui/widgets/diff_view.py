"""A unified diff, coloured line by line: added green, removed red, hunk headers cyan, file headers bold."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static

STYLES = (("+++", "bold"), ("---", "bold"), ("+", "green"), ("-", "red"), ("@@", "cyan"), ("\\", "dim"))


def styled(diff: str) -> Content:
    """The diff as Content: each line keeps its text exactly (a CRLF file's \\r shown as nothing)."""
    lines = []
    for line in diff.rstrip("\n").split("\n"):
        line = line.rstrip("\r")
        style = next((s for prefix, s in STYLES if line.startswith(prefix)), "")
        lines.append(Content.styled(line, style) if style else Content(line))
    return Content("\n").join(lines)


class DiffView(Static):
    """One diff (a proposed change, or /diff's net changes of the session)."""

    def __init__(self, diff: str, classes: str = "") -> None:
        super().__init__(styled(diff), classes=classes)
        self.diff = diff
