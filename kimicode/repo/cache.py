"""Per-repository cache of what packing learned about each file.

One SQLite file per packed root under the user cache dir:
- ``files``: path -> (size, mtime_ns, digest, features) so a warm pack costs a
  stat() per file; a changed file is re-read and re-scanned, nothing else. The names a
  file defines (three quarters of the bytes at 100k files) are a column of their own,
  read only when asked for: every pack after an edit loads every record.
- ``blobs``: (content digest, kind) -> text (outlines, redacted text, token
  counts), so renames and reverts reuse work too.
- ``terms``: content digest -> the file's words and definitions for the lexical
  index (terms.file_terms), made by the same read as the record.
- ``results``: a whole pack keyed by the digest of everything it depends on.
- ``state``: named blobs the next pack starts from (the last listing, files.ListingMemo, and
  every record at once: loading 100k rows one by one costs seconds, one marshalled list 0.1 s).

It is only a cache: a damaged database (truncated, overwritten, not SQLite) is deleted
and rebuilt, whether the damage shows on opening or on a later query; a locked or
unwritable one is replaced by an in-memory one for this run. Either way packing goes on,
with one warning.
"""

from __future__ import annotations

import hashlib
import marshal
import sqlite3
from functools import partial
from pathlib import Path
from typing import Callable, Iterable, Iterator, Mapping, NamedTuple

SCHEMA_VERSION = 10  # 8: the terms table; 9: the state table; 10: records as marshal, definitions apart


class FileRecord(NamedTuple):
    """What a scan learned about one file. A named tuple, not a dataclass: 100k of them are made
    from the cache on every pack after an edit in a monorepo, 5x faster than a frozen dataclass."""

    path: str
    size: int
    mtime_ns: int
    digest: str  # blake2b of the bytes
    language: str | None
    skip: str | None  # content-based reason not to send it (binary, generated, minified)
    lines: int
    utf8: bool  # False when invalid UTF-8 was replaced while decoding
    imports: tuple[str, ...]

    def to_bytes(self) -> bytes:
        # marshal, not JSON: 3x faster to load, and a pack after an edit loads every record
        return marshal.dumps(tuple(self))

    @classmethod
    def from_bytes(cls, data: bytes) -> FileRecord:
        return cls._make(marshal.loads(data))


# a record from its fields without a Python call per record (what FileRecord._make does, less its check)
_make_record: Callable[[Iterable[object]], FileRecord] = partial(tuple.__new__, FileRecord)
PATCH_MOST = 2_000  # records changed since the snapshot before the scan writes it whole again


def _records_state() -> str:
    from kimicode.repo.terms import VERSION

    # a new terms.VERSION makes every stored word stale: then the table and term_digests decide
    return f"records:{VERSION}"


