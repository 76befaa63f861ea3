"""Read what changed, reuse what did not: listed files -> cached FileRecords."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Callable, Mapping, Sequence

from kimicode.repo.cache import FileRecord, PackCache, digest_bytes
from kimicode.repo.files import NotRegularFile, RepoFile, Skipped, content_reason, secret_in_name
from kimicode.repo.languages import language_for
from kimicode.repo.parallel import stream_files


@dataclass(frozen=True)
class ScanResult:
    records: tuple[FileRecord, ...]  # text files worth sending, in listing order
    skipped: tuple[Skipped, ...]  # rejected once their bytes were seen
    reused: int  # records taken from the cache unchanged
    scanned: int  # files read and scanned in this run


def decode(data: bytes) -> tuple[str, bool]:
    """Text and whether it was valid UTF-8 (invalid bytes become U+FFFD, never an error)."""
    try:
        return data.decode("utf-8"), True
    except UnicodeDecodeError:
        return data.decode("utf-8", errors="replace"), False


def read_text(root: Path, path: str) -> str:
    return decode((root / path).read_bytes())[0]


NAME_SKIP = "secret in file name"  # the skip reason that comes of a file's name, not its bytes


def _record(path: str, entry: RepoFile, data: bytes, index_cap: int | None) -> tuple[FileRecord, str, bytes]:
    """The file's record, the names it defines (one a line) and its words for the lexical index (empty for a file that is not sent)."""
    from kimicode.repo.symbols import scan
    from kimicode.repo.terms import file_terms

    named = secret_in_name(path)
    skip = f"{NAME_SKIP}: {named}" if named else content_reason(data)
    language = language_for(path)
    if skip:
        return FileRecord(path, entry.size, entry.mtime_ns, digest_bytes(data), language, skip, 0, True, ()), "", b""
    text, utf8 = decode(data)
    found = scan(language, text)
    record = FileRecord(
        path, entry.size, entry.mtime_ns, digest_bytes(data), language, None,
        text.count("\n") + 1, utf8, found.imports,
    )
    return record, "\n".join(found.defines), file_terms(data if index_cap is None else data[:index_cap], found.defines)


PARALLEL_MIN_FILES = 200  # below this, starting workers costs more than it saves
SWEEP_AFTER = 20  # files rescanned or removed before unused words are swept for in the whole cache
LEXICAL_BYTES = 48_000_000  # of text indexed for words per repository (see index_cap)


