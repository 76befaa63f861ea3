"""Recall-time rerank: the model orders the best candidates of each kind for one request.

The embedding finds notes that share words with the request; which of them the request needs is
a judgement ("record when the user last logged in" needs "timestamps are timezone-aware UTC").
One request settles it: the top PER_KIND notes of each kind, numbered, and the request go to the
model (prompts/rerank.md), which answers with the numbers of those that bear on it, best first,
in at most REPLY_TOKENS tokens. PER_KIND is wide because the embedding is weak: the right note is
among its top 5 for 52-80% of requests and among its top 30 for 81-100% (bench/memory_recall.py
--ceiling, dev half); a standing preference shares no word with most requests it governs. So a
rerank of the top 30 could not reach recall@3 0.95 even with a perfect judge (0.918 on the
bench's pairs, `--loopback-judge`), and the model is shown as many notes a kind as a shelf holds
as likely (MAX_STANDING, 60): a prompt of about 6,000 tokens for a store of four full kinds
(short lines, cut at TEXT_CHARS), cheap beside a request to a long-context model. A model that
could not read that in time (a slow local one: ``fits`` says) is shown fewer, down to 5 a kind,
or none.

Within each kind the named notes come first in the model's order, then the others as the
embedding ranked them. A failure, or an answer that names no note, leaves the ranking as it was
and says why (``Reranked.fallback``): never an error, memory is an aid.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from typing import Callable, Sequence

from kimicode.memory.recall import clip
from kimicode.memory.shelf import MAX_STANDING, Ranked

PER_KIND = MAX_STANDING  # candidates of each kind shown to the model: as many as a shelf holds as likely (see above)
SIZES = (PER_KIND, 30, 20, 10, 5)  # tried in turn when the model cannot take the larger prompt in time
REPLY_TOKENS = 24  # "3, 1, 12": numbers only
TEXT_CHARS = 300  # of a note, in the prompt
REQUEST_CHARS = 4_000  # of the request (a review's is its files and added lines): the notes matter, not every line
SHOWN_ANSWER = 60  # characters of an unusable answer quoted in the fallback line


@dataclass(frozen=True)
class Reranked:
    """Each kind's notes after a rerank; ``fallback`` says why the embedding's order stands ("" when it does not)."""

    ranked: dict[str, list[Ranked]]
    fallback: str = ""
    shown: int = 0  # candidates the model was shown (0: no request was made)
    named: int = 0  # of them, the ones it named


def candidates(ranked: dict[str, list[Ranked]], per_kind: int = PER_KIND) -> list[Ranked]:
    return [r for items in ranked.values() for r in items[:per_kind]]


def rerank_prompt(request: str, shown: Sequence[Ranked]) -> str:
    """The prompt: the notes numbered, then the request, its secrets redacted (it is sent as it is)."""
    from kimicode.locations import read_prompt
    from kimicode.secrets import redact

    text = request.strip()
    if len(text) > REQUEST_CHARS:
        text = text[:REQUEST_CHARS].rstrip() + " ..."
    lines = [f"{n}. {' '.join(r.note.text.split())[:TEXT_CHARS]}" for n, r in enumerate(shown, start=1)]
    return string.Template(read_prompt("rerank.md")).safe_substitute(notes="\n".join(lines),
                                                                     request=redact(text, "memory request").text)


def parse_order(answer: str, shown: int) -> list[int] | None:
    """The 0-based positions the answer names, in its order (repeats dropped); [] for "0" (none
    applies); None when it names no number from 0 to ``shown``: the answer is unusable."""
    order: list[int] = []
    usable = False
    for token in re.findall(r"\d+", answer):
        n = int(token) - 1
        if -1 <= n < shown:
            usable = True
            if n >= 0 and n not in order:
                order.append(n)
    return order if usable else None


def reordered(ranked: dict[str, list[Ranked]], chosen: Sequence[Ranked]) -> dict[str, list[Ranked]]:
    """Each kind with the ``chosen`` notes first (likely, in the given order), then the rest as they were."""
    first = {r.note.id for r in chosen}
    out: dict[str, list[Ranked]] = {}
    for kind, items in ranked.items():
        mine = [Ranked(r.note, r.score, False) for r in chosen if r.note.kind == kind]
        out[kind] = mine + [r for r in items if r.note.id not in first]
    return out


def rerank(request: str, ranked: dict[str, list[Ranked]], ask: Callable[[str, int], str],
           fits: Callable[[str, int], str] | None = None, sizes: Sequence[int] = SIZES) -> Reranked:
    """``ranked`` with each kind's named candidates first, or as it was with the reason.

    ``ask(prompt, reply_tokens)`` is the model (raises on failure, with a one-line message);
    ``fits(prompt, reply_tokens)`` says why the model could not take a prompt ("" when it can);
    ``sizes``: the candidates a kind to try, largest first."""
    shown: list[Ranked] = []
    prompt, why = "", ""
    for per_kind in sizes:
        smaller = candidates(ranked, per_kind)
        if not smaller or (shown and len(smaller) == len(shown)):
            continue  # no note, or no fewer than the size before
        shown, prompt = smaller, rerank_prompt(request, smaller)
        why = fits(prompt, REPLY_TOKENS) if fits is not None else ""
        if not why:
            break
    if not shown:
        return Reranked(ranked)
    if why:
        return Reranked(ranked, f"not run: {why}")
    try:
        answer = ask(prompt, REPLY_TOKENS)
    except Exception as exc:  # noqa: BLE001 - the model is optional here: the embedding's order stands
        return Reranked(ranked, f"failed: {exc}", len(shown))
    order = parse_order(answer, len(shown))
    if order is None:
        return Reranked(ranked, f"unusable answer (no note number): {clip(answer, SHOWN_ANSWER)!r}", len(shown))
    return Reranked(reordered(ranked, [shown[n] for n in order]), "", len(shown), len(order))
