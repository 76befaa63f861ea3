"""Where memory lives: a Chroma index in a local folder, or a Chroma server.

A ``ChromaPlace`` hands out collections for the stores above it (error fingerprints in
store.py, notes in notes_store.py) and owns what makes Chroma safe to share:

Chroma's local index is not safe for two processes writing at once, and a process keeps an
in-memory index that does not see what another process wrote. So every local operation holds
an advisory file lock (shared to read, exclusive to write), every write bumps a generation
file, and a process whose generation is behind reopens its client before it reads or writes.
Any failure (a corrupt or locked index, a missing package, an unreachable server) becomes
``MemoryUnavailable`` with a one-line reason; callers show it once and go on without memory.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator
from urllib.parse import urlparse

from kimicode.locations import private_dir, tighten
from kimicode.urls import shown

LOCK_TIMEOUT = 10.0  # seconds to wait for another kimicode's write before giving up
PROBE_TIMEOUT = 3.0  # seconds for a Chroma server to answer its heartbeat
REQUEST_TIMEOUT = 30.0  # seconds for any one request to a Chroma server
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


def describe(exc: BaseException) -> str:
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


class ChromaPlace:
    """A local index folder (``folder``) or a Chroma server (``url``), and the collections in it."""

    def __init__(self, *, folder: Path | None = None, url: str = "", lock_timeout: float = LOCK_TIMEOUT) -> None:
        self.folder = folder
        self.url = url
        self.lock_timeout = lock_timeout
        self._http: Any = None
        self._cached: dict[str, tuple[Any, Any]] = {}  # collection name -> (client, collection)
        self.where = _display_url(url) if url else str(folder)

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
                raise MemoryUnavailable(f"memory.chroma_url is not a URL: {shown(self.url)!r}")
            ssl = parsed.scheme == "https"
            port = parsed.port or (443 if ssl else 8000)
            base = f"{parsed.scheme}://{parsed.hostname}:{port}"
            try:  # Chroma's own client waits forever on a silent host: ask first, with a timeout
                httpx.get(base + "/api/v2/heartbeat", timeout=PROBE_TIMEOUT).raise_for_status()
            except httpx.HTTPError as exc:
                raise MemoryUnavailable(f"cannot reach the Chroma server at {self.where}: {describe(exc)}") from None
            client = chromadb.HttpClient(host=parsed.hostname, port=port, ssl=ssl,
                                         settings=ChromaSettings(anonymized_telemetry=False))
            session = getattr(getattr(client, "_server", None), "_session", None)
            if session is not None:  # chromadb creates it with timeout=None
                session.timeout = httpx.Timeout(REQUEST_TIMEOUT)
            self._http = client
        return self._http

    def _get_collection(self, client: Any, name: str, make: Callable[[Any], Any]) -> Any:
        """The collection ``name`` on ``client``; asked for once per client, not per operation."""
        cached = self._cached.get(name)
        if cached is not None and cached[0] is client:
            return cached[1]
        collection = make(client)
        self._cached[name] = (client, collection)
        return collection

    @contextlib.contextmanager
    def collection(self, name: str, make: Callable[[Any], Any], write: bool = False) -> Iterator[Any]:
        """The collection ``name`` (``make(client)`` gets or creates it), under the right lock."""
        try:
            if self.url:
                yield self._get_collection(self._http_client(), name, make)
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
                    collection = self._get_collection(_LocalClients.get(self.folder, generation), name, make)
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
            self._cached.clear()
            if self.folder is not None:
                _LocalClients.reset()  # the next attempt starts from the files
            raise MemoryUnavailable(f"the memory index at {self.where} is unusable: {describe(exc)}") from None

    def close(self) -> None:
        if self._http is not None:
            with contextlib.suppress(Exception):
                self._http.close()
            self._http = None
        self._cached.clear()
