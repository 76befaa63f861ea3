"""The files in a conversation's context: the repository shelf and files attached to turns.

/pack packs the repository again, /add attaches files in full after the last turn, /drop
takes files out of every request from now on; a file the user names is attached by itself.
Every change is recorded in the session file, so a resumed session shows the same files.
How the shelf itself behaves (reserve, in-place replacement): kimicode.chat.repo_shelf.
"""

from __future__ import annotations

import dataclasses
import fnmatch
from typing import Collection

from kimicode.chat.errors import ChatError
from kimicode.chat.history import Budget
from kimicode.chat.log import SessionLog
from kimicode.chat.records import FilesDropped, FilesUndropped, Packed, PackGrown, Turn
from kimicode.chat.repo_shelf import RepoPacker, RepoShelf
from kimicode.chat.session import now
from kimicode.prompt import Redaction

MAX_ADD = 20  # files one /add may attach (a glob or a folder)


def matching(pattern: str, paths: Collection[str]) -> list[str]:
    """``pattern`` as a path, a glob or a folder, against ``paths``."""
    if pattern in paths:
        return [pattern]
    if any(ch in pattern for ch in "*?["):
        return sorted(p for p in paths if fnmatch.fnmatchcase(p, pattern))
    folder = pattern.rstrip("/") + "/"
    return sorted(p for p in paths if p.startswith(folder))


