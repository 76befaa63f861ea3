"""The scan: listed files -> records, read once per content, whatever happened to them since the listing."""

from __future__ import annotations

import os
from pathlib import Path

import git

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


def test_copies_of_one_content_get_records_of_their_own(tmp_path: Path) -> None:
    body = "import os\n\ndef helper():\n    return os.sep\n"
    for name in ("a/util.py", "vendor/a/util.py", "notes/util.txt", "keys/AKIAIOSFODNN7EXAMPLE.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(body)
    (tmp_path / "empty/__init__.py").parent.mkdir()
    (tmp_path / "empty/__init__.py").write_text("")
    (tmp_path / "other/__init__.py").parent.mkdir()
    (tmp_path / "other/__init__.py").write_text("")
    repo = git.Repo.init(tmp_path)
    repo.index.add(["a/util.py", "vendor/a/util.py", "notes/util.txt", "keys/AKIAIOSFODNN7EXAMPLE.py",
                    "empty/__init__.py", "other/__init__.py"])
    repo.index.commit("copies")
    listed = list_files(tmp_path).files
    assert len({f.oid for f in listed if f.path.endswith("util.py")}) == 1  # git vouches they are one content

    cache = PackCache(tmp_path / "cache.sqlite")
    result = scan_files(tmp_path, listed, cache)
    records = {r.path: r for r in result.records}
    assert set(records) == {"a/util.py", "vendor/a/util.py", "notes/util.txt", "empty/__init__.py", "other/__init__.py"}
    for path in ("a/util.py", "vendor/a/util.py"):
        assert records[path].path == path and records[path].imports == ("os",) and records[path].lines == 5
    assert records["notes/util.txt"].language is None and records["notes/util.txt"].imports == ()
    assert cache.defines()["vendor/a/util.py"] == cache.defines()["a/util.py"] == "helper"
    # a copy whose own name holds a secret is kept out, as it would be on its own
    assert [(s.path, s.reason.split(":")[0]) for s in result.skipped] == [("keys/AKIAIOSFODNN7EXAMPLE.py", "secret in file name")]
    # and a warm scan finds them all as they were
    again = scan_files(tmp_path, listed, PackCache(tmp_path / "cache.sqlite"))
    assert again.scanned == 0 and again.records == result.records
