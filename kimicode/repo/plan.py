"""Spend the budget by expected value per token: which files go in full, as slices, as outlines.

Each candidate file has a probability p that the question is about it
(rank.py) and three ways to be sent, worth p x VALUE[mode] of the file's use
to the model (plus MAP_VALUE for any block). Taking the best value per token
first, and upgrading a file (outline -> slice -> full) when the extra value
per extra token is the best on offer, is the greedy solution of this
multiple-choice knapsack; it is what lets a small file ranked 12th go in full
rather than as an outline while a 25K-token file ranked 3rd is sliced. As
greedy knapsack can crowd out one large item that is worth most, plan_best
also tries each of the likeliest files whole first and keeps the better plan.

Costs start as estimates from byte sizes; an upgrade's exact cost is counted
only when it reaches the head of the queue (then it goes back in with its
true ratio), so only what may be sent is ever rendered and counted.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Callable, Protocol, Sequence

from kimicode.repo.cache import FileRecord
from kimicode.tokens import TokenCounter

FULL, SLICE, OUTLINE = "full", "slice", "outline"
# What each way of sending a file is worth, as a share of the full file's use to a model when the
# question is about it. An outline only names and signatures. A slice holds the definitions that
# match and their neighbours: on the 84 development issues the slice of the file the fix changed
# showed every changed line in 45% of them and some in 76% (bench/slice_coverage.py), hence half.
VALUE = {FULL: 1.0, SLICE: 0.5, OUTLINE: 0.1}
# What any block is worth whatever the question: a map of the repository (names, signatures).
# It makes the many unlikely files come as outlines rather than a few more in full: an outline
# (about OUTLINE_RATIO of the file's tokens) comes before the full text when
# p < MAP_VALUE / (OUTLINE_RATIO - VALUE[OUTLINE]), 0.5% for 1e-4.
MAP_VALUE = 1e-4
FIT_SLACK = 1.5  # an estimate this much over the room left is not counted exactly
ENUMERATED = 3  # likeliest files each tried whole first (plan_best)
ENUMERATE_CHANCE = 0.05  # ... when at least this likely
Cost = Callable[[FileRecord, str], "int | None"]  # tokens of a file's block in a mode; None: no such block


@dataclass
class Choice:
    record: FileRecord
    mode: str
    tokens: int
    probability: float


@dataclass(order=True)
class _Offer:
    priority: float  # minus value per token
    seq: int
    index: int = field(compare=False)
    mode: str = field(compare=False)
    base: str | None = field(compare=False)  # the file's mode when this offer was made
    exact: bool = field(compare=False)


def value(choices: Sequence[Choice]) -> float:
    """The expected use of a plan to a model (VALUE x chance, plus MAP_VALUE a block)."""
    return sum(VALUE[c.mode] * c.probability + MAP_VALUE for c in choices)


def plan_best(candidates: Sequence[tuple[FileRecord, float]], room: int, estimate: Cost, exact: Cost) -> list[Choice]:
    """plan_by_value, and the same with each of the likeliest files taken whole first: the better one.

    Greedy by value per token can spend the room on many small files and leave no space for the
    one large file that is most likely the answer; trying that file first (partial enumeration,
    the usual cure for greedy knapsack) costs a few more greedy runs.
    """
    plans = [plan_by_value(candidates, room, estimate, exact)]
    likeliest = sorted(range(len(candidates)), key=lambda i: -candidates[i][1])[:ENUMERATED]
    for i in likeliest:
        if candidates[i][1] >= ENUMERATE_CHANCE:
            plans.append(plan_by_value(candidates, room, estimate, exact, first=i))
    return max(plans, key=value)


def plan_by_value(candidates: Sequence[tuple[FileRecord, float]], room: int, estimate: Cost, exact: Cost,
                  modes: Sequence[str] = (FULL, SLICE, OUTLINE), first: int | None = None) -> list[Choice]:
    """The best set of (file, mode) within ``room`` tokens, by value per token; in candidate order.

    ``first``: a candidate taken whole before anything else, if it fits.
    """
    chosen: dict[int, Choice] = {}
    costs: dict[tuple[int, str], int | None] = {}
    heap: list[_Offer] = []
    seq = 0

    def cost(i: int, mode: str, counted: bool) -> int | None:
        if (i, mode) in costs:
            return costs[(i, mode)]
        if not counted:
            return estimate(candidates[i][0], mode)
        costs[(i, mode)] = exact(candidates[i][0], mode)
        return costs[(i, mode)]

    def offer(i: int, mode: str, counted: bool) -> None:
        nonlocal seq
        current = chosen.get(i)
        base_value = VALUE[current.mode] if current else 0.0
        base_cost = current.tokens if current else 0
        tokens = cost(i, mode, counted)
        if tokens is None or VALUE[mode] <= base_value:
            return
        gain = (VALUE[mode] - base_value) * candidates[i][1] + (0.0 if current else MAP_VALUE)
        extra = max(tokens - base_cost, 1)
        seq += 1
        heapq.heappush(heap, _Offer(-gain / extra, seq, i, mode, current.mode if current else None,
                                    counted or (i, mode) in costs))

    used = 0
    if first is not None:
        tokens = exact(candidates[first][0], FULL)
        if tokens is not None and tokens <= room:
            chosen[first] = Choice(candidates[first][0], FULL, tokens, candidates[first][1])
            used = tokens
    for i in range(len(candidates)):
        for mode in modes:
            offer(i, mode, False)
    while heap:
        best = heapq.heappop(heap)
        current = chosen.get(best.index)
        if (current.mode if current else None) != best.base:
            offer(best.index, best.mode, best.exact)  # the file moved on: back in, measured from where it is
            continue
        if not best.exact:
            guess = cost(best.index, best.mode, False)
            if guess is not None and guess - (current.tokens if current else 0) > FIT_SLACK * (room - used):
                continue  # far too big for what is left even if the estimate is high: not worth counting
            offer(best.index, best.mode, True)  # back in with the true ratio
            continue
        tokens = costs[(best.index, best.mode)]
        assert tokens is not None
        extra = tokens - (current.tokens if current else 0)
        if used + extra > room:
            continue
        used += extra
        record, probability = candidates[best.index]
        chosen[best.index] = Choice(record, best.mode, tokens, probability)
        for mode in modes:
            if VALUE[mode] > VALUE[best.mode]:
                offer(best.index, mode, (best.index, mode) in costs)
    return [chosen[i] for i in sorted(chosen)]


# --- the whole plan of a pack ------------------------------------------------------------

FULL_SHARE = 0.6  # without a question: of the budget for full files, when not everything fits
TREE_SHARE = 0.08  # kept back from outlines so the rest of the paths can be listed
# With a question, less: a likely file in full is worth more than more of the tree (at 32K, 8%
# kept a 29.7K-token file the question was about out of a pack that had room for it).
QUESTION_TREE_SHARE = 0.02
MAX_MISSES = 40  # consecutive files that did not fit before a tier stops trying
OUTLINE_RATIO = 0.12  # an outline is roughly this share of its file's tokens
SLICE_RATIO = 0.3  # a first guess of a slice's share of its file's tokens, until it is made
SLICE_MIN_TOKENS = 2_000  # smaller files go whole or as an outline
SLICE_CHANCE = 0.02  # files at least this likely have their slice made and counted, whatever its estimate
CANDIDATES = 300  # files weighed by value; the rest can still come as outlines, by rank
BLOCK_OVERHEAD = 20  # tokens of a file block's tags around its text


class Blocks(Protocol):
    """What the planner needs from the texts: exact counts, which are cheap now, making many at once."""

    @property
    def counter(self) -> TokenCounter: ...

    def tokens(self, record: FileRecord, mode: str) -> int | None: ...

    def prefetch(self, wanted: Sequence[tuple[FileRecord, str]]) -> None: ...


def _fill(plan: list[Choice], candidates: Sequence[FileRecord], mode: str, cap: int, blocks: Blocks,
          skip_over: int | None = None) -> int:
    """Greedily add candidates (best first) in ``mode`` while they fit in ``cap``; returns tokens used."""
    used = misses = 0
    for record in candidates:
        if misses >= MAX_MISSES or cap - used < 20:
            break
        # half the byte estimate already over the cap: not worth an exact count
        too_big = skip_over is not None and blocks.counter.estimate_bytes(record.size) // 2 > skip_over
        tokens = None if too_big else blocks.tokens(record, mode)
        if tokens is not None and tokens <= cap - used:
            plan.append(Choice(record, mode, tokens, 0.0))
            used += tokens
            misses = 0
        else:
            misses += 1
    return used


def _likely_needed(ranked: Sequence[FileRecord], counter: TokenCounter, full_cap: int, outline_cap: int) -> list[tuple[FileRecord, str]]:
    """The texts the tiers will probably ask for, guessed from byte sizes (so they can be made in parallel)."""
    wanted: list[tuple[FileRecord, str]] = []
    full = outline = 0
    for record in ranked:
        estimate = counter.estimate_bytes(record.size)
        if full + estimate <= full_cap * 1.1:
            wanted.append((record, FULL))
            full += estimate
        elif outline <= outline_cap * 1.3:
            wanted.append((record, OUTLINE))
            outline += int(estimate * OUTLINE_RATIO)
        else:
            break
    return wanted


def _all_fit(records: Sequence[FileRecord], counter: TokenCounter, available: int) -> bool:
    """Whether every file in full would fit by the byte estimate (stops at the first that overruns:
    in a monorepo after a few hundred files, not 100k)."""
    total = 0
    for record in records:
        total += counter.estimate_bytes(record.size)
        if total > available:
            return False
    return True


def plan_tiers(ranked: Sequence[FileRecord], blocks: Blocks, available: int, full: bool = True) -> list[Choice]:
    """Without a question: the best files in full up to FULL_SHARE of the budget, then outlines
    (``full=False``, lean mode: outlines only)."""
    counter = blocks.counter
    full_cap = 0 if not full else available if _all_fit(ranked, counter, available) else int(available * FULL_SHARE)
    blocks.prefetch(_likely_needed(ranked, counter, full_cap, available - full_cap))
    plan: list[Choice] = []
    used = _fill(plan, ranked, FULL, full_cap, blocks, skip_over=full_cap)
    taken = {c.record.path for c in plan}
    rest = [r for r in ranked if r.path not in taken]
    _fill(plan, rest, OUTLINE, available - used - (int(available * TREE_SHARE) if rest else 0), blocks)
    return plan


def estimator(counter: TokenCounter, room: int) -> Cost:
    """Block sizes guessed from byte sizes; None where a mode is out of the question."""

    def estimate(record: FileRecord, mode: str) -> int | None:
        full = counter.estimate_bytes(record.size) + BLOCK_OVERHEAD
        if mode == FULL:
            return full if full // 2 <= room else None
        if mode == SLICE:
            return int(full * SLICE_RATIO) if full >= SLICE_MIN_TOKENS and record.language else None
        return int(full * OUTLINE_RATIO) + BLOCK_OVERHEAD

    return estimate


def plan_for_question(ranked: Sequence[tuple[FileRecord, float]], blocks: Blocks, available: int) -> list[Choice]:
    """With a question: by value per token among the likeliest files, then outlines by rank in what is left.

    Three passes keep the exact counting (and the redaction and parsing behind it) to what may be
    sent: a plan on byte estimates says which texts to make, on every core; a second plan uses the
    exact counts of the texts made (estimates for the rest); the chosen blocks are then counted
    exactly and the plan trimmed to fit.
    """
    counter = blocks.counter
    if _all_fit([r for r, _ in ranked], counter, available):
        return plan_tiers([r for r, _ in ranked], blocks, available)
    room = available - int(available * QUESTION_TREE_SHARE)
    candidates = list(ranked[:CANDIDATES])

    estimate = estimator(counter, room)
    # the slices of the likeliest large files are made whatever their estimate: a slice's size
    # depends on what matches, far more than on the file's size
    likely = [r for r, p in candidates if p >= SLICE_CHANCE]
    likely_slices = [(r, SLICE) for r in likely if estimate(r, SLICE) is not None]
    likely_full = [(r, FULL) for r in likely if estimate(r, FULL) is not None]
    guess = plan_best(candidates, room, estimate, estimate)
    made = [(c.record, c.mode) for c in guess] + likely_slices + likely_full
    blocks.prefetch(made)
    # Exact counts for the texts just made (a slice is cut from its file's full text, made with it;
    # a mode the estimate rules out stays out) and estimates for all others, even those an earlier
    # pack left in the cache: the same files and question give the same pack on any machine.
    made += [(r, FULL) for r, mode in made if mode == SLICE and estimate(r, FULL) is not None]
    counted = {(r.path, mode): blocks.tokens(r, mode) for r, mode in made}

    def known(record: FileRecord, mode: str) -> int | None:
        key = (record.path, mode)
        return counted[key] if key in counted else estimate(record, mode)

    plan = plan_best(candidates, room, known, known)
    exact = [Choice(c.record, c.mode, tokens, c.probability) for c in plan
             if (tokens := blocks.tokens(c.record, c.mode)) is not None]
    # estimates that were short: drop the least value per token until the plan fits
    exact.sort(key=lambda c: -(VALUE[c.mode] * c.probability + MAP_VALUE) / max(c.tokens, 1))
    while exact and sum(c.tokens for c in exact) > room:
        exact.pop()
    order = {c.record.path: i for i, c in enumerate(plan)}
    exact.sort(key=lambda c: order[c.record.path])
    taken = {c.record.path for c in exact}
    rest = [r for r, _ in ranked if r.path not in taken]
    left = room - sum(c.tokens for c in exact)
    blocks.prefetch(_likely_needed(rest, counter, 0, left))
    _fill(exact, rest, OUTLINE, left, blocks)
    return exact
