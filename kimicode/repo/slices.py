"""Slices: the parts of a large file a question is about, in full, and the rest as an outline.

A 30K-token file cannot go whole into a 32K pack, and its outline alone hides
the lines that matter. A slice keeps, verbatim and with their line numbers
implied by the markers around them:
- the file's head (imports, module docstring: up to HEAD_LINES lines);
- the definitions that match the question best (its words, weighted by how
  rare they are in the repository; a definition the question names; the line
  of a traceback frame), each with the header of the class around it;
- the definitions those call and those that call them, within the file;
and replaces every other run of lines by a marker and the outline lines of
the definitions it held::

    ⋮ lines 41-811 omitted; definitions there:
    ⋮   45: class LatexPrinter(Printer)
    ⋮   121:   def _print_Add(self, expr, order=None)

Definitions come from the tree-sitter outline (outline.Span), cached by
content digest; the selection is pure and deterministic.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Mapping, Sequence

from kimicode.repo.cache import FileRecord
from kimicode.repo.contents import Contents
from kimicode.repo.outline import Span
from kimicode.repo.query import Question
from kimicode.repo.render import render_file
from kimicode.repo.terms import words
from kimicode.secrets import Finding

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
MARK = "⋮"  # starts every line that is not the file's own
HEAD_LINES = 40  # of the file's head, shown in full
CLASS_HEAD_LINES = 12  # of a class's header (signature, docstring, attributes) above a shown method
MAX_MATCHES = 6  # definitions chosen for matching the question
MIN_SHARE = 0.35  # of the best definition's score, for another to count as matching
MAX_NEIGHBOURS = 2  # callers and callees added per matching definition
MAX_SHOWN = 0.6  # a slice showing more than this share of the file's lines is not worth it
NAME_BONUS = 3.0  # in units of the best word score: a definition the question names
FRAME_BONUS = 3.0  # a definition holding a line of a traceback frame


@dataclass(frozen=True)
class Slice:
    text: str  # the body to send, markers included
    shown: tuple[tuple[int, int], ...]  # 1-based inclusive line ranges shown verbatim
    lines: int  # lines in the file
    chosen: tuple[str, ...]  # names of the definitions that matched
    line_of: tuple[int | None, ...]  # file line of each line of ``text`` (None for markers)


@dataclass(frozen=True)
class Focus:
    """What in a question a slice looks for: weighted words, named definitions, traceback lines."""

    words: Mapping[str, float]  # word -> weight x idf
    names: frozenset[str]  # lower-cased identifiers of the question
    frame_lines: frozenset[int] = frozenset()  # lines of this file in the question's tracebacks


def focus_for(question: Question, idf: Mapping[str, float], frame_lines: Sequence[int] = ()) -> Focus:
    return Focus({w: weight * idf.get(w, 1.0) for w, weight in question.terms.items()},
                 frozenset(question.identifiers), frozenset(frame_lines))


def _units(spans: Sequence[Span]) -> list[int]:
    """Indexes of the spans a slice can show: definitions with no outlined definition inside."""
    out = []
    for i, span in enumerate(spans):
        inner = i + 1 < len(spans) and spans[i + 1].depth > span.depth and spans[i + 1].start <= span.end
        if not inner:
            out.append(i)
    return out


def _score(lines: Sequence[str], span: Span, focus: Focus) -> float:
    counts = Counter(w.decode() for w in words("\n".join(lines[span.start - 1 : span.end]).encode("utf-8", "replace")))
    return sum(weight * math.log1p(counts[w]) for w, weight in focus.words.items() if w in counts)


def _class_head(spans: Sequence[Span], i: int) -> range:
    """The lines of the header of the definition around span ``i`` (up to its first inner definition)."""
    for j in range(i - 1, -1, -1):
        if spans[j].depth < spans[i].depth and spans[j].end >= spans[i].end:
            first_inner = spans[j + 1].start if j + 1 < len(spans) else spans[j].end
            return range(spans[j].start, min(spans[j].start + CLASS_HEAD_LINES, first_inner))
    return range(0)


def choose(lines: Sequence[str], spans: Sequence[Span], focus: Focus) -> tuple[set[int], list[str]]:
    """(the 1-based lines to show, the names of the definitions that matched)."""
    units = _units(spans)
    scores = {i: _score(lines, spans[i], focus) for i in units}
    best = max(scores.values(), default=0.0)
    for i in units:
        span = spans[i]
        if span.name.lower() in focus.names:
            scores[i] += NAME_BONUS * max(best, 1.0)
        if any(span.start <= line <= span.end for line in focus.frame_lines):
            scores[i] += FRAME_BONUS * max(best, 1.0)
    top = max(scores.values(), default=0.0)
    if top <= 0:
        return set(), []
    ranked = sorted((i for i in units if scores[i] >= MIN_SHARE * top), key=lambda i: (-scores[i], spans[i].start))
    chosen = ranked[:MAX_MATCHES]
    picked = set(chosen)
    by_name: dict[str, list[int]] = {}
    for i in units:
        by_name.setdefault(spans[i].name, []).append(i)
    names = {i: _names_in(lines, spans[i]) for i in units}
    for i in chosen:
        name = spans[i].name
        callees = [j for n, js in by_name.items() if n in names[i] and n != name for j in js]
        callers = [j for j in units if j != i and name and name in names[j]]
        for group in (callees, callers):
            for j in sorted(group, key=lambda j: (-scores[j], spans[j].start))[:MAX_NEIGHBOURS]:
                picked.add(j)
    shown: set[int] = set(range(1, min(HEAD_LINES, spans[0].start - 1 if spans else HEAD_LINES) + 1))
    for i in picked:
        span = spans[i]
        shown.update(range(span.start, span.end + 1))
        shown.update(_class_head(spans, i))
    return shown, [spans[i].name for i in chosen]


def _names_in(lines: Sequence[str], span: Span) -> set[str]:
    """The identifiers a definition's text uses (its calls, attributes, names)."""
    return set(_IDENTIFIER.findall("\n".join(lines[span.start - 1 : span.end])))


