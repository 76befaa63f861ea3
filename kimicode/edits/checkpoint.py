"""Checkpoints: every applied set of changes, recorded with its pre- and post-images, and undoing the last.

A set is what kimicode applied for one turn (one ``ask``, one chat turn, the test rounds
included); each apply writes one ``Checkpoint`` record as it happens, so a stopped process
leaves nothing unrecorded. Undo restores the pre-images of the last set that is not undone,
only when every file is still exactly what kimicode wrote (the post-image hash): a file the
user changed since is never overwritten. Nothing here writes the session or prints: callers
record the ``Checkpoint`` and ``Undone`` records and show the typed results.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, Iterable, Sequence

from kimicode.edits.apply import Refused, apply_changes
from kimicode.edits.change import FileChange, digest


def _text(value: Any) -> str | None:
    if value is not None and not isinstance(value, str):
        raise ValueError("a file's content must be text or null")
    return value


@dataclass(frozen=True)
class Checkpoint:
    """One applied batch of changes of the set ``set_id`` (session record kind ``checkpoint``)."""

    kind: ClassVar[str] = "checkpoint"
    set_id: str
    changes: tuple[FileChange, ...]
    time: str = ""

    def to_dict(self) -> dict[str, Any]:
        files = [{"path": c.path, "before": c.before, "after": c.after,
                  "before_sha256": digest(c.before), "after_sha256": digest(c.after)} for c in self.changes]
        return {"set": self.set_id, "files": files, "time": self.time}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Checkpoint:
        changes = []
        for entry in data["files"]:
            change = FileChange(str(entry["path"]), _text(entry["before"]), _text(entry["after"]))
            if digest(change.before) != entry["before_sha256"] or digest(change.after) != entry["after_sha256"]:
                raise ValueError(f"the checkpoint of {change.path} does not match its hashes")
            changes.append(change)
        return cls(str(data["set"]), tuple(changes), str(data.get("time", "")))


@dataclass(frozen=True)
class Undone:
    """The set ``set_id`` was undone (session record kind ``undo``)."""

    kind: ClassVar[str] = "undo"
    set_id: str
    time: str = ""


def new_set_id() -> str:
    """A set's id: when it began, and a random part (two sets may begin in one second)."""
    return f"{datetime.now():%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


def compose(changes: Iterable[FileChange]) -> tuple[FileChange, ...]:
    """The net change per file (first pre-image, last post-image), in the order files were first
    touched; files that end as they began are left out."""
    net: dict[str, FileChange] = {}
    for change in changes:
        first = net.get(change.path)
        net[change.path] = change if first is None else FileChange(change.path, first.before, change.after)
    return tuple(c for c in net.values() if c.kind != "none")


def pending_sets(records: Iterable[object]) -> list[str]:
    """The ids of the sets applied and not undone, oldest first."""
    order: list[str] = []
    for record in records:
        if isinstance(record, Checkpoint) and record.set_id not in order:
            order.append(record.set_id)
        elif isinstance(record, Undone) and record.set_id in order:
            order.remove(record.set_id)
    return order


def set_changes(records: Iterable[object], set_id: str) -> tuple[FileChange, ...]:
    """The net changes of one set."""
    return compose(c for r in records if isinstance(r, Checkpoint) and r.set_id == set_id for c in r.changes)


def session_changes(records: Sequence[object]) -> tuple[FileChange, ...]:
    """What kimicode changed in a session and did not undo: the net change per file (for ``diff``)."""
    pending = set(pending_sets(records))
    return compose(c for r in records if isinstance(r, Checkpoint) and r.set_id in pending for c in r.changes)


@dataclass(frozen=True)
class UndoResult:
    set_id: str = ""  # "": there was nothing to undo
    restored: tuple[FileChange, ...] = ()  # the changes written: each one's ``after`` is the restored pre-image
    refused: tuple[Refused, ...] = ()

    @property
    def ok(self) -> bool:
        return bool(self.set_id) and not self.refused


def undo_last(root: Path, records: Sequence[object]) -> UndoResult:
    """Restore the pre-images of the last set not undone; all files or none. The caller records
    ``Undone(result.set_id)`` when ``result.ok``."""
    sets = pending_sets(records)
    if not sets:
        return UndoResult()
    last = sets[-1]
    back = [c.reversed() for c in set_changes(records, last)]
    result = apply_changes(root, back)
    if not result.ok:
        refused = tuple(Refused(r.path, f"{r.path} changed since kimicode wrote it: nothing was undone")
                        for r in result.refused)
        return UndoResult(last, (), refused)
    return UndoResult(last, result.applied, ())