class ContextFiles:
    def __init__(self, packer: RepoPacker | None, log: SessionLog, budget: Budget, dropped: set[str]) -> None:
        self.packer = packer
        self.log = log
        self.budget = budget
        self.dropped = dropped  # taken out by the user (/drop); /add takes them back
        self.redactions: list[Redaction] = []  # in files attached since the session opened
        self._repo = RepoShelf(dropped=frozenset(dropped))

    @property
    def repo(self) -> RepoShelf:
        return self._repo

    @repo.setter
    def repo(self, shelf: RepoShelf) -> None:
        self._repo = shelf
        self.budget.repo = shelf.tokens

    def hides(self, turn: Turn) -> bool:
        """A file attached in a turn leaves the request once the user dropped it."""
        return turn.role == "file" and turn.name in self.dropped

    def resume(self, query: str | None, added: list[str], skip: Collection[str], lean: bool | None = None) -> None:
        """The same pack and additions as before a restart: the cached prefix still applies."""
        if self.packer is None:
            return
        if lean is not None:
            self.packer.options = dataclasses.replace(self.packer.options, full_files=not lean)
        self.repo = dataclasses.replace(self.packer.pack(query, self.budget.repo_budget(), skip),
                                        dropped=frozenset(self.dropped))
        if added and not self.repo.failed:
            self.repo = self.packer.add(self.repo, added) or self.repo

    def repack(self, query: str | None = None, budget: int | None = None, lean: bool | None = None) -> RepoShelf:
        """/pack: pack the repository again (for ``query``); changes the cached prefix. ``lean``
        (/context): from now on outlines and the tree only (True) or files in full again (False)."""
        if self.packer is None:
            raise ChatError("this session has no repository")
        if lean is not None:
            self.packer.options = dataclasses.replace(self.packer.options, full_files=not lean)
        self.repo = self.packer.pack(query, budget if budget is not None else self.budget.repo_budget(), self.dropped)
        self.log.write(Packed(query, now(), self.lean))
        return self.repo

    @property
    def lean(self) -> bool:
        return self.packer is not None and not self.packer.options.full_files

    def drop(self, path: str, attached: set[str]) -> str:
        """/drop PATH (a file, a glob or a folder): take files out of every request from now on.

        A file in the repo shelf means a re-pack without it (the cached prefix starts over); a
        file attached in a recent turn leaves the request. Naming the file again does not attach
        it; only ``add`` takes it back.
        """
        pattern = path.strip().removeprefix("./")
        in_shelf = {b.path for b in self.repo.blocks}
        paths = matching(pattern, (in_shelf | attached) - self.dropped)
        if not paths:
            if matching(pattern, self.dropped):
                return f"{pattern} is already dropped (/add takes it back)"
            raise ChatError(f"{pattern} is not in the context (the files panel, F2, lists what is)")
        self.dropped |= set(paths)
        self.log.write(FilesDropped(tuple(paths), now()))
        self.repo = dataclasses.replace(self.repo, dropped=frozenset(self.dropped))
        shown = ", ".join(paths[:5]) + (f" and {len(paths) - 5} more" if len(paths) > 5 else "")
        packed = [p for p in paths if p in in_shelf]
        if not packed or self.packer is None:
            return f"dropped {shown}: it leaves the request from the next message on"
        before = self.repo.tokens
        kept = [p for p in self.repo.added if p not in self.dropped]
        self.repack(self.repo.query)
        if kept and not self.repo.failed:
            grown = self.packer.add(self.repo, kept)
            if grown is not None and grown.added:
                self.repo = grown
                self.log.write(PackGrown(grown.added, now()))
        return (f"dropped {shown}: the repository was packed again without it "
                f"({before:,} -> {self.repo.tokens:,} tokens; the cached prefix starts over)")

    def add(self, path: str, attached: set[str], free: int) -> str:
        """/add PATH (a file, a glob or a folder): attach files in full after the last turn.

        Nothing earlier in the request changes (the cached prefix holds); a later compaction moves
        the file into the repo shelf. A dropped file is taken back. ``free``: tokens the window has left.
        """
        if self.packer is None or self.repo.failed or not self.repo.listed:
            raise ChatError(f"no repository in this session ({self.repo.note or 'not packed'}): nothing to add from")
        pattern = path.strip().removeprefix("./")
        paths = matching(pattern, self.repo.listed | self.dropped)
        if not paths:
            raise ChatError(f"{pattern}: not a file kimicode may send (ignored, binary, too large, a secret, or missing)")
        if len(paths) > MAX_ADD:
            raise ChatError(f"{pattern} matches {len(paths)} files: /add takes at most {MAX_ADD} at a time")
        undropped = [p for p in paths if p in self.dropped]
        if undropped:
            self.dropped -= set(undropped)
            self.log.write(FilesUndropped(tuple(undropped), now()))
            self.repo = dataclasses.replace(self.repo, dropped=frozenset(self.dropped))
        full = self.repo.full
        lines: list[str] = []
        for name in paths:
            if name in full or name in attached:
                back = " (taken back: it was dropped)" if name in undropped else ""
                lines.append(f"{name} is already in the context in full{back}")
                continue
            made = self.packer.file_block(name)
            if made is None:
                lines.append(f"{name} cannot be read, or is binary: not added")
                continue
            block, found = made
            if block.tokens > free:
                lines.append(f"{name} needs {block.tokens:,} tokens and the window has {max(free, 0):,} left: not added")
                continue
            self.redactions.extend(found)
            self.log.turn("file", self.packer.render(block), name=name)
            free -= block.tokens
            redacted = f"; {len(found)} secret(s) redacted" if found else ""
            lines.append(f"added {name} in full ({block.tokens:,} tokens{redacted})")
        return "\n".join(lines)

    def follow(self, text: str, attached: set[str], limit: int, most: int) -> list[str]:
        """Files the user names are attached in full after the message: nothing before it changes."""
        if self.packer is None or self.repo.failed:
            return []
        found, notes = self.packer.attachments(text, self.repo, attached, limit, most)
        for block, redactions in found:
            self.redactions.extend(redactions)
            self.log.turn("file", self.packer.render(block), name=block.path)
            notes.append(f"attached {block.path} in full ({block.tokens:,} tokens)")
        return notes

    def absorb(self, turns: list[Turn], spare: int) -> list[str]:
        """Files attached in turns that leave the history join the repo shelf, if they fit ``spare``.

        The prefix breaks right after the repo shelf at a compaction anyway, so growing the shelf
        now costs no cache.
        """
        paths = [t.name for t in turns if t.role == "file"]
        if not paths or self.packer is None or self.repo.failed:
            return []
        grown = self.packer.add(self.repo, paths)
        if grown is None or grown.tokens - self.repo.tokens > spare:
            return []  # no room: the path stays in the ledger, naming the file attaches it again
        added = list(grown.added[len(self.repo.added):])
        self.repo = grown
        if added:
            self.log.write(PackGrown(tuple(added), now()))
        return added
