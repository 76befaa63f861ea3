"""The edits package on real files: matching, patches, apply with the pre-image check, checkpoints, undo."""

from __future__ import annotations

import importlib.util
import os
import py_compile
import subprocess
import sys
from pathlib import Path

import pytest

from kimicode.edits.apply import apply_changes
from kimicode.edits.change import FileChange, digest
from kimicode.edits.checkpoint import Checkpoint, Undone, compose, pending_sets, session_changes, undo_last
from kimicode.edits.diff import summary, unified_diff
from kimicode.edits.match import NoMatch, replace_block
from kimicode.edits.patch import PatchError, patch_changes

SOURCE = "def f(x):\n    return x + 1\n\n\nclass A:\n    def g(self):\n        return 2\n"


# -- matching ---------------------------------------------------------------------------------

def test_an_exact_unique_block_is_replaced_as_quoted() -> None:
    done = replace_block(SOURCE, "return x + 1", "return x + 2", "f.py")
    assert done.how == "exact" and done.line == 2
    assert done.text == SOURCE.replace("x + 1", "x + 2")


def test_trailing_whitespace_and_blank_edges_are_tolerated() -> None:
    done = replace_block(SOURCE, "\ndef f(x):   \n    return x + 1  \n\n", "def f(x):\n    return x + 3\n", "f.py")
    assert done.how == "trailing whitespace"
    assert done.text == SOURCE.replace("x + 1", "x + 3")


def test_a_block_quoted_with_the_wrong_indentation_is_reindented_as_the_file_has_it() -> None:
    quoted = "def g(self):\n    return 2\n"  # the model dropped the class's indentation
    done = replace_block(SOURCE, quoted, "def g(self):\n    if self:\n        return 3\n    return 2\n", "f.py")
    assert done.how == "indentation" and done.line == 6
    assert done.text.endswith("class A:\n    def g(self):\n        if self:\n            return 3\n        return 2\n")


def test_crlf_files_keep_their_line_endings_and_a_missing_last_newline() -> None:
    text = "a\r\nb\r\nc"
    assert replace_block(text, "b\nc", "B\nC", "w.txt").text == "a\r\nB\r\nC"
    assert replace_block(text, "b  \nc", "B\nC\n", "w.txt").text == "a\r\nB\r\nC"


def test_a_block_not_in_the_file_is_refused_with_the_nearest_lines() -> None:
    with pytest.raises(NoMatch) as caught:
        replace_block(SOURCE, "class A:\n    def h(self):\n        return 2\n", "x", "f.py")
    message = str(caught.value)
    assert "not in f.py" in message and "nothing was changed" in message
    assert "5| class A:" in message and "6|     def g(self):" in message and "7|         return 2" in message


def test_a_block_found_twice_is_refused() -> None:
    with pytest.raises(NoMatch, match="2 times"):
        replace_block("x = 1\nx = 1\n", "x = 1", "x = 2", "d.py")
    with pytest.raises(NoMatch, match="2 places"):
        replace_block("x = 1 \nx = 1\t\n", "x = 1\n", "x = 2\n", "d.py")
    with pytest.raises(NoMatch, match="empty"):
        replace_block("x\n", "  \n", "y", "d.py")


# -- diffs and patches ------------------------------------------------------------------------

def test_a_diff_applied_as_a_patch_gives_the_change_back_for_every_kind_of_file() -> None:
    files = {"a.py": SOURCE, "nonl.txt": "one\ntwo", "crlf.txt": "x\r\ny\r\n", "gone.txt": "bye\n"}
    changes = [FileChange("a.py", SOURCE, SOURCE.replace("return 2", "return 4")),
               FileChange("nonl.txt", "one\ntwo", "one\ntwo\nthree"),
               FileChange("crlf.txt", "x\r\ny\r\n", "x\r\nz\r\n"),
               FileChange("new/b.txt", None, "hello\n"),
               FileChange("gone.txt", "bye\n", None)]
    patch = "".join(unified_diff(c) for c in changes)
    assert "\\ No newline at end of file" in patch and "--- /dev/null" in patch and "+++ /dev/null" in patch
    assert patch_changes(patch, files.get) == changes


