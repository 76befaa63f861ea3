"""The memory shelf of every request: ask, chat and review fill it here, and nowhere else.

For a request text (the question, the chat's newest message, a review's files and diff) it holds
the remembered notes of each kind (conventions, preferences, decisions, tasks) and the errors
seen before that bear on it, ranked by relevance and recency, each with its id, within the
budget the request's plan gives the shelf (``budget``: the plan's ``recall`` share).

Memory is searched once per text and fitted again for each budget (a conversation's room
changes from request to request; the ranking does not). The stores are opened on first need
and kept for the session. Memory is optional: the first failure is raised once (the face shows
it as one warning line), later requests go on without memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from kimicode.prompt import BudgetPlan


@dataclass(frozen=True)
class _Captured:
    """The part of a state record not yet remembered (kimicode.memory.remember.StateLike)."""

    goal: str
    items: list[Any]


def budget(plan: BudgetPlan, room: int) -> int:
    """Tokens of the memory shelf in a request with ``room`` tokens for what is not system or reply."""
    return plan.share("recall", room)


class SessionMemory:
    """Memory for one face (a chat session, an ask, a review): ``shelf(text, budget)`` recalls;
    ``capture(record)`` and ``remember(text)`` store (consolidated, journaled: `memory undo`).

    ``model(prompt, reply_tokens)``, when given, is asked cheap questions with capped answers:
    the requests a note applies to when it is stored (kimicode/memory/expand.py), and the order of
    each request's best candidates (kimicode/memory/rerank.py). Without it, the embedding alone."""

    def __init__(self, repo_root: Path | None, settings: Any, data_dir: Path | None = None,
                 count: Callable[[str], int] | None = None, model: Callable[[str, int], str] | None = None) -> None:
        self.repo_root = repo_root
        self.settings = settings
        self.data_dir = data_dir
        self._count = count
        self.model = model
        self.warning = ""
        self.last: Any = None  # kimicode.memory.recall.Recall: the shelf last given
        self._found: tuple[str, Any] | None = None  # (text, Found)
        self._store: Any = None
        self._notes: Any = None
        self._captured: set[tuple[str, str]] = set()  # state items remembered already

    @property
    def enabled(self) -> bool:
        return self.repo_root is not None and bool(self.settings.memory.enabled) and not self.warning

    def shelf(self, text: str, budget: int, files: Sequence[str] = ()) -> str:
        """The memory shelf for ``text`` within ``budget`` tokens ("" when nothing bears on it);
        ``files``: paths the request changes (a review), whose remembered errors come too.

        Raises MemoryUnavailable the first time memory fails; "" after that."""
        if not self.enabled or not text.strip() or budget <= 0 or self.repo_root is None:
            return ""
        from kimicode.memory.recall import find, fitted

        if self._found is None or self._found[0] != text:  # the text of a review names its files
            from kimicode.memory.chroma import MemoryUnavailable

            try:
                found, self._store, self._notes = find(text, self.repo_root, self.settings, store=self._store,
                                                       notes=self._notes, data_dir=self.data_dir, files=files,
                                                       rerank=self.model)
            except MemoryUnavailable as exc:
                self.warning = f"memory unavailable: {exc}"
                raise
            self._found = (text, found)
        if self._count is None:
            from kimicode.tokens import TokenCounter

            self._count = TokenCounter().bound
        self.last = fitted(self._found[1], budget, self._count)
        return str(self.last.text)

    def capture(self, record: Any, source: str) -> Any:
        """At a session's end or compaction: remember what the state record established that was
        not captured already in this session. Never raises; returns kimicode.memory.remember.Stored."""
        from kimicode.memory.remember import Stored, capture_state

        items = [i for i in record.items if (i.kind, i.text) not in self._captured]
        if self.repo_root is None or not self.settings.memory.enabled or not (items or record.goal):
            return Stored("", ())
        stored = capture_state(self.settings, self.repo_root, _Captured(record.goal, items), source=source,
                               data_dir=self.data_dir, expand=self.model)
        if not stored.warning:
            self._captured |= {(i.kind, i.text) for i in items}
            self._found = None  # what is stored now may bear on the next request
        return stored

    def remember(self, text: str) -> Any:
        """``/remember TEXT``: raises NoteError (bad text) or MemoryUnavailable; returns Stored."""
        from kimicode.memory.remember import remember_text

        stored = remember_text(self.settings, self.repo_root, text, source="chat", data_dir=self.data_dir,
                               expand=self.model)
        self._found = None
        return stored

    def close(self) -> None:
        for opened in (self._store, self._notes):
            if opened is not None:
                opened.close()
        self._store = self._notes = None
