"""The notes index: where each scope's notes live, and search filtered by kind and scope.

Two places. Repository and task notes go where the error fingerprints go: the local index, or
the team's Chroma server when ``memory.chroma_url`` is set, in one collection per repository
(named from its root commit, so every clone shares it). User notes (preferences, and anything
the user scoped to themselves) always stay in the local index on the user's machine, whatever
``memory.chroma_url`` says: a Chroma server has no per-user access control (anyone who can
reach it can read every collection), so privacy on a shared server could only be a naming
convention. Kept local, another user's client can never see them.

Every result passes ``Place.admits`` before it is returned: a note of another repository or
another task never reaches a caller, whatever the index held.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

from kimicode.memory.chroma import HNSW, LOCK_TIMEOUT, ChromaPlace, MemoryUnavailable
from kimicode.memory.notes import KINDS, SCOPES, Note, NoteError, Place

CANDIDATES = 40  # nearest neighbours asked of each collection per search, before ranking


@dataclass(frozen=True)
class NoteHit:
    note: Note
    similarity: float  # cosine similarity of the embeddings, 0..1


@dataclass(frozen=True)
class NoteFilter:
    kinds: tuple[str, ...] = ()  # empty: every kind
    scopes: tuple[str, ...] = ()  # empty: every scope

    def __post_init__(self) -> None:
        for kind in self.kinds:
            if kind not in KINDS:
                raise NoteError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
        for scope in self.scopes:
            if scope not in SCOPES:
                raise NoteError(f"scope must be one of {', '.join(SCOPES)}, not {scope!r}")

    def wants(self, scope: str) -> bool:
        return not self.scopes or scope in self.scopes


def _metadata(note: Note) -> dict[str, Any]:
    """Flat Chroma metadata; the history as JSON text (Chroma takes no nested values)."""
    data: dict[str, Any] = {
        "kind": note.kind, "scope": note.scope, "text": note.text, "repo": note.repo, "task": note.task,
        "source": note.source, "created": note.created, "updated": note.updated, "confirmed": note.confirmed,
        "history": json.dumps([r.__dict__ for r in note.history], ensure_ascii=False),
    }
    if note.expansion:
        data["expansion"] = note.expansion
    if note.files:
        data["files"] = list(note.files)
    if note.extra:
        data["extra"] = json.dumps(dict(note.extra), ensure_ascii=False, default=str)
    return data


def _note(note_id: str, metadata: Mapping[str, Any] | None) -> Note | None:
    """The note behind a metadata dict; None for one that is not ours or is damaged."""
    if not metadata:
        return None
    data = dict(metadata)
    try:
        data["history"] = json.loads(data.get("history") or "[]")
        extra = json.loads(data.pop("extra", "") or "{}")
        return Note.from_dict({**extra, **data, "id": note_id})
    except (ValueError, TypeError):
        return None


def _notes(found: Mapping[str, Any]) -> list[Note]:
    return [n for n in (_note(i, m) for i, m in zip(found["ids"], found["metadatas"] or [])) if n is not None]


def _where(kinds: Sequence[str], scope: str, place: Place) -> dict[str, Any]:
    terms: list[dict[str, Any]] = [{"scope": scope}]
    if kinds:
        terms.append({"kind": {"$in": list(kinds)}})
    if scope == "task":
        terms.append({"task": place.task})
    if scope != "user":
        terms.append({"repo": place.repo})
    return {"$and": terms} if len(terms) > 1 else terms[0]


class NoteStore:
    """The notes visible from one place (a repository and its task at hand). Methods may raise
    MemoryUnavailable."""

    def __init__(self, place: Place, *, shared: ChromaPlace, private: ChromaPlace) -> None:
        self.place = place
        self.shared = shared  # repository and task notes: local, or the team's server
        self.private = private  # user notes: always this machine

    @classmethod
    def open(cls, settings: Any, place: Place, data_dir: Path | None = None,
             lock_timeout: float = LOCK_TIMEOUT) -> NoteStore:
        from kimicode.locations import user_locations
        from kimicode.memory.store import local_place, place_for

        if not settings.memory.enabled:
            raise MemoryUnavailable("memory is turned off (memory.enabled = false)")
        data_dir = data_dir or user_locations().data_dir
        private = local_place(data_dir, lock_timeout)
        shared = place_for(settings, data_dir, lock_timeout) if settings.memory.chroma_url else private
        return cls(place, shared=shared, private=private)

    # -- collections --------------------------------------------------------------------------

    def _name(self, scope: str) -> str:
        from kimicode.memory.embedding import embedding_tag

        tag = embedding_tag(notes=True)
        if scope == "user":
            return f"kimicode-user-notes-{tag}"
        return "kimicode-notes-" + hashlib.sha256(self.place.repo.encode("utf-8")).hexdigest()[:20] + f"-{tag}"

    def _where_for(self, scope: str) -> ChromaPlace:
        return self.private if scope == "user" else self.shared

    @contextlib.contextmanager
    def _collection(self, scope: str, write: bool = False) -> Iterator[Any]:
        def make(client: Any) -> Any:
            from kimicode.memory.embedding import embedding_for

            function, _ = embedding_for(notes=True)
            return client.get_or_create_collection(name, embedding_function=function, configuration={"hnsw": HNSW},
                                                   metadata={"kimicode_notes": 1, "kimicode_schema": 1})

        if scope != "user" and not self.place.repo:
            raise NoteError(f"{scope} notes need a repository (run it inside one)")
        name = self._name(scope)
        with self._where_for(scope).collection(name, make, write) as collection:
            yield collection

    def _groups(self, scopes: Iterable[str]) -> list[tuple[str, ...]]:
        """The scopes asked for, grouped by collection (repository and task notes share one)."""
        wanted = [s for s in SCOPES if s in scopes and (s == "user" or self.place.repo) and (s != "task" or self.place.task)]
        shared = tuple(s for s in wanted if s != "user")
        return [g for g in (("user",) if "user" in wanted else (), shared) if g]

    def close(self) -> None:
        self.shared.close()
        if self.private is not self.shared:
            self.private.close()

    # -- reading ------------------------------------------------------------------------------

    def get(self, ref: str) -> Note | None:
        """The note with id ``ref`` or a unique id prefix of at least 4 characters, in any visible scope."""
        ref = ref.strip().lower()
        matches: list[Note] = []
        for group in self._groups(SCOPES):
            with self._collection(group[0]) as collection:
                found = collection.get(ids=[ref], include=["metadatas"])
                if not found["ids"] and len(ref) >= 4:
                    ids = [i for i in collection.get(include=[])["ids"] if i.startswith(ref)][:2]
                    found = collection.get(ids=ids, include=["metadatas"]) if ids else found
            matches += [n for n in _notes(found) if self.place.admits(n)]
        if len(matches) > 1:
            raise LookupError(f"{ref!r} matches more than one note: give more of the id")
        return matches[0] if matches else None

    def notes(self, where: NoteFilter = NoteFilter()) -> list[Note]:
        """Every visible note the filter keeps, most recently updated first."""
        out: list[Note] = []
        for group in self._groups(where.scopes or SCOPES):
            with self._collection(group[0]) as collection:
                for scope in group:
                    found = collection.get(where=_where(where.kinds, scope, self.place), include=["metadatas"])
                    out += [n for n in _notes(found) if self.place.admits(n)]
        return sorted(out, key=lambda n: (n.updated, n.id), reverse=True)

    def search(self, text: str, where: NoteFilter = NoteFilter(), n: int = CANDIDATES) -> list[NoteHit]:
        """Visible notes nearest to ``text`` (a question, a request, words), most similar first."""
        hits: list[NoteHit] = []
        for group in self._groups(where.scopes or SCOPES):
            with self._collection(group[0]) as collection:
                for scope in group:
                    answer = collection.query(query_texts=[text[:8000]], n_results=n, include=["metadatas", "distances"],
                                              where=_where(where.kinds, scope, self.place))
                    for note_id, meta, distance in zip(answer["ids"][0], answer["metadatas"][0], answer["distances"][0]):
                        note = _note(note_id, meta)
                        if note is not None and self.place.admits(note):
                            hits.append(NoteHit(note, max(0.0, min(1.0, 1.0 - float(distance)))))
        return sorted(hits, key=lambda h: (h.similarity, h.note.updated), reverse=True)

    # -- writing ------------------------------------------------------------------------------

    def put(self, notes: Sequence[Note]) -> None:
        """Store ``notes`` as they are (new or replacing the same id), redacted first."""
        by_group: dict[str, list[Note]] = {}
        for note in map(_redacted, notes):
            if not self.place.admits(note) and note.scope != "user":
                raise NoteError(f"note {note.id} belongs to another repository or task")
            by_group.setdefault("user" if note.scope == "user" else "repository", []).append(note)
        for scope, group in by_group.items():
            with self._collection(scope, write=True) as collection:
                collection.upsert(ids=[n.id for n in group], documents=[n.document for n in group],
                                  metadatas=[_metadata(n) for n in group])

    def delete(self, notes: Sequence[Note]) -> None:
        by_group: dict[str, list[str]] = {}
        for note in notes:
            by_group.setdefault("user" if note.scope == "user" else "repository", []).append(note.id)
        for scope, ids in by_group.items():
            with self._collection(scope, write=True) as collection:
                collection.delete(ids=ids)


def _redacted(note: Note) -> Note:
    """``note`` as it may be stored: its text, expansion and history redacted, whoever wrote them."""
    from dataclasses import replace

    from kimicode.memory.notes import Revision
    from kimicode.secrets import redact

    def clean(text: str) -> str:
        return redact(text, "memory").text if text.strip() else text

    return replace(note, text=clean(note.text), files=tuple(map(clean, note.files)), expansion=clean(note.expansion),
                   history=tuple(Revision(clean(r.text), r.until, clean(r.why)) for r in note.history))
