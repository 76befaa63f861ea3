"""Edits in a conversation: the edit tools on or off, one ``Editor`` per turn, /undo and /diff.

Each turn that may edit gets its own ``Editor`` whose set id is the turn's (``turn-7``): what one
chat turn applied is one set, undone as one. Its checkpoints go to the conversation's own
session file through its ``SessionLog``, the same records ``ask --edit`` writes, so /undo after a
restart and ``kimicode undo`` find them. The face supplies ``decide`` (show the diff, return the
approved changes); until it does, every change is declined.
"""

from __future__ import annotations

from typing import Sequence

from kimicode.chat.log import SessionLog
from kimicode.chat.session import now
from kimicode.edits.change import FileChange
from kimicode.edits.checkpoint import Checkpoint, Undone, UndoResult, session_changes, undo_last
from kimicode.tools.base import Toolbox
from kimicode.tools.edit import EDIT_TOOLS, Decide, Editor, Proposal
from kimicode.tools.paths import RepoView


def _decline(proposal: Proposal) -> Sequence[FileChange]:
    return ()


class ChatEdits:
    """The edit tools of one conversation and the edit records of its session."""

    def __init__(self, view: RepoView, log: SessionLog, records: Sequence[object], toolbox: Toolbox) -> None:
        self.view = view
        self.log = log
        self.records: list[object] = [r for r in records if isinstance(r, (Checkpoint, Undone))]
        self.toolbox = toolbox
        self.decide: Decide = _decline  # the face's
        self.editor: Editor | None = None  # the current turn's

    @property
    def on(self) -> bool:
        return EDIT_TOOLS[0] in self.toolbox.tools

    def switch(self, on: bool) -> None:
        """The edit tools in the toolbox (or not) from the next request on."""
        for name in EDIT_TOOLS:
            self.toolbox.tools.pop(name, None)
        self.toolbox.approve = None
        self.editor = None
        if on:
            self._install(0)

    def begin(self, turn: int) -> None:
        """A new set for the turn ``turn``, when editing is on."""
        if self.on:
            self._install(turn)

    def _install(self, turn: int) -> None:
        editor = Editor(self.view, lambda proposal: self.decide(proposal), self._record, f"turn-{turn}", now)
        self.toolbox.tools.update({tool.name: tool for tool in editor.tools()})
        self.toolbox.approve = editor.approve
        self.editor = editor

    def _record(self, checkpoint: Checkpoint) -> None:
        self.log.write(checkpoint)  # OSError: the editor takes the change back
        self.records.append(checkpoint)

    def undo(self) -> UndoResult:
        """/undo: restore the pre-images of the last set not undone (all files or none) and record it."""
        result = undo_last(self.view.root, self.records)
        if result.ok:
            undone = Undone(result.set_id, now())
            self.log.write(undone)
            self.records.append(undone)
            self.view.refresh()  # a file the set created is gone again
        return result

    def changes(self) -> tuple[FileChange, ...]:
        """/diff: what kimicode changed in this session and did not undo, net per file."""
        return session_changes(self.records)
