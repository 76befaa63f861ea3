"""The fingerprint index: one Chroma collection per repository.

Local by default: a ``PersistentClient`` under ``<data dir>/memory/chroma``, one folder for
every repository's collection. With ``memory.chroma_url`` set, an ``HttpClient`` talks to
that server instead, so a team shares one index.

A record's id is its signature, so adding the same error again finds the record and
updates it (times seen, last seen, a newer fix) instead of adding a duplicate.

Reliability. Chroma's local index is not safe for two processes writing at once, and a
process keeps an in-memory index that does not see what another process wrote. So:
every local operation holds an advisory file lock (shared to read, exclusive to write),
every write bumps a generation file, and a process whose generation is behind reopens
its client before it reads or writes. Any failure (a corrupt or locked index, a missing
package, an unreachable server) becomes ``MemoryUnavailable`` with a one-line reason;
callers show it once and go on without memory.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence
from urllib.parse import urlparse

from kimicode.locations import private_dir, tighten
from kimicode.memory.fingerprint import Fingerprint, error_shapes, shape_document
from kimicode.memory.identity import RepoIdentity, repo_identity
from kimicode.memory.normalize import normalize_message

LOCK_TIMEOUT = 10.0  # seconds to wait for another kimicode's write before giving up
PROBE_TIMEOUT = 3.0  # seconds for a Chroma server to answer its heartbeat
REQUEST_TIMEOUT = 30.0  # seconds for any one request to a Chroma server
BATCH = 500  # records per Chroma call when importing
# Hashed feature vectors are nearly orthogonal to each other, which makes HNSW's graph walk
# miss more often than on dense text embeddings: at Chroma's defaults (100/100/16) a known
# error among 10k records was missed in about one run out of three. Wider search is cheap
# at this size (bench/memory_bench.py).
HNSW = {"space": "cosine", "ef_construction": 200, "ef_search": 200, "max_neighbors": 32}

try:  # advisory locks: POSIX only; elsewhere concurrent local writers are not guarded
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


class MemoryUnavailable(Exception):
    """Memory cannot be used right now; the message is one line saying why."""


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


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}"[:300] if text else type(exc).__name__


def _display_url(url: str) -> str:
    parsed = urlparse(url)
    host = parsed.hostname or ""
    return f"{parsed.scheme}://{host}" + (f":{parsed.port}" if parsed.port else "")


class _FileLock:
    """An advisory lock on a file, with a timeout (flock would otherwise wait forever)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @contextlib.contextmanager
    def hold(self, exclusive: bool, timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
        if fcntl is None:  # pragma: no cover
            yield
            return
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            mode = (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(fd, mode)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise MemoryUnavailable(f"the memory index is locked by another process ({self.path})") from None
                    time.sleep(0.02)
            yield
        finally:
            os.close(fd)  # closing releases the lock


class _LocalClients:
    """One PersistentClient per index folder per process, reopened when another process wrote.

    Chroma shares one in-memory system per path within a process; closing our single
    client really stops it, so the next open reads what other processes wrote.
    """

    _lock = threading.Lock()
    _clients: dict[Path, tuple[Any, str]] = {}  # folder -> (client, generation it reflects)

    @classmethod
    def get(cls, folder: Path, generation: str) -> Any:
        with cls._lock:
            current = cls._clients.get(folder)
            if current and current[1] == generation:
                return current[0]
            if current:
                with contextlib.suppress(Exception):
                    current[0].close()
            import chromadb
            from chromadb.config import Settings as ChromaSettings

            client = chromadb.PersistentClient(path=str(folder), settings=ChromaSettings(anonymized_telemetry=False))
            cls._clients[folder] = (client, generation)
            return client

    @classmethod
    def stale(cls, folder: Path, generation: str) -> bool:
        with cls._lock:
            current = cls._clients.get(folder)
            return current is None or current[1] != generation

    @classmethod
    def seen(cls, folder: Path, generation: str) -> None:
        with cls._lock:
            if folder in cls._clients:
                cls._clients[folder] = (cls._clients[folder][0], generation)

    @classmethod
    def reset(cls) -> None:
        """After a failure: close every client and drop Chroma's per-process cache.

        A PersistentClient that failed to open (a corrupt database) leaves a half-started
        system in Chroma's cache, and every later open of that path gets it back with a
        meaningless error. The cache can only be cleared as a whole, so our other
        clients are closed first and simply reopen on their next use.
        """
        with cls._lock:
            for client, _ in cls._clients.values():
                with contextlib.suppress(Exception):
                    client.close()
            cls._clients.clear()
            with contextlib.suppress(Exception):
                from chromadb.api.shared_system_client import SharedSystemClient

                SharedSystemClient.clear_system_cache()


class MemoryStore:
    """The fingerprints of one repository. Every method may raise MemoryUnavailable."""

    def __init__(self, identity: RepoIdentity, *, folder: Path | None = None, url: str = "",
                 embeddings_url: str = "", embeddings_model: str = "", api_key: str = "",
                 lock_timeout: float = LOCK_TIMEOUT) -> None:
        self.identity = identity
        self.lock_timeout = lock_timeout
        self.folder = folder
        self.url = url
        self._embedding_args = (embeddings_url, embeddings_model, api_key)
        self._http: Any = None
        self._cached: tuple[Any, Any] | None = None  # (client, its collection)
        self.where = _display_url(url) if url else str(folder)

    @classmethod
    def open(cls, settings: Any, repo_root: Path, data_dir: Path | None = None,
             lock_timeout: float = LOCK_TIMEOUT) -> MemoryStore:
        """The store for ``repo_root`` as configured: a server when ``memory.chroma_url`` is set."""
        from kimicode.locations import user_locations

        memory = settings.memory
        if not memory.enabled:
            raise MemoryUnavailable("memory is turned off (memory.enabled = false)")
        folder = None if memory.chroma_url else (data_dir or user_locations().data_dir) / "memory" / "chroma"
        embeddings_url = memory.embeddings_url
        # the chat key goes to the chat provider's own host only, never to another embeddings service
        same_host = bool(embeddings_url) and urlparse(embeddings_url).hostname == urlparse(settings.base_url).hostname
        store = cls(repo_identity(repo_root), folder=folder, url=memory.chroma_url, embeddings_url=embeddings_url,
                    embeddings_model=memory.embeddings_model,
                    api_key=settings.api_key if same_host else "", lock_timeout=lock_timeout)
        store.count()  # fail here, once, rather than in the middle of the work
        return store

    # -- the collection ---------------------------------------------------------------------

    def _generation_file(self) -> Path:
        assert self.folder is not None
        return self.folder.parent / "generation"

    def _generation(self) -> str:
        try:
            return self._generation_file().read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return "0"

    def _bump(self) -> str:
        value = f"{time.time_ns()}-{os.getpid()}"
        path = self._generation_file()
        tmp = path.with_suffix(".tmp")
        tmp.write_text(value, encoding="utf-8")
        os.replace(tmp, path)
        return value

    def _http_client(self) -> Any:
        if self._http is None:
            import chromadb
            import httpx
            from chromadb.config import Settings as ChromaSettings

            parsed = urlparse(self.url if "://" in self.url else "http://" + self.url)
            if not parsed.hostname:
                raise MemoryUnavailable(f"memory.chroma_url is not a URL: {self.url!r}")
            ssl = parsed.scheme == "https"
            port = parsed.port or (443 if ssl else 8000)
            base = f"{parsed.scheme}://{parsed.hostname}:{port}"
            try:  # Chroma's own client waits forever on a silent host: ask first, with a timeout
                httpx.get(base + "/api/v2/heartbeat", timeout=PROBE_TIMEOUT).raise_for_status()
            except httpx.HTTPError as exc:
                raise MemoryUnavailable(f"cannot reach the Chroma server at {self.where}: {_describe(exc)}") from None
            client = chromadb.HttpClient(host=parsed.hostname, port=port, ssl=ssl,
                                         settings=ChromaSettings(anonymized_telemetry=False))
            session = getattr(getattr(client, "_server", None), "_session", None)
            if session is not None:  # chromadb creates it with timeout=None
                session.timeout = httpx.Timeout(REQUEST_TIMEOUT)
            self._http = client
        return self._http

    def _get_collection(self, client: Any) -> Any:
        """This repository's collection on ``client``; asked for once per client, not per operation."""
        if self._cached is not None and self._cached[0] is client:
            return self._cached[1]
        from kimicode.memory.embedding import embedding_for

        function, tag = embedding_for(*self._embedding_args)
        collection = client.get_or_create_collection(
            f"{self.identity.collection}-{tag}", embedding_function=function, configuration={"hnsw": HNSW},
            metadata={"kimicode_repo": self.identity.key[:200], "kimicode_schema": 1},
        )
        self._cached = (client, collection)
        return collection

    @contextlib.contextmanager
    def _collection(self, write: bool = False) -> Iterator[Any]:
        try:
            if self.url:
                yield self._get_collection(self._http_client())
                return
            assert self.folder is not None
            private_dir(self.folder, self.folder.parent.parent)  # the data dir, memory/ and chroma/: owner only
            lock = _FileLock(self.folder.parent / "chroma.lock")
            database = self.folder / "chroma.sqlite3"
            for _ in range(3):
                # Creating the database, or closing a client that is behind the generation file
                # (another process wrote since) and opening a fresh one, happen under the
                # exclusive lock like writes; reads with an up-to-date client share the lock.
                opening = not database.exists() or _LocalClients.stale(self.folder, self._generation())
                with lock.hold(exclusive=write or opening, timeout=self.lock_timeout):
                    generation = self._generation()
                    if not (write or opening) and _LocalClients.stale(self.folder, generation):
                        continue  # a writer got in between: reopen under the exclusive lock
                    collection = self._get_collection(_LocalClients.get(self.folder, generation))
                    try:
                        yield collection
                    finally:
                        if write:  # even after a failed write: others must not trust what they hold
                            _LocalClients.seen(self.folder, self._bump())
                    if write or opening:
                        tighten(self.folder.parent)  # Chroma creates its files with the umask's mode
                    return
            raise MemoryUnavailable("the memory index keeps changing under concurrent writers; try again")
        except MemoryUnavailable:
            raise
        except Exception as exc:  # noqa: BLE001 - a broken index must never break the caller
            self._cached = None
            if self.folder is not None:
                _LocalClients.reset()  # the next attempt starts from the files
            raise MemoryUnavailable(f"the memory index at {self.where} is unusable: {_describe(exc)}") from None

    def close(self) -> None:
        if self._http is not None:
            with contextlib.suppress(Exception):
                self._http.close()
            self._http = None
        self._cached = None

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
