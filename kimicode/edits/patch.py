"""A unified diff (``apply_patch``) turned into changes: parsed by unidiff, hunks placed in today's text.

Each hunk's old lines are looked for where the diff says, then anywhere after the previous
hunk (line numbers drift), ignoring line endings and then trailing whitespace; a hunk found
nowhere, or a rename or binary patch, refuses the whole patch with the nearest lines.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from kimicode.edits.change import FileChange
from kimicode.edits.match import nearest


class PatchError(Exception):
    """The patch cannot be applied; one message for the model."""


@dataclass(frozen=True)
class FilePatch:
    path: str
    added: bool  # --- /dev/null
    removed: bool  # +++ /dev/null
    hunks: tuple[tuple[int, tuple[str, ...], tuple[str, ...]], ...]  # (old start, old lines, new lines)


def _name(raw: str) -> str:
    name = raw.strip()
    return name[2:] if name.startswith(("a/", "b/")) else name


def _hunk_lines(hunk: object) -> tuple[list[str], list[str]]:
    old: list[str] = []
    new: list[str] = []
    last: list[list[str]] = []
    for line in hunk:  # type: ignore[attr-defined]
        kind, value = line.line_type, line.value
        if kind == "\\":  # "\ No newline at end of file": the line before it has none
            for side in last:
                side[-1] = side[-1].rstrip("\r\n")
            continue
        last = [old, new] if kind == " " else [old] if kind == "-" else [new]
        for side in last:
            side.append(value)
    return old, new


def parse(text: str) -> list[FilePatch]:
    """The files of a unified diff; PatchError when it is not one, renames, copies or is binary."""
    from unidiff import PatchSet
    from unidiff.errors import UnidiffParseError

    try:
        patch = PatchSet(text)
    except UnidiffParseError as exc:
        raise PatchError(f"not a unified diff: {exc}") from None
    if not len(patch):
        raise PatchError("no file in the patch: give ---/+++ headers and @@ hunks")
    files = []
    for patched in patch:
        if patched.is_binary_file:
            raise PatchError(f"{patched.path}: binary patches are not applied")
        source, target = patched.source_file.strip(), patched.target_file.strip()
        added, removed = source == "/dev/null", target == "/dev/null"
        if not added and not removed and _name(source) != _name(target):
            raise PatchError(f"{_name(source)} -> {_name(target)}: renames are not applied (write_file the new file instead)")
        hunks = tuple((h.source_start, *map(tuple, _hunk_lines(h))) for h in patched)
        files.append(FilePatch(_name(source if removed else target), added, removed, hunks))  # type: ignore[arg-type]
    return files


def _find(lines: list[str], old: list[str], expected: int, start: int, key: Callable[[str], str]) -> int | None:
    want = [key(line) for line in old]
    size = len(want)

    def at(i: int) -> bool:
        return 0 <= i <= len(lines) - size and [key(line) for line in lines[i:i + size]] == want

    if at(expected):
        return expected
    # nearest to where the diff says first: line numbers drift by a few lines, seldom by many
    for distance in range(1, len(lines) + 1):
        for i in (expected - distance, expected + distance):
            if i >= start and at(i):
                return i
        if expected - distance < start and expected + distance > len(lines) - size:
            return None
    return None


def apply_hunks(text: str, patch: FilePatch) -> str:
    """``text`` with the patch's hunks applied; PatchError naming the hunk that does not fit."""
    nl = "\r\n" if "\r\n" in text else "\n"
    lines = text.splitlines(keepends=True)
    offset = start = 0
    for number, (old_start, old, new) in enumerate(patch.hunks, 1):
        expected = max(old_start - 1 + offset, 0) if old else min(old_start + offset, len(lines))
        at = None
        for key in (lambda s: s.rstrip("\r\n"), str.rstrip):
            at = _find(lines, list(old), expected, start, key) if old else expected
            if at is not None:
                break
        if at is None:
            raise PatchError(f"hunk {number} of {patch.path} does not match the file (its old lines are not there); "
                             f"nothing was changed. {nearest(lines, list(old))}")
        body = [line[:-1].rstrip("\r") + nl if line.endswith("\n") else line for line in new]
        if at + len(old) == len(lines) and lines and not lines[-1].endswith("\n") and body and old \
                and old[-1].endswith("\n"):
            body[-1] = body[-1].rstrip("\r\n")  # a diff that lost the no-newline marker keeps the file's ending
        lines[at:at + len(old)] = body
        offset += len(new) - len(old)
        start = at + len(body)
    return "".join(lines)


def patch_changes(text: str, read: Callable[[str], str | None]) -> list[FileChange]:
    """The changes a unified diff makes to the files as ``read`` gives them (None: absent)."""
    changes = []
    for patch in parse(text):
        current = read(patch.path)
        if patch.added and current is not None:
            raise PatchError(f"{patch.path} already exists: the patch creates it (edit it instead)")
        if not patch.added and current is None:
            raise PatchError(f"{patch.path}: no such file to patch")
        after = None if patch.removed else apply_hunks(current or "", patch)
        changes.append(FileChange(patch.path, current, after))
    return changes
