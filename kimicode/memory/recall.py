"""Memory as the rest of kimicode sees it: recall into the memory shelf, and a health check.

The shelf holds the notes relevant to the request (shelf.py: conventions, preferences,
decisions, tasks, within a token budget) and, when the text holds an error, the fingerprints
of similar errors seen before. Recall costs nothing when there is nothing to look up: no
error in the text and no memory index on this machine (nor a server) means Chroma (about 2 s
to import) is never loaded. Every failure comes back as one warning line; the caller goes on
without memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from kimicode.memory.fingerprint import error_shapes, short_type

MIN_SCORE = 0.45  # below this a stored error is another bug (measured on tests/e2e/recall_set.py)
MAX_HITS = 3
FIELD_CHARS = 1200  # of a root cause or fix, in the shelf
SHELF_BUDGET = 4_000  # tokens of the memory shelf when the caller gives none


@dataclass(frozen=True)
class Recall:
    text: str  # the memory shelf; "" when nothing was recalled
    hits: tuple[Any, ...]  # kimicode.memory.store.Hit
    warning: str = ""  # one line when memory is unavailable
    notes: tuple[Any, ...] = ()  # kimicode.memory.shelf.Recalled: the notes on the shelf


def clip(text: str, limit: int = FIELD_CHARS) -> str:
    """``text`` on one line, at most ``limit`` characters ("..." marks a cut)."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def render_shelf(hits: Sequence[Any]) -> str:
    """The memory shelf: what was learned about errors like the one in the input."""
    if not hits:
        return ""
    out = [
        "# Memory: errors seen before in this repository",
        "",
        "The input holds an error like these, or changes the files they were fixed in. They were recorded "
        "in earlier sessions; the code may have changed since, so check a recalled fix against the code "
        "before relying on it.",
    ]
    for n, hit in enumerate(hits, start=1):
        fp = hit.fingerprint
        how = "the same error" if hit.exact else f"a similar error ({hit.score:.0%} alike)" if hit.score > 0 \
            else "fixed in files this change touches"
        seen = f"seen {fp.times_seen} time{'s' if fp.times_seen != 1 else ''}, last {fp.last_seen[:10] or 'unknown'}"
        out += ["", f"## {n}. {short_type(fp.error_type)}: {fp.message} [{fp.language or 'unknown'}, id {fp.id[:12]}]",
                f"{how}; {seen}"]
        if fp.frames:
            out.append("Where: " + "; ".join(fp.frames[:3]))
        out.append("Root cause: " + (clip(fp.root_cause) if fp.root_cause else "not recorded"))
        out.append("Fix: " + (clip(fp.fix) if fp.fix else "not recorded"))
        if fp.files:
            out.append("Files: " + ", ".join(fp.files[:8]))
        if fp.commit:
            out.append(f"Fixed at commit: {fp.commit[:12]}")
    return "\n".join(out) + "\n"


def notes_may_exist(settings: Any, data_dir: Path | None = None) -> bool:
    """Whether there can be notes to recall: a server, or a local index on this machine."""
    from kimicode.locations import user_locations

    if settings.memory.chroma_url:
        return True
    return ((data_dir or user_locations().data_dir) / "memory" / "chroma" / "chroma.sqlite3").exists()


@dataclass(frozen=True)
class Found:
    """What memory holds for one request text, before it is fitted to a budget."""

    hits: tuple[Any, ...] = ()  # kimicode.memory.store.Hit: errors like the text's
    entries: Any = None  # kind -> [kimicode.memory.shelf.Recalled], best first
    reranked: Any = None  # kimicode.memory.rerank.Reranked, when a model was asked to order the notes


