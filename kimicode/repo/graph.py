"""The import graph of a repository, kept between packs: an edit resolves one file's imports.

Resolving the imports of every file (symbols.resolve_all) takes seconds for 100,000
files. Between two packs usually one file changed, and its imports rarely did. The last
graph is stored with the pack cache: while the set of files is the same, a file whose
imports (as written) and language are unchanged keeps its resolved targets, and only the
others are resolved again. A file added or removed can change what any import resolves
to (`#include "types.h"` may now find a closer one), so then every file is resolved.
"""

from __future__ import annotations

import marshal
from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping, Sequence

if TYPE_CHECKING:
    from kimicode.repo.cache import FileRecord

FORMAT = 1


@dataclass(frozen=True)
class ImportGraph:
    paths: tuple[str, ...]  # every file with a record, in record order
    specs: Mapping[str, tuple[str | None, tuple[str, ...]]]  # path -> (language, imports as written)
    targets: Mapping[str, tuple[str, ...]]  # path -> the repository files its imports resolve to
    resolved: int = 0  # files resolved to make this graph (the rest were reused)

    def to_bytes(self) -> bytes:
        order = list(self.paths)
        return marshal.dumps((FORMAT, order, [self.specs[p] for p in order], [self.targets[p] for p in order]))

    @classmethod
    def from_bytes(cls, data: bytes | None) -> ImportGraph | None:
        """The graph stored by to_bytes; None for anything else (old format, damaged)."""
        try:
            form, order, specs, targets = marshal.loads(data)  # type: ignore[arg-type]
            if form != FORMAT or not len(order) == len(specs) == len(targets):
                return None
            return cls(tuple(order), dict(zip(order, specs)), dict(zip(order, targets)))
        except (TypeError, ValueError, EOFError):
            return None


def import_graph(records: Sequence[FileRecord], previous: ImportGraph | None = None) -> ImportGraph:
    """The resolved imports of ``records``; what ``previous`` (the last graph) resolved is reused where it still holds."""
    from kimicode.repo.symbols import RepoPathIndex, resolve_all

    paths = tuple(r.path for r in records)
    specs = {r.path: (r.language, tuple(r.imports)) for r in records}
    if previous is not None and previous.paths == paths:
        todo = [r for r in records if previous.specs.get(r.path) != specs[r.path]]
        if not todo:
            return ImportGraph(paths, specs, previous.targets)
        targets = dict(previous.targets)
    else:
        todo, targets = list(records), {}
    found = resolve_all([(r.path, r.language, r.imports) for r in todo], RepoPathIndex(paths))
    targets.update(zip((r.path for r in todo), found))
    return ImportGraph(paths, specs, targets, len(todo))
