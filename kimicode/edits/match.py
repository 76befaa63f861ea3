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
CANDIDATES = 24  # windows compared closely for the nearest lines (the rest only by lines they share)


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
    """``new`` as the file would indent it: a line the model kept as quoted (aligned in order, so a
    line that appears twice is told apart) keeps the file's own indentation; any other line has
    its quoted indentation replaced by the one the file has where the quote had it (deeper lines
    keep their extra depth after the deepest known prefix)."""
    same: dict[int, int] = {}  # line of new -> line of the block it repeats
    aligned = difflib.SequenceMatcher(None, [q.strip() for q in quoted], [n.strip() for n in new], autojunk=False)
    for tag, q1, q2, n1, _ in aligned.get_opcodes():
        if tag == "equal":
            same.update((n1 + k, q1 + k) for k in range(q2 - q1))
    known = {_indent(q): _indent(b) for q, b in zip(quoted, block) if q.strip()}
    order = sorted(known, key=len, reverse=True)
    out = []
    for number, line in enumerate(new):
        have = _indent(line)
        if not line.strip():
            out.append(line)
        elif number in same:
            out.append(_indent(block[same[number]]) + line[len(have):])
        else:
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
    quoted, replacement = _lines(old), _lines(new)
    # as quoted, then without blank lines at its edges (on both sides: a model adds or drops them freely)
    tries = [(quoted, replacement)]
    if _drop_blank_edges(quoted) != quoted:
        tries.append((_drop_blank_edges(quoted), _drop_blank_edges(replacement)))
    for how, key in (("trailing whitespace", str.rstrip), ("indentation", str.strip)):
        for wanted, body in tries:
            found = _windows(lines, wanted, key)
            if len(found) > 1:
                raise NoMatch(f"old matches {len(found)} places in {path} once whitespace is ignored: "
                              "quote more lines around the place to change")
            if found:
                return _replaced(lines, found[0], wanted, body, how)
    raise NoMatch(f"old is not in {path} (not even ignoring whitespace); nothing was changed. "
                  + nearest(lines, _drop_blank_edges(quoted)))


def _replaced(lines: list[str], start: int, wanted: list[str], body: list[str], how: str) -> Replaced:
    """The file with the block found at ``start`` replaced by ``body``, made to fit the file's whitespace."""
    block = lines[start:start + len(wanted)]
    if how == "indentation":
        body = _reindent(body, wanted, block)
    if not any(_trailing(line) for line in block):  # the quote's stray trailing blanks are not the file's
        body = [line[: len(line) - len(_trailing(line)) - len(_ending(line))] + _ending(line) for line in body]
    if block and body:  # the block's last line ends as the file's did (with its newline, or none at the end)
        body[-1] = body[-1][: len(body[-1]) - len(_ending(body[-1]))] + _ending(block[-1])
    return Replaced("".join(lines[:start] + body + lines[start + len(wanted):]), how, start + 1)


def _ending(line: str) -> str:
    return line[len(line.rstrip("\r\n")):]


def _trailing(line: str) -> str:
    """The spaces and tabs at the end of a line, before its line ending."""
    body = line.rstrip("\r\n")
    return body[len(body.rstrip(" \t")):]


def _candidates(stripped: list[str], wanted: list[str], size: int) -> list[int]:
    """The window starts worth comparing closely: those holding the most quoted lines (counted in
    one sliding pass), or, when no line is shared, those placing a line close to a quoted one
    (difflib.get_close_matches) where the quote has it."""
    starts = max(len(stripped) - size + 1, 1)
    want = set(wanted) - {""}
    present = [1 if line in want else 0 for line in stripped]
    score, scores = sum(present[:size]), []
    for start in range(starts):
        scores.append((score, -start))
        if start + size < len(present):
            score += present[start + size] - present[start]
    if max(scores)[0] == 0:
        where: dict[str, list[int]] = {}
        for at, line in enumerate(stripped):
            where.setdefault(line, []).append(at)
        scores = []
        for offset, quoted in enumerate(wanted):
            for rank, close in enumerate(difflib.get_close_matches(quoted, list(where), n=3, cutoff=0.5)):
                scores += [(-rank, -min(max(at - offset, 0), starts - 1)) for at in where[close]]
        scores = scores or [(0, 0)]
    return sorted({-start for _, start in sorted(scores, reverse=True)[:CANDIDATES]})


def nearest(lines: list[str], wanted: list[str]) -> str:
    """The lines of the file most like the quoted block, numbered, for the model to quote again."""
    if not lines:
        return "the file is empty"
    size = max(1, min(len(wanted), NEAREST_LINES))
    quoted = [w.strip() for w in wanted[:size]]
    stripped = [line.strip() for line in lines]
    target = "".join(q + "\n" for q in quoted)
    best, best_ratio = 0, -1.0
    matcher = difflib.SequenceMatcher(autojunk=False)
    matcher.set_seq2(target)
    for start in _candidates(stripped, quoted, size):
        matcher.set_seq1("".join(line + "\n" for line in stripped[start:start + size]))
        ratio = matcher.ratio()
        if ratio > best_ratio:
            best, best_ratio = start, ratio
    shown = lines[best:best + size]
    width = len(str(best + len(shown)))
    numbered = "".join(f"{n:>{width}}| {line.rstrip(chr(13) + chr(10))}\n" for n, line in enumerate(shown, best + 1))
    return f"The nearest lines ({best + 1}-{best + len(shown)}, {best_ratio:.0%} alike):\n{numbered.rstrip()}"
