"""Hunk parsing, numbering and splitting (kimicode.review.patch)."""

from __future__ import annotations

from kimicode.review.patch import Hunk, added_lines, counts, numbered, parse_hunks, split_hunk, whole_file_hunk

PATCH = """diff --git a/app.py b/app.py
index 1111111..2222222 100644
--- a/app.py
+++ b/app.py
@@ -1,3 +1,4 @@
 import os
+import sys
\x20
 def main():
@@ -10,4 +11,3 @@ def main():
     a = 1
-    b = 2
-    c = 3
+    b = 3
     return a
\\ No newline at end of file
"""


def test_parse_reads_starts_lines_and_section() -> None:
    hunks = parse_hunks(PATCH)
    assert [(h.old_start, h.new_start) for h in hunks] == [(1, 1), (10, 11)]
    assert hunks[0].lines == (" import os", "+import sys", " ", " def main():")
    assert hunks[1].section == " def main():"
    assert (hunks[1].old_count, hunks[1].new_count) == (4, 3)
    assert hunks[1].header == "@@ -10,4 +11,3 @@ def main():"


def test_added_lines_are_numbered_in_the_new_file() -> None:
    assert added_lines(parse_hunks(PATCH)) == {2: "import sys", 12: "    b = 3"}
    assert counts(parse_hunks(PATCH)) == (2, 2)


def test_numbered_puts_new_line_numbers_before_markers() -> None:
    lines = numbered(parse_hunks(PATCH)[1]).split("\n")
    assert lines[0] == "@@ -10,4 +11,3 @@ def main():"
    assert lines[1].split() == ["11", "a", "=", "1"]
    assert lines[2].startswith("     - ")  # removed lines carry no number
    assert lines[4].split()[:2] == ["12", "+"]
    assert lines[5].split()[0] == "13"
    assert lines[6].endswith("\\ No newline at end of file")


def test_numbered_takes_replacement_texts() -> None:
    hunk = parse_hunks(PATCH)[0]
    text = numbered(hunk, ["import os", "import [REDACTED]", "", "def main():"])
    assert "2 + import [REDACTED]" in text


def test_split_hunk_keeps_numbers_consistent() -> None:
    hunk = Hunk(5, 7, tuple([" a", "-b", "+c", "+d", " e", "-f", " g"]))
    pieces = split_hunk(hunk, 3)
    assert [len(p.lines) for p in pieces] == [3, 3, 1]
    assert [(p.old_start, p.new_start) for p in pieces] == [(5, 7), (7, 9), (9, 11)]
    assert sum(p.new_count for p in pieces) == hunk.new_count
    assert added_lines(pieces) == added_lines([hunk])
    assert split_hunk(hunk, 100) == [hunk]


def test_whole_file_hunk_adds_every_line() -> None:
    hunk = whole_file_hunk("one\ntwo\n")
    assert hunk.lines == ("+one", "+two")
    assert added_lines([hunk]) == {1: "one", 2: "two"}
    assert whole_file_hunk("").lines == ()


def test_lines_before_the_first_hunk_are_ignored() -> None:
    assert parse_hunks("diff --git a/x b/x\nBinary files a/x and b/x differ\n") == []
