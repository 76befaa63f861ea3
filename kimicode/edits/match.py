"""Finding the block an edit replaces: exactly, then tolerant of whitespace; or the nearest lines.

The model quotes the text it wants to replace. An exact, unique occurrence is replaced as is.
Otherwise lines are compared without trailing whitespace, then without any surrounding
whitespace (a block quoted with the wrong indentation); the replacement is then re-indented by
the difference, as the file has it. A block found more than once, or nowhere, is never applied:
the model is told why, with the nearest lines of the file, and quotes again.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Callable

NEAREST_LINES = 12  # most lines of the file shown when a block does not match
MAX_SCAN = 4_000  # windows compared for the nearest lines (a huge file: the first ones)


class NoMatch(Exception):
    """The block is not in the file (or is there more than once); the message is for the model."""


@dataclass(frozen=True)
class Replaced:
    text: str  # the file's new text
    how: str  # exact | trailing whitespace | indentation
    line: int  # 1-based first line of the replaced block


def _newline(text: str) -> str:
    return "\r\n" if "\r\n" in text else "\n"


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t"))]


def _windows(lines: list[str], wanted: list[str], key: Callable[[str], str]) -> list[int]:
    want = [key(w) for w in wanted]
    keyed = [key(line) for line in lines]
    size = len(want)
    return [i for i in range(len(lines) - size + 1) if keyed[i:i + size] == want]


def _reindent(new: list[str], quoted: list[str], block: list[str]) -> list[str]:
    """``new`` with each quoted indentation replaced by the one the file's line has there (a line
    indented deeper than any quoted line keeps its extra depth after the deepest prefix known)."""
    known = {_indent(q): _indent(b) for q, b in zip(quoted, block) if q.strip()}
    order = sorted(known, key=len, reverse=True)
    out = []
    for line in new:
        have = _indent(line)
        if not line.strip():
            out.append(line)
            continue
        prefix = next((k for k in order if have.startswith(k)), None)
        out.append(line if prefix is None else known[prefix] + have[len(prefix):] + line[len(have):])
    return out


def _drop_blank_edges(lines: list[str]) -> list[str]:
    start, end = 0, len(lines)
    while start < end and not lines[start].strip():
        start += 1
    while end > start and not lines[end - 1].strip():
        end -= 1
    return lines[start:end]


def replace_block(text: str, old: str, new: str, path: str) -> Replaced:
    """``text`` with the one occurrence of ``old`` replaced by ``new``; NoMatch (with the nearest
    lines) when ``old`` is not there, or is there more than once."""
    if not old.strip():
        raise NoMatch("old is empty: quote the lines to replace (write_file creates or replaces a whole file)")
    nl = _newline(text)
    if nl == "\r\n" and "\r\n" not in old:  # the model writes \n; the file keeps its own line endings
        old, new = old.replace("\n", "\r\n"), new.replace("\r\n", "\n").replace("\n", "\r\n")
    count = text.count(old)
    if count == 1:
        at = text.index(old)
        return Replaced(text[:at] + new + text[at + len(old):], "exact", text.count("\n", 0, at) + 1)
    if count > 1:
        raise NoMatch(f"old appears {count} times in {path}: quote more lines around the place to change, so that it is unique")
    lines = _lines(text)
    wanted = _drop_blank_edges(_lines(old))
    replacement = _lines(new)
    if replacement and not replacement[-1].endswith("\n") and wanted and wanted[-1].endswith("\n"):
        replacement[-1] += nl  # the quoted block ended a line: so does its replacement
    for how, key in (("trailing whitespace", str.rstrip), ("indentation", str.strip)):
        found = _windows(lines, wanted, key)
        if len(found) > 1:
            raise NoMatch(f"old matches {len(found)} places in {path} once whitespace is ignored: "
                          "quote more lines around the place to change")
        if found:
            start = found[0]
            block = lines[start:start + len(wanted)]
            body = replacement if how != "indentation" else _reindent(replacement, wanted, block)
            if block and not block[-1].endswith(("\n", "\r")) and body and body[-1].endswith("\n"):
                body[-1] = body[-1].rstrip("\r\n")  # the file's last line had no newline: neither has the new one
            return Replaced("".join(lines[:start] + body + lines[start + len(wanted):]), how, start + 1)
    raise NoMatch(f"old is not in {path} (not even ignoring whitespace); nothing was changed. "
                  + nearest(lines, wanted))


def nearest(lines: list[str], wanted: list[str]) -> str:
    """The lines of the file most like the quoted block, numbered, for the model to quote again."""
    if not lines:
        return "the file is empty"
    size = max(1, min(len(wanted), NEAREST_LINES))
    target = "".join(w.strip() + "\n" for w in wanted[:size])
    best, best_ratio = 0, -1.0
    matcher = difflib.SequenceMatcher(autojunk=False)
    matcher.set_seq2(target)
    for start in range(0, min(max(len(lines) - size + 1, 1), MAX_SCAN)):
        matcher.set_seq1("".join(line.strip() + "\n" for line in lines[start:start + size]))
        if matcher.real_quick_ratio() <= best_ratio or matcher.quick_ratio() <= best_ratio:
            continue
        ratio = matcher.ratio()
        if ratio > best_ratio:
            best, best_ratio = start, ratio
    shown = lines[best:best + size]
    width = len(str(best + len(shown)))
    numbered = "".join(f"{n:>{width}}| {line.rstrip(chr(13) + chr(10))}\n" for n, line in enumerate(shown, best + 1))
    return f"The nearest lines ({best + 1}-{best + len(shown)}, {best_ratio:.0%} alike):\n{numbered.rstrip()}"