def digest_bytes(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def cache_path(cache_dir: Path, root: Path) -> Path:
    key = hashlib.sha1(str(root).encode()).hexdigest()[:16]
    return cache_dir / "repos" / f"{root.name or 'root'}-{key}.v{SCHEMA_VERSION}.sqlite"


_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER, digest TEXT, record BLOB, defines TEXT);
CREATE TABLE IF NOT EXISTS blobs (digest TEXT, kind TEXT, value TEXT, PRIMARY KEY (digest, kind));
CREATE TABLE IF NOT EXISTS results (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS terms (digest TEXT PRIMARY KEY, version INTEGER, value BLOB);
CREATE TABLE IF NOT EXISTS state (name TEXT PRIMARY KEY, value BLOB);
"""


def _damaged(exc: sqlite3.Error) -> bool:
    """The file is not a sound database (as opposed to locked, read-only, or a full disk)."""
    name = getattr(exc, "sqlite_errorname", "")
    return name in ("SQLITE_CORRUPT", "SQLITE_NOTADB") or "malformed" in str(exc) or "not a database" in str(exc)


class PackCache:
    def __init__(self, path: Path | None) -> None:
        self.warning: str | None = None
        self._path = path
        self._rebuilt = False
        self._patch: list[tuple[str, tuple[object, ...] | None]] | None = None  # see file_records
        self._db = self._open(path)

    def _open(self, path: Path | None) -> sqlite3.Connection:
        if path is not None:
            for attempt in range(2):
                try:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    db = sqlite3.connect(path, timeout=5)
                    # only a cache: a crash that damages it costs a rebuild, not data; no fsync per write
                    db.execute("PRAGMA synchronous=OFF")
                    db.executescript(_SCHEMA)
                    return db
                except sqlite3.DatabaseError as exc:
                    self.warning = f"pack cache unavailable ({exc}); packing without it"
                    if attempt == 0 and _damaged(exc):
                        self._remove(path, exc)
                        continue
                    break
                except OSError as exc:
                    self.warning = f"pack cache unavailable ({exc.strerror}); packing without it"
                    break
        db = sqlite3.connect(":memory:")
        db.executescript(_SCHEMA)
        return db

    def _remove(self, path: Path, exc: sqlite3.Error) -> None:
        """Delete a damaged cache file: it holds nothing that cannot be recomputed."""
        for suffix in ("", "-journal", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        self._rebuilt = True
        self.warning = f"the pack cache was damaged ({exc}); rebuilt it"

    def _guard(self, action, default=None):  # type: ignore[no-untyped-def]
        """Run a database action; a failing cache must never fail the pack.

        Damage found by a query (a truncated file opens fine) rebuilds the cache once and
        runs the action again on the new, empty one.
        """
        try:
            return action()
        except sqlite3.Error as exc:
            if _damaged(exc) and not self._rebuilt and self._path is not None:
                try:
                    self._db.close()
                    self._remove(self._path, exc)
                except (sqlite3.Error, OSError):
                    pass
                self._db = self._open(self._path)
                return self._guard(action, default)
            self.warning = f"pack cache error ({exc}); results not cached"
            return default

    def file_records(self) -> tuple[dict[str, FileRecord], bool]:
        """Every stored record by path, and whether each one's words are stored too (else: ask term_digests).

        Read from the snapshot when there is one: the table's rows as marshalled columns
        (store_records), plus the rows written since (put_files keeps that patch in the same
        transaction as the rows, so the two never disagree). Only a scan that found every
        file's words stored under this terms.VERSION writes a snapshot.
        """
        base, patch = self.get_state(_records_state()), self.get_state(_records_state() + ":patch")
        if base is not None:
            try:
                columns = marshal.loads(base)
                if len(columns) != len(FileRecord._fields):
                    raise ValueError("another layout")
                records = {r[0]: r for r in map(_make_record, zip(*columns))}
                self._patch = marshal.loads(patch) if patch is not None else []
                for path, row in self._patch:
                    if row is None:
                        records.pop(path, None)
                    else:
                        records[path] = _make_record(row)
                return records, True
            except (ValueError, TypeError, EOFError):
                self._patch = None  # damaged or of another layout: the table is the truth
        rows = self._guard(lambda: self._db.execute("SELECT record FROM files").fetchall(), [])
        return {r.path: r for r in (FileRecord.from_bytes(data) for (data,) in rows)}, False

    @property
    def has_snapshot(self) -> bool:
        """Whether the snapshot read by file_records still stands for the table (with its patch)."""
        return self._patch is not None

    def store_records(self, records: Iterable[FileRecord]) -> None:
        """Keep ``records`` (every row of the files table, each with its words stored) as the next scan's snapshot."""
        columns = marshal.dumps(list(zip(*records)) or [()] * len(FileRecord._fields))
        name = _records_state()

        def write() -> None:
            with self._db:
                self._db.execute("INSERT OR REPLACE INTO state VALUES (?, ?)", (name, columns))
                self._db.execute("DELETE FROM state WHERE name = ?", (name + ":patch",))

        self._guard(write)
        self._patch = []

    def defines(self) -> Mapping[str, str]:
        """Path -> the names the file defines, one a line, read from the cache when asked for."""
        return StoredDefines(self)

    def put_files(self, records: Iterable[FileRecord], defines: Mapping[str, str], removed: Iterable[str] = (),
                  terms: Iterable[tuple[str, bytes]] = ()) -> None:
        """Store ``records`` with what each defines (``defines``: path -> names, one a line) and the
        ``terms`` (digest, words) of their contents, all in one transaction."""
        from kimicode.repo.terms import VERSION

        records = list(records)
        rows = [(r.path, r.size, r.mtime_ns, r.digest, r.to_bytes(), defines.get(r.path, "")) for r in records]
        gone = [(p,) for p in removed]
        words = [(digest, VERSION, value) for digest, value in terms]
        name = _records_state()
        patch = None
        if self._patch is not None and len(self._patch) + len(rows) + len(gone) <= PATCH_MOST:
            patch = self._patch + [(r.path, tuple(r)) for r in records] + [(p, None) for (p,) in gone]

        def write() -> None:
            with self._db:
                self._db.executemany("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?)", rows)
                self._db.executemany("DELETE FROM files WHERE path = ?", gone)
                self._db.executemany("INSERT OR REPLACE INTO terms VALUES (?, ?, ?)", words)
                if patch is not None:
                    self._db.execute("INSERT OR REPLACE INTO state VALUES (?, ?)", (name + ":patch", marshal.dumps(patch)))
                else:  # no snapshot, or one so far behind that the scan writes it whole again
                    self._db.execute("DELETE FROM state WHERE name IN (?, ?)", (name, name + ":patch"))

        if rows or gone or words:
            self._guard(write)
            self._patch = patch

    def terms(self, digests: Iterable[str]) -> dict[str, bytes]:
        """The stored term blobs of these digests, made by this terms.VERSION (missing ones are absent)."""
        from kimicode.repo.terms import VERSION

        wanted = set(digests)
        rows = self._guard(lambda: self._db.execute("SELECT digest, value FROM terms WHERE version = ?", (VERSION,)).fetchall(), [])
        return {digest: value for digest, value in rows if digest in wanted}

    def term_digests(self) -> set[str]:
        """Digests whose terms are stored (by this terms.VERSION)."""
        from kimicode.repo.terms import VERSION

        rows = self._guard(lambda: self._db.execute("SELECT digest FROM terms WHERE version = ?", (VERSION,)).fetchall(), [])
        return {digest for (digest,) in rows}

    def put_terms(self, items: Iterable[tuple[str, bytes]]) -> None:
        from kimicode.repo.terms import VERSION

        rows = [(digest, VERSION, value) for digest, value in items]

        def write() -> None:
            with self._db:
                self._db.executemany("INSERT OR REPLACE INTO terms VALUES (?, ?, ?)", rows)

        if rows:
            self._guard(write)

    def drop_unused_terms(self, digests: Iterable[str] | None = None) -> None:
        """Drop the terms of contents no file has any more (edited, deleted): of these ``digests``
        (the contents files had before), or of any digest when None (a sweep over the whole table)."""
        rows: list[tuple[str, ...]] = [()]
        if digests is None:
            query = "DELETE FROM terms WHERE digest NOT IN (SELECT digest FROM files)"
        else:
            query = "DELETE FROM terms WHERE digest = ? AND NOT EXISTS (SELECT 1 FROM files WHERE digest = ?)"
            rows = [(d, d) for d in set(digests)]

        def write() -> None:
            with self._db:
                self._db.executemany(query, rows)

        self._guard(write)

    def get_blob(self, digest: str, kind: str) -> str | None:
        row = self._guard(lambda: self._db.execute("SELECT value FROM blobs WHERE digest=? AND kind=?", (digest, kind)).fetchone())
        return row[0] if row else None

    def put_blobs(self, items: Iterable[tuple[str, str, str]]) -> None:
        rows = list(items)

        def write() -> None:
            with self._db:
                self._db.executemany("INSERT OR REPLACE INTO blobs VALUES (?, ?, ?)", rows)

        if rows:
            self._guard(write)

    def get_result(self, key: str) -> str | None:
        row = self._guard(lambda: self._db.execute(
            "SELECT value, rowid < (SELECT max(rowid) FROM results) FROM results WHERE key=?", (key,)).fetchone())
        if row is None:
            return None
        if row[1]:
            # a pack used again becomes the newest, so put_result evicts the least recently used: a
            # pack after "edit, then undo" still finds the one from before the edit
            try:
                with self._db:
                    self._db.execute("UPDATE results SET rowid = (SELECT max(rowid) FROM results) + 1 WHERE key=?", (key,))
            except sqlite3.Error:  # read-only or busy: the hit stands, only its age is not refreshed
                pass
        return str(row[0])

    def put_result(self, key: str, value: str, keep: int = 8) -> None:
        def write() -> None:
            with self._db:
                self._db.execute("INSERT OR REPLACE INTO results VALUES (?, ?)", (key, value))
                # keep the newest few: results are large and rarely reused once stale
                self._db.execute(
                    "DELETE FROM results WHERE rowid NOT IN (SELECT rowid FROM results ORDER BY rowid DESC LIMIT ?)", (keep,)
                )

        self._guard(write)

    def get_state(self, name: str) -> bytes | None:
        row = self._guard(lambda: self._db.execute("SELECT value FROM state WHERE name=?", (name,)).fetchone())
        return row[0] if row else None

    def put_state(self, name: str, value: bytes) -> None:
        def write() -> None:
            with self._db:
                self._db.execute("INSERT OR REPLACE INTO state VALUES (?, ?)", (name, value))

        self._guard(write)

    def close(self) -> None:
        self._guard(self._db.close)

    def _defines_of(self, path: str) -> str | None:
        row = self._guard(lambda: self._db.execute("SELECT defines FROM files WHERE path=?", (path,)).fetchone())
        return row[0] if row else None

    def _defined_paths(self) -> list[str]:
        return [p for (p,) in self._guard(lambda: self._db.execute("SELECT path FROM files").fetchall(), [])]


class StoredDefines(Mapping[str, str]):
    """The definitions column as a mapping: at 100k files it is ~90 MB of text no plain pack needs."""

    def __init__(self, cache: PackCache) -> None:
        self._cache = cache

    def __getitem__(self, path: str) -> str:
        found = self._cache._defines_of(path)
        if found is None:
            raise KeyError(path)
        return found

    def __iter__(self) -> Iterator[str]:
        return iter(self._cache._defined_paths())

    def __len__(self) -> int:
        return len(self._cache._defined_paths())
