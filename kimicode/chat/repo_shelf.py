"""The repo shelf of a chat: pack once, add files as the conversation names them, re-pack rarely.

The packed repository sits in the system message, at the head of every request, so any
change to it costs the whole cached prefix. Hence:

- the first pack takes only part of the shelf (``reserve`` is kept free);
- a file the user names that the pack does not hold in full is attached to the conversation
  (a turn after the user's message, see kimicode.chat.files): nothing before it changes;
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

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Collection, Sequence

from kimicode.chat.floor import paths_in
from kimicode.prompt import SHARES, Block, Redaction
from kimicode.repo.pack import Pack, PackError, PackOptions
from kimicode.repo.render import render_file
from kimicode.tokens import TokenCounter

MAX_QUERY = 2_000  # characters of conversation the ranking sees


def _exclude_pattern(path: str) -> str:
    """A gitignore line matching exactly this one path (anchored, wildcards escaped)."""
    return "/" + re.sub(r"([\\*?\[\]!# ])", r"\\\1", path)


@dataclass(frozen=True)
class RepoShelf:
    pack: Pack | None = None  # the pack, its outlines replaced in place by files named since
    extra: tuple[Block, ...] = ()  # files added since that the pack had not listed, after it
    text: str = ""  # all of it rendered: what the request shows
    tokens: int = 0
    budget: int = 0  # the whole shelf, reserve included
    query: str | None = None
    listed: frozenset[str] = frozenset()  # every file the pack engine would send, dropped ones included
    added: tuple[str, ...] = ()  # paths added in full since the pack was made
    dropped: frozenset[str] = frozenset()  # taken out by the user (/drop): never packed, added or attached
    note: str = ""  # why the repository is missing
    failed: bool = False
    redactions: tuple[Redaction, ...] = field(default_factory=tuple)

    @property
    def blocks(self) -> tuple[Block, ...]:
        """Every file block, in the order the request shows them."""
        return (self.pack.blocks if self.pack else ()) + self.extra

    @property
    def full(self) -> frozenset[str]:
        return frozenset(b.path for b in self.blocks if b.mode == "full") - self.dropped

    @property
    def outline(self) -> frozenset[str]:
        return frozenset(b.path for b in self.blocks if b.mode != "full") - self.dropped


def _render(pack: Pack, extra: Sequence[Block]) -> str:
    return pack.render() + "\n" + "".join(render_file(b.path, b.mode, b.text, pack.fmt) for b in extra)


class RepoPacker:
    """Packs one repository for a chat with the pack engine (kimicode.repo.pack)."""

    def __init__(self, root: Path, options: PackOptions, cache_dir: Path | None, counter: TokenCounter,
                 reserve: float = SHARES.reserve) -> None:
        self.root = root
        self.options = options
        self.cache_dir = cache_dir
        self.counter = counter
        self.reserve = reserve  # of the shelf, kept free for files the conversation names later

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
        text = _render(result.pack, ())
        return RepoShelf(result.pack, (), text, self.counter.count(text), budget, query,
                         listed=frozenset(f.path for f in listing.files), redactions=tuple(result.report.redactions),
                         dropped=dropped)

    def moved_to(self, text: str, shelf: RepoShelf) -> list[str]:
        """Files of the repository named in ``text`` that the shelf does not show in full."""
        moved = []
        full = shelf.full
        for path in paths_in(text):
            relative = path[2:] if path.startswith("./") else path
            if (relative in shelf.listed and relative not in full and relative not in shelf.dropped
                    and relative not in moved):
                moved.append(relative)
        return moved

    def attachments(self, text: str, shelf: RepoShelf, attached: set[str], limit: int, most: int
                    ) -> tuple[list[tuple[Block, list[Redaction]]], list[str]]:
        """Files named in ``text`` to attach, counted as rendered, and notes on the rest."""
        found: list[tuple[Block, list[Redaction]]] = []
        notes: list[str] = []
        for path in [p for p in self.moved_to(text, shelf) if p not in attached][:most]:
            made = self.file_block(path)
            if made is None:
                continue
            block, redactions = made
            if block.tokens > limit:
                notes.append(f"{path} is too large to attach ({block.tokens:,} tokens; one message may take {limit:,})")
            else:
                found.append((block, redactions))
        return found, notes

    def render(self, block: Block) -> str:
        return render_file(block.path, block.mode, block.text, self.options.fmt)

    def file_block(self, path: str) -> tuple[Block, list[Redaction]] | None:
        """One listed file in full, redacted, counted as the pack would render it; None if it cannot be sent."""
        from kimicode.repo.files import content_reason, read_regular, secret_in_name
        from kimicode.repo.scan import decode
        from kimicode.secrets import redact

        if secret_in_name(path):
            return None  # its very name would leak: the pack does not send it either
        try:
            data = read_regular(self.root / path)
        except OSError:
            return None
        if content_reason(data):
            return None  # binary or generated: the pack would not send it either
        result = redact(decode(data)[0], path)
        block = Block(path, "full", result.text, why="named in the conversation")
        block = replace(block, tokens=self.counter.count(self.render(block)))
        return block, [(path, f.line, f.kind) for f in result.findings]

    def add(self, shelf: RepoShelf, paths: Sequence[str]) -> RepoShelf | None:
        """The shelf with ``paths`` in full, or None when they do not fit its budget.

        A file the shelf shows as an outline or a slice has that block replaced by the full text,
        in place (the shelf never holds both); other files are appended. Dropped files are skipped.
        """
        if shelf.pack is None:
            return None
        blocks = list(shelf.pack.blocks)
        extra = list(shelf.extra)
        found: list[Redaction] = []
        added: list[str] = []
        full = shelf.full
        for path in paths:
            if path in full or path in shelf.dropped or path in added:
                continue
            made = self.file_block(path)
            if made is None:
                continue
            block, redactions = made
            at = next((n for n, b in enumerate(blocks) if b.path == path and b.mode != "full"), None)
            if at is None:
                extra.append(block)
            else:
                blocks[at] = block
            found.extend(redactions)
            added.append(path)
        if not added:
            return shelf
        pack = replace(shelf.pack, blocks=tuple(blocks))
        text = _render(pack, extra)
        tokens = self.counter.count(text)
        if tokens > shelf.budget:
            return None
        return replace(shelf, pack=pack, extra=tuple(extra), text=text, tokens=tokens, added=shelf.added + tuple(added),
                       redactions=shelf.redactions + tuple(found))