def find(text: str, repo_root: Path, settings: Any, *, store: Any = None, notes: Any = None,
         data_dir: Path | None = None, n: int = MAX_HITS, min_score: float = MIN_SCORE,
         files: Sequence[str] = (), rerank: Callable[[str, Any], Any] | None = None) -> tuple[Found, Any, Any]:
    """Search once: (what was found, the error store, the notes store), the stores opened on
    first need so the caller can keep them. ``files`` (a review's changed paths) also recalls the
    errors fixed in those files; ``rerank(text, ranked)`` (rerank.py's, with a model) orders the
    notes found and returns a Reranked. Raises MemoryUnavailable."""
    has_error = bool(error_shapes(text, str(repo_root)))
    if not has_error and notes is None and not notes_may_exist(settings, data_dir):
        return Found(), store, notes
    from kimicode.memory.remember import open_notes
    from kimicode.memory.shelf import entries_of, ranked_notes
    from kimicode.memory.store import MemoryStore

    hits: list[Any] = []
    if has_error:
        store = store or MemoryStore.open(settings, repo_root, data_dir)
        hits = store.search(text, n=n, min_score=min_score, repo_root=str(repo_root))
    if files:
        from kimicode.memory.store import Hit

        store = store or MemoryStore.open(settings, repo_root, data_dir)
        known, changed = {h.fingerprint.id for h in hits}, set(files)
        hits += [Hit(fp, 0.0, False) for fp in store.records() if changed & set(fp.files) and fp.id not in known][:n]
    notes = notes or open_notes(settings, repo_root, data_dir)[0]
    ranked = ranked_notes(text, notes)
    reranked = rerank(text, ranked) if rerank is not None and any(ranked.values()) else None
    return Found(tuple(hits), entries_of(reranked.ranked if reranked is not None else ranked), reranked), store, notes


def fitted(found: Found, budget: int, count: Callable[[str], int]) -> Recall:
    """The shelf within ``budget`` tokens: the errors' section (fewer hits until it takes at most
    half), then the notes of each kind in what is left."""
    from kimicode.memory.shelf import fit

    hits = list(found.hits)
    errors = render_shelf(hits)
    while hits and count(errors) > budget // 2:
        hits.pop()
        errors = render_shelf(hits)
    shelf = fit(found.entries or {}, budget - (count(errors) if errors else 0), count)
    joined = "\n".join(part for part in (shelf.text, errors) if part)
    return Recall(joined, tuple(hits), notes=shelf.items)


def recall_for_text(text: str, repo_root: Path | None, settings: Any, *, data_dir: Path | None = None,
                    budget: int = SHELF_BUDGET) -> Recall:
    """The memory shelf for one request ``text``: relevant notes, and fingerprints like its error(s).

    Empty when memory is off, there is no repository, or there is nothing to look up; ``warning``
    is set (and ``text`` empty) when memory is unavailable.
    """
    if repo_root is None or not settings.memory.enabled or not text.strip():
        return Recall("", ())
    from kimicode.memory.chroma import MemoryUnavailable
    from kimicode.tokens import TokenCounter

    try:
        found, store, notes = find(text, repo_root, settings, data_dir=data_dir)
    except MemoryUnavailable as exc:
        return Recall("", (), f"memory unavailable: {exc}")
    for opened in (store, notes):
        if opened is not None:
            opened.close()
    return fitted(found, budget, TokenCounter().bound)


def memory_status(settings: Any, repo_root: Path | None = None, data_dir: Path | None = None) -> tuple[bool, str]:
    """For `kimicode doctor`: (usable, one line saying where the index is and what it holds)."""
    if not settings.memory.enabled:
        return True, "turned off (memory.enabled = false)"
    try:
        import chromadb
    except Exception as exc:  # noqa: BLE001 - a broken install must not break doctor
        return False, f"chromadb cannot be imported ({type(exc).__name__}: {exc}); ask and chat work without memory"
    from kimicode.locations import user_locations
    from kimicode.memory.store import MemoryStore, MemoryUnavailable

    folder = (data_dir or user_locations().data_dir) / "memory" / "chroma"
    if not settings.memory.chroma_url and not folder.exists():  # a health check creates nothing
        return True, f"chromadb {chromadb.__version__}; no local index yet (created at {folder} on first use)"
    root = repo_root or Path.cwd()
    try:
        store = MemoryStore.open(settings, root, data_dir)
        count = store.count()
    except MemoryUnavailable as exc:
        return False, f"unavailable: {exc}; ask and chat work without memory"
    embedding = ("embeddings from " + settings.memory.embeddings_url) if settings.memory.embeddings_url \
        else "offline hashed embedding"
    kind = "Chroma server" if store.url else "local index"
    store.close()
    return True, (f"chromadb {chromadb.__version__}, {kind} at {store.where}, {embedding}; "
                  f"{count} fingerprint{'s' if count != 1 else ''} for this repository")
