"""The repo shelf of a chat: pack once, add files as the conversation names them, re-pack rarely.

The packed repository sits in the system message, at the head of every request, so any
change to it costs the whole cached prefix. Hence:

- the first pack takes only part of the shelf (``reserve`` is kept free);
- a file the user names that the pack does not hold in full is attached to the conversation
  (a turn after the user's message, see ChatSession): nothing before it changes;
- when a compaction moves such a turn out (the prefix breaks right after the repo shelf
  then anyway), its file joins the shelf in full while the reserve lasts (``add``);
- the repository is packed again only when asked (/pack), or after the provider says the
  request is too long.

The files added obey the pack's rules: listed by the pack engine (not ignored, not a
secret by name, not too large), not binary, redacted before sending. The pack engine may
fail (nothing to pack, a budget too small): the chat then goes on without the repository
and says why.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Collection, Sequence

from kimicode.chat.floor import paths_in
from kimicode.repo.pack import PackError, PackOptions
from kimicode.tokens import TokenCounter

MAX_QUERY = 2_000  # characters of conversation the ranking sees
RESERVE = 0.2  # of the repo shelf, kept for files the conversation names later
_XML_FILE = re.compile(r'<file path="([^"]*)" mode="(full|outline|slice)"(?: shown="[^"]*")?>\n.*?</file>\n', re.DOTALL)
_MD_FILE = re.compile(r"^## (.+?)( \((outline|slice)(?:: [^)\n]*)?\))?\n\n(`{3,})[^\n]*\n.*?^\4\n\n?", re.DOTALL | re.MULTILINE)


def shelf_blocks(text: str) -> list[tuple[str, str, int, int]]:
    """(path, mode, start, end) of every file block the shelf text shows, in its order."""
    if text.lstrip().startswith("<repository"):
        return [(html.unescape(m.group(1)), m.group(2), m.start(), m.end()) for m in _XML_FILE.finditer(text)]
    return [(m.group(1), m.group(3) or "full", m.start(), m.end()) for m in _MD_FILE.finditer(text)
            if m.group(1) != "Other files"]


def _exclude_pattern(path: str) -> str:
    """A gitignore line matching exactly this one path (anchored, wildcards escaped)."""
    return "/" + re.sub(r"([\\*?\[\]!# ])", r"\\\1", path)


@dataclass(frozen=True)
class RepoShelf:
    text: str = ""  # the pack, then the files added since, in order
    tokens: int = 0
    budget: int = 0  # the whole shelf, reserve included
    query: str | None = None
    full: frozenset[str] = frozenset()  # shown in full (by the pack or added)
    outline: frozenset[str] = frozenset()
    listed: frozenset[str] = frozenset()  # every file the pack engine would send, dropped ones included
    added: tuple[str, ...] = ()
    dropped: frozenset[str] = frozenset()  # taken out by the user (/drop): never packed, added or attached
    note: str = ""  # why the repository is missing
    failed: bool = False
    redactions: tuple[tuple[str, int, str], ...] = field(default_factory=tuple)


class RepoPacker:
    """Packs one repository for a chat with the pack engine (kimicode.repo.pack)."""

    def __init__(self, root: Path, options: PackOptions, cache_dir: Path | None, counter: TokenCounter,
                 reserve: float = RESERVE) -> None:
        self.root = root
        self.options = options
        self.cache_dir = cache_dir
        self.counter = counter
        self.reserve = reserve

    def pack(self, query: str | None, budget: int, skip: Collection[str] = ()) -> RepoShelf:
        """Pack the repository for ``query`` without the files in ``skip`` (dropped by the user)."""
        budget = min(budget, self.options.budget)
        dropped = frozenset(skip)
        if budget <= 0:
            return RepoShelf(budget=budget, query=query, note="no room left for the repository in the model's window",
                             failed=True, dropped=dropped)
        query = query[:MAX_QUERY] if query else None
        options = replace(self.options, budget=int(budget * (1 - self.reserve)), query=query)
        packed = replace(options, exclude=tuple(options.exclude) + tuple(_exclude_pattern(p) for p in sorted(dropped)))
        try:
            from kimicode.repo.files import ListingError, list_files
            from kimicode.repo.pack import pack_repository

            result = pack_repository(self.root, packed, self.cache_dir)
            listing = list_files(self.root, options.include, options.exclude, options.max_file_bytes)
        except (PackError, ListingError) as exc:
            return RepoShelf(budget=budget, query=query, note=f"repository not included: {exc}", failed=True, dropped=dropped)
        report = result.report
        text = result.text + "\n"
        return RepoShelf(
            text=text, tokens=self.counter.count(text), budget=budget, query=query,
            full=frozenset(p for p, _ in report.full) - dropped, outline=frozenset(p for p, _ in report.outline) - dropped,
            listed=frozenset(f.path for f in listing.files), redactions=tuple(report.redactions), dropped=dropped,
        )

    def moved_to(self, text: str, shelf: RepoShelf) -> list[str]:
        """Files of the repository named in ``text`` that the shelf does not show in full."""
        moved = []
        for path in paths_in(text):
            relative = path[2:] if path.startswith("./") else path
            if (relative in shelf.listed and relative not in shelf.full and relative not in shelf.dropped
                    and relative not in moved):
                moved.append(relative)
        return moved

    def attachments(self, text: str, shelf: RepoShelf, attached: set[str], limit: int, most: int
                    ) -> tuple[list[tuple[str, str, int, list[tuple[str, int, str]]]], list[str]]:
        """Files named in ``text`` to attach: (path, block, tokens, redactions), and notes on the rest."""
        found: list[tuple[str, str, int, list[tuple[str, int, str]]]] = []
        notes: list[str] = []
        for path in [p for p in self.moved_to(text, shelf) if p not in attached][:most]:
            made = self.file_block(path)
            if made is None:
                continue
            tokens = self.counter.count(made[0])
            if tokens > limit:
                notes.append(f"{path} is too large to attach ({tokens:,} tokens; one message may take {limit:,})")
            else:
                found.append((path, made[0], tokens, made[1]))
        return found, notes

    def file_block(self, path: str) -> tuple[str, list[tuple[str, int, str]]] | None:
        """One listed file in full, redacted and rendered like the pack's; None if it cannot be sent."""
        from kimicode.repo.files import content_reason
        from kimicode.repo.render import render_file
        from kimicode.repo.scan import decode
        from kimicode.secrets import redact

        try:
            data = (self.root / path).read_bytes()
        except OSError:
            return None
        if content_reason(data):
            return None  # binary or generated: the pack would not send it either
        result = redact(decode(data)[0], path)
        return render_file(path, "full", result.text, self.options.fmt), [(path, f.line, f.kind) for f in result.findings]

    def add(self, shelf: RepoShelf, paths: Sequence[str]) -> RepoShelf | None:
        """The shelf with ``paths`` in full, or None when they do not fit its budget.

        A file the shelf shows as an outline or a slice has that block replaced by the full text,
        in place (the shelf never holds both); other files are appended. Dropped files are skipped.
        """
        text = shelf.text
        found: list[tuple[str, int, str]] = []
        added: list[str] = []
        for path in paths:
            if path in shelf.full or path in shelf.dropped or path in added:
                continue
            made = self.file_block(path)
            if made is None:
                continue
            outline = next(((start, end) for p, mode, start, end in shelf_blocks(text)
                            if p == path and mode in ("outline", "slice")), None)
            if outline is None:
                text += made[0]
            else:
                text = text[:outline[0]] + made[0] + text[outline[1]:]
            found.extend(made[1])
            added.append(path)
        if not added:
            return shelf
        tokens = self.counter.count(text)
        if tokens > shelf.budget:
            return None
        return replace(shelf, text=text, tokens=tokens, full=shelf.full | set(added), outline=shelf.outline - set(added),
                       added=shelf.added + tuple(added), redactions=shelf.redactions + tuple(found))
