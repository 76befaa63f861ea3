"""How the scan reads a listed file that changed before it got there."""

from __future__ import annotations

import os
from pathlib import Path

from kimicode.repo.cache import PackCache
from kimicode.repo.files import list_files
from kimicode.repo.scan import scan_files


def test_a_file_that_grew_since_it_was_listed_is_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "a.py"
    path.write_text("x = 1\n")
    listed = list_files(tmp_path).files
    path.write_text("x = 1\n" * 100_000)  # far past the listed size, and past one read's worth
    (record,) = scan_files(tmp_path, listed, PackCache(None)).records
    assert record.lines == 100_001


def test_a_fifo_put_where_a_listed_file_was_is_skipped_without_blocking(tmp_path: Path) -> None:
    path = tmp_path / "a.py"
    path.write_text("x = 1\n")
    listed = list_files(tmp_path).files
    path.unlink()
    os.mkfifo(path)  # nobody writes to it: reading it as a file would wait for ever
    result = scan_files(tmp_path, listed, PackCache(None))
    assert result.records == () and [s.reason for s in result.skipped] == ["unreadable"]