def _read(path: str, size: int) -> bytes:
    """The file's bytes: one system call while it has the size it was listed with (a buffered
    ``open().read()`` makes several, and costs twice the CPU over 10k files)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO put there since the listing must not block
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise NotRegularFile()
        data = os.read(fd, size + 1)
        if len(data) > size:  # it grew since it was listed
            data += b"".join(iter(partial(os.read, fd, 1 << 20), b""))
        return data
    finally:
        os.close(fd)


def _scan_chunk(index_cap: int | None, root: str, entries: Sequence[RepoFile]) -> list[tuple[FileRecord, str, bytes] | Skipped]:
    out: list[tuple[FileRecord, str, bytes] | Skipped] = []
    for entry in entries:
        try:
            data = _read(os.path.join(root, entry.path), entry.size)
        except OSError:
            out.append(Skipped(entry.path, "unreadable"))
            continue
        out.append(_record(entry.path, entry, data, index_cap))
    return out


def _scan_all(root: Path, entries: Sequence[RepoFile], index_cap: int | None,
              take: Callable[[list[tuple[FileRecord, str, bytes] | Skipped]], object], started: Callable[[], object] | None = None) -> None:
    """Read and scan ``entries``, on every core when there are many; results by the part to ``take``, as they come."""
    stream_files(partial(_scan_chunk, index_cap), str(root), entries, PARALLEL_MIN_FILES, take, started=started)


def index_cap(sizes: Sequence[int], budget: int = LEXICAL_BYTES) -> int | None:
    """The most bytes of each file to index so that all of them take at most ``budget`` (None: no cap).

    Reading words costs about 30 ms of CPU a megabyte: repositories of up to LEXICAL_BYTES of text
    are indexed whole; a larger one has each file indexed up to a common cap, its head, so a cold
    pack stays within seconds. The cap follows the listed sizes, so cold and warm packs agree.
    """
    if sum(sizes) <= budget:
        return None
    ordered = sorted(sizes)
    spent = 0
    for i, size in enumerate(ordered):
        # files from i on are all capped at `size` or more: the cap lies here when they overrun
        if spent + size * (len(ordered) - i) > budget:
            return max((budget - spent) // (len(ordered) - i), 1)
        spent += size
    return None


def _distinct(todo: Sequence[RepoFile]) -> tuple[list[RepoFile], list[tuple[RepoFile, str]]]:
    """The files to read, and the others, each with the path of a file to read that git says holds
    the same bytes (one blob id) and that has the same language: vendored copies, per-architecture
    headers and empty ``__init__.py`` files are read and scanned once (a fifth of the benchmark corpus)."""
    first: dict[tuple[str, str | None], str] = {}
    unique: list[RepoFile] = []
    copies: list[tuple[RepoFile, str]] = []
    for entry in todo:
        key = (entry.oid, language_for(entry.path)) if entry.oid else None
        if key is not None and key in first:
            copies.append((entry, first[key]))
        else:
            if key is not None:
                first[key] = entry.path
            unique.append(entry)
    return unique, copies


def _copied(copies: Sequence[tuple[RepoFile, str]], fresh: Mapping[str, FileRecord | Skipped],
            defines: Mapping[str, str]) -> tuple[list[tuple[FileRecord, str, None]], list[RepoFile]]:
    """The records of ``copies`` taken from their originals' (their words are stored already), and
    the copies whose original says nothing of them: unreadable, or skipped for its name."""
    made: list[tuple[FileRecord, str, None]] = []
    unsure: list[RepoFile] = []
    for entry, first in copies:
        original = fresh.get(first)
        if not isinstance(original, FileRecord) or original.skip and original.skip.startswith(NAME_SKIP) or secret_in_name(entry.path):
            unsure.append(entry)
        else:
            made.append((original._replace(path=entry.path, size=entry.size, mtime_ns=entry.mtime_ns), defines.get(first, ""), None))
    return made, unsure


def scan_files(root: Path, files: Sequence[RepoFile], cache: PackCache, started: Callable[[], object] | None = None) -> ScanResult:
    """The records of ``files``, from the cache where they are unchanged; ``started`` is called once
    the reading is under way (see parallel.stream_files)."""
    known, all_indexed = cache.file_records()
    indexed = set() if all_indexed else cache.term_digests()
    # unchanged files are reused, unless their words are missing (a new terms.VERSION): read again
    todo = [e for e in files if not ((c := known.get(e.path)) and c.size == e.size and c.mtime_ns == e.mtime_ns
                                     and (all_indexed or c.skip or c.digest in indexed))]
    fresh: dict[str, FileRecord | Skipped] = {}
    # A worker's records arrive unpickled, every import a string of its own: at 100k files 460,000
    # of them (31 MB) spell 8,000 names. Each name is kept once (the snapshot then stores it once too).
    names: dict[str, str] = {}
    unique, copies = _distinct(todo)
    originals = {first for _, first in copies}
    their_defines: dict[str, str] = {}

    def store(part: Sequence[tuple[FileRecord, str, bytes | None] | Skipped]) -> None:
        made: list[FileRecord] = []
        defines: dict[str, str] = {}
        terms: dict[str, bytes] = {}
        for item in part:
            if isinstance(item, Skipped):
                fresh[item.path] = item
                continue
            record, defines[item[0].path], words = item
            if record.imports:
                record = record._replace(imports=tuple([names.setdefault(name, name) for name in record.imports]))
            fresh[record.path] = record
            made.append(record)
            if not record.skip and words is not None:
                terms[record.digest] = words  # empty for a file without words: stored all the same
        cache.put_files(made, defines, terms=terms.items())
        their_defines.update((path, named) for path, named in defines.items() if path in originals)

    cap = index_cap([f.size for f in files])
    if len(unique) >= PARALLEL_MIN_FILES:
        # each worker would build the secret detectors (0.1 s) for the odd name that looks like a
        # token, and the texts made after the scan need them too: built once, here, they are inherited
        from kimicode.secrets.engine import detectors

        detectors()
    # each part is stored as it comes: a repository's words and definitions are never all in memory
    _scan_all(root, unique, cap, store, started)
    copied, unsure = _copied(copies, fresh, their_defines)
    store(copied)
    _scan_all(root, unsure, cap, store)
    records: list[FileRecord] = []
    skipped: list[Skipped] = []
    for entry in files:
        now = fresh.get(entry.path) or known[entry.path]
        if isinstance(now, Skipped):
            skipped.append(now)
        elif now.skip:
            skipped.append(Skipped(entry.path, now.skip))
        else:
            records.append(now)
    listed = {f.path for f in files}
    # entries of files merely filtered out (--include) stay: the next full pack wants them
    removed = [p for p in known if p not in listed and not (root / p).exists()]
    cache.put_files((), {}, removed=removed)
    if todo:  # a few edits look up what they replaced; many sweep the table
        replaced = [c.digest for p in [e.path for e in todo] + removed if (c := known.get(p))]
        cache.drop_unused_terms(replaced if len(replaced) <= SWEEP_AFTER else None)
    if not cache.has_snapshot:
        kept = {**known, **{p: r for p, r in fresh.items() if isinstance(r, FileRecord)}}
        for path in removed:
            kept.pop(path)
        cache.store_records(kept.values())
    return ScanResult(tuple(records), tuple(skipped), len(files) - len(todo), len(todo))