def test_hunks_are_placed_where_the_lines_moved_to_and_a_stale_hunk_refuses_the_patch() -> None:
    change = FileChange("a.py", SOURCE, SOURCE.replace("return 2", "return 4"))
    moved = "# header\n" * 7 + SOURCE
    [placed] = patch_changes(unified_diff(change), {"a.py": moved}.get)
    assert placed.after == "# header\n" * 7 + change.after
    with pytest.raises(PatchError, match="hunk 1 of a.py does not match"):
        patch_changes(unified_diff(change), {"a.py": SOURCE.replace("return 2", "return 9")}.get)
    with pytest.raises(PatchError, match="no such file"):
        patch_changes(unified_diff(change), {}.get)
    with pytest.raises(PatchError, match="not a unified diff|no file"):
        patch_changes("just some words\n", {}.get)
    with pytest.raises(PatchError, match="renames"):
        patch_changes("--- a/x.py\n+++ b/y.py\n@@ -1 +1 @@\n-a\n+b\n", {"x.py": "a\n"}.get)


def test_the_summary_counts_lines() -> None:
    assert summary(FileChange("a.py", "a\nb\n", "a\nc\nd\n")) == "a.py: modified, +2 -1"
    assert summary(FileChange("n.py", None, "x\n")) == "n.py: created, +1 -0"


# -- apply and undo on disk --------------------------------------------------------------------

