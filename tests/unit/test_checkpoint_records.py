"""Checkpoints in session files: a format-3 session takes them (and loads as before), damaged ones are
skipped, the session that edited last is found, and undo is recorded there."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kimicode.chat.checkpoints import changes_in, edit_session, latest_edited, undo_in
from kimicode.chat.log import SessionLog
from kimicode.chat.records import FORMAT_VERSION
from kimicode.chat.session import SessionFile, SessionLocked, SessionStore, load_session
from kimicode.edits.apply import apply_changes
from kimicode.edits.change import FileChange
from kimicode.edits.checkpoint import Checkpoint, Undone


def applied(root: Path, *changes: FileChange) -> tuple[FileChange, ...]:
    result = apply_changes(root, changes)
    assert result.ok
    return result.applied


def test_a_format_3_session_takes_checkpoints_and_its_old_records_load_as_before(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    (root / "a.txt").write_bytes(b"old\n")
    store = SessionStore(tmp_path / "data")
    folder = store.repo_dir(root)
    folder.mkdir(parents=True)
    path = folder / "20260101-000000-abcd.jsonl"
    old = [{"type": "session", "id": path.stem, "root": str(root), "created": "t", "version": 3},
           {"type": "turn", "id": 1, "role": "user", "text": "hi"},
           {"type": "hide", "ids": [1], "summary": "s"}]
    text = "".join(json.dumps(r) + "\n" for r in old)
    path.write_text(text)
    log = SessionLog(SessionFile.reopen(path), load_session(path))
    log.write(Checkpoint("s1", applied(root, FileChange("a.txt", "old\n", "new\n")), "2026-01-01T00:00:01"))
    log.close()
    lines = path.read_text().splitlines()
    assert path.read_text().startswith(text) and json.loads(lines[3]) == {"type": "version", "version": FORMAT_VERSION}
    loaded = load_session(path)
    assert loaded.warnings == [] and [t.text for t in loaded.turns] == ["hi"]
    assert [r.kind for r in loaded.records] == ["hide", "checkpoint"]
    assert latest_edited(store, root) is not None and changes_in(path) == (FileChange("a.txt", "old\n", "new\n"),)
    assert undo_in(path, root).ok and (root / "a.txt").read_bytes() == b"old\n"
    assert isinstance(load_session(path).records[-1], Undone) and latest_edited(store, root) is None


def test_a_damaged_checkpoint_is_skipped_with_a_warning(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    store = SessionStore(tmp_path / "data")
    log = edit_session(store, root)
    log.write(Checkpoint("s1", (FileChange("a.txt", None, "x\n"),)))
    log.close()
    raw = log.path.read_text().replace('"after":"x\\n"', '"after":"tampered\\n"')
    log.path.write_text(raw)
    loaded = load_session(log.path)
    assert loaded.records == [] and "a checkpoint record could not be read" in loaded.warnings[0]


def test_the_session_that_edited_last_is_undone_first_and_an_open_one_is_locked(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    store = SessionStore(tmp_path / "data")
    first, second = edit_session(store, root), edit_session(store, root)
    second.write(Checkpoint("early", applied(root, FileChange("b.txt", None, "b\n")), "2026-01-01T00:00:01"))
    first.write(Checkpoint("late", applied(root, FileChange("c.txt", None, "c\n")), "2026-01-01T00:00:09"))
    second.close()
    found = latest_edited(store, root)
    assert found is not None and found.path == first.path and found.set_id == "late"
    with pytest.raises(SessionLocked):
        undo_in(first.path, root)  # the first session is still open in "another kimicode"
    first.close()
    assert undo_in(first.path, root).restored == (FileChange("c.txt", "c\n", None),)
    found = latest_edited(store, root)
    assert found is not None and found.path == second.path
