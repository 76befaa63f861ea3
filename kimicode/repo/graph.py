"""The import graph of a repository, kept between packs as arrays: an edit resolves one file's imports.

Resolving the imports of every file (symbols.resolve_rows) takes seconds for 100,000
files, and so does turning 400,000 resolved paths into rows for the PageRank. Between two
packs usually one file changed, and its imports rarely did. So the graph is stored with the
pack cache as arrays over the files in path order (importer rows, imported rows: a few MB at
100k files, loaded in milliseconds): while the set of files is the same, only the rows of
files whose imports (as written) changed are resolved again and spliced in; an edit that
leaves the imports alone resolves nothing (and needs no index of all paths). A file added or removed can
change what any import resolves to (`#include "types.h"` may now find a closer one), so
then every file is resolved.
"""

from __future__ import annotations

import hashlib
import marshal
from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping, Sequence

if TYPE_CHECKING:
    import numpy as np

    from kimicode.repo.cache import FileRecord

FORMAT = 3  # 3: arrays over sorted paths, rows told apart by content digest, then by imports


@dataclass(frozen=True)
class ImportEdges:
    """Forward import edges over ``order`` (sorted paths): row ``src[k]`` imports row ``dst[k]``."""

    order: tuple[str, ...]
    src: np.ndarray  # int64, ascending: importers in path order, each one's targets as resolved
    dst: np.ndarray

    @classmethod
    def from_mapping(cls, paths: Sequence[str], imports: Mapping[str, Sequence[str]]) -> ImportEdges:
        """Edges of ``imports`` (path -> resolved paths) among ``paths``; self-imports and strangers dropped."""
        import numpy as np

        order = tuple(sorted(paths))
        row = {p: i for i, p in enumerate(order)}
        pairs = [(i, row[t]) for i, p in enumerate(order) for t in imports.get(p, ()) if t in row and t != p]
        src = np.fromiter((a for a, _ in pairs), dtype=np.int64, count=len(pairs))
        dst = np.fromiter((b for _, b in pairs), dtype=np.int64, count=len(pairs))
        return cls(order, src, dst)


@dataclass(frozen=True)
class ImportGraph:
    paths: tuple[str, ...]  # every file with a record, sorted
    keys: bytes  # per path, 16 bytes of its content digest: only changed files' imports are compared
    specs: bytes  # per path, 8 bytes of a hash of its language and imports as written
    starts: np.ndarray  # int64, len(paths) + 1: row i's targets are targets[starts[i]:starts[i + 1]]
    targets: np.ndarray  # int32 rows, as resolved (self-imports included)
    resolved: int = 0  # files resolved to make this graph (the rest were reused)
    stored: bool = False  # this is the stored graph as it was: nothing to store again

    def to_bytes(self) -> bytes:
        return marshal.dumps((FORMAT, _fingerprint(self.paths), self.keys, self.specs, self.starts.tobytes(),
                              self.targets.tobytes()))

    @classmethod
    def from_bytes(cls, data: bytes | None, paths: Sequence[str]) -> ImportGraph | None:
        """The graph stored by to_bytes if it was made for ``paths`` (sorted); None otherwise (other files, old format, damaged)."""
        import numpy as np

        try:
            form, fingerprint, keys, specs, starts, targets = marshal.loads(data)  # type: ignore[arg-type]
            if form != FORMAT or fingerprint != _fingerprint(paths) or len(keys) != 16 * len(paths) or len(specs) != 8 * len(paths):
                return None
            graph = cls(tuple(paths), keys, specs, np.frombuffer(starts, dtype=np.int64), np.frombuffer(targets, dtype=np.int32))
            return graph if len(graph.starts) == len(paths) + 1 and graph.starts[-1] == len(graph.targets) else None
        except (TypeError, ValueError, EOFError):
            return None

    def edges(self) -> ImportEdges:
        import numpy as np

        src = np.repeat(np.arange(len(self.paths), dtype=np.int64), np.diff(self.starts))
        dst = self.targets.astype(np.int64)
        keep = src != dst
        return ImportEdges(self.paths, src[keep], dst[keep])

    def of(self, path: str) -> tuple[str, ...]:
        """The files ``path`` imports, as resolved."""
        import bisect

        i = bisect.bisect_left(self.paths, path)
        if i == len(self.paths) or self.paths[i] != path:
            return ()
        return tuple(self.paths[j] for j in self.targets[self.starts[i]:self.starts[i + 1]])


def _fingerprint(paths: Sequence[str]) -> bytes:
    return hashlib.blake2b("\0".join(paths).encode("utf-8", "surrogatepass"), digest_size=16).digest()


def _keys(records: Sequence[FileRecord]) -> bytes:
    # FileRecord.digest is 16 bytes in hex (cache.digest_bytes)
    return b"".join(bytes.fromhex(r.digest) for r in records)


def _spec(record: FileRecord) -> bytes:
    """8 bytes standing for what resolution reads of a file: its language and imports as written."""
    return hashlib.blake2b(f"{record.language}\0{chr(1).join(record.imports)}".encode("utf-8", "surrogatepass"),
                           digest_size=8).digest()


def import_graph(records: Sequence[FileRecord], previous: bytes | None = None) -> ImportGraph:
    """The resolved imports of ``records``; what ``previous`` (a stored graph) resolved is reused where it still holds.

    A file's imports are a function of its content (and path): a file whose content digest is
    unchanged keeps its row, and so does one whose imports as written are.
    """
    import numpy as np

    from kimicode.repo.symbols import RepoPathIndex, resolve_rows

    ordered = sorted(records, key=lambda r: r.path)
    paths = tuple(r.path for r in ordered)
    keys = _keys(ordered)
    old = ImportGraph.from_bytes(previous, paths) if previous is not None else None
    if old is not None:
        if old.keys == keys:
            return ImportGraph(paths, keys, old.specs, old.starts, old.targets, stored=True)
        mine = np.frombuffer(keys, dtype=np.uint8).reshape(-1, 16)
        theirs = np.frombuffer(old.keys, dtype=np.uint8).reshape(-1, 16)
        specs = bytearray(old.specs)
        todo = []
        for i in np.flatnonzero((mine != theirs).any(axis=1)).tolist():
            spec = _spec(ordered[i])
            if spec != old.specs[8 * i:8 * i + 8]:
                specs[8 * i:8 * i + 8] = spec
                todo.append(i)
        if not todo:  # contents changed, imports did not: the rows stand
            return ImportGraph(paths, keys, bytes(specs), old.starts, old.targets)
    else:
        specs = bytearray(b"".join(map(_spec, ordered)))
        todo = list(range(len(ordered)))
    found = resolve_rows([(ordered[i].path, ordered[i].language, ordered[i].imports) for i in todo], RepoPathIndex(paths), paths)
    if old is None:
        counts = np.fromiter((len(rows) // 4 for rows in found), dtype=np.int64, count=len(found))
        flat = np.frombuffer(b"".join(found), dtype=np.int32)
        return ImportGraph(paths, keys, bytes(specs), np.concatenate(([0], np.cumsum(counts))).astype(np.int64), flat, len(todo))
    # splice the new rows of the changed files into the stored arrays
    pieces, counts, at = [], np.diff(old.starts), 0
    for i, rows in zip(todo, found):
        new = np.frombuffer(rows, dtype=np.int32)
        pieces += [old.targets[old.starts[at]:old.starts[i]], new]
        counts[i] = len(new)
        at = i + 1
    pieces.append(old.targets[old.starts[at]:])
    starts = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
    return ImportGraph(paths, keys, bytes(specs), starts, np.concatenate(pieces).astype(np.int32), len(todo))
