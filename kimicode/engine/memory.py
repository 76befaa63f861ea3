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

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from kimicode.prompt import BudgetPlan

if TYPE_CHECKING:
    from kimicode.engine.memory_model import MemoryModel

CACHED_TEXTS = 4  # request texts whose recall is kept: a tool's lookup must not cost the turn's rerank again


def budget(plan: BudgetPlan, room: int) -> int:
    """Tokens of the memory shelf in a request with ``room`` tokens for what is not system or reply."""
    return plan.share("recall", room)


def not_run_line(settings: Any) -> str:
    """What a dry run says when the rerank is on: it makes no model request, so the shelf it shows
    is in the embedding's order ("" when the rerank is off)."""
    if not (settings.memory.enabled and settings.memory.rerank):
        return ""
    return "memory rerank not run: a dry run makes no model request (the shelf shown is in the embedding's order)"


class SessionMemory:
    """Memory for one face (a chat session, an ask, a review): ``shelf(text, budget)`` recalls;
    ``capture(record)`` and ``remember(text)`` store (consolidated, journaled: `memory undo`).

    ``model`` (kimicode/engine/memory_model.py, given when ``[memory] rerank`` or ``expand`` is on)
    orders each request's notes (kimicode/memory/rerank.py) and writes the requests a stored note
    applies to (kimicode/memory/expand.py). Without it, the embedding alone. What the model could
    not do is said once: a rerank's in ``notices`` (the face shows and clears them), an expansion's
    in what ``capture`` and ``remember`` return (Stored.summary)."""

    def __init__(self, repo_root: Path | None, settings: Any, data_dir: Path | None = None,
                 count: Callable[[str], int] | None = None, model: MemoryModel | None = None) -> None:
        self.repo_root = repo_root
        self.settings = settings
        self.data_dir = data_dir
        self._count = count
        self.model = model
        self.warning = ""
        self.notices: list[str] = []  # one line each: a rerank or an expansion that fell back
        self.last: Any = None  # kimicode.memory.recall.Recall: the shelf last given
        self._found: dict[tuple[str, bool], Any] = {}  # (text, reranked) -> Found, the newest last
        self._store: Any = None
        self._notes: Any = None
        self._captured: set[tuple[str, str]] = set()  # state items remembered already
        self._captured_goal = ""  # the goal remembered already (a task note)

    def take_notices(self) -> list[str]:
        said, self.notices = self.notices, []
        return said

    def cost_line(self) -> str:
        """What the model's requests for memory cost so far, in one line ("" when it made none)."""
        return self.model.cost_line() if self.model is not None else ""

    @property
    def enabled(self) -> bool:
        return self.repo_root is not None and bool(self.settings.memory.enabled) and not self.warning

    def shelf(self, text: str, budget: int, files: Sequence[str] = (), rerank: bool = True) -> str:
        """The memory shelf for ``text`` within ``budget`` tokens ("" when nothing bears on it);
        ``files``: paths the request changes (a review), whose remembered errors come too;
        ``rerank``: False for a lookup that must not cost a model request (a tool's).

        Raises MemoryUnavailable the first time memory fails; "" after that."""
        if not self.enabled or not text.strip() or budget <= 0 or self.repo_root is None:
            return ""
        from kimicode.memory.recall import find, fitted

        model = self.model if rerank and self.model is not None and self.model.rerank else None
        key = (text, model is not None)  # the text of a review names its files
        if key not in self._found:
            from kimicode.memory.chroma import MemoryUnavailable

            try:
                found, self._store, self._notes = find(text, self.repo_root, self.settings, store=self._store,
                                                       notes=self._notes, data_dir=self.data_dir, files=files,
                                                       rerank=self._reranker(model) if model is not None else None)
            except MemoryUnavailable as exc:
                self.warning = f"memory unavailable: {exc}"
                raise
            if found.reranked is not None and found.reranked.fallback:
                self.notices.append(f"memory rerank {found.reranked.fallback}; the notes keep the embedding's order")
            while len(self._found) >= CACHED_TEXTS:
                self._found.pop(next(iter(self._found)))
            self._found[key] = found
        if self._count is None:
            from kimicode.tokens import TokenCounter

            self._count = TokenCounter().bound
        self.last = fitted(self._found[key], budget, self._count)
        return str(self.last.text)

    @staticmethod
    def _reranker(model: MemoryModel) -> Callable[[str, Any], Any]:
        from kimicode.memory.rerank import rerank

        return lambda text, ranked: rerank(text, ranked, model.asker("rerank"), model.fits)

    def _expander(self) -> Callable[[str, int], str] | None:
        return self.model.asker("expand") if self.model is not None and self.model.expand else None

    def capture(self, record: Any, source: str) -> Any:
        """At a session's end or compaction: remember what the state record established that was
        not captured already in this session. Never raises; returns kimicode.memory.remember.Stored.

        Nothing new (a session that ends right after a compaction captured it all) opens no store
        and writes no journal batch: `memory undo` then takes back what was really stored."""
        from kimicode.memory.remember import Stored, capture_state

        items = [i for i in record.items if (i.kind, i.text) not in self._captured]
        if self.repo_root is None or not self.settings.memory.enabled or (not items and record.goal in ("", self._captured_goal)):
            return Stored("", ())
        stored = capture_state(self.settings, self.repo_root, record, source=source, data_dir=self.data_dir,
                               expand=self._expander(), known=frozenset(self._captured))
        if not stored.warning:
            self._captured |= {(i.kind, i.text) for i in items}
            self._captured_goal = record.goal
            self._found.clear()  # what is stored now may bear on the next request
        return stored

    def warm(self) -> None:
        """Open what ``capture`` will need (Chroma's modules, its client, the notes' collection) so a
        session's end only stores: the face calls it in a thread of its own while the user reads an
        answer. Shares nothing with the session's calls (the index's client is per process and
        locked); does nothing when capture is off; a failure is left for the capture to report."""
        if self.repo_root is None or not self.settings.memory.enabled or not self.settings.memory.capture:
            return
        from kimicode.memory.chroma import MemoryUnavailable
        from kimicode.memory.notes import NoteError
        from kimicode.memory.notes_store import NoteFilter
        from kimicode.memory.remember import open_notes

        try:
            store, _ = open_notes(self.settings, self.repo_root, self.data_dir)
        except (MemoryUnavailable, NoteError):
            return
        try:
            store.notes(NoteFilter(("task",)))  # every collection a capture may write
        except (MemoryUnavailable, NoteError):
            pass
        finally:
            store.close()

    def remember(self, text: str) -> Any:
        """``/remember TEXT``: raises NoteError (bad text) or MemoryUnavailable; returns Stored."""
        from kimicode.memory.remember import remember_text

        stored = remember_text(self.settings, self.repo_root, text, source="chat", data_dir=self.data_dir,
                               expand=self._expander())
        self._found.clear()
        return stored

    def close(self) -> None:
        for opened in (self._store, self._notes, self.model):
            if opened is not None:
                opened.close()
        self._store = self._notes = None
