"""The edit tools: edit_file, write_file, apply_patch; each change is proposed, approved, then applied.

The tools are ``read_only=False``, so the ``Toolbox`` asks ``Editor.approve`` before each call.
That is where the change is made (matched against the file as it is now) and shown to the
face's ``decide``, which returns the changes the user approved (all, some files of a patch, or
none). ``run`` then applies them with the pre-image check, records the checkpoint through
``record`` (a change that cannot be recorded is taken back: nothing applied goes unrecorded)
and tells the model what happened, without file contents. Paths follow the read tools' rules
(``RepoView.writable``). A non-matching block is an error the model reads, with the nearest
lines (redacted), and never reaches the user. Calls are taken one at a time: the second edit of
a file in one round is made from the first one's result.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from kimicode.edits.apply import apply_changes
from kimicode.edits.change import FileChange
from kimicode.edits.checkpoint import Checkpoint
from kimicode.edits.diff import summary
from kimicode.edits.disk import EditError, read_text, write_text
from kimicode.edits.match import NoMatch, replace_block
from kimicode.edits.patch import PatchError, patch_changes
from kimicode.repo.files import content_reason
from kimicode.secrets import redact
from kimicode.tools.base import Tool, ToolError, schema, text_arg
from kimicode.tools.paths import RepoView

EDIT_TOOLS = ("edit_file", "write_file", "apply_patch")
_MARKER = re.compile(r"\[REDACTED:[^\]\n]*\]")
_PATH = {"type": "string", "description": "a path relative to the repository root"}


@dataclass(frozen=True)
class Proposal:
    """What one edit call would change, before the user decides."""

    tool: str
    arguments: dict[str, Any]
    changes: tuple[FileChange, ...]
    how: str = ""  # how an edit_file block was found: exact, trailing whitespace, indentation


Decide = Callable[[Proposal], Sequence[FileChange]]  # the changes the user approved (none: declined)


@dataclass
class EditLog:
    """What the edit calls of one answer came to, for the face's summary and exit code."""

    applied: list[FileChange] = field(default_factory=list)
    declined: list[FileChange] = field(default_factory=list)  # proposed, and the user said no
    refused: list[str] = field(default_factory=list)  # approved but stale on disk: one line each


