"""The edits sessions recorded: a session for ``ask --edit``, the session to undo in, undo, the changes.

``kimicode undo`` and ``kimicode diff`` work across restarts: the checkpoints are in the
session files. Without a session id they take the repository's session whose last set not
undone was applied last (a chat's or an ``ask --edit``'s). A session open in a running
kimicode is locked: undo there refuses with one line (use /undo in that kimicode).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kimicode.chat.log import SessionLog
from kimicode.chat.session import LoadedSession, SessionFile, SessionStore, load_session, now
from kimicode.edits.change import FileChange
from kimicode.edits.checkpoint import Checkpoint, Undone, UndoResult, pending_sets, session_changes, undo_last


def edit_session(store: SessionStore, root: Path, model: str = "") -> SessionLog:
    """A new session of ``root`` for the checkpoints of one ``ask --edit``."""
    file, meta = store.create(root, model)
    return SessionLog(file, LoadedSession(meta, file.path))


@dataclass(frozen=True)
class Edited:
    path: Path  # the session file
    set_id: str  # its last set not undone ("" when none)
    time: str  # when that set was last applied to


def _edited(path: Path) -> Edited | None:
    try:
        if b'"checkpoint"' not in path.read_bytes():  # most sessions never edited: not parsed
            return None
    except OSError:
        return None
    records = load_session(path).records
    sets = pending_sets(records)
    if not sets:
        return Edited(path, "", "")
    times = [r.time for r in records if isinstance(r, Checkpoint) and r.set_id == sets[-1]]
    return Edited(path, sets[-1], max(times, default=""))


def latest_edited(store: SessionStore, root: Path, pending: bool = True) -> Edited | None:
    """The session of ``root`` that applied a set last (``pending``: of the sets not undone)."""
    found = [e for e in map(_edited, (info.path for info in store.list(root))) if e is not None]
    if pending:
        found = [e for e in found if e.set_id]
    # store.list gives the most recently written first: it breaks ties of the second-resolution times
    return max(reversed(found), key=lambda e: e.time, default=None)


def undo_in(path: Path, root: Path) -> UndoResult:
    """Undo the last set of the session ``path`` and record it; SessionLocked when it is open elsewhere."""
    file = SessionFile.reopen(path)  # locked while we read and write: no kimicode adds a set meanwhile
    try:
        loaded = load_session(path)
        result = undo_last(root, loaded.records)
        if result.ok:
            SessionLog(file, loaded).write(Undone(result.set_id, now()))
        return result
    finally:
        file.close()


def changes_in(path: Path) -> tuple[FileChange, ...]:
    """What the session ``path`` changed and did not undo, net per file."""
    return session_changes(load_session(path).records)
