"""The fingerprint index: one Chroma collection per repository.

Local by default: a ``PersistentClient`` under ``<data dir>/memory/chroma``, one folder for
every repository's collection. With ``memory.chroma_url`` set, an ``HttpClient`` talks to
that server instead, so a team shares one index (chroma.py: locks, reopening, timeouts).

A record's id is its signature, so adding the same error again finds the record and
updates it (times seen, last seen, a newer fix) instead of adding a duplicate.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence
from urllib.parse import urlparse

from kimicode.memory.chroma import HNSW, LOCK_TIMEOUT, ChromaPlace, MemoryUnavailable
from kimicode.memory.fingerprint import Fingerprint, error_shapes, shape_document
from kimicode.memory.identity import RepoIdentity, repo_identity
from kimicode.memory.normalize import normalize_message

__all__ = ["Filters", "Hit", "MemoryStore", "MemoryUnavailable", "place_for"]

BATCH = 500  # records per Chroma call when importing


@dataclass(frozen=True)
class Hit:
    fingerprint: Fingerprint
    score: float  # cosine similarity of the embeddings; 1.0 for the same signature
    exact: bool  # same signature


@dataclass(frozen=True)
class Filters:
    language: str | None = None
    error_type: str | None = None
    file: str | None = None  # a path or a file name among the record's files and frames

    def where(self) -> dict[str, Any] | None:
        terms: list[dict[str, Any]] = []
        if self.language:
            terms.append({"language": self.language})
        if self.error_type:
            terms.append({"error_type": self.error_type})
        if self.file:
            terms.append({"paths": {"$contains": self.file.replace("\\", "/").lstrip("./")}})
        if len(terms) > 1:
            return {"$and": terms}
        return terms[0] if terms else None


def _metadata(fp: Fingerprint) -> dict[str, Any]:
    """A flat Chroma metadata dict; lists only when non-empty (Chroma rejects empty ones)."""
    data: dict[str, Any] = {
        "signature": fp.signature, "error_type": fp.error_type, "message": fp.message, "language": fp.language,
        "excerpt": fp.excerpt, "root_cause": fp.root_cause, "fix": fp.fix, "commit": fp.commit,
        "first_seen": fp.first_seen, "last_seen": fp.last_seen, "times_seen": fp.times_seen,
    }
    paths = [p for p in (*fp.files, *(f.partition(" in ")[0] for f in fp.frames)) if p]
    paths += [p.rsplit("/", 1)[-1] for p in paths]
    for key, values in (("frames", fp.frames), ("files", fp.files), ("paths", tuple(dict.fromkeys(paths)))):
        if values:
            data[key] = list(values)
    return data


def _redacted(fp: Fingerprint) -> Fingerprint:
    """``fp`` as it may be stored: every text field redacted (an error message quotes whatever the
    failing code printed, a fix whatever the model wrote), whoever built the record."""
    from kimicode.secrets import redact

    def clean(text: str) -> str:
        return redact(text, "memory").text if text else text

    return replace(fp, error_type=clean(fp.error_type), message=clean(fp.message), excerpt=clean(fp.excerpt),
                   root_cause=clean(fp.root_cause), fix=clean(fp.fix), frames=tuple(map(clean, fp.frames)),
                   files=tuple(map(clean, fp.files)))


def _record(metadata: Mapping[str, Any]) -> Fingerprint | None:
    """The record behind a metadata dict; None for one that is not ours or is damaged."""
    try:
        return Fingerprint.from_dict({k: v for k, v in (metadata or {}).items() if k != "paths"})
    except (ValueError, TypeError):
        return None


def _records(metadatas: Sequence[Mapping[str, Any]] | None) -> list[Fingerprint]:
    return [r for r in map(_record, metadatas or []) if r is not None]


class MemoryStore:
    """The fingerprints of one repository. Every method may raise MemoryUnavailable."""

    def __init__(self, identity: RepoIdentity, *, folder: Path | None = None, url: str = "",
                 embeddings_url: str = "", embeddings_model: str = "", api_key: str = "",
                 lock_timeout: float = LOCK_TIMEOUT, place: ChromaPlace | None = None) -> None:
        self.identity = identity
        self.place = place or ChromaPlace(folder=folder, url=url, lock_timeout=lock_timeout)
        self._embedding_args = (embeddings_url, embeddings_model, api_key)

    @property
    def url(self) -> str:
        return self.place.url

    @property
    def where(self) -> str:
        return self.place.where

    @classmethod
    def open(cls, settings: Any, repo_root: Path, data_dir: Path | None = None,
             lock_timeout: float = LOCK_TIMEOUT) -> MemoryStore:
        """The store for ``repo_root`` as configured: a server when ``memory.chroma_url`` is set."""
        memory = settings.memory
        if not memory.enabled:
            raise MemoryUnavailable("memory is turned off (memory.enabled = false)")
        embeddings_url = memory.embeddings_url
        # the chat key goes to the chat provider's own host only, never to another embeddings service
        same_host = bool(embeddings_url) and urlparse(embeddings_url).hostname == urlparse(settings.base_url).hostname
        store = cls(repo_identity(repo_root), embeddings_url=embeddings_url,
                    embeddings_model=memory.embeddings_model,
                    api_key=settings.api_key if same_host else "", place=place_for(settings, data_dir, lock_timeout))
        store.count()  # fail here, once, rather than in the middle of the work
        return store

    # -- the collection ---------------------------------------------------------------------

    def _make(self, client: Any) -> Any:
        from kimicode.memory.embedding import embedding_for

        function, tag = embedding_for(*self._embedding_args)
        return client.get_or_create_collection(
            self._name(tag), embedding_function=function, configuration={"hnsw": HNSW},
            metadata={"kimicode_repo": self.identity.key[:200], "kimicode_schema": 1},
        )

    def _name(self, tag: str) -> str:
        return f"{self.identity.collection}-{tag}"

    @contextlib.contextmanager
    def _collection(self, write: bool = False) -> Iterator[Any]:
        from kimicode.memory.embedding import embedding_tag

        with self.place.collection(self._name(embedding_tag(*self._embedding_args[:2])), self._make, write) as collection:
            yield collection

    def close(self) -> None:
        self.place.close()

    # -- reading ----------------------------------------------------------------------------

    def count(self) -> int:
        with self._collection() as collection:
            return int(collection.count())

    def get(self, ref: str) -> Fingerprint | None:
        """The record with id ``ref``, or with a unique id prefix of at least 4 characters."""
        ref = ref.strip().lower()
        with self._collection() as collection:
            found = collection.get(ids=[ref], include=["metadatas"])
            if not found["ids"] and len(ref) >= 4:
                matches = [i for i in collection.get(include=[])["ids"] if i.startswith(ref)]
                found = collection.get(ids=matches[:2], include=["metadatas"]) if matches else found
        if len(found["ids"]) > 1:
            raise LookupError(f"{ref!r} matches more than one record: give more of the id")
        records = _records(found["metadatas"])
        return records[0] if records else None

    def records(self, filters: Filters = Filters(), limit: int | None = None) -> list[Fingerprint]:
        """Records, most recently seen first."""
        with self._collection() as collection:
            found = collection.get(where=filters.where(), include=["metadatas"])
        records = sorted(_records(found["metadatas"]), key=lambda f: (f.last_seen, f.signature), reverse=True)
        return records[:limit] if limit is not None else records

    def search(self, text: str, n: int = 5, filters: Filters = Filters(), min_score: float = 0.0,
               repo_root: str | None = None) -> list[Hit]:
        """Records like the error(s) in ``text`` (or like free text), best first."""
        shapes = error_shapes(text, repo_root)[:3]
        queries = [shape_document(s) for s in shapes] or [normalize_message(text)[:2000]]
        exact = [s.signature for s in shapes]
        hits: dict[str, Hit] = {}
        where = filters.where()
        with self._collection() as collection:
            if exact:
                found = collection.get(ids=exact, where=where, include=["metadatas"])
                for record in _records(found["metadatas"]):
                    hits[record.id] = Hit(record, 1.0, True)
            answer = collection.query(query_texts=queries, n_results=max(n * 2, 10), where=where,
                                      include=["metadatas", "distances"])
        for metas, distances in zip(answer["metadatas"], answer["distances"]):
            for meta, distance in zip(metas, distances):
                near = _record(meta)
                if near is None:
                    continue
                score = max(0.0, min(1.0, 1.0 - float(distance)))
                if near.id not in hits or hits[near.id].score < score:
                    hits[near.id] = Hit(near, score, near.id in exact)
        ranked = sorted(hits.values(), key=lambda h: (h.score, h.fingerprint.last_seen, h.fingerprint.signature), reverse=True)
        return [h for h in ranked if h.score >= min_score][:n]

    def export(self) -> list[Fingerprint]:
        """Every record, oldest first (a stable order for diffs of exports)."""
        return sorted(self.records(), key=lambda f: (f.first_seen, f.signature))

    # -- writing ----------------------------------------------------------------------------

    def add(self, fp: Fingerprint) -> tuple[Fingerprint, bool]:
        """Store ``fp``; the same signature updates the record. Returns (record as stored, was new)."""
        stored, new = self.add_many([fp], add_counts=True)
        return stored[0], bool(new)

    def add_many(self, records: Sequence[Fingerprint], add_counts: bool = False) -> tuple[list[Fingerprint], int]:
        """Store many records under one lock; returns (records as stored, how many were new).

        ``add_counts`` adds seen counts (a new sighting); without it the larger count is
        kept, so importing the same export twice changes nothing.
        """
        merged: dict[str, Fingerprint] = {}
        for fp in map(_redacted, records):  # duplicates within the batch merge first
            merged[fp.id] = merged[fp.id].merged(fp, add_counts) if fp.id in merged else fp
        new = 0
        out: list[Fingerprint] = []
        with self._collection(write=True) as collection:
            ids = list(merged)
            for start in range(0, len(ids), BATCH):
                chunk = ids[start:start + BATCH]
                found = collection.get(ids=chunk, include=["metadatas"])
                existing = {r.id: r for r in _records(found["metadatas"])}
                batch = [existing[i].merged(merged[i], add_counts) if i in existing else merged[i] for i in chunk]
                new += sum(1 for i in chunk if i not in existing)
                collection.upsert(ids=chunk, documents=[f.document for f in batch], metadatas=[_metadata(f) for f in batch])
                out.extend(batch)
        return out, new

    def forget(self, ref: str) -> Fingerprint | None:
        record = self.get(ref)
        if record is None:
            return None
        with self._collection(write=True) as collection:
            collection.delete(ids=[record.id])
        return record


def place_for(settings: Any, data_dir: Path | None = None, lock_timeout: float = LOCK_TIMEOUT) -> ChromaPlace:
    """The shared place as configured: the server of ``memory.chroma_url``, else the local index."""
    from kimicode.locations import user_locations

    if settings.memory.chroma_url:
        return ChromaPlace(url=settings.memory.chroma_url, lock_timeout=lock_timeout)
    return local_place(data_dir or user_locations().data_dir, lock_timeout)


def local_place(data_dir: Path, lock_timeout: float = LOCK_TIMEOUT) -> ChromaPlace:
    """The index on this machine, whatever ``memory.chroma_url`` says."""
    return ChromaPlace(folder=data_dir / "memory" / "chroma", lock_timeout=lock_timeout)