class Editor:
    """The edit tools of one set of changes (``set_id``: one ask, one chat turn)."""

    def __init__(self, view: RepoView, decide: Decide, record: Callable[[Checkpoint], None], set_id: str,
                 clock: Callable[[], str] = lambda: "") -> None:
        self.view = view
        self.decide = decide
        self.record = record
        self.set_id = set_id
        self.clock = clock
        self.log = EditLog()
        self._one = threading.Lock()  # held from approve to the end of run: one edit at a time
        # the call approved last: its tool, arguments, approved changes and the paths declined
        self._approved: tuple[str, dict[str, Any], tuple[FileChange, ...], list[str]] | None = None

    # -- what the files are now ---------------------------------------------------------------

    def current(self, path: str) -> str | None:
        """The text of a file the tools may change (None: a new file); ToolError why not."""
        rel = self.view.writable(path)
        try:
            text = read_text(self.view.root, rel)
        except EditError as exc:
            raise ToolError(str(exc)) from None
        if text is not None:
            reason = content_reason(text.encode("utf-8"))
            if reason:
                raise ToolError(f"{rel} is refused: {reason}")
        return text

    # -- proposals ---------------------------------------------------------------------------

    def propose(self, name: str, arguments: dict[str, Any]) -> Proposal:
        if name == "edit_file":
            rel = self.view.writable(text_arg(arguments, "path"))
            before = self.current(rel)
            if before is None:
                raise ToolError(f"{rel}: no such file (write_file creates one)")
            old, new = text_arg(arguments, "old"), text_arg(arguments, "new")
            _no_marker(old, "old", "quote lines around the secret, or leave that line to the user")
            try:
                replaced = replace_block(before, old, new, rel)
            except NoMatch as exc:
                raise ToolError(redact(str(exc), rel).text) from None  # the nearest lines may hold a secret
            proposal = Proposal(name, arguments, (FileChange(rel, before, replaced.text),),
                                f"{replaced.how}, line {replaced.line}")
        elif name == "write_file":
            rel = self.view.writable(text_arg(arguments, "path"))
            proposal = Proposal(name, arguments, (FileChange(rel, self.current(rel), text_arg(arguments, "content")),))
        elif name == "apply_patch":
            try:
                changes = patch_changes(text_arg(arguments, "patch"), self.current)
            except PatchError as exc:
                raise ToolError(redact(str(exc), "patch").text) from None
            proposal = Proposal(name, arguments, tuple(changes))
        else:
            raise ToolError(f"{name} is not an edit tool")
        for change in proposal.changes:
            _no_new_marker(change)
        if all(c.kind == "none" for c in proposal.changes):
            raise ToolError("the change leaves the file as it is: nothing to do")
        return proposal

    def approve(self, tool: Tool, arguments: dict[str, Any]) -> bool:
        """The ``Toolbox`` approval of an edit tool (any other tool that writes is declined)."""
        if tool.name not in EDIT_TOOLS:
            return False
        self._one.acquire()
        try:
            proposal = self.propose(tool.name, arguments)
            wanted = {(c.path, c.before, c.after) for c in proposal.changes}
            chosen = tuple(c for c in self.decide(proposal) if (c.path, c.before, c.after) in wanted)
        except BaseException:
            self._one.release()
            raise
        declined = [c for c in proposal.changes if c not in chosen]
        self.log.declined += declined
        if not chosen:
            self._one.release()
            return False
        self._approved = (tool.name, arguments, chosen, [c.path for c in declined])  # run follows at once, still locked
        return True

    def run(self, name: str, arguments: dict[str, Any]) -> str:
        approved, self._approved = self._approved, None
        if approved is None or approved[0] != name or approved[1] != arguments:
            raise ToolError(f"{name} ran without the user's approval: nothing was changed")
        try:
            return self._apply(approved[2], approved[3])
        finally:
            self._one.release()

    def _apply(self, changes: tuple[FileChange, ...], declined: list[str]) -> str:
        root = self.view.root
        result = apply_changes(root, changes)
        if not result.ok:
            self.log.refused += [r.reason for r in result.refused]
            raise ToolError("; ".join(r.reason for r in result.refused) + ": nothing was changed")
        try:
            self.record(Checkpoint(self.set_id, result.applied, self.clock()))
        except OSError as exc:
            for change in reversed(result.applied):  # never a change the session does not know of
                write_text(root, change.path, change.before)
            raise ToolError(f"the change could not be recorded for undo ({exc.strerror}): it was taken back") from None
        self.view.refresh()  # a created file is listed from now on
        self.log.applied += result.applied
        lines = [f"applied {summary(c)}" for c in result.applied]
        if declined:
            lines.append(f"the user declined the changes to: {', '.join(declined)}")
        return "\n".join(lines)

    # -- the tools ---------------------------------------------------------------------------

    def tools(self) -> list[Tool]:
        def run(name: str) -> Callable[[dict[str, Any]], str]:
            return lambda arguments: self.run(name, arguments)

        return [
            Tool("edit_file", "Replace one block of a file: old is the exact text now in the file (a few whole lines, "
                 "unique in the file; read the file first), new replaces it. The user approves each edit.",
                 schema(["path", "old", "new"], path=_PATH, old={"type": "string"}, new={"type": "string"}),
                 run("edit_file"), read_only=False),
            Tool("write_file", "Create a file with this content (or replace a whole file; prefer edit_file for a "
                 "change to part of one). The user approves it.",
                 schema(["path", "content"], path=_PATH, content={"type": "string"}), run("write_file"), read_only=False),
            Tool("apply_patch", "Apply a unified diff (---/+++ headers, @@ hunks with a few context lines) to one or "
                 "more files; /dev/null creates or deletes a file. The user approves it.",
                 schema(["patch"], patch={"type": "string"}), run("apply_patch"), read_only=False),
        ]


def _no_marker(text: str, name: str, advice: str) -> None:
    if _MARKER.search(text):
        raise ToolError(f"{name} holds a redaction marker ([REDACTED:...]): the file holds a secret there that "
                        f"you cannot see; {advice}")


def _no_new_marker(change: FileChange) -> None:
    """A redaction marker written into a file would replace the user's secret with our placeholder."""
    if change.after is not None and len(_MARKER.findall(change.after)) > len(_MARKER.findall(change.before or "")):
        raise ToolError(f"the new text of {change.path} holds a redaction marker ([REDACTED:...]): kimicode never "
                        "writes one into a file; leave the lines holding secrets as they are")

