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

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Sequence

from kimicode.chat.floor import paths_in
from kimicode.repo.pack import PackError, PackOptions
from kimicode.tokens import TokenCounter

MAX_QUERY = 2_000  # characters of conversation the ranking sees
RESERVE = 0.2  # of the repo shelf, kept for files the conversation names later


@dataclass(frozen=True)
class RepoShelf:
    text: str = ""  # the pack, then the files added since, in order
    tokens: int = 0
    budget: int = 0  # the whole shelf, reserve included
    query: str | None = None
    full: frozenset[str] = frozenset()  # shown in full (by the pack or added)
    outline: frozenset[str] = frozenset()
    listed: frozenset[str] = frozenset()  # every file the pack engine would send
    added: tuple[str, ...] = ()
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

    def pack(self, query: str | None, budget: int) -> RepoShelf:
        budget = min(budget, self.options.budget)
        if budget <= 0:
            return RepoShelf(budget=budget, query=query, note="no room left for the repository in the model's window", failed=True)
        query = query[:MAX_QUERY] if query else None
        options = replace(self.options, budget=int(budget * (1 - self.reserve)), query=query)
        try:
            from kimicode.repo.files import ListingError, list_files
            from kimicode.repo.pack import pack_repository

            result = pack_repository(self.root, options, self.cache_dir)
            listing = list_files(self.root, options.include, options.exclude, options.max_file_bytes)
        except (PackError, ListingError) as exc:
            return RepoShelf(budget=budget, query=query, note=f"repository not included: {exc}", failed=True)
        report = result.report
        text = result.text + "\n"
        return RepoShelf(
            text=text, tokens=self.counter.count(text), budget=budget, query=query,
            full=frozenset(p for p, _ in report.full), outline=frozenset(p for p, _ in report.outline),
            listed=frozenset(f.path for f in listing.files), redactions=tuple(report.redactions),
        )

    def moved_to(self, text: str, shelf: RepoShelf) -> list[str]:
        """Files of the repository named in ``text`` that the shelf does not show in full."""
        moved = []
        for path in paths_in(text):
            relative = path[2:] if path.startswith("./") else path
            if relative in shelf.listed and relative not in shelf.full and relative not in moved:
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
        """The shelf with ``paths`` appended in full, or None when they do not fit its reserve."""
        blocks: list[str] = []
        found: list[tuple[str, int, str]] = []
        added: list[str] = []
        for path in paths:
            made = self.file_block(path) if path not in shelf.full else None
            if made is not None:
                blocks.append(made[0])
                found.extend(made[1])
                added.append(path)
        if not blocks:
            return shelf
        text = shelf.text + "".join(blocks)
        tokens = self.counter.count(text)
        if tokens > shelf.budget:
            return None
        return replace(shelf, text=text, tokens=tokens, full=shelf.full | set(added),
                       added=shelf.added + tuple(added), redactions=shelf.redactions + tuple(found))