def test_a_set_is_applied_whole_or_not_at_all(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes(b"a\n")
    (tmp_path / "b.txt").write_bytes(b"b\n")
    ok = apply_changes(tmp_path, [FileChange("a.txt", "a\n", "A\n"), FileChange("c/new.txt", None, "new\n")])
    assert ok.ok and (tmp_path / "a.txt").read_bytes() == b"A\n" and (tmp_path / "c/new.txt").read_bytes() == b"new\n"
    (tmp_path / "b.txt").write_bytes(b"the user's edit\n")  # changed after kimicode read it
    stale = apply_changes(tmp_path, [FileChange("a.txt", "A\n", "AA\n"), FileChange("b.txt", "b\n", "B\n")])
    assert not stale.ok and [r.path for r in stale.refused] == ["b.txt"]
    assert "changed on disk since kimicode read it" in stale.refused[0].reason
    assert (tmp_path / "a.txt").read_bytes() == b"A\n" and (tmp_path / "b.txt").read_bytes() == b"the user's edit\n"
    created = apply_changes(tmp_path, [FileChange("c/new.txt", None, "again\n")])
    assert "was created since" in created.refused[0].reason


def test_python_runs_the_edited_code_even_within_the_second_the_old_code_was_compiled(tmp_path: Path) -> None:
    """A .pyc is trusted while its source keeps its mtime (whole seconds) and size: the test loop's next
    round can edit a file, to the same size, within the second the last round compiled it."""
    source = tmp_path / "calc.py"
    source.write_text("RESULT = 'old'\n")
    py_compile.compile(str(source), cfile=importlib.util.cache_from_source(str(source)), doraise=True)
    compiled_at = source.stat().st_mtime
    assert apply_changes(tmp_path, [FileChange("calc.py", "RESULT = 'old'\n", "RESULT = 'new'\n")]).ok
    os.utime(source, (compiled_at, compiled_at))  # the same second, as a fast round gets
    ran = subprocess.run([sys.executable, "-c", "import calc; print(calc.RESULT)"], cwd=tmp_path,
                         capture_output=True, text=True, check=True)
    assert ran.stdout.strip() == "new"


def test_undo_restores_exact_bytes_and_mode_and_refuses_a_file_changed_since(tmp_path: Path) -> None:
    originals = {"crlf.txt": b"one\r\ntwo\r\n", "nonl.txt": b"no newline", "tool.sh": b"#!/bin/sh\necho hi\n"}
    for name, data in originals.items():
        (tmp_path / name).write_bytes(data)
    (tmp_path / "tool.sh").chmod(0o755)
    changes = [FileChange(n, d.decode(), d.decode() + "more\n") for n, d in originals.items()]
    changes.append(FileChange("made.txt", None, "made\n"))
    first = apply_changes(tmp_path, changes[:2])
    second = apply_changes(tmp_path, changes[2:])
    records: list[object] = [Checkpoint("s1", first.applied), Checkpoint("s1", second.applied)]
    assert (tmp_path / "tool.sh").stat().st_mode & 0o777 == 0o755
    (tmp_path / "nonl.txt").write_bytes(b"the user typed here")
    refused = undo_last(tmp_path, records)
    assert not refused.ok and "nonl.txt changed since kimicode wrote it" in refused.refused[0].reason
    assert (tmp_path / "made.txt").exists()  # all or nothing
    (tmp_path / "nonl.txt").write_bytes(b"no newlinemore\n")
    done = undo_last(tmp_path, records)
    assert done.ok and done.set_id == "s1"
    for name, data in originals.items():
        assert (tmp_path / name).read_bytes() == data
    assert not (tmp_path / "made.txt").exists()
    assert (tmp_path / "tool.sh").stat().st_mode & 0o777 == 0o755
    assert undo_last(tmp_path, [*records, Undone("s1")]).set_id == ""  # nothing left


def test_undoing_a_created_file_removes_the_folders_made_for_it_and_no_other(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg/keep.py").write_text("kept\n")
    (tmp_path / "empty_before").mkdir()
    made = apply_changes(tmp_path, [FileChange("pkg/sub/deep/new.py", None, "new\n"), FileChange("empty_before/x.py", None, "x\n")])
    assert made.ok and (tmp_path / "pkg/sub/deep/new.py").exists()
    assert undo_last(tmp_path, [Checkpoint("s1", made.applied)]).ok
    assert not (tmp_path / "pkg/sub").exists() and (tmp_path / "pkg/keep.py").read_text() == "kept\n"
    assert not (tmp_path / "empty_before").exists()  # emptied by the undo, as `git rm` leaves it
    assert tmp_path.is_dir()


def test_sets_compose_per_file_and_undone_sets_leave_the_session_diff() -> None:
    records: list[object] = [Checkpoint("s1", (FileChange("a", "1", "2"),)), Checkpoint("s2", (FileChange("a", "2", "3"),)),
                             Checkpoint("s2", (FileChange("b", None, "x"), FileChange("a", "3", "4")))]
    assert pending_sets(records) == ["s1", "s2"]
    assert session_changes(records) == (FileChange("a", "1", "4"), FileChange("b", None, "x"))
    assert session_changes([*records, Undone("s2")]) == (FileChange("a", "1", "2"),)
    assert compose([FileChange("c", "x", "y"), FileChange("c", "y", "x")]) == ()


def test_a_checkpoint_round_trips_and_a_damaged_one_is_rejected() -> None:
    point = Checkpoint("s1", (FileChange("a.py", "x\r\n", None), FileChange("b.py", None, "ü\n")), "t")
    data = point.to_dict()
    assert data["files"][0]["before_sha256"] == digest("x\r\n") and data["files"][0]["after_sha256"] == ""
    assert Checkpoint.from_dict(data) == point
    data["files"][1]["after"] = "tampered\n"
    with pytest.raises(ValueError, match="does not match its hashes"):
        Checkpoint.from_dict(data)


def test_blank_lines_at_the_edges_and_stray_trailing_blanks_of_a_fuzzy_quote_are_not_written() -> None:
    text = "a = 1\n\n\ndef f():\n    return 1\n\n\nb = 2\n"
    done = replace_block(text, "def f():  \n    return 1 \n\n\n\n", "def f():  \n    return 2 \n\n\n\n", "m.py")
    assert done.text == "a = 1\n\n\ndef f():\n    return 2\n\n\nb = 2\n"
    markdown = "line one  \nline two\n"  # a Markdown hard break: trailing blanks the file means
    assert replace_block(markdown, "line one \nline two", "line one \nline 2", "r.md").text == "line one \nline 2\n"


def test_lines_kept_as_quoted_keep_the_files_own_alignment() -> None:
    text = "CALLS = (one,\n         two,\n          three)\n"  # hand-aligned continuation lines
    quoted = "CALLS = (one,\n\ttwo,\n\tthree)\n"  # a quote that lost the alignment
    done = replace_block(text, quoted, "# the calls\nCALLS = (one,\n\ttwo,\n\tthree)\n", "c.py")
    assert done.how == "indentation"
    assert done.text == "# the calls\n" + text


def test_a_line_that_appears_twice_in_a_reindented_block_keeps_each_ones_indentation() -> None:
    text = "def f(xs):\n    for x in xs:\n        if x:\n            add(x)\n        add(x)\n    return 1\n"
    quoted = "for x in xs:\n    if x:\n        add(x)\n    add(x)\nreturn 1\n"  # dedented by four
    done = replace_block(text, quoted, quoted.replace("return 1", "return 2"), "f.py")
    assert done.how == "indentation" and done.text == text.replace("return 1", "return 2")


def test_the_nearest_lines_are_found_when_no_quoted_line_is_in_the_file() -> None:
    text = "".join(f"value_{n} = compute({n})\n" for n in range(2000)) + "def handler(request):\n    return respond(request)\n"
    with pytest.raises(NoMatch) as caught:
        replace_block(text, "def handlr(req):\n    return respnd(req)\n", "x", "big.py")
    assert "2001| def handler(request):" in str(caught.value) and "2002|     return respond(request)" in str(caught.value)
