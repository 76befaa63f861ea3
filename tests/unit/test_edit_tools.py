"""The edit tools through the Toolbox, on real git repositories: path rules, approval, the pre-image check."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Sequence

import pytest

from kimicode.edits.change import FileChange
from kimicode.edits.checkpoint import Checkpoint
from kimicode.tools.base import Toolbox, ToolError
from kimicode.tools.edit import Editor, Proposal
from kimicode.tools.paths import RepoView
from tests.repos import make_repo

FILES = {"app.py": "def main():\n    return 1\n", ".gitignore": "build/\n", "docs/notes.md": "# notes\n",
         "settings.py": "TOKEN = 'ghp_0123456789abcdefghijklmnopqrstuvwxyzAB'\nDEBUG = False\n"}


class Face:
    """What a face does: shows each proposal, answers with the approved changes, keeps what was recorded."""

    def __init__(self, answer: bool = True, during: Any = None, disk_full: bool = False) -> None:
        self.answer, self.during, self.disk_full = answer, during, disk_full
        self.shown: list[Proposal] = []
        self.recorded: list[Checkpoint] = []

    def decide(self, proposal: Proposal) -> Sequence[FileChange]:
        self.shown.append(proposal)
        if self.during is not None:
            self.during()
        return proposal.changes if self.answer else ()

    def record(self, checkpoint: Checkpoint) -> None:
        if self.disk_full:
            raise OSError(28, "No space left on device")
        self.recorded.append(checkpoint)


def setup(tmp_path: Path, face: Face) -> tuple[Path, Toolbox]:
    root = tmp_path / "repo"
    make_repo(root, FILES)
    (root / ".env").write_text("API_KEY=sk-live-0123456789abcdef0123\n")
    (tmp_path / "outside.txt").write_text("OUTSIDE\n")
    editor = Editor(RepoView(root), face.decide, face.record, "set-1")
    return root, Toolbox.of(editor.tools(), approve=editor.approve)


def call(box: Toolbox, name: str, **arguments: Any) -> tuple[str, bool]:
    outcome = box.call(name, json.dumps(arguments))
    return outcome.text, outcome.error


def test_edits_outside_the_repository_or_into_secret_and_ignored_files_are_refused(tmp_path: Path) -> None:
    face = Face()
    root, box = setup(tmp_path, face)
    os.symlink(tmp_path / "outside.txt", root / "link.txt")
    refused = {
        "leaves the repository": call(box, "write_file", path="../outside.txt", content="x"),
        "absolute path": call(box, "write_file", path=str(tmp_path / "outside.txt"), content="x"),
        "secret file": call(box, "edit_file", path=".env", old="API_KEY", new="X"),
        "secret file ": call(box, "write_file", path="config/.env.local", content="A=1\n"),
        "ignored": call(box, "write_file", path="build/gen.py", content="x = 1\n"),
        "git's own files": call(box, "write_file", path=".git/hooks/pre-commit", content="#!/bin/sh\n"),
        "outside the repository": call(box, "edit_file", path="link.txt", old="OUTSIDE", new="IN"),
    }
    for words, (text, error) in refused.items():
        assert error and words.strip() in text, (words, text)
    patched = call(box, "apply_patch", patch="--- a/../outside.txt\n+++ b/../outside.txt\n@@ -1 +1 @@\n-OUTSIDE\n+IN\n")
    assert patched[1] and "leaves the repository" in patched[0]
    assert (tmp_path / "outside.txt").read_text() == "OUTSIDE\n" and not (root / "build").exists()
    assert (root / ".env").read_text().startswith("API_KEY=sk-live") and face.shown == [] and face.recorded == []


def test_an_approved_edit_is_applied_and_recorded_and_a_new_file_can_be_edited_next(tmp_path: Path) -> None:
    face = Face()
    root, box = setup(tmp_path, face)
    text, error = call(box, "edit_file", path="app.py", old="return 1", new="return 2")
    assert not error and text == "applied app.py: modified, +1 -1"
    assert (root / "app.py").read_text() == "def main():\n    return 2\n"
    assert call(box, "write_file", path="pkg/new.py", content="X = 1\n") == ("applied pkg/new.py: created, +1 -0", False)
    assert call(box, "edit_file", path="pkg/new.py", old="X = 1", new="X = 2")[1] is False
    assert [c.changes[0].path for c in face.recorded] == ["app.py", "pkg/new.py", "pkg/new.py"]
    assert {c.set_id for c in face.recorded} == {"set-1"}


def test_a_non_matching_edit_reaches_the_model_never_the_user(tmp_path: Path) -> None:
    face = Face()
    root, box = setup(tmp_path, face)
    text, error = call(box, "edit_file", path="app.py", old="def main():\n    return 7\n", new="x")
    assert error and "not in app.py" in text and "1| def main():" in text and "2|     return 1" in text
    assert face.shown == [] and (root / "app.py").read_text() == FILES["app.py"]


def test_the_nearest_lines_of_a_miss_are_redacted(tmp_path: Path) -> None:
    face = Face()
    _, box = setup(tmp_path, face)
    text, error = call(box, "edit_file", path="settings.py", old="TOKEN = 'abc'\nDEBUG = True\n", new="x")
    assert error and "DEBUG = False" in text and "ghp_0123" not in text and "[REDACTED" in text


def test_a_redaction_marker_is_never_written_over_a_secret(tmp_path: Path) -> None:
    face = Face()
    root, box = setup(tmp_path, face)
    quoted = call(box, "edit_file", path="settings.py", old="TOKEN = '[REDACTED:GitHub Token]'\n", new="TOKEN = ''\n")
    assert quoted[1] and "redaction marker" in quoted[0]
    rewritten = call(box, "write_file", path="settings.py", content="TOKEN = '[REDACTED:GitHub Token]'\nDEBUG = True\n")
    assert rewritten[1] and "never writes one into a file" in rewritten[0]
    assert (root / "settings.py").read_text() == FILES["settings.py"]
    assert call(box, "edit_file", path="settings.py", old="DEBUG = False", new="DEBUG = True")[1] is False


def test_a_declined_edit_changes_nothing_and_says_so(tmp_path: Path) -> None:
    face = Face(answer=False)
    root, box = setup(tmp_path, face)
    text, error = call(box, "edit_file", path="app.py", old="return 1", new="return 2")
    assert error and "declined" in text and len(face.shown) == 1
    assert (root / "app.py").read_text() == FILES["app.py"] and face.recorded == []


def test_an_edit_is_refused_when_the_file_changes_while_the_user_looks_at_the_diff(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    face = Face(during=lambda: (root / "app.py").write_text("def main():\n    return 'the user typed this'\n"))
    root, box = setup(tmp_path, face)
    text, error = call(box, "edit_file", path="app.py", old="return 1", new="return 2")
    assert error and "app.py changed on disk since kimicode read it" in text
    assert (root / "app.py").read_text() == "def main():\n    return 'the user typed this'\n" and face.recorded == []


def test_a_change_that_cannot_be_recorded_is_taken_back(tmp_path: Path) -> None:
    face = Face(disk_full=True)  # the session cannot be written
    root, box = setup(tmp_path, face)
    text, error = call(box, "edit_file", path="app.py", old="return 1", new="return 2")
    assert error and "could not be recorded" in text and "taken back" in text
    assert (root / "app.py").read_text() == FILES["app.py"]


@pytest.mark.parametrize("content", [b"\xff\xfe binary-ish latin-1 \xe9\n", b"x\0y\n"])
def test_files_that_are_not_utf8_text_are_not_edited(tmp_path: Path, content: bytes) -> None:
    face = Face()
    root, box = setup(tmp_path, face)
    (root / "data.txt").write_bytes(content)
    text, error = call(box, "write_file", path="data.txt", content="text\n")
    assert error and (root / "data.txt").read_bytes() == content


def test_in_a_plain_folder_new_files_follow_every_gitignore_on_their_way(tmp_path: Path) -> None:
    root = tmp_path / "plain"  # no git: the .gitignore files are read as git would
    for rel, text in {".gitignore": "build/\n*.log\n", "sub/.gitignore": "local.txt\n!keep.log\n", "a.py": "A = 1\n"}.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    view = RepoView(root)
    for path in ("build/x.py", "deep/build/y.py", "err.log", "sub/local.txt"):
        with pytest.raises(ToolError, match="ignored"):
            view.writable(path)
    assert [view.writable(p) for p in ("sub/keep.log", "sub/new.py", "new.py")] == ["sub/keep.log", "sub/new.py", "new.py"]
