"""The snapshot of every file record (cache.store_records), its patch, and the table they stand for."""

from __future__ import annotations

from pathlib import Path

from kimicode.repo.cache import PATCH_MOST, FileRecord, PackCache
from kimicode.repo.terms import VERSION as TERMS_VERSION


def _record(path: str, size: int) -> FileRecord:
    return FileRecord(path, size, 7, "ab" * 16, "python", None, 3, True, ("os",))


def _table(cache: PackCache) -> dict[str, FileRecord]:
    """What the files table holds, read past the snapshot."""
    fresh = PackCache(cache._path)
    fresh.put_state(f"records:{TERMS_VERSION}", b"\x00")  # a damaged snapshot: the table is read
    records, from_snapshot = fresh.file_records()
    assert not from_snapshot
    fresh.close()
    return records


def test_the_snapshot_and_its_patch_follow_the_table(tmp_path: Path) -> None:
    cache = PackCache(tmp_path / "c.sqlite")
    first = [_record("a.py", 1), _record("b.py", 2)]
    cache.put_files(first, {"a.py": "f"})
    assert cache.file_records() == ({r.path: r for r in first}, False)  # no snapshot yet: the table
    cache.store_records(first)
    cache.close()
    cache = PackCache(tmp_path / "c.sqlite")
    assert cache.file_records() == ({r.path: r for r in first}, True)
    # rows written since the snapshot go to its patch, in the same transaction
    cache.put_files([_record("a.py", 9), _record("c.py", 3)], {}, removed=["b.py"])
    cache.put_files([_record("c.py", 4)], {})
    cache.close()
    cache = PackCache(tmp_path / "c.sqlite")
    records, from_snapshot = cache.file_records()
    assert from_snapshot and records == {"a.py": _record("a.py", 9), "c.py": _record("c.py", 4)} == _table(cache)
    cache.close()


def test_a_long_patch_drops_the_snapshot(tmp_path: Path) -> None:
    cache = PackCache(tmp_path / "c.sqlite")
    cache.file_records()
    cache.store_records([_record("a.py", 1)])
    cache.put_files([_record("a.py", 1)], {})
    cache.put_files([_record(f"m{i}.py", i) for i in range(PATCH_MOST)], {})  # a checkout of another branch
    assert not cache.has_snapshot
    records, from_snapshot = PackCache(tmp_path / "c.sqlite").file_records()
    assert not from_snapshot and len(records) == PATCH_MOST + 1


def test_a_damaged_snapshot_falls_back_to_the_table(tmp_path: Path) -> None:
    cache = PackCache(tmp_path / "c.sqlite")
    cache.put_files([_record("a.py", 1)], {})
    cache.store_records([_record("a.py", 1)])
    cache.put_state(f"records:{TERMS_VERSION}", b"\x00junk")
    assert cache.file_records() == ({"a.py": _record("a.py", 1)}, False)
    cache.close()
