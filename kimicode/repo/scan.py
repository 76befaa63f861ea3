"""Read what changed, reuse what did not: listed files -> cached FileRecords."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence

from kimicode.repo.cache import FileRecord, PackCache, digest_bytes
from kimicode.repo.files import RepoFile, Skipped, content_reason
from kimicode.repo.languages import language_for


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


def _record(path: str, entry: RepoFile, data: bytes) -> FileRecord:
    from kimicode.repo.symbols import scan

    skip = content_reason(data)
    language = language_for(path)
    if skip:
        return FileRecord(path, entry.size, entry.mtime_ns, digest_bytes(data), language, skip, 0, True, (), ())
    text, utf8 = decode(data)
    found = scan(language, text)
    return FileRecord(
        path, entry.size, entry.mtime_ns, digest_bytes(data), language, None,
        text.count("\n") + 1, utf8, found.defines, found.imports,
    )


def scan_files(root: Path, files: Sequence[RepoFile], cache: PackCache) -> ScanResult:
    known = cache.file_records()
    records: list[FileRecord] = []
    skipped: list[Skipped] = []
    fresh: list[FileRecord] = []
    reused = 0
    for entry in files:
        cached = known.get(entry.path)
        if cached and cached[0] == entry.size and cached[1] == entry.mtime_ns:
            record = cached[2]
            reused += 1
        else:
            try:
                data = (root / entry.path).read_bytes()
            except OSError:
                skipped.append(Skipped(entry.path, "unreadable"))
                continue
            if cached and cached[2].digest == digest_bytes(data):
                record = replace(cached[2], size=entry.size, mtime_ns=entry.mtime_ns)  # touched, not changed
            else:
                record = _record(entry.path, entry, data)
            fresh.append(record)
        if record.skip:
            skipped.append(Skipped(entry.path, record.skip))
        else:
            records.append(record)
    listed = {f.path for f in files}
    # entries of files merely filtered out (--include) stay: the next full pack wants them
    cache.put_files(fresh, removed=[p for p in known if p not in listed and not (root / p).exists()])
    return ScanResult(tuple(records), tuple(skipped), reused, len(fresh))
