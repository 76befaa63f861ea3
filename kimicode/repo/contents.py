"""The text that would be sent for a file, full or as an outline, redacted and counted.

Everything here is cached by content digest, so a warm pack neither re-parses
nor re-scans for secrets nor re-counts an unchanged file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from kimicode.repo.cache import FileRecord, PackCache
from kimicode.repo.render import render_file
from kimicode.repo.scan import read_text
from kimicode.secrets import Finding, redact
from kimicode.tokens import TokenCounter

VERSION = "v3"  # bump when outlines, redaction or rendering change


@dataclass
class Contents:
    root: Path
    cache: PackCache
    counter: TokenCounter
    fmt: str
    # (path, mode) -> redactions in that text; filled whenever the text is produced
    findings: dict[tuple[str, str], tuple[Finding, ...]] = field(default_factory=dict)
    _pending: list[tuple[str, str, str]] = field(default_factory=list)

    def _cached(self, record: FileRecord, kind: str, make) -> str:  # type: ignore[no-untyped-def]
        value = self.cache.get_blob(record.digest, kind)
        if value is None:
            value = make()
            self._pending.append((record.digest, kind, value))
        return value

    def _redacted(self, record: FileRecord, mode: str, make_text) -> str:  # type: ignore[no-untyped-def]
        def make() -> str:
            result = redact(make_text(), record.path)
            return json.dumps({"text": result.text, "findings": [[f.line, f.kind] for f in result.findings]})

        data = json.loads(self._cached(record, f"{mode}:{VERSION}", make))
        self.findings[(record.path, mode)] = tuple(Finding(line, kind) for line, kind in data["findings"])
        return data["text"]

    def text(self, record: FileRecord, mode: str) -> str:
        if mode == "full":
            return self._redacted(record, "full", lambda: read_text(self.root, record.path))

        def make_outline() -> str:
            from kimicode.repo.outline import outline

            return outline(record.path, read_text(self.root, record.path)).text

        return self._redacted(record, "outline", make_outline)

    def block(self, record: FileRecord, mode: str) -> str:
        return render_file(record.path, mode, self.text(record, mode), self.fmt)

    def block_tokens(self, record: FileRecord, mode: str) -> int:
        kind = f"tokens:{mode}:{self.fmt}:{self.counter.encoding}:{record.path}:{VERSION}"
        raw = self._cached(record, kind, lambda: str(self.counter.raw(self.block(record, mode))))
        return self.counter.scale(int(raw))

    def flush(self) -> None:
        self.cache.put_blobs(self._pending)
        self._pending.clear()
