"""Capture-time expansion: the requests a note applies to, written once when it is stored.

A note says "timestamps are timezone-aware UTC"; the request that needs it says "record when the
user last logged in". No offline similarity bridges that (bench/memory_recall.py), but a model
can, once, when the note is stored: it writes a few requests in which the note must be followed
(prompts/expand.md, the "hypothetical questions" of Mem0 and HyDE), and those are embedded beside
the note's text. The expansion is redacted like the text, shown nowhere, and written again
whenever the text changes (``Note.revised`` drops it).

Pure but for ``expanded`` and ``expand_all``, which call the model they are given.
"""

from __future__ import annotations

import re
import string
from dataclasses import replace
from typing import Callable, Sequence

from kimicode.memory.notes import Note

REQUESTS = 5  # asked of the model
REPLY_TOKENS = 100  # the model's answer is capped: five short lines
MAX_LINES = 8
LINE_CHARS = 200
KIND_WORDS = {"knowledge": "a convention or fact of the repository", "preference": "a preference of the user",
              "decision": "a decision taken earlier", "task": "a task worked on earlier"}
_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)]|request\s*\d*\s*:)\s*", re.IGNORECASE)


def expansion_prompt(note: Note) -> str:
    from kimicode.locations import read_prompt

    return string.Template(read_prompt("expand.md")).safe_substitute(kind=KIND_WORDS[note.kind], text=note.text,
                                                                     n=REQUESTS)


def parse_expansion(answer: str) -> str:
    """The requests of the model's answer, one a line: bullets and numbers stripped, blank,
    repeated and over-long lines dropped, at most MAX_LINES."""
    lines: list[str] = []
    for raw in answer.splitlines():
        line = " ".join(_BULLET.sub("", raw.replace("**", "")).strip(" \"'`").split())
        if 3 <= len(line) <= LINE_CHARS and _plain(line) not in map(_plain, lines):
            lines.append(line)
    return "\n".join(lines[:MAX_LINES])


def _plain(line: str) -> str:
    return " ".join(re.sub(r"[^\w]+", " ", line.lower()).split())


def expanded(note: Note, ask: Callable[[str, int], str]) -> Note:
    """``note`` with the expansion ``ask(prompt, reply_tokens)`` wrote for it; raises what ``ask`` raises."""
    return replace(note, expansion=parse_expansion(ask(expansion_prompt(note), REPLY_TOKENS)))


def expand_all(notes: Sequence[Note], ask: Callable[[str, int], str]) -> tuple[list[Note], str]:
    """``notes`` expanded, and "" or one line on why some were not: after the first failure the
    rest are stored without asking again (a model that is down or slow would hold every one of
    them up by its deadline), and recalled by their text alone."""
    out: list[Note] = []
    for n, note in enumerate(notes):
        try:
            out.append(expanded(note, ask))
        except Exception as exc:  # noqa: BLE001 - the model is optional here: the note stands without it
            left = len(notes) - n
            return out + list(notes[n:]), (f"memory expansion failed ({exc}): {left} note{'s' if left != 1 else ''} "
                                           f"stored without it, recalled by their words alone")
    return out, ""
