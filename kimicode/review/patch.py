"""Unified-diff hunks: parse them, number their lines, split the ones that are too long.

The model is shown each hunk with the new file's line number in front of every line it
can point at, so a finding's line number is read off the page instead of computed from
an ``@@`` header (which models get wrong).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

_HEADER = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@(.*)$")


@dataclass(frozen=True)
class Hunk:
    old_start: int
    new_start: int
    lines: tuple[str, ...]  # body lines, each starting with " ", "+", "-" or "\\"
    section: str = ""  # the function/class git names after the header, if any

    @property
    def old_count(self) -> int:
        return sum(1 for line in self.lines if line[:1] in (" ", "-"))

    @property
    def new_count(self) -> int:
        return sum(1 for line in self.lines if line[:1] in (" ", "+"))

    @property
    def header(self) -> str:
        return f"@@ -{self.old_start},{self.old_count} +{self.new_start},{self.new_count} @@{self.section}"


def parse_hunks(patch: str) -> list[Hunk]:
    """The hunks of one file's patch; lines before the first ``@@`` (headers) are ignored."""
    hunks: list[Hunk] = []
    current: list[str] | None = None
    start = (0, 0, "")
    for line in patch.split("\n"):
        match = _HEADER.match(line)
        if match:
            if current is not None:
                hunks.append(Hunk(start[0], start[1], tuple(current), start[2]))
            start = (int(match.group(1)), int(match.group(3)), match.group(5))
            current = []
        elif current is not None and line[:1] in (" ", "+", "-", "\\"):
            current.append(line)
    if current is not None:
        hunks.append(Hunk(start[0], start[1], tuple(current), start[2]))
    return hunks


def added_lines(hunks: Iterable[Hunk]) -> dict[int, str]:
    """New-file line number -> text, for every line the change adds."""
    added: dict[int, str] = {}
    for hunk in hunks:
        number = hunk.new_start
        for line in hunk.lines:
            kind = line[:1]
            if kind == "+":
                added[number] = line[1:]
            if kind in (" ", "+"):
                number += 1
    return added


def counts(hunks: Iterable[Hunk]) -> tuple[int, int]:
    """(lines added, lines removed)."""
    plus = minus = 0
    for hunk in hunks:
        for line in hunk.lines:
            plus += line[:1] == "+"
            minus += line[:1] == "-"
    return plus, minus


def numbered(hunk: Hunk, texts: list[str] | None = None) -> str:
    """The hunk with each line's new-file number (blank for removed lines) before its marker.

    ``texts`` replaces the line contents (same count, markers kept): the redacted version.
    """
    out = [hunk.header]
    number = hunk.new_start
    width = max(len(str(number + hunk.new_count)), 4)
    for index, line in enumerate(hunk.lines):
        kind, text = line[:1], (texts[index] if texts is not None else line[1:])
        if kind == "\\":  # "\ No newline at end of file"
            out.append(f"{'':>{width}}   {line}")
            continue
        label = "" if kind == "-" else str(number)
        out.append(f"{label:>{width}} {kind} {text}")
        if kind in (" ", "+"):
            number += 1
    return "\n".join(out)


def split_hunk(hunk: Hunk, max_lines: int) -> list[Hunk]:
    """Cut a long hunk into consecutive hunks of at most ``max_lines`` lines, numbers kept right."""
    if len(hunk.lines) <= max_lines:
        return [hunk]
    max_lines = max(max_lines, 1)
    pieces: list[Hunk] = []
    old, new = hunk.old_start, hunk.new_start
    for begin in range(0, len(hunk.lines), max_lines):
        body = hunk.lines[begin : begin + max_lines]
        piece = Hunk(old, new, body, hunk.section)
        pieces.append(piece)
        old += piece.old_count
        new += piece.new_count
    return pieces


def whole_file_hunk(text: str) -> Hunk:
    """A hunk adding every line of ``text``: how ``--files`` presents a file to review."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the final newline ends the last line; it is not a line of its own
    return Hunk(0 if not lines else 1, 1, tuple("+" + line for line in lines))
