"""Choosing blocks by expected value per token (plan.plan_by_value)."""

from __future__ import annotations

from kimicode.repo.cache import FileRecord
from kimicode.repo.plan import FULL, OUTLINE, SLICE, plan_best, plan_by_value, value


def _record(path: str) -> FileRecord:
    return FileRecord(path, 1, 0, path, "python", None, 1, True, ())


COSTS = {
    "big.py": {FULL: 25_000, SLICE: 4_000, OUTLINE: 1_000},
    **{f"small{i}.py": {FULL: 2_000, OUTLINE: 200} for i in range(10)},
    "tiny.py": {FULL: 500, OUTLINE: 100},
}
CHANCES = {"big.py": 0.5, **{f"small{i}.py": 0.04 for i in range(10)}, "tiny.py": 0.03}
CANDIDATES = [(_record(p), CHANCES[p]) for p in COSTS]  # big first, tiny twelfth


def _cost(record: FileRecord, mode: str) -> int | None:
    return COSTS[record.path].get(mode)


def test_value_per_token_slices_the_big_file_and_sends_small_likely_ones_whole() -> None:
    plan = plan_by_value(CANDIDATES, 20_000, _cost, _cost)
    modes = {c.record.path: c.mode for c in plan}
    assert modes["big.py"] == SLICE  # 25K tokens do not fit; its slice does
    assert modes["tiny.py"] == FULL  # ranked twelfth, but cheap: in full rather than as an outline
    assert sum(c.tokens for c in plan) <= 20_000
    assert [c.record.path for c in plan] == [p for p in COSTS if p in modes]  # candidate order kept


def test_a_likely_file_goes_whole_when_the_room_allows() -> None:
    plan = plan_by_value(CANDIDATES, 60_000, _cost, _cost)
    assert {c.record.path: c.mode for c in plan}["big.py"] == FULL
    assert sum(c.tokens for c in plan) <= 60_000


def test_exact_costs_are_counted_only_near_the_head_of_the_queue() -> None:
    counted: list[tuple[str, str]] = []
    costs = COSTS | {f"unlikely{i}.py": {FULL: 3_000, OUTLINE: 300} for i in range(200)}

    def estimate(record: FileRecord, mode: str) -> int | None:
        return costs[record.path].get(mode)

    def exact(record: FileRecord, mode: str) -> int | None:
        counted.append((record.path, mode))
        return estimate(record, mode)

    many = CANDIDATES + [(_record(f"unlikely{i}.py"), 1e-7) for i in range(200)]
    plan = plan_by_value(many, 5_000, estimate, exact)
    assert sum(c.tokens for c in plan) <= 5_000
    assert len(counted) < 60  # not one count per candidate and mode (600)


def test_a_slice_costlier_than_its_gain_is_never_an_upgrade() -> None:
    record = _record("odd.py")
    plan = plan_by_value([(record, 0.9)], 10_000, lambda r, m: {FULL: 1_000, SLICE: 900, OUTLINE: 100}[m],
                         lambda r, m: {FULL: 1_000, SLICE: 900, OUTLINE: 100}[m])
    assert [(c.mode, c.tokens) for c in plan] == [(FULL, 1_000)]


def test_plan_best_tries_the_likeliest_file_whole_when_greedy_would_crowd_it_out() -> None:
    costs = {"core.py": {FULL: 18_000, SLICE: 5_000}, **{f"util{i}.py": {FULL: 2_000} for i in range(10)}}
    # per token, each small file beats the upgrade of core.py from its slice; together they leave no room for it
    chances = {"core.py": 0.4, **{f"util{i}.py": 0.031 for i in range(10)}}
    candidates = [(_record(p), chances[p]) for p in costs]

    def cost(record: FileRecord, mode: str) -> int | None:
        return costs[record.path].get(mode)

    greedy = plan_by_value(candidates, 20_000, cost, cost)
    assert {c.record.path: c.mode for c in greedy}["core.py"] == SLICE  # the small files came first
    best = plan_best(candidates, 20_000, cost, cost)
    assert {c.record.path: c.mode for c in best}["core.py"] == FULL
    assert value(best) > value(greedy) and sum(c.tokens for c in best) <= 20_000
