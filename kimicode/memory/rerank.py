"""Recall-time rerank: the model orders the best candidates of each kind for one request.

The embedding finds notes that share words with the request; which of them the request needs is
a judgement ("record when the user last logged in" needs "timestamps are timezone-aware UTC").
One request settles it: the top PER_KIND notes of each kind, numbered, and the request go to the
model (prompts/rerank.md), which answers with the numbers of those that bear on it, best first,
in at most REPLY_TOKENS tokens. PER_KIND is wide because the embedding is weak: the right note is
among its top 5 for 52-80% of requests and among its top 30 for 81-100% (bench/memory_recall.py
--ceiling, dev half), so a narrow rerank could not reach the goal whatever the model. At 30 a
kind, a store of four full kinds makes a prompt of about 3,000 tokens (short lines, cut at
TEXT_CHARS), cheap beside a request to a long-context model; a small local model is shown fewer
(``per_kind``). Within each kind the named notes come first in the
model's order, then the others as the embedding ranked them. Any failure or unusable answer
leaves the ranking as it was.
"""

from __future__ import annotations

import re
import string
from typing import Callable, Sequence

from kimicode.memory.shelf import Ranked

PER_KIND = 30  # candidates of each kind shown to the model (see above)
REPLY_TOKENS = 24  # "3, 1, 12": numbers only
TEXT_CHARS = 300  # of a note, in the prompt


def candidates(ranked: dict[str, list[Ranked]], per_kind: int = PER_KIND) -> list[Ranked]:
    return [r for items in ranked.values() for r in items[:per_kind]]


def rerank_prompt(request: str, shown: Sequence[Ranked]) -> str:
    from kimicode.locations import read_prompt

    lines = [f"{n}. {' '.join(r.note.text.split())[:TEXT_CHARS]}" for n, r in enumerate(shown, start=1)]
    return string.Template(read_prompt("rerank.md")).safe_substitute(notes="\n".join(lines), request=request.strip())


def parse_order(answer: str, shown: int) -> list[int]:
    """The 0-based positions the answer names, in its order: numbers outside 1..shown and repeats dropped."""
    order: list[int] = []
    for token in re.findall(r"\d+", answer):
        n = int(token) - 1
        if 0 <= n < shown and n not in order:
            order.append(n)
    return order


def reordered(ranked: dict[str, list[Ranked]], chosen: Sequence[Ranked]) -> dict[str, list[Ranked]]:
    """Each kind with the ``chosen`` notes first (likely, in the given order), then the rest as they were."""
    first = {r.note.id for r in chosen}
    out: dict[str, list[Ranked]] = {}
    for kind, items in ranked.items():
        mine = [Ranked(r.note, r.score, False) for r in chosen if r.note.kind == kind]
        out[kind] = mine + [r for r in items if r.note.id not in first]
    return out


def rerank(request: str, ranked: dict[str, list[Ranked]], ask: Callable[[str, int], str],
           per_kind: int = PER_KIND) -> dict[str, list[Ranked]]:
    """``ranked`` with each kind's named candidates first; as it was when the model fails."""
    shown = candidates(ranked, per_kind)
    if not shown:
        return ranked
    try:
        order = parse_order(ask(rerank_prompt(request, shown), REPLY_TOKENS), len(shown))
    except Exception:  # noqa: BLE001 - the model is optional here: the embedding's order stands
        return ranked
    return reordered(ranked, [shown[n] for n in order])
