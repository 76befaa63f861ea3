"""The repo shelf of a chat: pack once, re-pack only when the conversation moves to other files.

Re-packing changes the system message and so the whole cached prefix: it is done when
the user names a file of the repository that the pack does not hold in full, and the
note says so. The pack engine may fail (no text files, a budget too small, or the engine
itself unavailable): the chat then goes on without the repository and says why.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from kimicode.chat.floor import paths_in
from kimicode.repo.pack import PackError, PackOptions
from kimicode.tokens import TokenCounter

MAX_QUERY = 2_000  # characters of conversation the ranking sees


@dataclass(frozen=True)
class RepoShelf:
    text: str = ""
    tokens: int = 0
    budget: int = 0
    query: str | None = None
    full: frozenset[str] = frozenset()
    outline: frozenset[str] = frozenset()
    note: str = ""  # why the repository is missing, or what changed
    failed: bool = False
    redactions: tuple[tuple[str, int, str], ...] = field(default_factory=tuple)


class RepoPacker:
    """Packs one repository for a chat with the pack engine (kimicode.repo.pack)."""

    def __init__(self, root: Path, options: PackOptions, cache_dir: Path | None, counter: TokenCounter) -> None:
        self.root = root
        self.options = options
        self.cache_dir = cache_dir
        self.counter = counter

    def pack(self, query: str | None, budget: int) -> RepoShelf:
        if budget <= 0:
            return RepoShelf(budget=budget, query=query, note="no room left for the repository in the model's window", failed=True)
        query = query[:MAX_QUERY] if query else None
        options = replace(self.options, budget=min(budget, self.options.budget), query=query)
        try:
            from kimicode.repo.pack import pack_repository

            result = pack_repository(self.root, options, self.cache_dir)
        except PackError as exc:
            return RepoShelf(budget=options.budget, query=query, note=f"repository not included: {exc}", failed=True)
        except ImportError as exc:
            # The pack engine is still being built; the chat works without it.
            return RepoShelf(budget=options.budget, query=query, note=f"repository not included: the pack engine is unavailable ({exc})", failed=True)
        report = result.report
        text = result.text + "\n"
        return RepoShelf(
            text=text, tokens=self.counter.count(text), budget=options.budget, query=query,
            full=frozenset(p for p, _ in report.full), outline=frozenset(p for p, _ in report.outline),
            redactions=tuple(report.redactions),
        )

    def moved_to(self, text: str, shelf: RepoShelf) -> list[str]:
        """Files of the repository named in ``text`` that the pack does not show in full."""
        if shelf.failed:
            return []  # re-packing would fail the same way: only an explicit repack retries
        moved = []
        for path in paths_in(text):
            relative = path[2:] if path.startswith("./") else path
            if relative in shelf.full or relative.startswith(("/", "~", "..")):
                continue
            try:
                if (self.root / relative).is_file():
                    moved.append(relative)
            except OSError:
                continue
        return moved
