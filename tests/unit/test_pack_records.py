"""The snapshot of every file record (cache.store_records) and the table it stands for."""

from __future__ import annotations

from pathlib import Path

from kimicode.repo.cache import FileRecord, PackCache
from kimicode.repo.terms import VERSION as TERMS_VERSION


def _record(path: str, size: int) -> FileRecord:
    return FileRecord(path, size, 7, "ab" * 16, "python", None, 3, True, ("os",))


def test_records_come_from_the_snapshot_until_the_table_changes(tmp_path: Path) -> None:
    cache = PackCache(tmp_path / "c.sqlite")
    first = [_record("a.py", 1), _record("b.py", 2)]
    cache.put_files(first, {"a.py": "f"})
    assert cache.file_records() == ({r.path: r for r in first}, False)  # no snapshot yet: the table
    cache.store_records(first)
    assert cache.file_records() == ({r.path: r for r in first}, True)
    # a scan stopped after writing rows but before its snapshot: the table is read, not the stale snapshot
    cache.put_files([_record("a.py", 9)], {}, removed=["b.py"])
    records, from_snapshot = cache.file_records()
    assert records == {"a.py": _record("a.py", 9)} and not from_snapshot
    cache.close()


def test_a_damaged_snapshot_falls_back_to_the_table(tmp_path: Path) -> None:
    cache = PackCache(tmp_path / "c.sqlite")
    cache.put_files([_record("a.py", 1)], {})
    cache.store_records([_record("a.py", 1)])
    cache.put_state(f"records:{TERMS_VERSION}", b"\x00junk")
    assert cache.file_records() == ({"a.py": _record("a.py", 1)}, False)
    cache.close()
