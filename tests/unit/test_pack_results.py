"""The kept whole packs (cache.put_result / get_result): the least recently used goes first."""

from __future__ import annotations

from pathlib import Path

from kimicode.repo.cache import PackCache


def test_a_pack_used_again_outlives_newer_ones(tmp_path: Path) -> None:
    cache = PackCache(tmp_path / "c.sqlite")
    cache.put_result("before-the-edit", "pack A", keep=3)
    cache.put_result("q1", "pack 1", keep=3)
    cache.put_result("q2", "pack 2", keep=3)
    assert cache.get_result("before-the-edit") == "pack A"  # used again: now the newest
    cache.put_result("q3", "pack 3", keep=3)
    cache.put_result("q4", "pack 4", keep=3)
    assert cache.get_result("before-the-edit") == "pack A"
    assert cache.get_result("q1") is None and cache.get_result("q2") is None  # the least recently used went
    cache.put_result("q5", "pack 5", keep=3)
    cache.put_result("q6", "pack 6", keep=3)
    cache.put_result("q7", "pack 7", keep=3)
    assert cache.get_result("before-the-edit") is None  # not used since: it goes in its turn
    cache.close()
    reopened = PackCache(tmp_path / "c.sqlite")
    assert [reopened.get_result(k) for k in ("q5", "q6", "q7")] == ["pack 5", "pack 6", "pack 7"]
    reopened.close()