def render_slice(lines: Sequence[str], spans: Sequence[Span], shown: set[int], chosen: Sequence[str]) -> Slice:
    out: list[str] = []
    line_of: list[int | None] = []
    ranges: list[tuple[int, int]] = []
    n = len(lines)
    number = 1
    while number <= n:
        if number in shown:
            start = number
            while number <= n and number in shown:
                out.append(lines[number - 1])
                line_of.append(number)
                number += 1
            ranges.append((start, number - 1))
            continue
        start = number
        while number <= n and number not in shown:
            number += 1
        inside = [s.line for s in spans if start <= s.start < number]
        out.append(f"{MARK} lines {start}-{number - 1} omitted" + ("; definitions there:" if inside else ""))
        out.extend(f"{MARK}   {line}" for line in inside)
        line_of.extend([None] * (1 + len(inside)))
    return Slice("\n".join(out), tuple(ranges), n, tuple(chosen), tuple(line_of))


def make_slice(text: str, spans: Sequence[Span], focus: Focus) -> Slice | None:
    """The slice of ``text`` for ``focus``; None when nothing matches or it would show most of the file."""
    lines = text.split("\n")
    if not spans:
        return None
    shown, chosen = choose(lines, spans, focus)
    if not chosen or len(shown) > MAX_SHOWN * len(lines):
        return None
    return render_slice(lines, spans, shown, chosen)


@dataclass
class Slicer:
    """Slices of the files of one pack, for one question: cut from the redacted full text, counted.

    Cutting the full text as contents.py redacted it (cached by digest, shared with the full
    mode) means a slice holds no secret the full file would not, and its redactions keep the
    file's own line numbers.
    """

    contents: Contents
    focus: Mapping[str, Focus]  # path -> what to look for in it
    _made: dict[str, Slice | None] = field(default_factory=dict)
    _raw: dict[str, int] = field(default_factory=dict)  # path -> its block's raw token count

    def get(self, record: FileRecord) -> Slice | None:
        """The slice of ``record``, or None when the file has no useful slice."""
        if record.path not in self._made:
            self._made[record.path] = self._make(record)
        return self._made[record.path]

    def _make(self, record: FileRecord) -> Slice | None:
        focus = self.focus.get(record.path)
        if focus is None or record.language is None:
            return None
        return make_slice(self.contents.text(record, "full"), self.contents.spans(record), focus)

    def text(self, record: FileRecord) -> tuple[str, str]:
        """The slice's body and which lines it shows (``lines 1-40,88-120 of 900``)."""
        piece = self.get(record)
        assert piece is not None, "only a slice that exists is sent"
        return piece.text, f"lines {','.join(f'{a}-{b}' for a, b in piece.shown)} of {piece.lines}"

    def block(self, record: FileRecord) -> str:
        text, shown = self.text(record)
        return render_file(record.path, "slice", text, self.contents.fmt, shown)

    def raw(self, record: FileRecord) -> int | None:
        """The block's tokens before calibration (None when the file has no useful slice)."""
        if self.get(record) is None:
            return None
        if record.path not in self._raw:
            self._raw[record.path] = self.contents.counter.raw(self.block(record))
        return self._raw[record.path]

    def tokens(self, record: FileRecord) -> int | None:
        raw = self.raw(record)
        return None if raw is None else self.contents.counter.scale(raw)

    def findings(self, record: FileRecord) -> tuple[Finding, ...]:
        """The redactions of the lines the slice shows (file line numbers)."""
        piece = self.get(record)
        found = self.contents.findings.get((record.path, "full"), ())
        if piece is None:
            return ()
        return tuple(f for f in found if any(a <= f.line <= b for a, b in piece.shown))
